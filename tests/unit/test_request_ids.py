"""Request ids (a client's Idempotency-Key): a retry of a question the thread already answered gets that answer
again, with no model run and no new turn; the same id for another question is refused; a bad id is refused
before anything runs."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from agents.backends.fake import FakeChatModel
from agents.errors import RequestIdReusedError, ThreadIdError
from agents.roles.team import Team
from agents.slot.slot import GpuSlot
from graphs.api import ask
from memory.threads import answered_request
from tests.conftest import fake_profile

MESSAGES = [HumanMessage("q1"), AIMessage("a1", response_metadata={"request_id": "r1", "route": {"domain": "legal"}}),
            HumanMessage("q2"), AIMessage("a2", response_metadata={}),
            HumanMessage("q3"), AIMessage("a3", response_metadata={"request_id": "r3", "language": "es"}),
            HumanMessage("q4")]  # a turn still in flight


@pytest.mark.parametrize("request_id, turn, question, answer", [
    ("r1", 1, "q1", "a1"), ("r3", 3, "q3", "a3"), ("r2", None, None, None), ("", None, None, None),
])
def test_the_turn_that_answered_a_request_is_found(request_id, turn, question, answer):
    found = answered_request(MESSAGES, request_id)
    assert (found.turn, found.question, found.answer) == (turn, question, answer) if found else turn is None


def _ask(team, question: str, request_id: str | None, thread: str = "t") -> dict:
    FakeChatModel.enqueue("Un contrato necesita preaviso.", "OK", "El contrato necesita preaviso por escrito.")
    return ask(question, profile=team, thread_id=thread, request_id=request_id)


def test_a_retry_is_answered_from_the_thread_without_a_model_call():
    team = Team(fake_profile(), GpuSlot())
    first = _ask(team, "¿Qué necesita un contrato de alquiler?", "req-1")
    FakeChatModel.reset()
    again = ask("¿Qué necesita un contrato de alquiler?", profile=team, thread_id="t", request_id="req-1")
    assert again["replayed"] and (again["answer"], again["turn"]) == (first["answer"], 1)
    assert again["route"] == first["route"] and again["language"] == "es"
    assert [r["node"] for r in again["trace"]] == ["request"]
    assert FakeChatModel.calls == []  # no model was asked
    assert _ask(team, "What does a lease need?", "req-2")["turn"] == 2  # a new id: a new turn
    assert _ask(team, "What does a lease need?", None)["turn"] == 3  # no id: as before
    with pytest.raises(RequestIdReusedError, match="turn 1"):
        ask("What else?", profile=team, thread_id="t", request_id="req-1")
    assert _ask(team, "¿Qué necesita un contrato de alquiler?", "req-1", thread="other")["turn"] == 1  # per thread


def test_a_bad_request_id_is_refused_before_anything_runs():
    with pytest.raises(ThreadIdError, match="request id"):
        ask("Hi", profile=Team(fake_profile(), GpuSlot()), thread_id="t", request_id="x\x00")
