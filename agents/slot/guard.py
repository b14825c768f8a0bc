"""One local model at a time on the machine, across processes: the slot's machine-wide guard.

A `GpuSlot` keeps the seed's rule inside one process. Two processes (Studio beside the CLI, a notebook beside a
server) would each load a model. The guard is a file lock in the runtime folder, held by the process that has a
local model loaded (gpt4all, llama.cpp: anything `loads_local_file`), from its first load until its last unload:

- a second process that wants to load waits, with a `waiting` progress event naming the holder's pid, within
  the slot's timeout; it leaves a mark in `<lock>.waiting/` so the holder knows someone waits;
- the holder gives the guard up as soon as it is idle and someone waits (its slot unloads its local models),
  and at once when it unloads its last local model;
- the lock is an OS file lock (fcntl/LockFileEx through filelock): a holder that crashes or is killed loses it
  with its process, so it never blocks anyone; marks of dead waiters are ignored and removed.

What `single` means across processes: one *local* model loaded on the machine at a time, whatever its device.
On a GPU that is the seed's rule; on a CPU-only machine it keeps two processes from doubling RAM and halving
each other's speed. Models on servers (`openai` backend) are the server's to schedule and are not guarded.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

POLL_S = 0.05


def alive(pid: int) -> bool:
    """Whether process `pid` is running (a process of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class MachineGuard:
    """The machine-wide lock for one device ("local": every local model, as `single` means across processes).

    One per folder per process (`shared()`), held while any slot of the process (`owner`) has a local model
    loaded: slots of one process share it, since the rule is about processes, not objects."""

    def __init__(self, folder: Path, device: str = "local") -> None:
        self.folder = folder
        self.lock_path = folder / f"{device}.lock"
        self.holder_path = folder / f"{device}.holder"
        self.waiting_dir = folder / f"{device}.waiting"
        self._lock: FileLock | None = None
        self._holders: set[int] = set()
        self._mutex, self._taking = threading.Lock(), threading.Lock()
        self._yielded_at = 0.0

    @property
    def held(self) -> bool:
        return bool(self._holders)

    def holds(self, owner: int) -> bool:
        return owner in self._holders

    def _file_lock(self) -> FileLock:
        if self._lock is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lock = FileLock(str(self.lock_path), thread_local=False)
        return self._lock

    def holder(self) -> int | None:
        """The pid that holds the guard now (None when free or unknown)."""
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.holder_path.read_text().strip() or 0)
            return pid if pid and alive(pid) else None
        return None

    def others_waiting(self) -> list[int]:
        """Pids of live processes waiting for the guard (stale marks are removed)."""
        pids = []
        with contextlib.suppress(OSError):
            for mark in self.waiting_dir.iterdir():
                with contextlib.suppress(ValueError, OSError):
                    pid = int(mark.name)
                    if pid == os.getpid():
                        continue
                    if alive(pid):
                        pids.append(pid)
                    else:
                        mark.unlink(missing_ok=True)
        return pids

    def acquire(self, timeout: float, on_wait: Callable[[int | None], None] | None = None, owner: int = 0) -> float:
        """Take the guard for `owner` (at once when this process holds it); the seconds waited. TimeoutError
        after `timeout` seconds."""
        with self._taking:
            with self._mutex:
                if self._holders:
                    self._holders.add(owner)
                    return 0.0
            waited = self._take(timeout, on_wait)
            with self._mutex:
                self._holders.add(owner)
            return waited

    def _take(self, timeout: float, on_wait: Callable[[int | None], None] | None) -> float:
        lock, start = self._file_lock(), time.monotonic()
        try:
            lock.acquire(timeout=0)
        except Timeout:
            self.waiting_dir.mkdir(parents=True, exist_ok=True)
            mark = self.waiting_dir / str(os.getpid())
            mark.touch()
            try:
                if on_wait is not None:
                    on_wait(self.holder())
                lock.acquire(timeout=max(0.0, timeout - (time.monotonic() - start)), poll_interval=POLL_S)
            except Timeout:
                raise TimeoutError(f"machine-wide slot held by pid {self.holder()}") from None
            finally:
                mark.unlink(missing_ok=True)
        else:
            self._let_waiters_in(lock, timeout, start)
        self.holder_path.write_text(str(os.getpid()))
        return time.monotonic() - start

    def _let_waiters_in(self, lock: FileLock, timeout: float, start: float) -> None:
        """We just gave the guard up because someone waited, and took it straight back: let them go first."""
        if time.monotonic() - self._yielded_at > 5 or not self.others_waiting():
            return
        lock.release()
        deadline = min(start + timeout, time.monotonic() + 5)
        while time.monotonic() < deadline and self.others_waiting() and self.holder() in (None, os.getpid()):
            time.sleep(POLL_S)
        lock.acquire(timeout=max(0.0, start + timeout - time.monotonic()), poll_interval=POLL_S)

    def release(self, *, yielded: bool = False, owner: int = 0) -> None:
        """`owner` lets go; the file lock goes when the process's last holder does."""
        with self._mutex:
            if owner not in self._holders:
                return
            self._holders.discard(owner)
            if self._holders:
                return
            with contextlib.suppress(OSError):
                self.holder_path.write_text("")
            if yielded:
                self._yielded_at = time.monotonic()
            self._file_lock().release()


class GuardHandle:
    """One slot's view of its process's guard (what GpuSlot uses)."""

    def __init__(self, guard: MachineGuard, owner: int) -> None:
        self.guard, self.owner = guard, owner

    @property
    def held(self) -> bool:
        return self.guard.holds(self.owner)

    def acquire(self, timeout: float, on_wait: Callable[[int | None], None] | None = None) -> float:
        return self.guard.acquire(timeout, on_wait, owner=self.owner)

    def release(self, *, yielded: bool = False) -> None:
        self.guard.release(yielded=yielded, owner=self.owner)

    def others_waiting(self) -> list[int]:
        return self.guard.others_waiting()

    def holder(self) -> int | None:
        return self.guard.holder()


_shared: dict[str, MachineGuard] = {}
_shared_lock = threading.Lock()


def shared(folder: Path) -> MachineGuard:
    """This process's guard for `folder` (one per process: every slot in it shares it)."""
    with _shared_lock:
        return _shared.setdefault(str(folder), MachineGuard(folder))
