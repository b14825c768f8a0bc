"""Writing to the ledger without ever holding up or breaking a run: a queue, one background thread, the spool.

`record()` queues and returns. The thread writes the spooled records first (oldest first), then the new one,
one transaction each. When the database fails (missing, locked, full, newer), the failure is counted and what
wasn't written is spooled for the next write. A record that fails for a reason of its own is quarantined
(spool.py) so it never blocks the records behind it. At exit, whatever is still queued or waiting on a locked
database is spooled, so a run's record is never silently lost.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from memory.ledger import records, spool
from memory.ledger.schema import LedgerError, default_url, make_engine, migrate

log = logging.getLogger("memory.ledger")
EXIT_WAIT = 5.0  # seconds the process waits at exit for queued records before spooling them

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
        self._pending: dict[str, dict] = {}  # queued or being written, by id: what exit must not lose
        self._pending_lock = threading.Lock()
        self.failed_writes = 0  # this process's count (the file holds every process's)

    # --- writing -------------------------------------------------------------------------------------
    def record(self, record: dict) -> None:
        """Queue a record (`run_record()` / `feedback_record()`); returns at once, never raises."""
        if not self.enabled:
            return
        with self._pending_lock:
            self._pending[record["id"]] = record
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

    def close(self, timeout: float = EXIT_WAIT) -> bool:
        """At exit: wait up to `timeout` for the queue, then spool (and count) what is still unwritten."""
        if self.flush(timeout):
            return True
        with self._pending_lock:
            left = list(self._pending.values())
        if left:
            self._failed(TimeoutError(f"the database took more than {timeout:g} s at exit"), left)
        return False

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, tuple) and item and item[0] is _FLUSH:
                item[1].set()
                continue
            try:
                self.write([item])
            finally:
                with self._pending_lock:
                    self._pending.pop(item["id"], None)

    def write(self, new: list[dict]) -> bool:
        """Write now, in this thread: spooled records first, then `new`. A database failure is counted and
        the unwritten records spooled; a record failing by itself is quarantined; nothing raises. Only the
        records written leave the spool, so a record another process spooled meanwhile stays."""
        written: set[str] = set()
        pending = list(new)
        try:
            engine = self.engine()
            for record in spool.read(self.url) + new:
                try:
                    with engine.begin() as conn:
                        records.insert(conn, record)
                except sa.exc.IntegrityError:
                    log.info("ledger: record %s already written, skipped", record.get("id"))
                except Exception as exc:  # noqa: BLE001
                    if not records.is_record_fault(exc):
                        raise
                    self._quarantine(record, exc)
                    pending = [r for r in pending if r["id"] != record["id"]]
                    continue
                written.add(record["id"])
            return True
        except Exception as exc:  # noqa: BLE001 - a ledger problem must never reach the run
            self._failed(exc, [r for r in pending if r["id"] not in written])
            return False
        finally:
            try:
                spool.unspool(self.url, written)
            except Exception as exc:  # noqa: BLE001
                log.warning("ledger: could not update the spool (%s)", exc)

    def _failed(self, exc: BaseException, unwritten: list[dict]) -> None:
        self.failed_writes += 1
        text = _reason(exc)
        log.warning("ledger %s: write failed (%s); the record is kept for later", self.url, text)
        try:
            spool.keep(self.url, unwritten, text)
        except Exception as side:  # noqa: BLE001 - the disk is full too: the log line is all that is left
            log.warning("ledger: could not keep the failure on disk either (%s)", side)

    def _quarantine(self, record: dict, exc: BaseException) -> None:
        self.failed_writes += 1
        text = _reason(exc)
        log.warning("ledger %s: record %s can't be written (%s); moved to the quarantine", self.url,
                    record.get("id"), text)
        try:
            spool.quarantine(self.url, record, text)
        except Exception as side:  # noqa: BLE001
            log.warning("ledger: could not quarantine it either (%s)", side)

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


def _reason(exc: BaseException) -> str:
    return (f"{type(exc).__name__}: {exc}".splitlines() or [""])[0][:300]


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
                atexit.register(_close_all)
        return _ledgers[url]


def _close_all() -> None:
    for ledger in list(_ledgers.values()):
        ledger.close()


def record_safely(make_record, *args, **kwargs) -> None:
    """Build a record and queue it on the default ledger; any error is logged and counted, never raised."""
    try:
        ledger = default()
        if ledger.enabled:
            ledger.record(make_record(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001
        default()._failed(exc, [])
