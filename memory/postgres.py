"""PostgreSQL for what persists (CONCILIO_DATABASE_URL): LangGraph's own `PostgresSaver` and `PostgresStore`
(langgraph-checkpoint-postgres, psycopg 3), concilio's schema steps, and one thread's turn lock.

Connections are made as those classes require: autocommit (so `setup()` commits its tables), `dict_row` rows
(they read rows by column name) and no server-side prepared statements (`prepare_threshold=0`: safe behind
PgBouncer). One connection per opened saver or store, never a pool: a connection that drops is not replaced
behind the turn's back.

The turn lock is a PostgreSQL session advisory lock on a key derived from the thread (`lock_key`), taken on
the connection the turn's checkpoints are written on (`locked_checkpointer`). So every write of a turn is made
by the one session that holds the lock: a second worker waits for it (up to CONCILIO_TURN_TIMEOUT); a worker
that dies or loses the database loses its session, its lock and its writes together, and the next worker
resumes from the last checkpoint that reached the database.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Iterator

from agents.settings import settings
from memory.checkpoints import DatabaseError

SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
FIX = "check CONCILIO_DATABASE_URL (postgresql://user:password@host:5432/dbname) and that the server is up"
STEPS_TABLE = "concilio_schema"  # part -> how many of concilio's steps are applied (SQLite: PRAGMA user_version)
SCHEMA_LOCK = 0x636F6E63696C696F  # "concilio": serialises setup and schema steps across workers
STEPS = [("0001_baseline", "")]  # the same steps as memory.checkpoints.MIGRATIONS, as SQL for PostgreSQL
_prepared: set[str] = set()  # the databases this process has set up already


def is_postgres(target: object) -> bool:
    """True when `target` (a db argument, a URL) names a PostgreSQL database. Pure."""
    return isinstance(target, str) and target.split("://", 1)[0].lower() in SCHEMES


def url_problem(url: str) -> str | None:
    """What makes `url` unusable as CONCILIO_DATABASE_URL, or None. Pure."""
    if "://" not in url:
        return f"{url!r} is not a URL; use postgresql://user:password@host:5432/dbname"
    if not is_postgres(url):
        return f"{url.split('://', 1)[0]}:// is not PostgreSQL; use postgresql://user:password@host:5432/dbname"
    return None


def conninfo(url: str) -> str:
    """`url` as psycopg takes it (the SQLAlchemy driver suffix dropped). Pure."""
    return "postgresql://" + url.split("://", 1)[1]


def sqlalchemy_url(url: str) -> str:
    """`url` for SQLAlchemy with the psycopg 3 driver: the ledger's URL on the same database. Pure."""
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def shown(url: str) -> str:
    """`url` with its password hidden, for messages. Pure."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def lock_key(key: str) -> int:
    """The advisory-lock key (a signed 64-bit integer) for one thread's storage key. Pure."""
    return int.from_bytes(hashlib.sha256(f"concilio-turn\0{key}".encode()).digest()[:8], "big", signed=True)


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def connect(url: str):
    """A psycopg connection as LangGraph's PostgreSQL classes need it; a `DatabaseError` when unreachable."""
    import psycopg
    from psycopg.rows import dict_row

    try:
        return psycopg.connect(conninfo(url), autocommit=True, row_factory=dict_row, prepare_threshold=0,
                               connect_timeout=max(1, int(settings().db_timeout)),
                               keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3)
    except psycopg.Error as exc:
        raise DatabaseError(shown(url), f"can't be reached ({first_line(exc)})", FIX) from None


def migrate(conn, url: str = "") -> list[str]:
    """Apply concilio's steps this database lacks, in one transaction (callers hold the schema lock); refuse a
    database written by a newer concilio. Returns the steps applied now."""
    with conn.transaction():
        conn.execute(f"CREATE TABLE IF NOT EXISTS {STEPS_TABLE} (part text PRIMARY KEY, version integer NOT NULL)")
        row = conn.execute(f"SELECT version FROM {STEPS_TABLE} WHERE part = 'threads'").fetchone()
        version = row["version"] if row else 0
        if version > len(STEPS):
            raise DatabaseError(shown(url), f"was written by a newer concilio (threads schema step {version})",
                                "upgrade concilio, or " + FIX)
        done = []
        for name, sql in STEPS[version:]:
            if sql:
                conn.execute(sql)
            done.append(name)
        conn.execute(f"INSERT INTO {STEPS_TABLE} (part, version) VALUES ('threads', %s) "
                     "ON CONFLICT (part) DO UPDATE SET version = EXCLUDED.version", (len(STEPS),))
    return done


@contextlib.contextmanager
def schema_lock(conn, url: str, timeout: float | None = None) -> Iterator[None]:
    """The schema lock (a session advisory lock), polled rather than waited for: a session blocked inside a
    statement would hold a snapshot that another worker's `CREATE INDEX CONCURRENTLY` (in LangGraph's setup)
    waits for, while that worker holds the lock: a deadlock."""
    deadline = time.monotonic() + (settings().db_timeout if timeout is None else timeout)
    while not conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (SCHEMA_LOCK,)).fetchone()["got"]:
        if time.monotonic() > deadline:
            raise DatabaseError(shown(url), "is being set up by another concilio for too long",
                                "try again, or raise CONCILIO_DB_TIMEOUT")
        time.sleep(0.05)
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


def prepare(conn, url: str) -> None:
    """concilio's steps and LangGraph's `setup()` of the checkpointer and the store, once per process and
    database, under the schema lock (workers starting together would otherwise race on CREATE TABLE). Done
    before a turn lock is taken, so no worker sets up tables while it holds a thread."""
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.store.postgres import PostgresStore

    if url in _prepared:
        return
    with schema_lock(conn, url):
        migrate(conn, url)
        PostgresSaver(conn).setup()
        PostgresStore(conn).setup()
    _prepared.add(url)


@contextlib.contextmanager
def _in_use(url: str, conn) -> Iterator:
    """The connection, closed on exit; a psycopg error while in use (the server restarted, the network went)
    becomes a `DatabaseError` naming the database."""
    import psycopg

    try:
        yield conn
    except psycopg.OperationalError as exc:
        raise DatabaseError(shown(url), f"was lost mid-turn ({first_line(exc)}); the last checkpoint is kept, "
                            "ask again to resume", FIX) from exc
    finally:
        conn.close()


@contextlib.contextmanager
def checkpointer(url: str) -> Iterator:
    """A `PostgresSaver` on `url`, its tables set up and concilio's steps applied."""
    from langgraph.checkpoint.postgres import PostgresSaver

    with _in_use(url, connect(url)) as conn:
        prepare(conn, url)
        yield PostgresSaver(conn)


@contextlib.contextmanager
def locked_checkpointer(url: str, key: str, timeout: float) -> Iterator:
    """A `PostgresSaver` whose connection holds the turn lock of thread `key` for the block. After `timeout`
    seconds of waiting: `memory.turns.ThreadBusyError`."""
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver

    from memory.turns import ThreadBusyError

    with _in_use(url, connect(url)) as conn:
        prepare(conn, url)
        saver = PostgresSaver(conn)
        conn.execute(f"SET lock_timeout = {max(1, int(timeout * 1000))}")
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (lock_key(key),))
        except psycopg.errors.LockNotAvailable:
            raise ThreadBusyError(key.rsplit("\x1f", 1)[-1], timeout) from None
        conn.execute("SET lock_timeout = 0")
        yield saver  # the lock ends with the session: at close, or when the worker or the connection dies


@contextlib.contextmanager
def store(url: str) -> Iterator:
    """A `PostgresStore` on `url` (cross-thread memories and feedback), its tables set up."""
    from langgraph.store.postgres import PostgresStore

    with _in_use(url, connect(url)) as conn:
        prepare(conn, url)
        yield PostgresStore(conn)
