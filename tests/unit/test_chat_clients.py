"""What a LangGraph chat client (Studio's chat view, langgraph-sdk) sends and sees: `{"messages": [...]}` as
input, the conversation in the output, and model calls tagged by what their text is, so that a client can
hide the routing and review calls and treat a draft as provisional."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessageChunk
from langgraph.checkpoint.memory import InMemorySaver

from agents.backends.fake import FakeChatModel
from agents.errors import EmptyQuestionError
from agents.roles.team import Team
from agents.slot.slot import GpuSlot
from graphs.cooperation import build_graph
from graphs.state import Context
from tests.conftest import fake_profile


def context() -> Context:
    return Context(profile=Team(fake_profile(), GpuSlot()))


@pytest.mark.parametrize("content", [
    "What does a lease need?",
    [{"type": "text", "text": "What does a lease need?"}],  # content blocks, as some clients send them
])
def test_a_chat_clients_messages_input_is_the_question(content):
    FakeChatModel.enqueue("A lease needs notice.", "OK", "Leases need written notice.")
    graph = build_graph(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "chat"}}
    out = graph.invoke({"messages": [{"role": "user", "content": content}]}, config, context=context())
    assert out["answer"] == "Leases need written notice." and out["route"]["domain"] == "legal"
    assert [(m.type, m.id, m.content) for m in out["messages"]] == [
        ("human", "turn-1-question", "What does a lease need?"), ("ai", "turn-1-answer", out["answer"])]


def test_a_second_turn_from_a_chat_client_continues_the_thread():
    graph = build_graph(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "chat2"}}
    FakeChatModel.enqueue("A lease needs notice.", "OK", "Leases need written notice.")
    graph.invoke({"messages": [{"role": "user", "content": "What does a lease need?"}]}, config, context=context())
    FakeChatModel.enqueue("Usa reversed().", "OK", "Usa reversed() o lista[::-1].")
    out = graph.invoke({"messages": [{"role": "user", "content": "¿Cómo invierto una lista en Python?"}]}, config,
                       context=context())
    assert out["turn"] == 2 and out["language"] == "es" and out["route"]["domain"] == "technical"
    assert [m.id for m in out["messages"]] == ["turn-1-question", "turn-1-answer", "turn-2-question",
                                               "turn-2-answer"]


def test_an_empty_chat_message_is_refused_as_an_empty_question():
    with pytest.raises(EmptyQuestionError):
        build_graph().invoke({"messages": [{"role": "user", "content": "  "}]}, context=context())


def test_model_calls_are_tagged_by_what_their_text_is():
    FakeChatModel.enqueue("A lease needs notice.", "OK", "Leases need written notice.")
    steps: dict[str, set] = {}
    for msg, meta in build_graph().stream({"question": "What does a lease need?"}, context=context(),
                                          stream_mode="messages"):
        if isinstance(msg, AIMessageChunk):
            tags = {t for t in meta.get("tags", []) if t.startswith("concilio:")}
            steps.setdefault(meta["langgraph_node"], set()).update(tags | {meta.get("concilio_step")})
    assert steps == {"legal": {"concilio:draft", "draft"}, "review": {"concilio:review", "review"},
                     "integrate": {"concilio:final", "final"}}
