"""One way to change each schema: Alembic for the ledger, `PRAGMA user_version` for the threads file; files made
by the old shared `concilio_migrations` table are converted, and the two can live in one SQLite file."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from agents.backends.fake import FakeChatModel
from agents.roles.team import Team
from agents.slot.slot import GpuSlot
from graphs.api import ask
from graphs.cooperation import build_graph
from memory import ledger, legacy_steps
from memory.checkpoints import DatabaseError, sqlite_checkpointer
from memory.ledger import Ledger, LedgerError
from memory.stats import collect
from tests.conftest import REPO, fake_profile


def _turn(db, question: str, thread: str = "t") -> dict:
    FakeChatModel.enqueue("A lease needs notice.", "OK", "Leases need written notice.")
    return ask(question, profile=Team(fake_profile(), GpuSlot()), db=db, thread_id=thread)


def _messages(db, thread: str = "t") -> list[str]:
    with sqlite_checkpointer(db) as saver:
        state = build_graph(checkpointer=saver).get_state({"configurable": {"thread_id": thread}})
    return [m.content for m in state.values["messages"]]


def _tables(path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


@pytest.mark.parametrize("found, mine, applied, unknown", [
    ([], legacy_steps.LEDGER, (), ()),
    (["0001_tables"], legacy_steps.LEDGER, ("0001_tables",), ()),
    (["0001_baseline"], legacy_steps.LEDGER, (), ()),  # the threads file's row: not the ledger's, not newer
    (["0001_tables"], legacy_steps.THREADS, (), ()),
    (["0001_baseline", "0001_tables"], legacy_steps.THREADS, ("0001_baseline",), ()),
    (["0001_baseline", "0002_future"], legacy_steps.THREADS, ("0001_baseline",), ("0002_future",)),
])
def test_each_side_reads_only_its_own_legacy_steps(found, mine, applied, unknown):
    assert legacy_steps.verdict(found, mine) == legacy_steps.Verdict(applied, unknown)


def test_the_ledger_revisions_make_exactly_the_tables_the_code_uses(tmp_path):
    engine = ledger.make_engine(f"sqlite:///{tmp_path / 'l.sqlite'}")
    ledger.migrate(engine)
    with engine.connect() as conn:
        mine = ledger.schema.VERSION_TABLE
        context = MigrationContext.configure(conn, opts={"version_table": mine,
                                                         "include_name": lambda name, kind, _: name != mine})
        assert compare_metadata(context, ledger.metadata) == []


def test_migrating_says_nothing_on_a_healthy_database(tmp_path):
    code = ("import logging, sys; logging.basicConfig(level=logging.INFO); from memory import ledger; "
            "print(ledger.migrate(ledger.make_engine(sys.argv[1])))")  # as the CLI logs: INFO to stderr
    done = subprocess.run([sys.executable, "-c", code, f"sqlite:///{tmp_path / 'l.sqlite'}"], capture_output=True,
                          text=True, timeout=120, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "['0001', '0002', '0003']", "")


def _old_ledger(path, steps=("0001_tables",)) -> str:
    """A ledger as the old mechanism made it: create_all, and its steps in concilio_migrations."""
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    ledger.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE runs DROP COLUMN cache")  # added by 0002, after the old mechanism
        for table in ("runs", "feedback"):  # added by 0003
            conn.exec_driver_sql(f"DROP INDEX ix_{table}_user_id")
            conn.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN user_id")
        conn.exec_driver_sql("CREATE TABLE concilio_migrations (name VARCHAR(64) PRIMARY KEY, applied_at DATETIME)")
        for step in steps:
            conn.exec_driver_sql("INSERT INTO concilio_migrations VALUES (?, ?)", (step, dt.datetime(2026, 11, 1)))
        conn.execute(ledger.runs.insert().values(id="old", thread_id="legacy", turn=1, seconds=1.0,
                                                 started_at=dt.datetime(2026, 11, 1)))
    return url


def test_a_ledger_made_by_the_old_mechanism_is_stamped_not_recreated(tmp_path):
    url = _old_ledger(tmp_path / "l.sqlite")
    assert ledger.migrate(ledger.make_engine(url)) == ["0002", "0003"]  # stamped at 0001: only the later steps run
    with sa.create_engine(url).connect() as conn:
        assert conn.exec_driver_sql(f"SELECT version_num FROM {ledger.schema.VERSION_TABLE}").scalars().all() == [
            "0003"]
        assert conn.exec_driver_sql("SELECT id FROM runs").scalars().all() == ["old"]  # its rows kept
    assert "concilio_migrations" not in _tables(tmp_path / "l.sqlite")


def test_an_old_ledger_with_a_step_nobody_knows_is_refused_and_left_alone(tmp_path):
    url = _old_ledger(tmp_path / "l.sqlite", steps=("0001_tables", "0099_future"))
    with pytest.raises(LedgerError, match="newer concilio.*0099_future"):
        ledger.migrate(ledger.make_engine(url))
    assert ledger.schema.VERSION_TABLE not in _tables(tmp_path / "l.sqlite")


def test_a_threads_file_from_the_old_mechanism_is_converted_and_keeps_its_turns(tmp_path):
    db = tmp_path / "t.sqlite"
    _turn(db, "What does a lease need?")
    with sqlite3.connect(db) as conn:  # as the old mechanism left it
        conn.execute("PRAGMA user_version = 0")
        conn.execute("CREATE TABLE concilio_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        conn.execute("INSERT INTO concilio_migrations VALUES ('0001_baseline', '2026-11-01')")
    assert _messages(db) == ["What does a lease need?", "Leases need written notice."]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "concilio_migrations" not in _tables(db)


def test_the_legacy_table_dropped_by_the_ledger_meanwhile_does_not_break_opening(tmp_path, monkeypatch):
    """The ledger's writer thread shares the file and drops the legacy table once its rows are gone; the
    threads side read it a moment before. Seen in CI as 'no such table: concilio_migrations' on a turn."""
    db = tmp_path / "threads.sqlite"
    _old_ledger(db)
    read = legacy_steps.read

    def read_then_ledger_drops(run, exists):
        rows = read(run, exists)
        run(f"DROP TABLE {legacy_steps.TABLE}")  # what the ledger's migration does next, on its connection
        return rows

    monkeypatch.setattr(legacy_steps, "read", read_then_ledger_drops)
    with sqlite_checkpointer(db):
        pass
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "concilio_migrations" not in _tables(db)


def test_an_old_threads_file_with_a_step_nobody_knows_is_refused(tmp_path):
    db = tmp_path / "t.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE concilio_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        conn.execute("INSERT INTO concilio_migrations VALUES ('0099_future', '2026-11-01')")
    with pytest.raises(DatabaseError, match="newer concilio .*0099_future"):
        with sqlite_checkpointer(db):
            pass


@pytest.mark.parametrize("ledger_first", [False, True])
def test_threads_and_ledger_share_one_sqlite_file(tmp_path, monkeypatch, ledger_first):
    db = tmp_path / "threads.sqlite"
    monkeypatch.setenv("CONCILIO_LEDGER_URL", f"sqlite:///{db}")
    if ledger_first:  # an old ledger already in the file, as the old mechanism made it
        _old_ledger(db)
    first = _turn(db, "What does a lease need?")
    second = _turn(db, "¿Cuánto preaviso necesita un contrato de arrendamiento?")
    assert (first["turn"], second["turn"]) == (1, 2)
    report = collect()
    assert report["summary"]["runs"] == 2 + ledger_first and report["ledger"]["count"] == 0
    assert report["ledger"]["spooled"] == 0
    # reopened, as a new process would: both schemas are current, the thread is whole
    assert ledger.migrate(ledger.make_engine(f"sqlite:///{db}")) == []
    assert len(_messages(db)) == 4
    with Ledger(f"sqlite:///{db}").connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ledger.runs)).scalar_one() == 2 + ledger_first
    assert "concilio_migrations" not in _tables(db)
