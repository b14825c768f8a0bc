"""Cross-thread memory: durable facts about the user (name, language preference, jurisdiction, stack)
in a LangGraph store beside the threads (`SqliteStore`, or `PostgresStore` with CONCILIO_DATABASE_URL),
readable by every node through `runtime.store`.

The integrator proposes facts from what the user wrote (agents/roles/orchestrator.py `propose_memories`); a
user can list and delete them (`concilio memories`, or the functions here). With a user id (the API's `user`,
the CLI's `--user`, an OpenAI request's `user`) they live in that user's own namespace; without one, in the
local user's, as before.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from agents.errors import ConcilioError
from memory.checkpoints import on_database, opened

NAMESPACE = ("user", "facts")  # the one local user (no user id given)
FEEDBACK = ("feedback",)  # (thread, turn) -> good|bad, for the routing and effectiveness work to fold in


class UnknownMemoryError(ConcilioError):
    def __init__(self, key: str) -> None:
        super().__init__(f"no memory {key!r}; `concilio memories list` shows them")


@dataclass
class Memory:
    key: str
    value: str
    source: str
    updated: str


@contextlib.contextmanager
def sqlite_store(path: str | Path | None = None) -> Iterator:
    """A `SqliteStore` on the conversation database (default: the data folder's threads.sqlite)."""
    from langgraph.store.sqlite import SqliteStore

    def prepare(conn: sqlite3.Connection, _db: Path) -> SqliteStore:
        conn.isolation_level = None  # SqliteStore manages its own transactions
        store = SqliteStore(conn)
        store.setup()
        return store

    with opened(path, prepare) as store:
        yield store


def open_store(db: str | Path | None = None) -> contextlib.AbstractContextManager:
    """LangGraph's store on `database(db)`: `PostgresStore` for a postgresql:// URL, else `SqliteStore`."""
    from memory import postgres

    return on_database(db, postgres.store, sqlite_store)


def label(user: str) -> str:
    """`user` as one store namespace label (LangGraph refuses dots in labels): reversible. Pure."""
    return user.replace("%", "%25").replace(".", "%2E")


def facts_namespace(user: str | None = None) -> tuple[str, ...]:
    """Where a user's memories live: the local user's namespace, or one per user id. Pure."""
    return NAMESPACE if user is None else ("users", label(user), "facts")


def feedback_namespace(user: str | None = None) -> tuple[str, ...]:
    return FEEDBACK if user is None else ("users", label(user), "feedback")


def remember(store, facts: dict[str, str], source: str, user: str | None = None) -> None:
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    for key, value in facts.items():
        store.put(facts_namespace(user), key, {"value": value, "source": source, "updated": now})


def list_memories(store, user: str | None = None) -> list[Memory]:
    items = store.search(facts_namespace(user), limit=1000)
    return sorted((Memory(i.key, str(i.value.get("value", "")), str(i.value.get("source", "")),
                          str(i.value.get("updated", ""))) for i in items), key=lambda m: m.key)


def recall(store, user: str | None = None) -> dict[str, str]:
    """key -> value, or {} when there is no store (e.g. a graph built without one)."""
    return {m.key: m.value for m in list_memories(store, user)} if store is not None else {}


def forget(store, key: str, user: str | None = None) -> None:
    if store.get(facts_namespace(user), key) is None:
        raise UnknownMemoryError(key)
    store.delete(facts_namespace(user), key)


def record_feedback(store, thread_id: str, turn: int, verdict: str, domain: str | None = None,
                    user: str | None = None) -> None:
    if verdict not in ("good", "bad"):
        raise ConcilioError(f"feedback is 'good' or 'bad', not {verdict!r}")
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    store.put(feedback_namespace(user), f"{thread_id}:{turn}", {"thread": thread_id, "turn": turn, "verdict": verdict,
                                                "domain": domain, "at": now})


def as_dicts(items: list[Memory]) -> list[dict]:
    return [asdict(m) for m in items]
