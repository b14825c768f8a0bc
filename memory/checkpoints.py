"""Checkpointer factories: one SQLite file in the user's data folder keeps every thread.

`langgraph dev` brings its own persistence, so the exported graph has none; code, the CLI and
notebooks open one here and pass it to `build_graph(checkpointer=...)`.

Opening checks, before anything is written: the file is a SQLite database, it is writable and not
locked by another process, and it was not written by a newer concilio. concilio's own schema changes are
an ordered list of named steps; SQLite's `PRAGMA user_version` says how many are applied (LangGraph migrates
its checkpoint tables itself in `setup()`). A file from before user_version has its steps in a
`concilio_migrations` table (memory/legacy_steps.py): they are read and converted. An SQLite failure while
the database is in use (a full disk, say) is a `DatabaseError` naming the file and the fix too (sqlite_problem).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from agents.errors import ConcilioError
from agents.paths import data_dir
from agents.settings import settings
from memory import legacy_steps

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


def database(db: str | Path | None = None) -> str | Path:
    """Where threads and memories live: `db` as given (a path, a `file:` URI or a postgresql:// URL), else
    CONCILIO_DATABASE_URL, else the data folder's threads.sqlite."""
    from memory.postgres import is_postgres

    if db is None and settings().database_url:
        return settings().database_url
    return db if is_postgres(db) else db_location(db)


def on_database(db: str | Path | None, on_postgres: Callable[[str], T], on_sqlite: Callable[[str | Path], T]) -> T:
    """`on_postgres(url)` when `database(db)` is a postgresql:// URL, else `on_sqlite(location)`: the one place
    that picks the engine for threads, memories and the response cache."""
    from memory.postgres import is_postgres

    where = database(db)
    return on_postgres(str(where)) if is_postgres(where) else on_sqlite(where)


def checkpointer(db: str | Path | None = None) -> contextlib.AbstractContextManager:
    """LangGraph's checkpointer on `database(db)`: `PostgresSaver` for a postgresql:// URL, else `SqliteSaver`."""
    from memory import postgres

    return on_database(db, postgres.checkpointer, sqlite_checkpointer)


def _connect(db: str | Path) -> sqlite3.Connection:
    timeout = settings().db_timeout
    uri = isinstance(db, str) and db.startswith("file:")
    if not uri:
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    return sqlite3.connect(str(db), check_same_thread=False, timeout=timeout, uri=uri)


def read_only_mount(path: Path) -> bool:
    """True when `path` (or the nearest folder above it that exists) is on a read-only file system."""
    for place in (path, *path.parents):
        try:
            return bool(os.statvfs(place).f_flag & os.ST_RDONLY)
        except OSError:
            continue
    return False


def sqlite_problem(text: str, read_only: bool = False) -> tuple[str, str]:
    """(problem, fix) for an SQLite error message; `read_only`: the file's folder is on a read-only mount
    (SQLite then says only "unable to open database file", as it can't make its journal). Pure."""
    if "not a database" in text:
        return "is not a SQLite database", FIX
    if read_only or "readonly" in text or "read-only" in text:
        return "is read-only", "check the file's permissions and the mount, or " + FIX
    if "locked" in text or "busy" in text:
        return "is locked by another process", "wait for the other concilio to finish and try again"
    if "disk is full" in text or "database or disk is full" in text:
        return ("can't grow: the disk is full (earlier turns are kept)",
                "free space on that disk and ask again, or " + FIX)
    if "unable to open" in text:
        return f"can't be opened ({text})", FIX
    return text, FIX


def _location_path(db: object) -> Path | None:
    text = str(db)
    if text.startswith("file:"):
        text = text[5:].split("?", 1)[0]
    return Path(text) if text and text != ":memory:" else None


def database_error(db: object, exc: sqlite3.Error) -> DatabaseError:
    """The `DatabaseError` for an SQLite failure on `db`, read-only mounts named as such."""
    path = _location_path(db)
    problem, fix = sqlite_problem(str(exc), read_only=path is not None and read_only_mount(path))
    return DatabaseError(db, problem, fix)


def _check_writable(conn: sqlite3.Connection, db: object) -> None:
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute("BEGIN IMMEDIATE")  # takes the write lock, or fails: locked, not a database
        try:
            conn.execute(f"PRAGMA user_version = {int(version)}")  # a real write, rolled back: read-only fails
        finally:
            conn.execute("ROLLBACK")
    except sqlite3.DatabaseError as exc:
        raise database_error(db, exc) from None


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


def _legacy(conn: sqlite3.Connection) -> tuple[legacy_steps.Run, bool]:
    def run(sql: str) -> list[tuple]:
        return conn.execute(sql).fetchall()

    exists = bool(run(f"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{legacy_steps.TABLE}'"))
    return run, exists


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction on a connection in autocommit mode: committed, or rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")  # a failed step leaves the database as it was
        raise
    conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection, db: object = "") -> list[str]:
    """Apply the steps this database lacks, in order, each with its user_version in one transaction; convert
    the steps a file from before user_version recorded; refuse a file written by a newer concilio.

    The legacy table is read, and later emptied, inside write transactions: a ledger sharing the file (its
    writer thread, another process) may drop the table at any moment between two statements otherwise."""
    done = []
    mode, conn.isolation_level = conn.isolation_level, None  # explicit transactions: a step and its version
    try:
        with _transaction(conn):  # one consistent view of the legacy rows and user_version
            run, exists = _legacy(conn)
            legacy = legacy_steps.verdict(legacy_steps.read(run, exists), legacy_steps.THREADS)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        if legacy.unknown or version > len(MIGRATIONS):
            found = ", ".join(legacy.unknown) if legacy.unknown else f"user_version {version}"
            raise DatabaseError(db, f"was written by a newer concilio (migrations {found})",
                                "upgrade concilio, or " + FIX)
        version = max(version, len(legacy.applied))
        for number, (name, step) in enumerate(MIGRATIONS[version:], start=version + 1):
            with _transaction(conn):  # holds the write lock: another process opening the file waits here
                if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
                    continue  # that other process applied it first
                step(conn)
                conn.execute(f"PRAGMA user_version = {number}")
            done.append(name)
        if exists:
            with _transaction(conn):
                conn.execute(f"PRAGMA user_version = {max(version, len(MIGRATIONS))}")
                run, still = _legacy(conn)  # the ledger may have dropped it since
                legacy_steps.forget(run, still, legacy_steps.THREADS)
    finally:
        conn.isolation_level = mode
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
            raise database_error(db, exc) from None
        try:
            yield prepared
        except sqlite3.OperationalError as exc:  # while in use: a full disk, a lock that outlasted the timeout
            raise database_error(db, exc) from exc
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
