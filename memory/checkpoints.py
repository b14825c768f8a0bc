"""Checkpointer factories: one SQLite file in the user's data folder keeps every thread.

`langgraph dev` brings its own persistence, so the exported graph has none; code, the CLI and
notebooks open one here and pass it to `build_graph(checkpointer=...)`.

Opening checks, before anything is written: the file is a SQLite database, it is writable and not
locked by another process, and it was not written by a newer concilio. concilio's own schema changes are
an ordered list of named migrations, recorded in the database as they are applied (LangGraph migrates
its checkpoint tables itself in `setup()`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from agents.errors import ConcilioError
from agents.paths import data_dir
from agents.settings import settings

T = TypeVar("T")

DB_NAME = "threads.sqlite"
FIX = "set CONCILIO_DATA_DIR to another folder, or move the file away"


def _baseline(conn: sqlite3.Connection) -> None:
    """0001: record that this database holds concilio threads (LangGraph's tables come from setup())."""


MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("0001_baseline", _baseline),
]


class DatabaseError(ConcilioError):
    def __init__(self, db: object, problem: str, fix: str = FIX) -> None:
        super().__init__(f"conversation database {db}: {problem}. Fix: {fix}")


def default_db_path() -> Path:
    return data_dir() / DB_NAME


def db_location(path: str | Path | None) -> str | Path:
    """`path` as given when it is a `file:` URI, else a Path (default: the data folder's threads.sqlite)."""
    return path if isinstance(path, str) and path.startswith("file:") else Path(path or default_db_path())


def _connect(db: str | Path) -> sqlite3.Connection:
    timeout = settings().db_timeout
    uri = isinstance(db, str) and db.startswith("file:")
    if not uri:
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    return sqlite3.connect(str(db), check_same_thread=False, timeout=timeout, uri=uri)


def _check_writable(conn: sqlite3.Connection, db: object) -> None:
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute("BEGIN IMMEDIATE")  # takes the write lock, or fails: locked, not a database
        try:
            conn.execute(f"PRAGMA user_version = {int(version)}")  # a real write, rolled back: read-only fails
        finally:
            conn.execute("ROLLBACK")
    except sqlite3.DatabaseError as exc:
        text = str(exc)
        if "not a database" in text:
            raise DatabaseError(db, "is not a SQLite database") from None
        if "readonly" in text or "read-only" in text:
            raise DatabaseError(db, "is read-only", "check the file's permissions, or " + FIX) from None
        if "locked" in text:
            raise DatabaseError(db, "is locked by another process",
                                "wait for the other concilio to finish and try again") from None
        raise DatabaseError(db, text) from None


def open_checked(path: str | Path | None) -> tuple[str | Path, sqlite3.Connection]:
    """(location, connection) to the conversation database, refused with a `DatabaseError` when it can't
    be opened, isn't SQLite, is read-only or is locked. Shared by the checkpointers and the store."""
    db = db_location(path)
    try:
        conn = _connect(db)
    except (OSError, sqlite3.Error) as exc:
        raise DatabaseError(db, f"can't be opened ({exc})") from None
    try:
        _check_writable(conn, db)
    except BaseException:
        conn.close()
        raise
    return db, conn


def migrate(conn: sqlite3.Connection, db: object = "") -> list[str]:
    """Apply the migrations this database lacks, in order; refuse one written by a newer concilio."""
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS concilio_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    applied = {row[0] for row in conn.execute("SELECT name FROM concilio_migrations")}
    unknown = sorted(applied - {name for name, _ in MIGRATIONS})
    if unknown:
        raise DatabaseError(db, f"was written by a newer concilio (migrations {', '.join(unknown)})",
                            "upgrade concilio, or " + FIX)
    done = []
    for name, step in MIGRATIONS:
        if name not in applied:
            with conn:  # one transaction per step: a failed step leaves the database as it was
                step(conn)
                conn.execute("INSERT INTO concilio_migrations VALUES (?, ?)",
                             (name, dt.datetime.now(dt.timezone.utc).isoformat()))
            done.append(name)
    return done


@contextlib.contextmanager
def opened(path: str | Path | None, prepare: Callable[[sqlite3.Connection, Path], T]) -> Iterator[T]:
    """`open_checked(path)`, then `prepare(conn, db)` builds what is yielded (a saver, a store). An SQLite
    error while preparing becomes a DatabaseError naming the file; the connection is closed on every exit."""
    db, conn = open_checked(path)
    try:
        try:
            prepared = prepare(conn, db)
        except sqlite3.Error as exc:
            raise DatabaseError(db, str(exc)) from None
        yield prepared
    finally:
        conn.close()


@contextlib.contextmanager
def sqlite_checkpointer(path: str | Path | None = None) -> Iterator:
    """A `SqliteSaver` on `path` (default: the data folder's threads.sqlite; a `file:` URI also works),
    WAL mode, checked and migrated, closed on exit."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    def prepare(conn: sqlite3.Connection, db: Path) -> SqliteSaver:
        conn.execute("PRAGMA journal_mode=WAL")
        migrate(conn, db)
        saver = SqliteSaver(conn)
        saver.setup()
        return saver

    with opened(path, prepare) as saver:
        yield saver


@contextlib.asynccontextmanager
async def async_sqlite_checkpointer(path: str | Path | None = None):
    """An `AsyncSqliteSaver` on the same database, for async code (`graph.ainvoke`, servers).

    The checks and migrations run first through the sync opener, so both open the same, sound file.
    """
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    with sqlite_checkpointer(path):
        pass
    async with aiosqlite.connect(str(db_location(path))) as conn:
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        yield saver
