"""The response cache: a question asked again in the same context returns the stored answer, before any
model is loaded (so a hit costs no swap and no model call).

    key.py    what "the same question in the same context" means: the key's parts (pure)
    near.py   when a new first-turn question may take another's answer: the near-duplicate rule (pure)
    store.py  the entries on disk (LangGraph's SqliteCache for values, an index table beside it)
    sql.py    the same entries in one table of a shared PostgreSQL database (several workers, one cache)

The graph looks up after `analyze` (language and route are known, no model has run: the classifier routes) and
goes to the `cached` node on a hit; `integrate` stores an answer only when the turn earned it (`cacheable`).

Why not LangGraph's node cache (`CachePolicy` on each node)? Its key is a hash of the node's input only, not
of the run's config or context, so it can't see the thread's model files or the profile in use; it stores every
node's writes as soon as the node returns, so a draft the reviewer then rejects, or one that looped, would be
replayed; and a hit still runs the graph node by node. The whole-turn cache here keys on all of that, refuses
what must not be kept, and answers in one step. It keeps LangGraph's `SqliteCache` as its store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

import sqlalchemy as sa

from agents.backends.base import GenParams
from agents.models.profiles import Profile
from memory.cache import near
from memory.cache.key import TurnKey, prompts_version, team_identity, turn_key
from memory.cache.store import Hit, ResponseCache, opened

__all__ = ["Hit", "ResponseCache", "TurnKey", "cache_path", "cacheable", "key_for", "opened"]
FILE_NAME = "responses.sqlite"


def embed(text: str):
    """A question as a unit vector: the router's sentence embedder (agents/routing/semantic.py), loaded once."""
    from agents.routing import semantic

    return semantic.encode([text])[0]


def cache_path(folder: Path) -> Path:
    return folder / FILE_NAME


def key_for(profile: Profile, question: str, *, language: str, route: Mapping, history: Sequence[Mapping],
            summaries: Sequence[str], facts: str, steps: Mapping | None = None) -> TurnKey:
    """The turn's key, with the profile's model files looked at now (a replaced file is a new key). `steps`: the
    step policy's plan for the turn (agents/roles/steps.py): skipping review or integration is another answer."""
    stats = {r.role: r.model.file_stat() for r in profile.roles}
    generation = {"defaults": repr(GenParams()), "steps": dict(steps or {})}
    return turn_key(question, language=language, domain=route.get("domain", ""), node=route.get("node", ""),
                    team=team_identity(profile, stats), history=history, summaries=summaries, facts=facts,
                    prompts_digest=prompts_version(), generation=generation)


def cacheable(*, verdict: str | None, finish: str | None, revisions: int, language_ok: bool,
              answer: str) -> tuple[bool, str]:
    """Whether a finished turn's answer may be served again, and why not. Pure.

    Never: an empty answer, a draft that looped (cut by the loop guard) or was cancelled, one the reviewer still
    rejected when the revisions ran out, or an answer not in the user's language. A draft that reached its token
    limit is kept: running again would stop at the same place."""
    if not answer.strip():
        return False, "not cached: empty answer"
    if finish in ("loop", "cancelled"):
        return False, f"not cached: the draft stopped ({finish})"
    if verdict == "revise":
        return False, f"not cached: the reviewer still asked for changes after {revisions} revision(s)"
    if not language_ok:
        return False, "not cached: the answer is not in the user's language"
    return True, "answer cached"


def look_up(cache: ResponseCache, key: TurnKey) -> tuple[Hit | None, str]:
    """(hit, trace note). Exact first; then, for a first turn, the nearest stored first turn of the same scope
    when near-duplicate hits are on (memory/cache/near.py). A cache that fails is a miss that says why."""
    try:
        hit = cache.exact(key)
        if hit is not None:
            return hit, "cache hit (exact)"
        if not (key.first_turn and cache.near_threshold > 0 and cache.embed is not None):
            return None, "cache miss"
        rows = cache.candidates(key.scope)
        if not rows:
            return None, "cache miss"
        import numpy as np

        mine = cache.embed(key.question)
        vectors = np.stack([np.frombuffer(v, dtype=np.float32) for _, _, v in rows])
        scores = vectors @ mine  # both unit length: cosine similarity
        why = "cache miss"
        for i in np.argsort(-scores)[:3]:  # the three nearest: the first that passes the rule wins
            ok, why = near.near_duplicate(key.question, rows[i][1], float(scores[i]), cache.near_threshold)
            if ok:
                found = cache.near(rows[i][0], float(scores[i]))
                if found is not None:
                    return found, f"cache hit (near: {why})"
            if float(scores[i]) < cache.near_threshold:
                break
        return None, f"cache miss (nearest: {why})"
    except (sqlite3.Error, sa.exc.SQLAlchemyError, OSError, ValueError) as exc:
        return None, f"cache unavailable ({type(exc).__name__}: {exc}); answered without it"


def keep(cache: ResponseCache, info: Mapping, value: dict) -> str:
    """Store a finished answer under the key `analyze` computed; returns the trace note."""
    key = TurnKey(info["key"], info["question"], info["scope"], info["first"])
    try:
        vector = None
        if key.first_turn and cache.embed is not None and cache.near_threshold > 0:
            vector = cache.embed(key.question).astype("float32").tobytes()
        cache.store(key, value, vector)
    except (sqlite3.Error, sa.exc.SQLAlchemyError, OSError, ValueError) as exc:
        return f"not cached ({type(exc).__name__}: {exc})"
    return "answer cached"
