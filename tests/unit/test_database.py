"""The conversation database: bad files get clear errors and are never changed; migrations are
recorded; a database from a newer concilio is refused."""

from __future__ import annotations

import sqlite3

import pytest

from agents.backends.fake import FakeChatModel
from agents.roles.team import Team
from agents.slot.slot import GpuSlot
from graphs.api import ask
from memory.checkpoints import MIGRATIONS, DatabaseError, migrate, sqlite_checkpointer
from tests.conftest import fake_profile


def one_turn(db):
    FakeChatModel.enqueue("A lease needs notice.", "OK", "Leases need written notice.")
    return ask("What does a lease need?", profile=Team(fake_profile(), GpuSlot()), db=db, thread_id="t")


def test_migrations_are_recorded_once(tmp_path):
    db = tmp_path / "t.sqlite"
    with sqlite_checkpointer(db):
        pass
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert migrate(conn) == []  # nothing left to apply
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_database_from_a_newer_concilio_is_refused_and_left_as_it_was(tmp_path):
    db = tmp_path / "t.sqlite"
    one_turn(db)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    before = db.read_bytes()
    with pytest.raises(DatabaseError, match="written by a newer concilio .*user_version 99.* upgrade concilio"):
        one_turn(db)
    assert db.read_bytes() == before


def test_not_a_database(tmp_path):
    db = tmp_path / "t.sqlite"
    db.write_bytes(b"these are my notes, not a database" * 100)
    before = db.read_bytes()
    with pytest.raises(DatabaseError, match=r"t\.sqlite: is not a SQLite database\. Fix: set CONCILIO_DATA_DIR"):
        one_turn(db)
    assert db.read_bytes() == before


def test_a_locked_database_is_reported_and_nothing_is_written(tmp_path, monkeypatch):
    db = tmp_path / "t.sqlite"
    one_turn(db)
    monkeypatch.setenv("CONCILIO_DB_TIMEOUT", "0.2")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseError, match="locked by another process"):
            FakeChatModel.enqueue("x", "OK", "y")
            ask("Another question about a lease?", profile=Team(fake_profile(), GpuSlot()), db=db, thread_id="t")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with sqlite_checkpointer(db) as saver:
        from graphs.cooperation import build_graph

        state = build_graph(checkpointer=saver).get_state({"configurable": {"thread_id": "t"}})
    assert [m.content for m in state.values["messages"]] == ["What does a lease need?", "Leases need written notice."]


def test_a_read_only_database_is_reported(tmp_path):
    db = tmp_path / "t.sqlite"
    one_turn(db)
    # As root, file permissions don't stop writes; SQLite's read-only mode is the same condition.
    with pytest.raises(DatabaseError, match="is read-only"):
        with sqlite_checkpointer(f"file:{db}?mode=ro"):
            pass


def test_the_async_checkpointer_shares_threads_with_the_sync_one(tmp_path):
    import asyncio

    from graphs.cooperation import build_graph
    from graphs.state import Context
    from memory.checkpoints import async_sqlite_checkpointer

    db = tmp_path / "t.sqlite"
    one_turn(db)
    config = {"configurable": {"thread_id": "t"}}

    async def second_turn():
        FakeChatModel.enqueue("Notice is usually 30 days.", "OK", "Usually 30 days of notice.")
        async with async_sqlite_checkpointer(db) as saver:
            graph = build_graph(checkpointer=saver)
            return await graph.ainvoke({"question": "How much notice for a lease?"}, config,
                                       context=Context(profile=Team(fake_profile(), GpuSlot())), durability="sync")

    out = asyncio.run(second_turn())
    assert out["turn"] == 2
    with sqlite_checkpointer(db) as saver:
        state = build_graph(checkpointer=saver).get_state(config)
    assert [m.content for m in state.values["messages"]][-2:] == ["How much notice for a lease?",
                                                                   "Usually 30 days of notice."]


def test_an_unopenable_location_is_a_clear_error_for_the_store_too(tmp_path):
    from memory.store import sqlite_store

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    for opener in (sqlite_checkpointer, sqlite_store):
        with pytest.raises(DatabaseError, match="can't be opened"):
            with opener(blocker / "threads.sqlite"):
                pass
