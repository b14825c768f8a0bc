"""Caching on the real embedded model: a repeated question (en, es) comes from the response cache with no model
call and no swap, a changed model file is a miss, and on llamacpp a model swapped out and back for the same
thread restores its prompt state and answers exactly as it does cold (temperature 0)."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from agents.backends import GenParams, kv_state
from agents.models import embedded
from agents.models.profiles import ModelSpec, Profile, RoleSpec, resolve
from agents.roles.team import Team
from agents.slot.slot import GpuSlot
from graphs.api import ask

pytestmark = pytest.mark.model


@pytest.mark.parametrize("question", ["How do I reverse a list in Python?", "¿Cómo invierto una lista en Python?"])
def test_a_repeated_question_comes_from_the_cache_without_a_model(question, tmp_path, monkeypatch):
    monkeypatch.setenv("CONCILIO_CACHE", "on")
    team = Team(resolve("embedded"), GpuSlot())
    first = ask(question, profile=team, db=tmp_path / "t.sqlite", thread_id="first")
    loads = sum(e.kind == "load" for e in team.slot.events)
    again = ask(question, profile=team, db=tmp_path / "t.sqlite", thread_id="second")
    kept = first["trace"][-1]["note"]
    if "not cached" in kept:  # the small model looped or was rejected: then nothing is served again
        assert not again["cached"] and any(r.get("model") for r in again["trace"]), kept
        return
    assert "answer cached" in kept and not first["cached"] and again["cached"]
    assert again["answer"] == first["answer"] and again["language"] == first["language"]
    assert not any(r.get("model") for r in again["trace"])  # no model call
    assert sum(e.kind == "load" for e in team.slot.events) == loads  # no load, no swap


def test_a_replaced_model_file_is_a_miss(tmp_path, monkeypatch):
    monkeypatch.setenv("CONCILIO_CACHE", "on")
    copy = tmp_path / "model.gguf"
    shutil.copyfile(embedded.ensure().converted, copy)
    base = resolve("embedded")
    profile = Profile("copy", tuple(RoleSpec(r.role, ModelSpec("copy", copy, context_window=2048)) for r in base.roles))
    team = Team(profile, GpuSlot())
    question = "Who wrote Don Quixote?"
    ask(question, profile=team, db=tmp_path / "t.sqlite", thread_id="a")
    assert ask(question, profile=team, db=tmp_path / "t.sqlite", thread_id="b")["cached"]
    os.utime(copy, ns=(time.time_ns(), time.time_ns() + 10**9))  # the file replaced (same bytes, new mtime)
    assert not ask(question, profile=team, db=tmp_path / "t.sqlite", thread_id="c")["cached"]


def test_llamacpp_restores_a_threads_state_after_a_swap_and_answers_as_cold(monkeypatch):
    path = embedded.ensure().original
    thread = [{"role": "system", "content": "You are a careful assistant."}]
    for n in range(4):
        thread += [{"role": "user", "content": f"Fact {n}: the tenant pays rent on day {n + 3} of each month."},
                   {"role": "assistant", "content": f"Noted: rent is due on day {n + 3}."}]
    before = [*thread, {"role": "user", "content": "When is the rent due?"}]
    after = [*thread, {"role": "user", "content": "¿Cuándo se paga el alquiler?"}]
    spec_a = ModelSpec("a", path, backend="llamacpp", context_window=2048)
    spec_b = ModelSpec("b", path, backend="llamacpp", context_window=1024)
    params = GenParams(max_tokens=16)
    answers = {}
    for label, mb in (("cold", "0"), ("restored", "256")):
        kv_state.forget()
        monkeypatch.setenv("CONCILIO_KV_CACHE_MB", mb)
        slot = GpuSlot(budget="single", prefetch=False)
        with slot.hold(spec_a) as lease:
            lease.model.complete(before, params)
        with slot.hold(spec_b) as lease:  # the first model is closed: only the kept state survives
            lease.model.complete([{"role": "user", "content": "Hi"}], params)
        held = kv_state.held()
        with slot.hold(spec_a) as lease:
            answers[label] = lease.model.complete(after, params).text
        slot.clear()
        kept = sum(states for states, _ in held.values())
        assert (kept > 0) is (label == "restored")  # states kept only when there is room for them
    kv_state.forget()
    assert answers["restored"] == answers["cold"]
