"""A 30-turn conversation: a fact stated at turn 10 is still on the answer path at turn 30 (verbatim or
in the running summary), and no node's input, counted by SmolLM2's own tokenizer, exceeds its model's
window. Turns 1-29 are answered by the fake backend with answers of a real model's length (running them
on SmolLM2 too took 537 s here and tests nothing more: fitting depends on the history's size, not on its
author); turn 30 runs on the real model, through a recording wrapper that sees every node's input."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agents.backends import ChatModel, load_model
from agents.models.profiles import resolve
from agents.roles.team import Team
from agents.slot.slot import GpuSlot
from graphs.api import ask
from tests.conftest import fake_profile

pytestmark = pytest.mark.model

FACT = "Mi presupuesto para el viaje es de 300 euros"
FILLER = [
    "What is a lease agreement?", "¿Qué es una función en Python?", "Why is the sky blue?",
    "¿Cuál es el río más largo de Europa?", "How do I install a package with pip?",
    "¿Qué derechos tiene un inquilino?", "What is the capital of Italy?", "¿Cómo funciona una base de datos?",
    "Explain what a contract clause is.",
]


class Recorder(ChatModel):
    backend = "recording"
    calls: list = []

    def __init__(self, spec):
        self.inner = load_model(spec)
        self.note = ""

    def complete(self, messages, params, on_token=None):
        out = self.inner.complete(messages, params, on_token)
        self.calls.append(([dict(m) for m in messages], out.tokens_in))
        return out

    def close(self):
        self.inner.close()


def test_a_fact_from_turn_10_reaches_turn_30_and_no_input_exceeds_the_window(tmp_path):
    # ~420 chars, ~90 tokens, with no repeated phrase (the loop guard would cut one)
    answer = ("Leases set the rent and the term. Tenants must receive notice before any eviction. Deposits "
              "come back at the end unless there is damage. Repairs usually fall on the landlord. Disputes go "
              "to a local court or an arbiter. Python lists reverse with slicing. Rivers in Europe vary in "
              "length. The sky looks blue because air scatters short wavelengths more strongly.")
    history_team = Team(fake_profile(reply=answer), GpuSlot())
    db = tmp_path / "long.sqlite"
    for turn in range(1, 30):
        question = FACT + ". ¿Es suficiente para un fin de semana en Lisboa?" if turn == 10 else (
            FILLER[turn % len(FILLER)])
        ask(question, profile=history_team, db=db, thread_id="long")
    profile = resolve("embedded")
    profile = replace(profile, roles=tuple(replace(r, max_tokens=96) for r in profile.roles))
    team = Team(profile, GpuSlot(loader=Recorder))
    window = profile.role("orchestrator").model.context_window
    Recorder.calls.clear()
    last = ask("¿Cuál era mi presupuesto para el viaje?", profile=team, db=db, thread_id="long")
    assert last["turn"] == 30
    specialist = [r for r in last["trace"] if r["node"] in ("legal", "technical", "general")][0]
    assert "summarised" in specialist["note"] and " 0 summarised" not in specialist["note"], specialist["note"]
    inputs = ["\n".join(m["content"] for m in messages) for messages, _ in Recorder.calls]
    assert FACT in inputs[0], "the specialist's input lost the fact"
    review_inputs = [text for text in inputs if "Draft answer / Borrador" in text]
    if not review_inputs:  # the deterministic checks decided (a looping draft): what the model would have read
        from agents.roles import reviewer
        from graphs.cooperation import _history, build_graph
        from memory.checkpoints import sqlite_checkpointer

        assert [r for r in last["trace"] if r["node"] == "review"][0]["verdict_by"] == "checks"
        with sqlite_checkpointer(db) as saver:
            values = build_graph(checkpointer=saver).get_state({"configurable": {"thread_id": "long"}}).values
        earlier = _history({"messages": values["messages"][:-2]})
        messages, _ = reviewer.build_messages("es", values["question"], last["answer"], earlier,
                                              context_window=profile.role("reviewer").model.context_window,
                                              summaries=values["summaries"][:-1])
        review_inputs = ["\n".join(m["content"] for m in messages)]
    assert FACT in review_inputs[0], "the reviewer's input lost the fact"
    assert all(tokens_in <= window for _, tokens_in in Recorder.calls), [t for _, t in Recorder.calls]
