"""Storage faults found by the reliability probe, each reproduced: an undecodable byte in a question, a locked
ledger at exit, a full disk and a read-only mount under the threads file (three processes on one thread:
test_turns.py)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest
import sqlalchemy as sa
from conftest import REPO, fake_config_toml

from agents.backends.fake import FakeChatModel
from agents.models.profiles import ROLES
from agents.roles.team import Team
from agents.slot.slot import GpuSlot
from graphs import cli
from graphs.api import ask
from graphs.cooperation import build_graph
from memory import checkpoints, ledger
from memory.checkpoints import DatabaseError, sqlite_checkpointer, sqlite_problem
from memory.ledger import Ledger, records
from memory.stats import collect
from tests.conftest import fake_profile, fake_spec

REPLIES = {"orchestrator": "fine", "legal": "Your landlord must give notice.", "technical": "Use reversed(xs).",
           "reviewer": "OK"}
CAFE = "caf\udce9 lease?"  # what Python makes of `concilio ask $'caf\xe9 lease?'` in a UTF-8 locale


@pytest.fixture
def profile(tmp_path):
    return fake_config_toml(tmp_path / "fake.toml", REPLIES)


def _python(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


# --- a. an undecodable byte never stops the ledger ------------------------------------------------------------
@pytest.mark.parametrize("value, expected", [
    ("café", "café"),
    (CAFE, "caf\ufffd lease?"),
    ({"q": ["\ud800x", 3]}, {"q": ["\ufffdx", 3]}),
    (("\udfff",), ["\ufffd"]),
    (None, None),
    ("emoji 🙂 ok", "emoji 🙂 ok"),
])
def test_text_going_into_a_record_is_made_encodable(value, expected):
    assert records.encodable(value) == expected


@pytest.mark.parametrize("exc, own", [
    (UnicodeEncodeError("utf-8", "\udce9", 0, 1, "surrogates not allowed"), True),
    (records.RecordError("unknown ledger record kind 'x'"), True),
    (KeyError("run"), True),
    (sa.exc.StatementError("bind", "INSERT", {}, UnicodeEncodeError("utf-8", "x", 0, 1, "no")), True),
    (sa.exc.DataError("INSERT", {}, Exception("value too long")), True),
    (sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked")), False),
    (sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full")), False),
    (ledger.LedgerError("the ledger at x can't be used"), False),
    (OSError(28, "No space left on device"), False),
])
def test_only_a_records_own_faults_send_it_to_the_quarantine(exc, own):
    assert records.is_record_fault(exc) is own


def test_a_question_with_an_undecodable_byte_costs_the_ledger_nothing(profile):
    questions = [CAFE, "How do I reverse a list in Python?", "¿Puede mi casero echarme sin avisar?", "What is a tort?"]
    for n, question in enumerate(questions):
        # learn=False: the router's corrections file refuses such text too (a separate finding, not the ledger's)
        assert ask(question, profile=profile, thread_id=f"t{n}", learn=False)["answer"]
    report = collect()
    assert report["summary"]["runs"] == 4
    assert report["ledger"]["count"] == 0 and report["ledger"]["spooled"] == 0
    with ledger.default().connect() as conn:
        assert "caf\ufffd lease?" in conn.scalars(sa.select(ledger.runs.c.question)).all()


def test_a_spooled_record_that_cant_be_written_is_quarantined_and_blocks_nothing(profile, capsys):
    url = ledger.default_url()
    bad = ledger.run_record(thread_id="old", turn=1, question="x", language="en", route={}, trace=[],
                            started_at=ledger.now(), seconds=1.0)
    bad["run"]["question"] = CAFE  # spooled by a concilio that didn't clean text yet
    spool = ledger.spool.side_path(url, "spool.jsonl")
    spool.parent.mkdir(parents=True, exist_ok=True)
    spool.write_text(json.dumps(bad) + "\n", "utf-8")
    for n in range(3):
        assert ask("How do I reverse a list in Python?", profile=profile, thread_id=f"t{n}")["answer"]
    report = collect()
    assert report["summary"]["runs"] == 3  # the runs behind it were all written
    health = report["ledger"]
    assert (health["spooled"], health["quarantined"], health["count"]) == (0, 1, 1)
    kept = json.loads(open(health["quarantine"], encoding="utf-8").read())
    assert kept["id"] == bad["id"] and "surrogates" in kept["quarantined"]["error"]
    assert cli.main(["stats"]) == 0
    assert "1 records quarantined" in capsys.readouterr().out


# --- b. a locked ledger never loses the run ----------------------------------------------------------------------
def test_a_run_while_the_ledger_is_locked_is_spooled_and_counted_at_exit(profile, tmp_path, monkeypatch):
    path = tmp_path / "locked.sqlite"
    url = f"sqlite:///{path}"
    monkeypatch.setenv("CONCILIO_LEDGER_URL", url)
    monkeypatch.setenv("CONCILIO_LEDGER_TIMEOUT", "60")  # SQLite would wait longer than the process stays
    ledger.migrate(ledger.make_engine(url))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        done = _python("""
            import sys
            from graphs.api import ask
            print(ask("How do I reverse a list in Python?", profile=sys.argv[1], thread_id="t")["answer"])
        """, profile)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip()  # answered
        health = ledger.failures(url)
        assert health["spooled"] == 1 and health["count"] >= 1, health
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert Ledger(url).write([])  # the database is free again: the spooled run is written
    assert collect()["summary"]["runs"] == 1 and ledger.failures(url)["spooled"] == 0


# --- c, d. the threads file: a full disk, a read-only mount ---------------------------------------------------------
def _turn(db, question: str) -> dict:
    FakeChatModel.enqueue("A lease needs notice.", "OK", "Leases need written notice.")
    wide = {r: replace(fake_spec(f"fake-{r}"), context_window=65536) for r in ROLES}  # long questions fit
    return ask(question, profile=Team(fake_profile(wide), GpuSlot()), db=db, thread_id="t")


@pytest.mark.parametrize("text, read_only, problem", [
    ("file is not a database", False, "is not a SQLite database"),
    ("attempt to write a readonly database", False, "is read-only"),
    ("unable to open database file", True, "is read-only"),
    ("unable to open database file", False, "can't be opened (unable to open database file)"),
    ("database is locked", False, "is locked by another process"),
    ("database or disk is full", False, "the disk is full (earlier turns are kept)"),
])
def test_sqlite_failures_are_named(text, read_only, problem):
    found, fix = sqlite_problem(text, read_only)
    assert problem in found and fix


def test_a_full_disk_in_the_middle_of_a_turn_is_a_clear_error_and_earlier_turns_stay(tmp_path, monkeypatch):
    db = tmp_path / "t.sqlite"
    _turn(db, "What does a lease need?")
    pages = sqlite3.connect(db).execute("PRAGMA page_count").fetchone()[0]
    connect = checkpoints._connect

    def full(location):  # the disk fills up: the file can't grow past its size now
        conn = connect(location)
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(checkpoints, "_connect", full)
    with pytest.raises(DatabaseError, match=r"t\.sqlite: can't grow: the disk is full .*Fix: free space"):
        _turn(db, "How much notice for a lease? " + "Please explain in detail. " * 700)
    monkeypatch.setattr(checkpoints, "_connect", connect)
    with sqlite_checkpointer(db) as saver:
        state = build_graph(checkpointer=saver).get_state({"configurable": {"thread_id": "t"}})
    assert [m.content for m in state.values["messages"]][:2] == ["What does a lease need?",
                                                                  "Leases need written notice."]


def _can_mount() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt || mount -t tmpfs tmpfs /tmp"],
                           capture_output=True, timeout=20)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount(), reason="needs unshare and a mount namespace to make a read-only mount")
def test_a_threads_file_on_a_read_only_mount_says_read_only(tmp_path):
    mount, script = tmp_path / "mount", tmp_path / "open.py"
    mount.mkdir()
    script.write_text(textwrap.dedent("""
        import sys
        from memory.checkpoints import sqlite_checkpointer
        try:
            with sqlite_checkpointer(sys.argv[1]):
                print("opened")
        except Exception as exc:
            print(type(exc).__name__, exc)
    """), "utf-8")
    run = f"PYTHONPATH={REPO} {sys.executable} {script} {mount / 'threads.sqlite'}"
    done = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=8m tmpfs {mount} && {run} && "
                           f"mount -o remount,ro {mount} && {run}"], capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines()[0] == "opened", done.stderr
    assert "threads.sqlite: is read-only" in done.stdout.splitlines()[1], done.stdout
