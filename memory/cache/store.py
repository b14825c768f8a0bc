"""The response cache on disk: answers under their TurnKey (memory/cache/key.py), in the data folder.

Values live in LangGraph's `SqliteCache` (its TTL and serialisation); beside it, in the same file, an index
table lists every entry (for `concilio cache stats`, clearing, and the near-duplicate search, which needs to
scan a scope's first turns — something a key-value cache can't do). A database that can't be read or written
is a miss, never a failed turn: the cache may only ever save work.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memory.cache.key import TurnKey

log = logging.getLogger(__name__)
NAMESPACE = ("concilio", "answers")
NEAR_CANDIDATES = 2000  # the newest first turns of a scope compared with a new question (bounded work)
INDEX = """CREATE TABLE IF NOT EXISTS answer_index (
    key TEXT PRIMARY KEY, scope TEXT NOT NULL, question TEXT NOT NULL, language TEXT, domain TEXT,
    stored_at REAL NOT NULL, expiry REAL, hits INTEGER NOT NULL DEFAULT 0, vector BLOB)"""


@dataclass(frozen=True)
class Hit:
    answer: str
    how: str  # "exact" | "near"
    similarity: float  # 1.0 for exact hits
    entry: dict  # what was stored: question, thread, turn, stored_at, models, route, language


class Lookups:
    """The hits both stores serve, from their `entry(key)` and `_count_hit(key)`."""

    def entry(self, key: str) -> dict | None:
        raise NotImplementedError

    def _count_hit(self, key: str) -> None:
        raise NotImplementedError

    def _hit(self, key: str, how: str, similarity: float) -> Hit | None:
        value = self.entry(key)
        if value is None:
            return None
        self._count_hit(key)
        return Hit(value["answer"], how, similarity, value)

    def exact(self, key: TurnKey) -> Hit | None:
        return self._hit(key.value, "exact", 1.0)

    def near(self, key: str, similarity: float) -> Hit | None:
        return self._hit(key, "near", similarity)


class ResponseCache(Lookups):
    """`near_threshold`: cosine similarity for near-duplicate first-turn hits (0: exact hits only);
    `embed`: text -> unit-length float32 vector, needed for near hits."""

    def __init__(self, path: Path, ttl: float | None = None, *, near_threshold: float = 0.0,
                 embed: Callable[[str], Any] | None = None) -> None:
        from langgraph.cache.sqlite import SqliteCache

        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.ttl = ttl if ttl else None  # 0: entries never expire
        self.near_threshold = near_threshold
        self.embed = embed
        self._values = SqliteCache(path=str(path))
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=5.0)
        with self._db:
            self._db.execute(INDEX)
            self._db.execute("CREATE INDEX IF NOT EXISTS answer_scope ON answer_index (scope, stored_at)")

    # --- reading ---

    def candidates(self, scope: str) -> list[tuple[str, str, bytes]]:
        """(key, question, vector) of the scope's unexpired first turns that have a vector, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, question, vector FROM answer_index WHERE scope = ? AND vector IS NOT NULL "
                "AND (expiry IS NULL OR expiry > ?) ORDER BY stored_at DESC LIMIT ?",
                (scope, time.time(), NEAR_CANDIDATES)).fetchall()
        return rows

    def entry(self, key: str) -> dict | None:
        return self._values.get([(NAMESPACE, key)]).get((NAMESPACE, key))

    # --- writing ---

    def store(self, key: TurnKey, value: dict, vector: bytes | None = None) -> None:
        now = time.time()
        ttl = int(self.ttl) if self.ttl else None
        self._values.set({(NAMESPACE, key.value): ({**value, "stored_at": now}, ttl)})
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO answer_index (key, scope, question, language, domain, stored_at, expiry, "
                "vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key.value, key.scope, key.question, value.get("language"), (value.get("route") or {}).get("domain"),
                 now, now + ttl if ttl else None, vector if key.first_turn else None))

    def _count_hit(self, key: str) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE answer_index SET hits = hits + 1 WHERE key = ?", (key,))

    # --- managing ---

    def stats(self) -> dict:
        with self._lock:
            now = time.time()
            total, live, first, hits = self._db.execute(
                "SELECT count(*), sum(expiry IS NULL OR expiry > ?), sum(vector IS NOT NULL), sum(hits) "
                "FROM answer_index", (now,)).fetchone()
            by_language = dict(self._db.execute(
                "SELECT coalesce(language, '-'), count(*) FROM answer_index GROUP BY language").fetchall())
        return {"path": str(self.path), "entries": total or 0, "live": live or 0, "expired": (total or 0) - (live or 0),
                "with_vector": first or 0, "hits_served": hits or 0, "by_language": by_language,
                "bytes": self.path.stat().st_size if self.path.exists() else 0,
                "ttl_seconds": self.ttl}

    def clear(self, *, expired_only: bool = False) -> int:
        """Remove every entry (or only the expired ones); returns how many went."""
        with self._lock, self._db:
            where, args = ("WHERE expiry IS NOT NULL AND expiry <= ?", (time.time(),)) if expired_only else ("", ())
            keys = [k for (k,) in self._db.execute(f"SELECT key FROM answer_index {where}", args).fetchall()]
            self._db.execute(f"DELETE FROM answer_index {where}", args)
        if expired_only:
            self._delete_values(keys)
        else:
            _clear_namespace(self._values, NAMESPACE)
        return len(keys)

    def _delete_values(self, keys: Sequence[str]) -> None:
        with self._lock, self._db:  # SqliteCache deletes whole namespaces only: single keys go here
            self._db.executemany("DELETE FROM cache WHERE ns = ? AND key = ?", [(",".join(NAMESPACE), k) for k in keys])

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        conn = getattr(self._values, "_conn", None)
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()


def _clear_namespace(values, namespace) -> None:
    clear = getattr(values, "clear", None) or values.delete  # the method's name changed between releases
    clear([namespace])


@contextlib.contextmanager
def opened_with(make: Callable[[], Any], errors: tuple[type[BaseException], ...], where: object) -> Iterator[Any]:
    """`make()`'s cache, closed on exit; None (and a log line) when it can't be opened: the turn runs uncached."""
    try:
        cache = make()
    except errors as exc:
        log.warning("response cache %s unavailable (%s): running without it", where, exc)
        yield None
        return
    try:
        yield cache
    finally:
        cache.close()


def opened(path: Path, ttl: float | None, **options) -> contextlib.AbstractContextManager[ResponseCache | None]:
    """The cache in its SQLite file (see opened_with)."""
    return opened_with(lambda: ResponseCache(path, ttl, **options), (sqlite3.Error, OSError), path)
