"""The OpenAI wire format as concilio speaks it: pure functions, tested by tables."""

from __future__ import annotations

import pytest

from graphs.server import wire
from graphs.server.app import _rest


def _req(**body):
    return wire.parse_request({"model": "concilio", "messages": [{"role": "user", "content": "hola"}], **body})


@pytest.mark.parametrize(("body", "status", "param"), [
    ([], 400, None),
    ({"messages": [{"role": "user", "content": "x"}]}, 400, "model"),
    ({"model": "concilio", "messages": []}, 400, "messages"),
    ({"model": "concilio", "messages": [{"role": "wizard", "content": "x"}]}, 400, "messages.0.role"),
    ({"model": "concilio", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, 400, "max_tokens"),
    ({"model": "concilio", "messages": [{"role": "user", "content": "x"}], "temperature": 9}, 400, "temperature"),
    ({"model": "", "messages": [{"role": "user", "content": "x"}]}, 400, "model"),
])
def test_malformed_requests_are_refused_naming_the_field(body, status, param):
    with pytest.raises(wire.RequestError) as err:
        wire.parse_request(body)
    assert err.value.status == status and err.value.param == param
    assert err.value.body()["error"]["type"] == "invalid_request_error"


def test_unknown_fields_are_ignored_and_limits_read_as_openai_does():
    req = _req(max_completion_tokens=7, frequency_penalty=0.5, stream=True, stream_options={"include_usage": True})
    assert req.token_limit == 7 and req.stream and req.stream_options.include_usage


@pytest.mark.parametrize(("messages", "question", "history"), [
    ([("user", "¿Qué es un arrendamiento?")], "¿Qué es un arrendamiento?", []),
    ([("system", "be brief"), ("user", "What is a lease?")], "What is a lease?", []),
    ([("user", "q1"), ("assistant", "a1"), ("user", "q2")], "q2", [("q1", "a1")]),
    ([("user", "q1"), ("user", "q1b"), ("assistant", "a1"), ("user", "q2")], "q2", [("q1\nq1b", "a1")]),
    ([("assistant", "hi"), ("user", "q")], "q", []),
])
def test_the_last_user_message_is_the_question_and_earlier_pairs_the_history(messages, question, history):
    req = wire.parse_request({"model": "concilio", "messages": [{"role": r, "content": c} for r, c in messages]})
    conv = wire.conversation(req)
    assert (conv.question, conv.history) == (question, history)


@pytest.mark.parametrize("messages", [
    [("user", "q"), ("assistant", "a")],
    [("user", "   ")],
    [("system", "only instructions")],
])
def test_a_conversation_without_a_final_question_is_a_400(messages):
    req = wire.parse_request({"model": "concilio", "messages": [{"role": r, "content": c} for r, c in messages]})
    with pytest.raises(wire.RequestError) as err:
        wire.conversation(req)
    assert err.value.status == 400 and err.value.param == "messages"


def test_text_parts_are_joined_and_images_refused():
    req = wire.parse_request({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Hola, "}, {"type": "text", "text": "¿qué tal?"}]}]})
    assert wire.single_model_messages(req) == [{"role": "user", "content": "Hola, ¿qué tal?"}]
    bad = wire.parse_request({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]})
    with pytest.raises(wire.RequestError, match="image_url"):
        wire.single_model_messages(bad)


def test_the_catalogue_has_the_graph_routes_and_each_model_once():
    ids = wire.catalogue([("orca", "orchestrator"), ("phi3", "legal"), ("orca", "reviewer")])
    assert list(ids) == ["concilio", "concilio-legal", "concilio-technical", "concilio-general", "orca", "phi3"]
    assert ids["concilio-legal"] == wire.Target("graph", domain="legal")
    assert ids["orca"] == wire.Target("model", role="orchestrator")
    with pytest.raises(wire.RequestError) as err:
        wire.resolve_target(ids, "gpt-4")
    assert err.value.status == 404 and err.value.code == "model_not_found" and "phi3" in str(err.value)


def test_chunks_follow_the_openai_shape():
    first = wire.chunk("c1", "concilio", {"role": "assistant", "content": ""})
    assert first["object"] == "chat.completion.chunk" and first["choices"][0]["finish_reason"] is None
    last = wire.chunk("c1", "concilio", {}, finish="stop")
    assert last["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    use = wire.chunk("c1", "concilio", usage_={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3})
    assert use["choices"] == [] and use["usage"]["total_tokens"] == 3
    assert wire.usage([{"tokens_in": 5, "tokens": 2}, {"tokens_in": 1}]) == {
        "prompt_tokens": 6, "completion_tokens": 2, "total_tokens": 8}


@pytest.mark.parametrize(("event", "says"), [
    ({"event": "route", "domain": "legal", "by": "classifier", "confidence": 0.9, "language": "es"},
     "route: legal (by classifier, 0.90), language es"),
    ({"event": "waiting", "model": "phi3", "holder_pid": 42}, "waiting for the GPU slot to load phi3, held by pid 42"),
    ({"event": "loading", "model": "phi3", "size_mb": 2180}, "loading phi3 (2180 MB)"),
    ({"event": "verdict", "verdict": "revise", "issues": ["draft is empty"]}, "review: revise: draft is empty"),
    ({"event": "token", "text": "x"}, None),
])
def test_progress_becomes_one_reasoning_line(event, says):
    assert wire.progress_text(event) == says


@pytest.mark.parametrize(("answer", "streamed", "rest"), [
    ("Hola mundo", "", "Hola mundo"),
    ("Hola mundo", "Hola", " mundo"),
    ("Hola mundo", "Hola mundo", ""),
    ("draft", "rewrite that looped", "\n\n(the rewrite above was discarded; the answer is:)\ndraft"),
])
def test_what_a_stream_still_owes_its_client(answer, streamed, rest):
    assert _rest(answer, streamed) == rest
