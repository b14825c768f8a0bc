"""The effectiveness ledger: schema steps, records, and that a broken ledger never costs a run its answer."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3

import pytest
import sqlalchemy as sa
from conftest import fake_config_toml

from graphs.api import ask, feedback
from memory import ledger
from memory.ledger import Ledger, LedgerError
from memory.stats import collect

REPLIES = {"orchestrator": "fine", "legal": "Your landlord must give notice.", "technical": "Use reversed(xs).",
           "reviewer": "OK"}
T0 = dt.datetime(2026, 11, 1, 12, 0)


@pytest.fixture
def profile(tmp_path):
    return fake_config_toml(tmp_path / "fake.toml", REPLIES)


def _count(url: str, table: str) -> int:
    with sa.create_engine(url).connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


# --- schema steps ---------------------------------------------------------------------------------------------
def _versions(conn) -> list[str]:
    return list(conn.exec_driver_sql(f"SELECT version_num FROM {ledger.schema.VERSION_TABLE}").scalars())


def test_schema_steps_are_applied_once_in_order_and_recorded(tmp_path):
    engine = ledger.make_engine(f"sqlite:///{tmp_path / 'l.sqlite'}")
    assert ledger.migrate(engine) == ["0001", "0002", "0003"]
    assert ledger.migrate(engine) == []
    with engine.connect() as conn:
        assert _versions(conn) == ["0003"]  # Alembic keeps the head
        assert {"runs", "node_runs", "reviews", "feedback"} <= set(sa.inspect(conn).get_table_names())


NOTES = """
import sqlalchemy as sa
from alembic import op

revision = "0099"
down_revision = "0003"


def upgrade():
    op.add_column("runs", sa.Column("notes", sa.Text))
"""


def test_a_new_step_runs_on_an_old_ledger_and_keeps_its_rows(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'l.sqlite'}"
    old = Ledger(url)
    assert old.write([_run_record("t", 1)])

    scripts = tmp_path / "migrations"
    shutil.copytree(ledger.schema.SCRIPTS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "0099_notes.py").write_text(NOTES, "utf-8")
    monkeypatch.setattr(ledger.schema, "SCRIPTS", scripts)
    assert ledger.migrate(ledger.make_engine(url)) == ["0099"]
    with sa.create_engine(url).connect() as conn:
        assert conn.execute(sa.text("SELECT thread_id, notes FROM runs")).all() == [("t", None)]


def test_a_ledger_from_a_newer_concilio_is_refused_with_the_reason(tmp_path):
    url = f"sqlite:///{tmp_path / 'l.sqlite'}"
    engine = ledger.make_engine(url)
    ledger.migrate(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {ledger.schema.VERSION_TABLE} SET version_num = '0099_future'")
    with pytest.raises(LedgerError, match="newer concilio.*0099_future"):
        ledger.migrate(engine)
    assert not Ledger(url).write([_run_record("t", 1)])  # counted and spooled, not raised
    assert ledger.failures(url)["count"] == 1



def test_replaying_the_spool_keeps_a_record_another_process_spooled_meanwhile(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'l.sqlite'}"
    waiting, new, elsewhere = _run_record("a", 1), _run_record("b", 1), _run_record("c", 1)
    Ledger(url)._failed(RuntimeError("was down"), [waiting])  # a run that waits in the spool
    insert = ledger.records.insert

    def insert_while_another_process_fails(conn, record):
        if record["id"] == waiting["id"]:
            Ledger(url)._failed(RuntimeError("locked there"), [elsewhere])
        insert(conn, record)

    monkeypatch.setattr(ledger.records, "insert", insert_while_another_process_fails)
    writer = Ledger(url)
    assert writer.write([new])
    assert [r["id"] for r in ledger.spool.read(url)] == [elsewhere["id"]]  # not wiped by the replay
    with writer.connect() as conn:
        assert set(conn.scalars(sa.select(ledger.runs.c.id))) == {waiting["id"], new["id"]}


# --- records ------------------------------------------------------------------------------------------------
def _run_record(thread: str, turn: int, **extra) -> dict:
    trace = [
        {"node": "analyze", "role": "orchestrator", "model": "orca", "seconds": 0.1, "swapped": True, "tokens": 0},
        {"node": "legal", "role": "legal", "model": "phi", "seconds": 2.0, "swapped": True, "tokens": 40,
         "tokens_in": 90, "load_seconds": 0.5},
        {"node": "review", "role": "reviewer", "model": "llama", "seconds": 0.5, "swapped": True, "tokens": 3,
         "verdict": "revise", "verdict_by": "model", "issues": ["falta el plazo"]},
        {"node": "legal", "role": "legal", "model": "phi", "seconds": 1.0, "swapped": True, "tokens": 30},
        {"node": "review", "role": "reviewer", "model": "llama", "seconds": 0.4, "swapped": True, "tokens": 1,
         "verdict": "ok", "verdict_by": "model", "issues": []},
        {"node": "integrate", "model": None, "skipped": True, "seconds": 0.0},
    ]
    args = {"thread_id": thread, "turn": turn, "question": "¿Plazo de preaviso?", "language": "es",
            "route": {"domain": "legal", "confidence": 0.9, "by": "classifier", "node": "legal"}, "trace": trace,
            "started_at": T0, "seconds": 4.2, "verdict": "ok", "revisions": 1, "profile": "seed"}
    return ledger.run_record(**{**args, **extra})


def test_a_run_record_keeps_every_node_and_which_draft_each_review_judged():
    record = _run_record("t", 1)
    assert record["run"]["swaps"] == 5 and record["run"]["domain"] == "legal" and record["run"]["revisions"] == 1
    assert [n["node"] for n in record["nodes"]] == ["analyze", "legal", "review", "legal", "review", "integrate"]
    assert record["nodes"][1] | {"tokens_in": 90, "tokens_out": 40, "load_seconds": 0.5} == record["nodes"][1]
    assert [(r["draft_model"], r["reviewer_model"], r["verdict"]) for r in record["reviews"]] == [
        ("phi", "llama", "revise"), ("phi", "llama", "ok")]
    assert "falta el plazo" in record["reviews"][0]["issues"]


# --- runs write to it; a broken ledger costs nothing ---------------------------------------------------------------
def test_runs_and_feedback_reach_the_ledger_with_node_rows(profile):
    ask("How do I reverse a list in Python?", profile=profile, thread_id="en")
    ask("¿Puede mi casero echarme sin avisar?", profile=profile, thread_id="es")
    feedback("en", "good")
    assert ledger.default().flush()
    url = ledger.default_url()
    assert _count(url, "runs") == 2 and _count(url, "feedback") == 1
    assert _count(url, "node_runs") >= 6 and _count(url, "reviews") >= 2


def test_an_unavailable_ledger_costs_no_answer_and_its_records_are_replayed_later(profile, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the ledger's folder should be")
    url = f"sqlite:///{blocker / 'ledger.sqlite'}"
    monkeypatch.setenv("CONCILIO_LEDGER_URL", url)
    answer = ask("How do I reverse a list in Python?", profile=profile, thread_id="t")
    assert answer["answer"] and answer["route"]["domain"] == "technical"
    assert ledger.default().flush()
    health = ledger.failures(url)
    assert health["count"] == 1 and health["spooled"] == 1 and "can't be used" in health["last_error"]
    with pytest.raises(LedgerError, match="can't be used"):
        collect()
    blocker.unlink()  # the database becomes reachable: the spooled run is written with the next one
    blocker.mkdir()
    ask("What is a tort?", profile=profile, thread_id="t2")
    assert ledger.default().flush()
    report = collect()
    assert report["summary"]["runs"] == 2 and report["ledger"]["spooled"] == 0
    assert report["ledger"]["count"] == 1  # the failure stays on record


def test_a_full_database_costs_no_answer_and_the_failure_is_counted(profile, tmp_path, monkeypatch):
    path = tmp_path / "full.sqlite"
    url = f"sqlite:///{path}"
    monkeypatch.setenv("CONCILIO_LEDGER_URL", url)
    ledger.migrate(ledger.make_engine(url))
    pages = sqlite3.connect(path).execute("PRAGMA page_count").fetchone()[0]
    full = ledger.make_engine(url)
    sa.event.listen(full, "connect", lambda c, _: c.execute(f"PRAGMA max_page_count = {pages}"))
    monkeypatch.setitem(ledger.writer._ledgers, url, Ledger(url, engine=full))
    big = fake_config_toml(tmp_path / "big.toml", REPLIES, context_window=65536)  # the question fits its window
    result = ask("Explain " + "the mutex and the semaphore " * 300, profile=big, thread_id="big")
    assert result["answer"]
    assert ledger.default().flush()
    health = ledger.failures(url)
    assert health["count"] == 1 and "full" in health["last_error"] and health["spooled"] == 1


def test_a_locked_ledger_does_not_hold_up_the_run(profile, tmp_path, monkeypatch):
    path = tmp_path / "locked.sqlite"
    url = f"sqlite:///{path}"
    monkeypatch.setenv("CONCILIO_LEDGER_URL", url)
    monkeypatch.setenv("CONCILIO_LEDGER_TIMEOUT", "0.2")
    ledger.migrate(ledger.make_engine(url))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, for as long as the run takes
    try:
        result = ask("How do I reverse a list in Python?", profile=profile, thread_id="t")
        assert result["answer"]  # the run finished while the ledger was locked
        assert ledger.default().flush()
        assert "locked" in ledger.failures(url)["last_error"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_run_that_fails_is_recorded_with_its_error(tmp_path):
    toml = fake_config_toml(tmp_path / "crash.toml", REPLIES, technical="fail_after_tokens = 1")
    with pytest.raises(Exception, match="crashed"):
        ask("How do I reverse a list in Python?", profile=toml, thread_id="t")
    report = collect()
    assert report["summary"]["errors"] == 1
    with ledger.default().connect() as conn:
        failed = conn.execute(sa.select(ledger.node_runs.c.node, ledger.node_runs.c.error)
                              .where(ledger.node_runs.c.error.is_not(None))).all()
    assert failed and failed[0].node == "technical" and "crashed" in failed[0].error


def test_the_ledger_can_be_turned_off(profile, monkeypatch):
    monkeypatch.setenv("CONCILIO_LEDGER_URL", "off")
    assert ask("What is a tort?", profile=profile)["answer"]
    with pytest.raises(LedgerError, match="off"):
        collect()
