"""The ledger's tables (SQLAlchemy Core) and how a database gets them: Alembic, run from code.

The revisions live in `memory/ledger/migrations/versions/` (package data); `migrate(engine)` is `alembic upgrade
head` on that engine. A ledger made before Alembic (a `concilio_migrations` row `0001_tables`) is stamped at
0001, not re-created; one stamped with a revision this concilio doesn't know is refused, never altered.
Revisions use Alembic's portable operations only, so they run on any SQLAlchemy URL (PostgreSQL included).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from pathlib import Path

import sqlalchemy as sa

from agents.errors import ConcilioError
from agents.paths import data_dir
from agents.settings import settings
from memory import legacy_steps

LEDGER_NAME = "ledger.sqlite"
SCRIPTS = Path(__file__).with_name("migrations")  # env.py + versions/
VERSION_TABLE = "concilio_ledger_version"  # Alembic's version table, named so it can share a file
LEDGER_LOCK = 0x6C6564676572  # "ledger": the advisory lock that serialises migrations on PostgreSQL

metadata = sa.MetaData()
runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("thread_id", sa.String(200), index=True),  # agents.user_text.THREAD_ID_MAX (0003)
    sa.Column("user_id", sa.String(128), index=True),  # USER_ID_MAX; NULL: the one local user (0003)
    sa.Column("turn", sa.Integer),
    sa.Column("started_at", sa.DateTime, index=True),  # UTC
    sa.Column("profile", sa.String(128)),
    sa.Column("question", sa.Text),
    sa.Column("language", sa.String(8)),
    sa.Column("domain", sa.String(16)),
    sa.Column("confidence", sa.Float),
    sa.Column("routed_by", sa.String(16)),
    sa.Column("node", sa.String(16)),
    sa.Column("verdict", sa.String(16)),
    sa.Column("revisions", sa.Integer),
    sa.Column("swaps", sa.Integer),
    sa.Column("seconds", sa.Float),
    sa.Column("error", sa.Text),
    sa.Column("cache", sa.String(16)),  # hit-exact | hit-near | miss; NULL: no response cache (0002)
)
node_runs = sa.Table(
    "node_runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), index=True),
    sa.Column("seq", sa.Integer),
    sa.Column("node", sa.String(32)),
    sa.Column("role", sa.String(32)),
    sa.Column("model", sa.String(256)),
    sa.Column("backend", sa.String(32)),
    sa.Column("domain", sa.String(16)),
    sa.Column("tokens_in", sa.Integer),
    sa.Column("tokens_out", sa.Integer),
    sa.Column("seconds", sa.Float),
    sa.Column("load_seconds", sa.Float),
    sa.Column("swapped", sa.Boolean),
    sa.Column("skipped", sa.Boolean),
    sa.Column("error", sa.Text),
)
reviews = sa.Table(
    "reviews", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), index=True),
    sa.Column("seq", sa.Integer),
    sa.Column("draft_model", sa.String(256)),
    sa.Column("reviewer_model", sa.String(256)),
    sa.Column("verdict", sa.String(16)),
    sa.Column("verdict_by", sa.String(16)),
    sa.Column("issues", sa.Text),  # JSON list
)
feedback = sa.Table(
    "feedback", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("thread_id", sa.String(200), index=True),
    sa.Column("user_id", sa.String(128), index=True),
    sa.Column("turn", sa.Integer),
    sa.Column("at", sa.DateTime),  # UTC
    sa.Column("verdict", sa.String(8)),
    sa.Column("domain", sa.String(16)),
)


class LedgerError(ConcilioError):
    pass


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def newer(revisions: list[str]) -> LedgerError:
    return LedgerError(f"the ledger was written by a newer concilio (steps {', '.join(revisions)}): upgrade "
                       "concilio, or point CONCILIO_LEDGER_URL at another database")


def _alembic(conn: sa.Connection):
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = conn
    config.attributes["version_table"] = VERSION_TABLE
    return config, ScriptDirectory.from_config(config)


def _current(conn: sa.Connection) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_heads()


def migrate(engine: sa.Engine) -> list[str]:
    """`alembic upgrade head` on `engine`: the revisions this database lacks, in order. A pre-Alembic ledger is
    stamped first; a database stamped with (or carrying old steps of) a newer concilio is refused. Returns
    the revisions applied now."""
    with _quiet("alembic"), engine.begin() as conn:
        from alembic import command  # its import logs its plugins at INFO

        if conn.dialect.name == "postgresql":  # workers starting together: one migrates, the others wait
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LEDGER_LOCK})")
        config, scripts = _alembic(conn)
        known = {rev.revision for rev in scripts.walk_revisions()}
        current = _current(conn)
        unknown = sorted(set(current) - known)
        if unknown:
            raise newer(unknown)
        order = [rev.revision for rev in reversed(list(scripts.walk_revisions()))]  # base → head
        if not current:
            run, exists = _run(conn), sa.inspect(conn).has_table(legacy_steps.TABLE)
            verdict = legacy_steps.verdict(legacy_steps.read(run, exists), legacy_steps.LEDGER)
            if verdict.unknown:
                raise newer(list(verdict.unknown))
            if verdict.applied:  # the old mechanism made today's tables: they are 0001
                command.stamp(config, order[0])
                legacy_steps.forget(run, exists, legacy_steps.LEDGER)
                current = _current(conn)
        start = order.index(current[0]) + 1 if current else 0
        command.upgrade(config, "head")
    return order[start:]


@contextlib.contextmanager
def _quiet(name: str):
    """Alembic's INFO lines (plugins, "Running upgrade") stay out of the CLI's stderr; warnings still show."""
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(max(before, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(before)


def _run(conn: sa.Connection):
    def run(sql: str) -> list[tuple]:
        result = conn.exec_driver_sql(sql)
        return [tuple(row) for row in result] if result.returns_rows else []

    return run


def default_url() -> str:
    """CONCILIO_LEDGER_URL; else CONCILIO_DATABASE_URL's database (psycopg 3 driver); else SQLite in the data
    folder. `off` (or empty after `=`) disables."""
    url = settings().ledger_url
    if url is None and settings().database_url:
        from memory.postgres import sqlalchemy_url

        return sqlalchemy_url(settings().database_url)
    if url is None:
        return f"sqlite:///{data_dir() / LEDGER_NAME}"
    return url.strip() or "off"


def make_engine(url: str) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":  # SQLAlchemy's default driver is psycopg2; concilio ships psycopg 3
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": settings().ledger_timeout})

    @sa.event.listens_for(engine, "connect")
    def _wal(dbapi_conn, _record):  # readers (stats, metrics) never wait for the writer
        with contextlib.closing(dbapi_conn.cursor()) as cur:
            cur.execute("PRAGMA journal_mode=WAL")

    return engine
