"""A run SIGKILLed between nodes resumes from its last checkpoint when the same question is asked again
on the same thread, and no completed turn is lost or duplicated, on SQLite and on PostgreSQL. Real processes,
killed for real; the fake backend's `kill_process_on_load` makes the kill land exactly between two nodes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from agents.models.profiles import ROLES
from graphs.cooperation import build_graph
from memory.checkpoints import checkpointer
from tests.conftest import fake_config_toml

ROUNDS = 20
KILL_AT = ["legal", "reviewer", "orchestrator"]  # before the specialist, the review, the integration


def profile(path, kill_role: str | None) -> str:
    replies = {role: f"The {role} says a lease needs notice." for role in ROLES}
    return fake_config_toml(path, replies, **({kill_role: "kill_process_on_load = true"} if kill_role else {}))


def cli(*args):
    return subprocess.run([sys.executable, "-m", "graphs.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


def test_killed_between_nodes_resumes_20_times_out_of_20(tmp_path, storage):
    ok = profile(tmp_path / "ok.toml", None)
    first = cli("ask", "What does a lease need?", "--thread", "crash", "--profile", ok, "--json")
    assert first.returncode == 0, first.stderr
    for i in range(ROUNDS):
        question = f"Lease question number {i}?"
        killer = profile(tmp_path / f"kill{i}.toml", KILL_AT[i % len(KILL_AT)])
        crashed = cli("ask", question, "--thread", "crash", "--profile", killer, "--json")
        assert crashed.returncode == -signal.SIGKILL, (crashed.returncode, crashed.stderr)
        resumed = cli("ask", question, "--thread", "crash", "--profile", ok, "--json")
        assert resumed.returncode == 0, resumed.stderr
        out = json.loads(resumed.stdout)
        assert out["resumed"] is True and out["turn"] == i + 2
        assert out["trace"][0]["node"] == "analyze" and out["trace"][-1]["node"] == "integrate"
    with checkpointer() as saver:
        state = build_graph(checkpointer=saver).get_state({"configurable": {"thread_id": "crash"}})
    questions = [m.content for m in state.values["messages"] if m.type == "human"]
    answers = [m for m in state.values["messages"] if m.type == "ai"]
    assert questions == ["What does a lease need?"] + [f"Lease question number {i}?" for i in range(ROUNDS)]
    assert len(answers) == ROUNDS + 1 and not state.next
    shown = cli("threads", "show", "crash")  # a fresh process reads every turn back
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("── turn ") == ROUNDS + 1 and "(unfinished" not in shown.stdout
    assert "Q: Lease question number 19?" in shown.stdout
