"""PostgreSQL (memory/postgres.py): URLs, lock keys and schema steps by table; then on a real server started by
the tests (tests/conftest.py `postgres`): the steps, the turn lock across sessions, a refused newer database,
an unreachable server, and the ledger's Alembic revisions."""

from __future__ import annotations

import pytest

from agents.errors import SettingsError
from agents.settings import build
from memory import checkpoints, ledger, postgres
from memory.checkpoints import DatabaseError
from memory.turns import ThreadBusyError, turn_checkpointer
from tests.conftest import held_elsewhere


@pytest.mark.parametrize("url, ok", [
    ("postgresql://u:p@db:5432/concilio", True), ("postgres://db/concilio", True),
    ("postgresql+psycopg://db/concilio", True), ("sqlite:///x.sqlite", False), ("db:5432", False),
])
def test_database_urls(url, ok):
    assert (postgres.url_problem(url) is None) is ok
    if ok:
        assert build(database_url=url).database_url == url
    else:
        with pytest.raises(SettingsError, match="CONCILIO_DATABASE_URL|database_url"):
            build(database_url=url)


@pytest.mark.parametrize("url, psycopg, alchemy, shown", [
    ("postgresql://u:secret@db/c", "postgresql://u:secret@db/c", "postgresql+psycopg://u:secret@db/c",
     "postgresql://u:***@db/c"),
    ("postgres://db:5433/c", "postgresql://db:5433/c", "postgresql+psycopg://db:5433/c", "postgres://db:5433/c"),
    ("postgresql+psycopg://u@db/c", "postgresql://u@db/c", "postgresql+psycopg://u@db/c", "postgresql+psycopg://u@db/c"),
])
def test_urls_for_each_driver(url, psycopg, alchemy, shown):
    assert postgres.conninfo(url) == psycopg
    assert postgres.sqlalchemy_url(url) == alchemy
    assert postgres.shown(url) == shown


def test_lock_keys_are_stable_64_bit_and_distinct():
    keys = {postgres.lock_key(k) for k in ("t", "u", "bob\x1ft", "ana\x1ft")}
    assert len(keys) == 4 and all(-(2**63) <= k < 2**63 for k in keys)
    assert postgres.lock_key("t") == postgres.lock_key("t")


def test_the_steps_are_the_same_on_both_databases():
    assert [name for name, _ in postgres.STEPS] == [name for name, _ in checkpoints.MIGRATIONS]


def test_one_setting_moves_the_ledger_too_unless_it_has_its_own(monkeypatch):
    monkeypatch.setenv("CONCILIO_DATABASE_URL", "postgresql://u@db/c")
    assert ledger.default_url() == "postgresql+psycopg://u@db/c"
    assert checkpoints.database() == "postgresql://u@db/c"
    monkeypatch.setenv("CONCILIO_LEDGER_URL", "off")
    assert ledger.default_url() == "off"


# --- on a real server -------------------------------------------------------------------------------------------
@pytest.fixture
def url(postgres):
    return postgres.create_database()


def test_steps_run_once_and_a_newer_database_is_refused(url):
    conn = postgres.connect(url)
    try:
        assert postgres.migrate(conn, url) == ["0001_baseline"]  # under no lock: a test alone on its database
        assert postgres.migrate(conn, url) == []
        conn.execute("UPDATE concilio_schema SET version = 99 WHERE part = 'threads'")
        with pytest.raises(DatabaseError, match="newer concilio"):
            postgres.migrate(conn, url)
    finally:
        conn.close()


def test_a_thread_being_answered_makes_another_session_wait_then_busy(url):
    with held_elsewhere(lambda: turn_checkpointer(url, "busy", timeout=5)):
        with pytest.raises(ThreadBusyError, match="thread 'busy' is busy"):
            with turn_checkpointer(url, "busy", timeout=0.3):
                pass
        with turn_checkpointer(url, "other", timeout=1):  # other threads go on
            pass
    with turn_checkpointer(url, "busy", timeout=1):  # the holder's session closed: free again
        pass


def test_an_unreachable_server_is_a_clear_error(postgres):
    bad = f"postgresql://concilio:pw@127.0.0.1:{postgres.port + 1}/nope"
    with pytest.raises(DatabaseError, match=r"postgresql://concilio:\*\*\*@127.0.0.1.*can't be reached.*"
                                            "CONCILIO_DATABASE_URL"):
        with checkpoints.checkpointer(bad):
            pass


def test_the_ledger_revisions_run_on_postgresql(url):
    engine = ledger.make_engine(url)  # a plain postgresql:// URL gets the psycopg 3 driver
    assert engine.dialect.driver == "psycopg"
    assert ledger.migrate(engine) == ["0001", "0002", "0003"]
    assert ledger.migrate(engine) == []
