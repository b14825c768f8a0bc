"""What the ledger stores, as plain JSON-able records: built here (pure), inserted by `insert()`.

Text going into a record is made encodable on the way in: a lone surrogate (what Python gives for a byte
that isn't UTF-8 in a command-line argument, e.g. `concilio ask $'caf\\xe9'`) becomes U+FFFD, so no database
driver refuses it and no record can fail for its text.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

import sqlalchemy as sa

from memory.ledger.schema import LedgerError, feedback, node_runs, now, reviews, runs

ANSWERING = ("legal", "technical", "general", "long_context")
_SURROGATE = re.compile("[\ud800-\udfff]")


class RecordError(LedgerError):
    """A record that can't be written for a reason of its own (not the database's)."""


def encodable(value: Any) -> Any:
    """`value` with every string's lone surrogates replaced by U+FFFD, through dicts and lists. Pure."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {encodable(k): encodable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encodable(v) for v in value]
    return value


def run_record(*, thread_id: str, turn: int | None, question: str, language: str | None, route: dict | None,
               trace: list[dict], started_at: dt.datetime, seconds: float, profile: str = "",
               verdict: str | None = None, revisions: int = 0, error: str | None = None,
               cache: str | None = None, user: str | None = None) -> dict:
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
        "id": uuid.uuid4().hex, "thread_id": thread_id, "user_id": user, "turn": turn,
        "started_at": started_at.isoformat(),
        "profile": profile, "question": question, "language": language, "domain": domain,
        "confidence": route.get("confidence"), "routed_by": route.get("by"), "node": route.get("node"),
        "verdict": verdict, "revisions": revisions, "swaps": sum(n["swapped"] for n in nodes),
        "seconds": round(seconds, 4), "error": error, "cache": cache,
    }
    return encodable({"kind": "run", "id": run["id"], "run": run, "nodes": nodes, "reviews": found})


def feedback_record(thread_id: str, turn: int, verdict: str, domain: str | None, user: str | None = None) -> dict:
    key = uuid.uuid4().hex
    return encodable({"kind": "feedback", "id": key,
                      "feedback": {"thread_id": thread_id, "user_id": user, "turn": turn, "verdict": verdict,
                                   "domain": domain, "at": now().isoformat()}})


def _when(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def insert(conn: sa.Connection, record: dict) -> None:
    """Insert one record's rows (in the caller's transaction)."""
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
        raise RecordError(f"unknown ledger record kind {record['kind']!r}")


def is_record_fault(exc: BaseException) -> bool:
    """True when writing a record failed because of the record itself (its text, its shape), so retrying it
    can never succeed; False when the database was the problem (missing, locked, full, newer). Pure."""
    if isinstance(exc, (RecordError, sa.exc.DataError)):  # the driver refused one of its values
        return True
    if isinstance(exc, sa.exc.DBAPIError):  # the database: locked, full, gone, a table missing
        return False
    if isinstance(exc, sa.exc.StatementError):  # its values couldn't even be bound
        return True
    if isinstance(exc, (sa.exc.SQLAlchemyError, OSError, LedgerError)):
        return False
    return isinstance(exc, (UnicodeError, KeyError, TypeError, ValueError))
