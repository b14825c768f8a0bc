"""The response cache: the key separates what changes an answer, entries respect their TTL and the rules
of what may be kept, and through the graph a repeated question costs no model and no swap (fake backend:
the counts of model calls have to be exact; the embedded model's repeat is in tests/integration)."""

from __future__ import annotations

import os
import time

import pytest

from agents.backends.fake import FakeChatModel
from agents.models.profiles import ModelSpec, Profile, RoleSpec
from agents.roles.team import Team
from agents.slot.slot import GpuSlot
from graphs.api import ask
from memory import cache as responses
from memory.cache.near import near_duplicate, pinned
from memory.cache.store import ResponseCache
from tests.conftest import fake_profile

ROUTE = {"domain": "legal", "node": "legal"}


def profile_with(path) -> Profile:
    roles = tuple(RoleSpec(r, ModelSpec(f"m-{r}", path, backend="fake"))
                  for r in ("orchestrator", "legal", "technical", "reviewer"))
    return Profile("p", roles)


def key(profile, question="What is a lease?", **changes):
    args = {"language": "en", "route": ROUTE, "history": [], "summaries": [], "facts": ""}
    args.update(changes)
    return responses.key_for(profile, question, **args)


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 64)
    return path


def test_the_same_turn_gets_the_same_key_and_the_question_is_normalised(model_file):
    p = profile_with(model_file)
    assert key(p).value == key(p).value
    assert key(p, "  what is a LEASE? ").value == key(p).value  # case and spacing
    assert key(p, "¿Qué es un arrendamiento?", language="es").value == \
        key(p, "¿qué es un  arrendamiento?", language="es").value


@pytest.mark.parametrize("change", [
    {"language": "es"},
    {"route": {"domain": "technical", "node": "technical"}},
    {"route": {"domain": "legal", "node": "long_context"}},
    {"history": [{"role": "user", "content": "I live in Spain."}, {"role": "assistant", "content": "Noted."}]},
    {"summaries": ["I live in Spain. → Noted."]},
    {"facts": "The user's name is Ana."},
    {"steps": {"review": "off", "revise": False, "integrate": False}},
], ids=["language", "route", "answering node", "another thread's history", "summaries", "remembered facts",
        "step policy"])
def test_what_changes_the_answer_changes_the_key(model_file, change):
    p = profile_with(model_file)
    assert key(p, **change).value != key(p).value


def test_a_follow_up_is_never_a_first_turn_and_a_first_turn_is(model_file):
    p = profile_with(model_file)
    assert key(p).first_turn
    assert not key(p, history=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]).first_turn


def test_a_replaced_model_file_changes_the_key(model_file, tmp_path):
    p = profile_with(model_file)
    before = key(p).value
    model_file.write_bytes(b"GGUF" + b"\1" * 80)  # another file under the same name
    os.utime(model_file, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert key(p).value != before
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF" + b"\1" * 80)
    assert key(profile_with(other)).value != key(p).value  # another path


def test_a_different_custom_prompt_or_window_changes_the_key(model_file):
    p = profile_with(model_file)
    roles = list(p.roles)
    roles[1] = RoleSpec("legal", roles[1].model, prompt="Answer as a pirate.")
    assert key(Profile("p", tuple(roles))).value != key(p).value
    roles[1] = RoleSpec("legal", ModelSpec("m-legal", model_file, backend="fake", context_window=2048))
    assert key(Profile("p", tuple(roles))).value != key(p).value


@pytest.mark.parametrize("outcome, ok", [
    ({"verdict": "ok", "finish": "stop", "revisions": 0, "language_ok": True, "answer": "A lease is..."}, True),
    ({"verdict": None, "finish": "stop", "revisions": 0, "language_ok": True, "answer": "Hola"}, True),
    ({"verdict": "ok", "finish": "loop", "revisions": 0, "language_ok": True, "answer": "a a a"}, False),
    ({"verdict": "ok", "finish": "length", "revisions": 0, "language_ok": True, "answer": "cut"}, True),
    ({"verdict": "revise", "finish": "stop", "revisions": 1, "language_ok": True, "answer": "wrong"}, False),
    ({"verdict": "ok", "finish": "stop", "revisions": 0, "language_ok": False, "answer": "in English"}, False),
    ({"verdict": "ok", "finish": "stop", "revisions": 0, "language_ok": True, "answer": "  "}, False),
], ids=["reviewed ok", "trivial", "looped", "cut at length", "still rejected", "wrong language", "empty"])
def test_only_an_answer_the_turn_earned_is_kept(outcome, ok):
    assert responses.cacheable(**outcome)[0] is ok


def test_entries_expire_after_their_ttl_and_clear_removes_them(tmp_path, model_file):
    cache = ResponseCache(tmp_path / "r.sqlite", ttl=1)
    k = key(profile_with(model_file))
    cache.store(k, {"answer": "A lease is a contract.", "language": "en", "route": ROUTE})
    assert cache.exact(k).answer == "A lease is a contract."
    assert cache.stats()["live"] == 1
    time.sleep(1.2)
    assert cache.exact(k) is None
    assert cache.clear(expired_only=True) == 1 and cache.stats()["entries"] == 0
    forever = ResponseCache(tmp_path / "f.sqlite", ttl=0)
    forever.store(k, {"answer": "x", "language": "en", "route": ROUTE})
    assert forever.clear() == 1 and forever.exact(k) is None


@pytest.mark.parametrize("a, b, hit", [
    ("How do I reverse a list in Python?", "In Python, how do I reverse a list?", True),
    ("What is a lease agreement?", "Can you explain what a lease agreement is?", True),
    ("¿Qué es un contrato de arrendamiento?", "¿Me puedes explicar qué es un contrato de arrendamiento?", True),
    ("¿Cómo creo una rama en git?", "como creo una rama en git", True),
    ("What is the capital of France?", "What is the capital of Spain?", False),
    ("How do I install Docker?", "How do I uninstall Docker?", False),
    ("Is a verbal contract binding?", "Is a verbal contract not binding?", False),
    ("Can a landlord evict a tenant?", "Can a tenant evict a landlord?", False),
    ("¿Qué impuestos paga un autónomo en 2023?", "¿Qué impuestos paga un autónomo en 2024?", False),
    ("¿Es válido un contrato verbal?", "¿No es válido un contrato verbal?", False),
    ("¿Cómo ordeno de forma ascendente?", "¿Cómo ordeno de forma descendente?", False),
])
def test_the_near_duplicate_rule_takes_rephrasings_and_refuses_look_alikes(a, b, hit):
    assert near_duplicate(a, b, similarity=0.99, threshold=0.9)[0] is hit


def test_near_duplicates_need_the_similarity_too_and_are_off_at_zero():
    a, b = "How do I reverse a list in Python?", "In Python, how do I reverse a list?"
    assert not near_duplicate(a, b, similarity=0.5, threshold=0.9)[0]
    assert not near_duplicate(a, b, similarity=1.0, threshold=0.0)[0]
    assert pinned("It isn't legal") == pinned("It is not legal")  # one negation marker


# --- through the graph, on the fake backend ---

def fake_team() -> Team:
    return Team(fake_profile(), GpuSlot())


def test_a_repeated_question_costs_no_model_call_and_no_swap(tmp_path, monkeypatch):
    monkeypatch.setenv("CONCILIO_CACHE", "on")
    db = tmp_path / "t.sqlite"
    FakeChatModel.enqueue("A lease is a contract to rent.", "OK", "A lease is a contract for renting a home.")
    team = fake_team()
    first = ask("What is a lease agreement?", profile=team, db=db, thread_id="one")
    calls = len(FakeChatModel.calls)
    loads = sum(e.kind == "load" for e in team.slot.events)
    again = ask("what is a lease  agreement?", profile=team, db=db, thread_id="two")
    assert again["answer"] == first["answer"] and again["cached"] and not first["cached"]
    assert len(FakeChatModel.calls) == calls  # no model ran
    assert sum(e.kind == "load" for e in team.slot.events) == loads  # and nothing was loaded
    row = again["trace"][-1]
    assert row["node"] == "cache" and "cache hit (exact)" in row["note"] and "thread one turn 1" in row["note"]
    assert [r["node"] for r in again["trace"]] == ["analyze", "cache"]


def test_a_follow_up_in_another_thread_misses_and_no_cache_runs_the_models(tmp_path, monkeypatch):
    monkeypatch.setenv("CONCILIO_CACHE", "on")
    db = tmp_path / "t.sqlite"
    team = fake_team()
    FakeChatModel.enqueue("Madrid is the capital.", "OK", "Madrid is the capital of Spain.")
    ask("What is the capital of Spain?", profile=team, db=db, thread_id="a")
    FakeChatModel.enqueue("Rome is the capital.", "OK", "Rome is the capital of Italy.")
    ask("What is the capital of Italy?", profile=team, db=db, thread_id="b")
    FakeChatModel.enqueue("About 3 million people.", "OK", "About 3.3 million people live there.")
    follow_a = ask("How many people live there?", profile=team, db=db, thread_id="a")
    FakeChatModel.enqueue("About 2.8 million people.", "OK", "About 2.8 million people live there.")
    follow_b = ask("How many people live there?", profile=team, db=db, thread_id="b")
    assert not follow_b["cached"] and follow_b["answer"] != follow_a["answer"]
    FakeChatModel.reset()
    fresh = ask("What is the capital of Spain?", profile=team, db=db, thread_id="c", cache=False)
    assert not fresh["cached"] and FakeChatModel.calls  # the models ran although the answer was cached
    assert ask("What is the capital of Spain?", profile=team, db=db, thread_id="d")["cached"]


def test_a_rejected_answer_is_not_served_again(tmp_path, monkeypatch):
    monkeypatch.setenv("CONCILIO_CACHE", "on")
    db = tmp_path / "t.sqlite"
    team = fake_team()
    FakeChatModel.enqueue("Draft.", "REVISE: wrong", "Draft two.", "REVISE: still wrong", "Final.")
    first = ask("Is this clause in my contract legal?", profile=team, db=db, thread_id="x")
    assert "not cached: the reviewer still asked for changes" in first["trace"][-1]["note"]
    FakeChatModel.enqueue("Better draft.", "OK", "A better answer.")
    again = ask("Is this clause in my contract legal?", profile=team, db=db, thread_id="y")
    assert not again["cached"] and again["answer"] == "A better answer."


def test_hits_and_misses_are_counted_in_the_ledger(tmp_path, monkeypatch):
    from memory import stats

    monkeypatch.setenv("CONCILIO_CACHE", "on")
    db = tmp_path / "t.sqlite"
    team = fake_team()
    FakeChatModel.enqueue("A lease is a contract.", "OK", "A lease is a rental contract.")
    ask("What is a lease?", profile=team, db=db, thread_id="a")
    ask("What is a lease?", profile=team, db=db, thread_id="b")
    assert stats.cache_outcomes() == {"miss": 1, "hit-exact": 1}


def test_no_look_alike_pair_passes_the_rule_even_at_similarity_one():
    from evals.bench_cache import pairs

    report = pairs(threshold=None)["rule_alone"]
    assert report["look_alikes"] >= 30 and report["false_hits"] == 0
    assert set(report["by_language"]) == {"en", "es"}
    assert report["true_hits"] >= report["paraphrases"] * 0.7  # the rule still takes most rephrasings


def test_cache_stats_and_clear_from_the_cli(tmp_path, monkeypatch, capsys):
    import json

    from graphs.cli import main

    monkeypatch.setenv("CONCILIO_CACHE", "on")
    team = fake_team()
    FakeChatModel.enqueue("A lease is a contract.", "OK", "A lease is a rental contract.")
    ask("What is a lease?", profile=team, thread_id="a")  # the data folder's threads and cache
    ask("What is a lease?", profile=team, thread_id="b")
    capsys.readouterr()
    assert main(["cache", "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["live"], stats["hits"], stats["lookups"], stats["by_outcome"]) == (1, 1, 2, {"miss": 1,
                                                                                           "hit-exact": 1})
    assert main(["cache", "clear"]) == 0 and "removed 1" in capsys.readouterr().out
    assert not ask("What is a lease?", profile=team, thread_id="c")["cached"]


def test_prompt_state_support_is_said_per_backend():
    from agents.backends.kv_state import identity, kv_state_note

    assert "kept" in kv_state_note("llamacpp") and "not kept" in kv_state_note("gpt4all")
    assert identity("m.gguf", 1, 2, 4096, "gguf", ()) != identity("m.gguf", 1, 2, 2048, "gguf", ())
    assert identity("m.gguf", 1, 2, 4096, "gguf", ()) != identity("m.gguf", 1, 3, 4096, "gguf", ())


def test_a_rephrased_first_turn_is_a_near_hit_and_a_look_alike_is_not(tmp_path, monkeypatch):
    import numpy as np

    from memory.cache import key as cache_key
    from memory.cache import look_up

    def embed(text: str):  # stand-in for the sentence embedder: similar wording, similar vector
        vector = np.zeros(64, dtype=np.float32)
        for word in cache_key.normalise(text).split():
            vector[hash(word.strip("?¿!.,")) % 64] += 1
        return vector / np.linalg.norm(vector)

    cache = ResponseCache(tmp_path / "r.sqlite", near_threshold=0.6, embed=embed)
    p = fake_profile()
    stored = key(p, "How do I reverse a list in Python?", route={"domain": "technical", "node": "technical"})
    responses.keep(cache, {"key": stored.value, "question": stored.question, "scope": stored.scope, "first": True},
                   {"answer": "Use reversed(xs) or xs[::-1].", "question": "How do I reverse a list in Python?",
                    "thread": "a", "turn": 1, "route": {"domain": "technical"}, "language": "en", "models": []})
    route = {"domain": "technical", "node": "technical"}
    hit, note = look_up(cache, key(p, "In Python, how do I reverse a list?", route=route))
    assert hit is not None and hit.how == "near" and "cache hit (near" in note
    miss, note = look_up(cache, key(p, "How do I reverse a list in Java?", route=route))
    assert miss is None and "java" in note  # close in wording, refused by the pinned words
    follow_up = key(p, "In Python, how do I reverse a list?", route=route,
                    history=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])
    assert look_up(cache, follow_up)[0] is None  # near hits are for first turns only
