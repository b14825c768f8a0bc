"""The response cache on a shared database (PostgreSQL): the same entries as memory/cache/store.py, in one
table every worker reads, so an answer one worker stored is a hit on all of them.

`open_cache` picks it when the threads live on PostgreSQL (CONCILIO_DATABASE_URL), so a deployment of several
workers shares its answers as it shares its threads. LangGraph ships no PostgreSQL cache; SQLAlchemy Core (the
ledger's library) does the SQL. The table is made if missing (`create_all`): a cache holds nothing that can't
be asked again, so it has no schema steps. A cache that can't be reached, read or written is a miss, never a
failed turn.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from memory.cache.key import TurnKey
from memory.cache.store import NEAR_CANDIDATES, Lookups, opened_with

log = logging.getLogger(__name__)
metadata = sa.MetaData()
answers = sa.Table(
    "concilio_answers", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("scope", sa.String(64), nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("language", sa.String(8)),
    sa.Column("domain", sa.String(16)),
    sa.Column("stored_at", sa.Float, nullable=False),
    sa.Column("expiry", sa.Float),
    sa.Column("hits", sa.Integer, nullable=False, server_default="0"),
    sa.Column("vector", sa.LargeBinary),
    sa.Column("value", sa.Text, nullable=False),  # JSON: answer, thread, turn, user, models, route, language
    sa.Index("concilio_answers_scope", "scope", "stored_at"),
)
CREATE_LOCK = 0x616E73776572  # "answer": the advisory lock around creating the table
_made: set[str] = set()  # databases this process has seen the table in (a handful of URLs at most)
_made_lock = threading.Lock()


def engine_for(url: str) -> sa.Engine:
    """An engine for one cache opening (disposed on close: no pool outlives the turn), the table made once."""
    from memory.postgres import sqlalchemy_url

    engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
    with _made_lock:
        if url not in _made:
            try:
                with engine.begin() as conn:
                    if conn.dialect.name == "postgresql":  # workers starting together: one creates, others wait
                        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({CREATE_LOCK})")
                    metadata.create_all(conn, checkfirst=True)
            except BaseException:
                engine.dispose()
                raise
            _made.add(url)
    return engine


def _live(now: float):
    return sa.or_(answers.c.expiry.is_(None), answers.c.expiry > now)


class SqlResponseCache(Lookups):
    """ResponseCache's interface (exact, candidates, near, store, stats, clear, close) on a SQLAlchemy engine."""

    def __init__(self, url: str, ttl: float | None = None, *, near_threshold: float = 0.0,
                 embed: Callable[[str], Any] | None = None) -> None:
        from memory.postgres import shown

        self.url, self.path = url, shown(url)  # `path`: where, as stats and the CLI show it (no password)
        self.ttl = ttl if ttl else None
        self.near_threshold = near_threshold
        self.embed = embed
        self.engine = engine_for(url)

    # --- reading ---

    def entry(self, key: str) -> dict | None:
        with self.engine.connect() as conn:
            raw = conn.execute(sa.select(answers.c.value).where(answers.c.key == key, _live(time.time()))).scalar()
        return json.loads(raw) if raw is not None else None

    def _count_hit(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(answers.update().where(answers.c.key == key).values(hits=answers.c.hits + 1))

    def candidates(self, scope: str) -> list[tuple[str, str, bytes]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(answers.c.key, answers.c.question, answers.c.vector)
                .where(answers.c.scope == scope, answers.c.vector.is_not(None), _live(time.time()))
                .order_by(answers.c.stored_at.desc()).limit(NEAR_CANDIDATES)).all()
        return [(k, q, bytes(v)) for k, q, v in rows]

    # --- writing ---

    def store(self, key: TurnKey, value: dict, vector: bytes | None = None) -> None:
        now = time.time()
        row = {"key": key.value, "scope": key.scope, "question": key.question, "language": value.get("language"),
               "domain": (value.get("route") or {}).get("domain"), "stored_at": now,
               "expiry": now + self.ttl if self.ttl else None, "hits": 0,
               "vector": vector if key.first_turn else None,
               "value": json.dumps({**value, "stored_at": now}, ensure_ascii=False)}
        with self.engine.begin() as conn:  # two workers storing one key: the later answer replaces the earlier
            conn.execute(answers.delete().where(answers.c.key == key.value))
            conn.execute(answers.insert().values(**row))

    # --- managing ---

    def stats(self) -> dict:
        now = time.time()
        live = sa.case((_live(now), 1), else_=0)
        with self.engine.connect() as conn:
            total, alive, first, hits = conn.execute(sa.select(
                sa.func.count(), sa.func.sum(live), sa.func.count(answers.c.vector), sa.func.sum(answers.c.hits))
            ).one()
            by_language = {str(lang or "-"): int(n) for lang, n in conn.execute(
                sa.select(answers.c.language, sa.func.count()).group_by(answers.c.language)).all()}
            size = conn.execute(sa.text("SELECT pg_total_relation_size('concilio_answers')")).scalar() \
                if conn.dialect.name == "postgresql" else 0
        total = int(total or 0)
        return {"path": self.path, "entries": total, "live": int(alive or 0), "expired": total - int(alive or 0),
                "with_vector": int(first or 0), "hits_served": int(hits or 0), "by_language": by_language,
                "bytes": int(size or 0), "ttl_seconds": self.ttl}

    def clear(self, *, expired_only: bool = False) -> int:
        where = [answers.c.expiry.is_not(None), answers.c.expiry <= time.time()] if expired_only else []
        with self.engine.begin() as conn:
            return int(conn.execute(answers.delete().where(*where)).rowcount or 0)

    def close(self) -> None:
        self.engine.dispose()


def opened(url: str, ttl: float | None, **options) -> contextlib.AbstractContextManager[SqlResponseCache | None]:
    """The shared cache, or None (and a log line) when the database can't be reached: the turn runs uncached."""
    from memory.postgres import shown

    return opened_with(lambda: SqlResponseCache(url, ttl, **options), (sa.exc.SQLAlchemyError, OSError), shown(url))
