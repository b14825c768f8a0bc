"""The effectiveness ledger: what every run did, node by node and model by model (SQLAlchemy Core).

Tables (SQLite in the data folder by default; any SQLAlchemy URL through CONCILIO_LEDGER_URL, e.g.
`postgresql+psycopg://user@host/concilio` for a shared deployment; `off` turns the ledger off):
  runs        one row per run: thread, turn, question, language, route (domain, confidence, by, node),
              final verdict, revisions, swaps, total seconds, error
  node_runs   one row per node execution: role, model, backend, domain, tokens in/out, seconds,
              load seconds, swapped, skipped, error
  reviews     reviewer verdicts, with the model whose draft was reviewed
  feedback    user ratings of a turn (`concilio feedback`)
Schema changes are an ordered list of named steps (MIGRATIONS), recorded in `concilio_migrations`.

Writing never blocks or breaks a run: records go through a queue to one background thread. A write that
fails (database missing, locked, full, newer schema) is logged and counted in a small file beside the
data (`failures()`), and the record waits in a spool file that is replayed once the database takes writes
again. Reading (stats, metrics) uses `Ledger.connect()`.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import hashlib
import json
import logging
import queue
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from filelock import FileLock

from agents.errors import ConcilioError
from agents.paths import data_dir
from agents.settings import settings

log = logging.getLogger(__name__)

LEDGER_NAME = "ledger.sqlite"
ANSWERING = ("legal", "technical", "general", "long_context")

metadata = sa.MetaData()
runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("thread_id", sa.String(128), index=True),
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
    sa.Column("thread_id", sa.String(128), index=True),
    sa.Column("turn", sa.Integer),
    sa.Column("at", sa.DateTime),  # UTC
    sa.Column("verdict", sa.String(8)),
    sa.Column("domain", sa.String(16)),
)
applied_steps = sa.Table(
    "concilio_migrations", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("applied_at", sa.DateTime),
)


def _tables(conn: sa.Connection) -> None:
    """0001: runs, node_runs, reviews, feedback, with their indexes."""
    metadata.create_all(conn, tables=[runs, node_runs, reviews, feedback])


MIGRATIONS = [("0001_tables", _tables)]


class LedgerError(ConcilioError):
    pass


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def migrate(engine: sa.Engine) -> list[str]:
    """Apply the named steps this database lacks, in order, one transaction each; refuse a database
    written by a newer concilio. Returns the steps applied now."""
    applied_steps.create(engine, checkfirst=True)
    with engine.connect() as conn:
        applied = set(conn.scalars(sa.select(applied_steps.c.name)))
    unknown = sorted(applied - {name for name, _ in MIGRATIONS})
    if unknown:
        raise LedgerError(f"the ledger was written by a newer concilio (steps {', '.join(unknown)}): upgrade "
                          "concilio, or point CONCILIO_LEDGER_URL at another database")
    done = []
    for name, step in MIGRATIONS:
        if name in applied:
            continue
        with engine.begin() as conn:
            step(conn)
            conn.execute(applied_steps.insert().values(name=name, applied_at=now()))
        done.append(name)
    return done


def default_url() -> str:
    """CONCILIO_LEDGER_URL, or SQLite in the data folder. `off` (or empty after `=`) disables."""
    url = settings().ledger_url
    if url is None:
        return f"sqlite:///{data_dir() / LEDGER_NAME}"
    return url.strip() or "off"


def make_engine(url: str) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": settings().ledger_timeout})

    @sa.event.listens_for(engine, "connect")
    def _wal(dbapi_conn, _record):  # readers (stats, metrics) never wait for the writer
        with contextlib.closing(dbapi_conn.cursor()) as cur:
            cur.execute("PRAGMA journal_mode=WAL")

    return engine


def _side_path(url: str, suffix: str) -> Path:
    """Where a ledger's failure count and spool live: the local data folder, named by the URL's hash."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    return data_dir() / "ledger" / f"{digest}.{suffix}"


def failures(url: str | None = None) -> dict[str, Any]:
    """{"count", "last_error", "last_at", "spooled"} for the ledger at `url` (default: the configured one)."""
    url = url or default_url()
    info = {"count": 0, "last_error": None, "last_at": None}
    try:
        info.update(json.loads(_side_path(url, "failures.json").read_text("utf-8")))
    except (OSError, ValueError):
        pass
    try:
        with _side_path(url, "spool.jsonl").open("rb") as fh:
            info["spooled"] = sum(1 for line in fh if line.strip())
    except OSError:
        info["spooled"] = 0
    return info


_FLUSH = object()


class Ledger:
    """One database's writer: `record()` queues, a daemon thread writes; `flush()` waits for the queue."""

    def __init__(self, url: str | None = None, *, engine: sa.Engine | None = None) -> None:
        self.url = url or default_url()
        self.enabled = self.url != "off"
        self._engine = engine
        self._migrated = False
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.failed_writes = 0  # this process's count (the file holds every process's)

    # --- writing -------------------------------------------------------------------------------------
    def record(self, record: dict) -> None:
        """Queue a record (`run_record()` / `feedback_record()`); returns at once, never raises."""
        if not self.enabled:
            return
        self._queue.put(record)
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="concilio-ledger", daemon=True)
                self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far was written (or failed and spooled). False on timeout."""
        if not self.enabled or self._thread is None:
            return True
        done = threading.Event()
        self._queue.put((_FLUSH, done))
        return done.wait(timeout)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, tuple) and item and item[0] is _FLUSH:
                item[1].set()
                continue
            self.write([item])

    def write(self, records: list[dict]) -> bool:
        """Write now, in this thread: spooled records first, then `records`. A failure is counted and the
        unwritten records spooled; nothing raises. Only the records written leave the spool, so a record
        another process spooled meanwhile stays."""
        spool = _side_path(self.url, "spool.jsonl")
        written: set[str] = set()
        try:
            engine = self.engine()
            for record in _read_spool(spool) + records:
                try:
                    with engine.begin() as conn:
                        _insert(conn, record)
                except sa.exc.IntegrityError:
                    log.info("ledger: record %s already written, skipped", record.get("id"))
                written.add(record["id"])
            return True
        except Exception as exc:  # noqa: BLE001 - a ledger problem must never reach the run
            self._failed(exc, [r for r in records if r["id"] not in written], spool)
            return False
        finally:
            _unspool(spool, written)

    def _failed(self, exc: Exception, records: list[dict], spool: Path) -> None:
        self.failed_writes += 1
        text = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        log.warning("ledger %s: write failed (%s); the record is kept for later", self.url, text)
        try:
            with _spool_lock(spool):
                spooled = {r.get("id") for r in _read_spool(spool)}
                new = [r for r in records if r["id"] not in spooled]
                if new:
                    with spool.open("a", encoding="utf-8") as fh:
                        fh.writelines(_lines(new))
                path = _side_path(self.url, "failures.json")
                info = failures(self.url)
                info = {"count": int(info.get("count", 0)) + 1, "last_error": text, "last_at": now().isoformat()}
                path.write_text(json.dumps(info), "utf-8")
        except Exception as side:  # noqa: BLE001 - the disk is full too: the log line is all that is left
            log.warning("ledger: could not keep the failure on disk either (%s)", side)

    # --- reading -------------------------------------------------------------------------------------
    def engine(self) -> sa.Engine:
        """The engine, migrated on first use. Raises LedgerError (with the reason) when unusable."""
        if not self.enabled:
            raise LedgerError("the ledger is off (CONCILIO_LEDGER_URL=off)")
        try:
            if self._engine is None:
                self._engine = make_engine(self.url)
            if not self._migrated:
                migrate(self._engine)
                self._migrated = True
        except LedgerError:
            raise
        except Exception as exc:
            raise LedgerError(f"the ledger at {self.url} can't be used: {str(exc).splitlines()[0]}") from exc
        return self._engine

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        with self.engine().connect() as conn:
            yield conn


@contextmanager
def _spool_lock(spool: Path):
    spool.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(spool) + ".lock", timeout=5):
        yield


def _read_spool(spool: Path) -> list[dict]:
    if not spool.exists():
        return []
    out = []
    for line in spool.read_text("utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            log.warning("ledger: unreadable spool line skipped")
    return out


def _lines(records) -> list[str]:
    return [json.dumps(r, default=str) + "\n" for r in records]


def _unspool(spool: Path, written: set[str]) -> None:
    """Take the records now in the database out of the spool, under its lock (other processes append)."""
    if not written or not spool.exists():
        return
    with _spool_lock(spool):
        kept = [r for r in _read_spool(spool) if r.get("id") not in written]
        if kept:
            spool.write_text("".join(_lines(kept)), "utf-8")
        else:
            spool.unlink(missing_ok=True)


def _when(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def _insert(conn: sa.Connection, record: dict) -> None:
    if record["kind"] == "run":
        conn.execute(runs.insert().values(**{**record["run"], "started_at": _when(record["run"]["started_at"])}))
        if record["nodes"]:
            conn.execute(node_runs.insert(), [{**n, "run_id": record["id"]} for n in record["nodes"]])
        if record["reviews"]:
            conn.execute(reviews.insert(), [{**r, "run_id": record["id"]} for r in record["reviews"]])
    elif record["kind"] == "feedback":
        conn.execute(feedback.insert().values(**{**record["feedback"], "id": record["id"],
                                                 "at": _when(record["feedback"]["at"])}))
    else:
        raise LedgerError(f"unknown ledger record kind {record['kind']!r}")


# --- records ---------------------------------------------------------------------------------------------
def run_record(*, thread_id: str, turn: int | None, question: str, language: str | None, route: dict | None,
               trace: list[dict], started_at: dt.datetime, seconds: float, profile: str = "",
               verdict: str | None = None, revisions: int = 0, error: str | None = None) -> dict:
    """A run and its node executions and reviews, as one JSON-able record. Pure."""
    route = route or {}
    domain = route.get("domain")
    nodes, found, draft_model = [], [], None
    for seq, row in enumerate(trace):
        nodes.append({
            "seq": seq, "node": row.get("node"), "role": row.get("role"), "model": row.get("model"),
            "backend": row.get("backend"), "domain": domain, "tokens_in": int(row.get("tokens_in") or 0),
            "tokens_out": int(row.get("tokens") or 0), "seconds": float(row.get("seconds") or 0.0),
            "load_seconds": float(row.get("load_seconds") or 0.0), "swapped": bool(row.get("swapped")),
            "skipped": bool(row.get("skipped")), "error": row.get("error"),
        })
        if row.get("node") in ANSWERING and row.get("model"):
            draft_model = row["model"]
        if row.get("node") == "review" and row.get("verdict"):
            found.append({"seq": seq, "draft_model": draft_model, "reviewer_model": row.get("model"),
                          "verdict": row["verdict"], "verdict_by": row.get("verdict_by"),
                          "issues": json.dumps(row.get("issues") or [], ensure_ascii=False)})
    run = {
        "id": uuid.uuid4().hex, "thread_id": thread_id, "turn": turn, "started_at": started_at.isoformat(),
        "profile": profile, "question": question, "language": language, "domain": domain,
        "confidence": route.get("confidence"), "routed_by": route.get("by"), "node": route.get("node"),
        "verdict": verdict, "revisions": revisions, "swaps": sum(n["swapped"] for n in nodes),
        "seconds": round(seconds, 4), "error": error,
    }
    return {"kind": "run", "id": run["id"], "run": run, "nodes": nodes, "reviews": found}


def feedback_record(thread_id: str, turn: int, verdict: str, domain: str | None) -> dict:
    key = uuid.uuid4().hex
    return {"kind": "feedback", "id": key, "feedback": {"thread_id": thread_id, "turn": turn, "verdict": verdict,
                                                        "domain": domain, "at": now().isoformat()}}


# --- the process's ledger ----------------------------------------------------------------------------------
_ledgers: dict[str, Ledger] = {}
_ledgers_lock = threading.Lock()


def default() -> Ledger:
    """The ledger for the configured URL, one per URL per process (created on first use, not at import)."""
    url = default_url()
    with _ledgers_lock:
        if url not in _ledgers:
            _ledgers[url] = Ledger(url)
            if len(_ledgers) == 1:
                atexit.register(_flush_all)
        return _ledgers[url]


def _flush_all() -> None:
    for ledger in list(_ledgers.values()):
        ledger.flush(timeout=5)


def record_safely(make_record, *args, **kwargs) -> None:
    """Build a record and queue it on the default ledger; any error is logged and counted, never raised."""
    try:
        ledger = default()
        if ledger.enabled:
            ledger.record(make_record(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001
        ledger = default()
        ledger._failed(exc, [], _side_path(ledger.url, "spool.jsonl"))
