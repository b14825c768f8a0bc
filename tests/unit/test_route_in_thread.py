"""Routing with the thread and the GPU, through the real router and the graph (fake chat models): a follow-up
keeps the thread's domain and the route says why, a change of subject switches, and the swap-aware rule sends a
close call to the resident model only when it is on."""

from __future__ import annotations

import pytest

from agents.roles import orchestrator
from agents.roles.specialist import role_for
from graphs.api import ask
from tests.unit.test_learning import team


@pytest.mark.parametrize(
    "first, second, domain, kept",
    [
        ("How do I reverse a linked list in Python?", "make it faster", "technical", True),
        ("¿Cómo invierto una lista enlazada en Python?", "hazla más rápida", "technical", True),
        ("Can my landlord keep my deposit for normal wear and tear?", "rewrite that more formally", "legal", True),
        ("Me han despedido estando de baja, ¿es legal?", "¿y en España?", "legal", True),
        ("How do I reverse a linked list in Python?",
         "Different question: can my landlord evict me without notice?", "legal", False),
        ("¿Cómo invierto una lista enlazada en Python?",
         "Cambiando de tema, ¿me das una receta de lentejas?", "general", False),
    ],
)
def test_a_follow_up_keeps_the_thread_and_a_change_of_subject_switches(first, second, domain, kept):
    fakes = team()
    one = ask(first, profile=fakes, learn=False)
    two = ask(second, thread_id=one["thread_id"], profile=fakes, learn=False)
    assert two["route"]["domain"] == domain
    why = two["route"].get("thread", "")
    assert why.startswith("follow-up") if kept else not why.startswith("follow-up")
    analyze = next(r for r in two["trace"] if r["node"] == "analyze")
    assert (why in analyze["note"]) if why else True


def test_the_thread_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("CONCILIO_ROUTE_THREAD", "off")
    fakes = team()
    one = ask("How do I reverse a linked list in Python?", profile=fakes, learn=False)
    two = ask("give me a short poem about it", thread_id=one["thread_id"], profile=fakes, learn=False)
    assert "thread" not in two["route"]


def _close_call():
    """A question, its decision, and the runner-up domain (whose model will be made resident)."""
    from agents.routing import store

    router = store.current()
    for question in ("Which of the following best describes the result?", "Explain the statement above.",
                     "What is the main idea of the passage?", "¿Cuál de las siguientes es correcta?"):
        decision = router.decide(question)
        ranked = sorted(decision.scores, key=decision.scores.__getitem__, reverse=True)
        if decision.scores[ranked[0]] - decision.scores[ranked[1]] < 0.5:
            return question, decision, ranked
    pytest.skip("no close call among the probes")


@pytest.mark.parametrize("margin, expect_resident", [("0", False), ("0.5", True)])
def test_a_close_call_goes_to_the_resident_model_only_when_the_rule_is_on(monkeypatch, margin, expect_resident):
    monkeypatch.setenv("CONCILIO_ROUTE_SWAP_MARGIN", margin)
    question, decision, ranked = _close_call()
    fakes = team()
    with fakes.slot.hold(fakes.role(role_for(ranked[1])).model):
        pass  # loaded, and stays resident
    result = orchestrator.analyze(fakes, question)
    assert result.domain == (ranked[1] if expect_resident else ranked[0])
    assert bool(result.swap) == expect_resident and (result.swap in result.trace["note"])


def test_an_override_is_never_bent_towards_the_resident_model(monkeypatch):
    monkeypatch.setenv("CONCILIO_ROUTE_SWAP_MARGIN", "1")
    fakes = team()
    with fakes.slot.hold(fakes.role(role_for("general")).model):
        pass
    result = orchestrator.analyze(fakes, "What is the tallest mountain?", force_domain="legal")
    assert result.domain == "legal" and result.by == "override" and not result.swap
