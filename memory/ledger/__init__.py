"""The effectiveness ledger: what every run did, node by node and model by model (SQLAlchemy Core).

Tables (SQLite in the data folder by default; any SQLAlchemy URL through CONCILIO_LEDGER_URL, e.g.
`postgresql+psycopg://user@host/concilio` for a shared deployment; `off` turns the ledger off):
  runs        one row per run: thread, turn, question, language, route (domain, confidence, by, node),
              final verdict, revisions, swaps, total seconds, error
  node_runs   one row per node execution: role, model, backend, domain, tokens in/out, seconds,
              load seconds, swapped, skipped, error
  reviews     reviewer verdicts, with the model whose draft was reviewed
  feedback    user ratings of a turn (`concilio feedback`)

Its parts:
  schema.py   the tables, and `migrate()`: Alembic's `upgrade head` on the revisions in migrations/versions/
  records.py  the records (pure builders, text made encodable) and how one is inserted
  writer.py   `Ledger`: the background writer; `default()` and `record_safely()` for the process's ledger
  spool.py    the side files: spool, quarantine, failure count (`failures()`)

Writing never blocks or breaks a run (writer.py). Reading (stats, metrics) uses `Ledger.connect()`.
"""

from __future__ import annotations

from typing import Any

from memory.ledger import records, schema, spool, writer
from memory.ledger.records import ANSWERING, RecordError, encodable, feedback_record, run_record
from memory.ledger.schema import (
    LEDGER_NAME,
    LedgerError,
    default_url,
    feedback,
    make_engine,
    metadata,
    migrate,
    node_runs,
    now,
    reviews,
    runs,
)
from memory.ledger.writer import Ledger, default, record_safely

__all__ = ["ANSWERING", "LEDGER_NAME", "Ledger", "LedgerError", "RecordError", "default", "default_url",
           "encodable", "failures", "feedback", "feedback_record", "make_engine", "metadata", "migrate",
           "node_runs", "now", "record_safely", "records", "reviews", "run_record", "runs", "schema", "spool",
           "writer"]


def failures(url: str | None = None) -> dict[str, Any]:
    """{"count", "last_error", "last_at", "spooled", "quarantined", "quarantine"} for the ledger at `url`
    (default: the configured one)."""
    return spool.failures(url or default_url())
