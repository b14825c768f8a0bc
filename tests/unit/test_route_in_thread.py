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


class _CloseCall:
    """The router's answer to a close call (the rule is what is tested here; the classifier is real elsewhere)."""

    threshold = 0.0

    def decide(self, text):
        from agents.routing.classifier import Decision

        return Decision("technical", 0.41, {"technical": 0.41, "general": 0.39, "legal": 0.20}, "classifier")


@pytest.mark.parametrize(
    "margin, expect_resident",
    [("0", False),  # off
     ("1", True),  # a 0.3 s swap scales the margin to 0.06: the 0.02 gap is within it
     ("0.2", False)],  # scaled to 0.012: the gap is not
)
def test_a_close_call_goes_to_the_resident_model_only_when_the_rule_is_on(monkeypatch, margin, expect_resident):
    from agents.roles.team import Team
    from agents.routing import store
    from agents.slot.slot import GpuSlot
    from tests.conftest import fake_profile

    monkeypatch.setenv("CONCILIO_ROUTE_SWAP_MARGIN", margin)
    monkeypatch.setattr(store, "current", _CloseCall)
    fakes = Team(fake_profile(load_seconds=0.3), GpuSlot())
    for domain in ("technical", "general"):  # each loaded once (a measured swap), general's left resident
        with fakes.slot.hold(fakes.role(role_for(domain)).model):
            pass
    assert set(fakes.slot.resident()) == {fakes.role(role_for("general")).model.name}
    result = orchestrator.analyze(fakes, "Which of the following is correct?")
    assert result.domain == ("general" if expect_resident else "technical")
    assert bool(result.swap) == expect_resident and (result.swap in result.trace["note"])


def test_an_override_is_never_bent_towards_the_resident_model(monkeypatch):
    monkeypatch.setenv("CONCILIO_ROUTE_SWAP_MARGIN", "1")
    fakes = team()
    with fakes.slot.hold(fakes.role(role_for("general")).model):
        pass
    result = orchestrator.analyze(fakes, "What is the tallest mountain?", force_domain="legal")
    assert result.domain == "legal" and result.by == "override" and not result.swap
