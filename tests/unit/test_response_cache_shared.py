"""The response cache on PostgreSQL (memory/cache/sql.py): the same contract as the SQLite file, on a real
server started by the tests; and through the graph, an answer one worker stored is a hit on another worker
that shares only the database (its own data folder, its own process state)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from agents.backends.fake import FakeChatModel
from graphs.api import ask, open_cache
from memory import cache as responses
from memory.cache import look_up, sql
from memory.cache.store import ResponseCache
from tests.conftest import fake_profile
from tests.unit.test_response_cache import ROUTE, fake_team, key, model_file, profile_with  # noqa: F401


@pytest.fixture(params=["sqlite", "postgres"])
def make_cache(request, tmp_path):
    if request.param == "sqlite":
        return lambda **kw: ResponseCache(tmp_path / "r.sqlite", **kw)
    url = request.getfixturevalue("postgres").create_database()
    return lambda **kw: sql.SqlResponseCache(url, **kw)


def _vector(text: str):
    v = np.zeros(16, dtype=np.float32)
    for word in text.lower().split():
        v[sum(map(ord, word)) % 16] += 1
    return v / np.linalg.norm(v)


def test_both_stores_keep_expire_count_and_clear_alike(make_cache, model_file):  # noqa: F811
    cache = make_cache(ttl=1)
    k = key(profile_with(model_file))
    cache.store(k, {"answer": "A lease is a contract.", "language": "en", "route": ROUTE, "thread": "a", "turn": 1})
    hit = cache.exact(k)
    assert (hit.answer, hit.how, hit.entry["thread"]) == ("A lease is a contract.", "exact", "a")
    assert cache.stats()["live"] == 1 and cache.stats()["hits_served"] == 1
    assert cache.stats()["by_language"] == {"en": 1}
    time.sleep(1.2)
    assert cache.exact(k) is None and cache.stats()["expired"] == 1
    assert cache.clear(expired_only=True) == 1 and cache.stats()["entries"] == 0
    cache.close()


def test_both_stores_serve_near_duplicates_of_first_turns(make_cache):
    cache = make_cache(near_threshold=0.6, embed=_vector)
    p, route = fake_profile(), {"domain": "technical", "node": "technical"}
    stored = key(p, "How do I reverse a list in Python?", route=route)
    note = responses.keep(cache, {"key": stored.value, "question": stored.question, "scope": stored.scope,
                                  "first": True},
                          {"answer": "Use reversed(xs).", "question": stored.question, "thread": "a", "turn": 1,
                           "route": route, "language": "en", "models": []})
    assert note == "answer cached"
    assert cache.candidates(stored.scope)[0][0] == stored.value
    hit, note = look_up(cache, key(p, "In Python, how do I reverse a list?", route=route))
    assert hit is not None and hit.how == "near" and hit.answer == "Use reversed(xs)."
    assert cache.clear() == 1
    cache.close()


def test_an_answer_stored_by_one_worker_is_a_hit_on_another(postgres, monkeypatch, tmp_path):
    monkeypatch.setenv("CONCILIO_CACHE", "on")
    monkeypatch.setenv("CONCILIO_DATABASE_URL", postgres.create_database())
    FakeChatModel.enqueue("Un contrato de arrendamiento es un alquiler.", "OK",
                          "Un contrato de arrendamiento es un contrato de alquiler.")
    first = ask("¿Qué es un contrato de arrendamiento?", profile=fake_team(), thread_id="w1")
    monkeypatch.setenv("CONCILIO_DATA_DIR", str(tmp_path / "other-worker"))  # nothing local is shared
    FakeChatModel.reset()
    again = ask("¿qué es un contrato de  arrendamiento?", profile=fake_team(), thread_id="w2")
    assert again["cached"] and again["answer"] == first["answer"] and FakeChatModel.calls == []
    with open_cache() as cache:
        assert isinstance(cache, sql.SqlResponseCache) and cache.stats()["hits_served"] == 1
        assert cache.path.startswith("postgresql://")  # `concilio cache stats` names the database


def test_an_unreachable_database_means_no_cache_not_a_failed_turn(postgres):
    bad = f"postgresql://concilio:pw@127.0.0.1:{postgres.port + 1}/nope"
    with sql.opened(bad, None) as cache:
        assert cache is None
