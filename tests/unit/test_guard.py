"""The machine-wide guard: one process at a time holds local models; a dead holder never blocks anyone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from agents.slot.guard import MachineGuard
from tests.conftest import REPO

HOLDER = """
import sys, time
from pathlib import Path
from agents.slot.guard import MachineGuard
g = MachineGuard(Path(sys.argv[1]))
g.acquire(5)
print("held", flush=True)
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline and not (sys.argv[3] == "yield" and g.others_waiting()):
    time.sleep(0.05)
g.release(yielded=True)
print("released", flush=True)
"""


def _holder(folder, seconds: float, mode: str = "hold") -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder), str(seconds), mode], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_process_waits_and_is_told_the_holders_pid(tmp_path):
    proc = _holder(tmp_path, 1.0)
    try:
        seen = []
        guard = MachineGuard(tmp_path)
        waited = guard.acquire(10, seen.append)
        assert seen == [proc.pid] and waited > 0.3 and guard.held and guard.holder() == os.getpid()
        guard.release()
        assert guard.holder() is None
    finally:
        proc.wait(10)


def test_a_holder_gives_way_when_someone_waits(tmp_path):
    proc = _holder(tmp_path, 30.0, mode="yield")  # would hold for 30 s if nobody asked
    start = time.monotonic()
    guard = MachineGuard(tmp_path)
    guard.acquire(10)
    assert time.monotonic() - start < 5 and proc.wait(10) == 0
    guard.release()


def test_a_killed_holder_never_blocks_anyone(tmp_path):
    proc = _holder(tmp_path, 60.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    guard = MachineGuard(tmp_path)
    assert guard.acquire(2) < 1.0 and guard.held
    guard.release()


def test_waiting_past_the_timeout_names_the_holder(tmp_path):
    proc = _holder(tmp_path, 3.0)
    try:
        with pytest.raises(TimeoutError, match=f"held by pid {proc.pid}"):
            MachineGuard(tmp_path).acquire(0.3)
        assert MachineGuard(tmp_path).others_waiting() == []  # the waiter's mark went with it
    finally:
        proc.wait(10)


def test_slots_of_one_process_share_its_guard_and_it_goes_with_the_last(tmp_path):
    from agents.slot.guard import GuardHandle, MachineGuard

    guard = MachineGuard(tmp_path)
    a, b = GuardHandle(guard, 1), GuardHandle(guard, 2)
    assert a.acquire(1) >= 0 and b.acquire(0.01) == 0.0  # the second slot of the process doesn't wait
    a.release()
    assert b.held and not a.held and guard.holder() == os.getpid()
    b.release()
    assert not guard.held and guard.holder() is None
    other = _holder(tmp_path, 0.1)  # another process can take it now
    assert other.wait(10) == 0
