"""One turn at a time per thread (memory/turns.py): processes asking on one thread wait for each other, and a
wait past CONCILIO_TURN_TIMEOUT is a clear ThreadBusyError; nothing is ever lost."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import sqlalchemy as sa
from conftest import REPO, fake_config_toml, held_elsewhere

from graphs import cli
from graphs.cooperation import build_graph
from memory import ledger
from memory.checkpoints import checkpointer, default_db_path
from memory.stats import collect
from memory.turns import ThreadBusyError, lock_path, turn_lock

REPLIES = {"orchestrator": "fine", "legal": "Your landlord must give notice.", "technical": "Use reversed(xs).",
           "reviewer": "OK"}


@pytest.fixture
def profile(tmp_path):
    return fake_config_toml(tmp_path / "fake.toml", REPLIES)


@pytest.mark.parametrize("a, b, same", [
    (("/d/t.sqlite", "x"), ("/d/t.sqlite", "x"), True),
    (("/d/t.sqlite", "x"), ("/d/t.sqlite", "y"), False),  # another thread of the same database
    (("/d/t.sqlite", "x"), ("/e/t.sqlite", "x"), False),  # the same id in another database
    (("/d/./t.sqlite", "x"), ("/d/t.sqlite", "x"), True),
])
def test_one_lock_per_database_and_thread(a, b, same):
    assert (lock_path(*a) == lock_path(*b)) is same


def test_a_busy_thread_past_the_timeout_is_a_clear_error(profile, monkeypatch, capsys):
    monkeypatch.setenv("CONCILIO_TURN_TIMEOUT", "0.2")
    db = default_db_path()  # where `concilio ask` keeps threads
    with held_elsewhere(lambda: turn_lock(db, "busy")):
        with pytest.raises(ThreadBusyError, match="thread 'busy' is busy.*0.2 s.*CONCILIO_TURN_TIMEOUT"):
            with turn_lock(db, "busy"):
                pass
        with turn_lock(db, "other"):  # other threads go on
            pass
        assert cli.main(["ask", "What is a tort?", "--thread", "busy", "--profile", profile, "--quiet"]) == 3
        assert "is busy" in capsys.readouterr().err
    with turn_lock(db, "busy", timeout=1):  # free again once the holder is done
        pass


# --- e. three processes on one thread ---------------------------------------------------------------------------
def test_three_processes_asking_on_one_thread_lose_nothing(profile, tmp_path, storage):
    db = str(tmp_path / "t.sqlite") if storage == "sqlite" else os.environ["CONCILIO_DATABASE_URL"]
    worker = """
        import sys
        from graphs.api import ask
        for n in range(3):
            ask(f"Question {sys.argv[3]}.{n}: how do I reverse a list in Python?", profile=sys.argv[1],
                db=sys.argv[2], thread_id="shared")
    """
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(worker), profile, str(db), str(w)], env=env,
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    with checkpointer(db) as saver:
        values = build_graph(checkpointer=saver).get_state({"configurable": {"thread_id": "shared"}}).values
    questions = [m.content for m in values["messages"][::2]]
    assert values["turn"] == 9 and len(values["messages"]) == 18
    assert sorted(questions) == sorted(f"Question {w}.{n}: how do I reverse a list in Python?"
                                       for w in range(3) for n in range(3))
    runs = collect()["summary"]["runs"]
    assert runs == 9
    with ledger.default().connect() as conn:
        assert sorted(conn.scalars(sa.select(ledger.runs.c.turn))) == list(range(1, 10))
