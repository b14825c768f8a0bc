"""`concilio chat` and Ctrl-C, in real processes with scripted fake models: commands work, and an
answer interrupted mid-stream leaves no half answer stored, with the next turn working."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from agents.models.profiles import ROLES
from graphs.cooperation import build_graph
from memory import store as memories
from memory.checkpoints import sqlite_checkpointer
from tests.conftest import REPO, fake_config_toml


def config(tmp_path, slow: bool = False) -> str:
    replies = {r: "OK" if r == "reviewer" else f"The {r} says notice is needed for a lease." for r in ROLES}
    extra = {"legal": "tokens_per_second = 4"} if slow else {}
    return fake_config_toml(tmp_path / ("slow.toml" if slow else "fake.toml"), replies, **extra)


def run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "graphs.cli", *args], input=stdin, capture_output=True,
                          text=True, cwd=REPO, env=dict(os.environ), timeout=120)


def messages(thread):
    with sqlite_checkpointer() as saver:
        return build_graph(checkpointer=saver).get_state({"configurable": {"thread_id": thread}}).values["messages"]


def test_chat_commands(tmp_path):
    script = "What does a lease need?\n/route technical\nAnd what about leases?\n/feedback good\n/thread\n/quit\n"
    out = run("chat", "--thread", "c1", "--profile", config(tmp_path), stdin=script)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("The orchestrator says notice is needed for a lease.") == 2
    assert "next question goes to technical" in out.stdout and "thread c1" in out.stdout
    assert "feedback good recorded for turn 2" in out.stdout
    assert "route: technical (by override" in out.stderr  # the forced route, for one question
    with memories.sqlite_store() as store:
        assert store.search(memories.FEEDBACK)[0].value | {"at": None} == {
            "thread": "c1", "turn": 2, "verdict": "good", "domain": "technical", "at": None}
    assert len(messages("c1")) == 4


def interrupt_mid_answer(args, tmp_path, stdin_text=None):
    proc = subprocess.Popen([sys.executable, "-m", "graphs.cli", *args], cwd=REPO, env=dict(os.environ),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if stdin_text is not None:
        proc.stdin.write(stdin_text)
        proc.stdin.flush()
    deadline = time.monotonic() + 60
    log = ""
    while "is answering" not in log and time.monotonic() < deadline:
        log += proc.stderr.readline()
    time.sleep(1.0)  # a few slow tokens into the answer
    proc.send_signal(signal.SIGINT)
    return proc


def test_ctrl_c_during_an_answer_stores_no_half_answer_and_the_next_turn_works(tmp_path):
    fast, slow = config(tmp_path), config(tmp_path, slow=True)
    assert run("ask", "What does a lease need?", "--thread", "k", "--profile", fast).returncode == 0
    proc = interrupt_mid_answer(["ask", "Can my landlord evict me?", "--thread", "k", "--profile", slow], tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err
    assert "turn 2 is kept unfinished, without an answer; ask the same question again" in err  # as threads show
    assert [m.type for m in messages("k")] == ["human", "ai", "human"]  # the question, no half answer
    done = run("ask", "Is a verbal lease valid?", "--thread", "k", "--profile", fast, "--json")
    assert done.returncode == 0, done.stderr
    assert [m.content for m in messages("k")][2:] == ["Is a verbal lease valid?",
                                                      "The orchestrator says notice is needed for a lease."]


def test_ctrl_c_in_chat_stops_the_answer_and_the_chat_goes_on(tmp_path):
    proc = interrupt_mid_answer(["chat", "--thread", "kc", "--profile", config(tmp_path, slow=True)], tmp_path,
                                stdin_text="Can my landlord evict me?\n")
    proc.stdin.write("/thread\n/quit\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert [m.type for m in messages("kc")] == ["human"]  # the question is kept, without a half answer
    # What chat says is what `threads show` and `threads list` say about the same turn.
    assert "stopped: turn 1 is kept unfinished, without an answer; ask the same question again" in err
    assert "thread kc" in out
    assert "A: (unfinished: ask it again to resume)" in run("threads", "show", "kc").stdout
    listed = json.loads(run("threads", "list", "--json").stdout)
    assert [(t["thread_id"], t["turns"], t["pending"]) for t in listed] == [("kc", 0, True)]
