"""The resident server's HTTP layer and service on the fake backend: what a real model can't make reproducible
(a full queue, a client that leaves mid-stream, a shutdown mid-answer, keep-alive). The real model and real
clients (openai SDK, ChatOpenAI) are in tests/integration/test_server_real.py."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi.testclient import TestClient

from graphs.server import wire
from graphs.server.app import create_app
from graphs.server.service import Service
from tests.conftest import fake_config_toml

REPLIES = {"orchestrator": "Paris is the capital of France.", "legal": "A lease is a contract.",
           "technical": "Use reversed().", "reviewer": "OK"}


@pytest.fixture
def make(tmp_path):
    made = []

    def build(slow: bool = False, **kwargs) -> tuple[Service, TestClient]:
        opts = {r: "tokens_per_second = 20" for r in REPLIES} if slow else {}
        replies = {r: (" ".join(["palabra"] * 60) if slow else v) for r, v in REPLIES.items()}
        profile = fake_config_toml(tmp_path / "fake.toml", replies, **opts)
        key = kwargs.pop("api_key", None)
        service = Service(profile, **kwargs)
        client = TestClient(create_app(service, api_key=key))
        made.append(service)
        return service, client

    yield build
    for service in made:
        service.shutdown(wait_s=2)


def _events(lines) -> list:
    out = []
    for line in lines:
        if line.startswith("data: "):
            data = line[len("data: "):]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def _ask(question: str, model: str = "concilio", **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": question}], **extra}


def test_a_plain_request_answers_with_usage_and_the_run(make):
    _, client = make()
    body = client.post("/v1/chat/completions", json=_ask("How do I reverse a list in Python?")).json()
    assert body["object"] == "chat.completion" and body["choices"][0]["finish_reason"] == "stop"
    assert body["choices"][0]["message"]["content"].strip()
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"] > 0
    assert body["concilio"]["route"]["domain"] == "technical" and body["concilio"]["thread_id"] is None


def test_a_stream_has_the_role_first_progress_as_reasoning_and_a_finish_then_done(make):
    _, client = make()
    with client.stream("POST", "/v1/chat/completions", headers={"X-Concilio-Thread": "t1"},
                       json=_ask("¿Puede mi casero echarme sin previo aviso?", stream=True,
                                 stream_options={"include_usage": True})) as response:
        assert response.status_code == 200
        events = _events(response.iter_lines())
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content", "") for c in chunks if c["choices"])
    assert "route: legal" in reasoning
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert content.strip() and finishes == ["stop"] and chunks[-1]["choices"] == [] and chunks[-1]["usage"]
    second = client.post("/v1/chat/completions", headers={"X-Concilio-Thread": "t1"}, json=_ask("¿Y con contrato?"))
    assert second.json()["concilio"]["turn"] == 2  # the stored thread continues


def test_earlier_messages_become_the_threads_history(make):
    _, client = make()
    body = _ask("And in Spain?")
    body["messages"] = [{"role": "user", "content": "What is a lease?"},
                        {"role": "assistant", "content": "A lease is a contract."}, *body["messages"]]
    assert client.post("/v1/chat/completions", json=body).json()["concilio"]["turn"] == 2


@pytest.mark.parametrize(("body", "status", "code"), [
    (_ask("hi", model="gpt-4"), 404, "model_not_found"),
    ({"model": "concilio", "messages": []}, 400, None),
    (_ask(" "), 400, None),
    (_ask("x" * 30_000), 413, "context_length_exceeded"),
])
def test_bad_requests_get_openai_errors_and_the_server_lives_on(make, body, status, code):
    _, client = make()
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == status and response.json()["error"]["message"]
    assert response.json()["error"]["code"] == code or code is None
    assert client.get("/health").status_code == 200


def test_a_body_that_is_not_json_or_too_large_is_refused(make):
    _, client = make()
    assert client.post("/v1/chat/completions", content=b"{nope").status_code == 400
    assert client.post("/v1/chat/completions", content=b"x" * (5 * 2**20)).status_code == 413


def test_a_key_is_required_when_one_is_set(make):
    _, client = make(api_key="s3cret")
    assert client.get("/v1/models").status_code == 401
    assert client.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/health").status_code == 200  # how clients find the server; says nothing else


def test_a_full_queue_is_a_429_and_a_busy_thread_a_409(make):
    service, _ = make(max_queue=2)
    first = service.admit("concilio", "t")
    with pytest.raises(wire.RequestError) as busy:
        service.admit("concilio", "t")
    assert busy.value.status == 409
    service.admit("concilio", None)
    with pytest.raises(wire.RequestError) as full:
        service.admit("concilio", None)
    assert full.value.status == 429 and full.value.kind == "rate_limit_error"
    service.done(first)
    service.admit("concilio", None)


def test_a_client_that_leaves_mid_stream_frees_the_slot(make):
    service, client = make(slow=True)
    with client.stream("POST", "/v1/chat/completions", json=_ask("hi", model="fake-orchestrator",
                                                                    stream=True)) as response:
        for line in response.iter_lines():
            if '"content": "palabra' in line or '"content":"palabra' in line:
                break  # one token in: the client goes away
    deadline = time.monotonic() + 10
    while service.runs and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.runs == {}
    start = time.monotonic()
    done = client.post("/v1/chat/completions", json=_ask("hi", model="fake-legal", max_tokens=2)).json()
    assert done["choices"][0]["message"]["content"] and time.monotonic() - start < 5  # nobody holds the slot


def test_a_shutdown_mid_answer_ends_the_stream_with_an_error_and_stores_nothing(make):
    service, client = make(slow=True)
    events: list = []

    def stream():
        with client.stream("POST", "/v1/chat/completions", headers={"X-Concilio-Thread": "t9"},
                           json=_ask("What is a lease?", stream=True)) as response:
            events.extend(_events(response.iter_lines()))

    thread = threading.Thread(target=stream)
    thread.start()
    deadline = time.monotonic() + 10
    while not service.slot.resident() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # generating now
    service.shutdown(wait_s=5)
    thread.join(15)
    errors = [e for e in events if isinstance(e, dict) and "error" in e]
    assert errors and "nothing half-written was stored" in errors[0]["error"]["message"]
    assert events[-1] == "[DONE]" and service.slot.resident() == []
    from graphs.cooperation import build_graph
    from memory.checkpoints import sqlite_checkpointer

    with sqlite_checkpointer() as saver:
        state = build_graph(checkpointer=saver).get_state({"configurable": {"thread_id": "t9"}})
    assert not state.values.get("answer")  # no half answer stored


def test_idle_models_are_unloaded_after_the_keep_alive(make):
    service, client = make(keep_alive=0.2)
    client.post("/v1/chat/completions", json=_ask("hi", model="fake-orchestrator", max_tokens=2))
    deadline = time.monotonic() + 5
    while service.slot.resident() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert service.slot.resident() == []
    assert client.get("/api/ps").json()["slot"]["resident"] == []


def test_the_openai_user_field_keeps_each_users_threads_and_memories_apart(make):
    from graphs.cooperation import build_graph
    from memory import store as memories
    from memory import threads
    from memory.checkpoints import checkpointer

    _, client = make()
    for user, question in (("ana", "Me llamo Ana y vivo en Madrid. ¿Qué es un contrato?"),
                           ("bob", "My name is Bob and I live in Leeds. What is a lease?")):
        done = client.post("/v1/chat/completions", headers={"X-Concilio-Thread": "shared"},
                           json=_ask(question, user=user))
        assert done.status_code == 200, done.text
    assert client.post("/v1/chat/completions", json=_ask("Hi", user="\x00")).status_code == 400
    with checkpointer() as saver, memories.open_store() as store:
        graph = build_graph(checkpointer=saver)
        assert [t.question for t in threads.show(graph, "shared", "ana")] == [
            "Me llamo Ana y vivo en Madrid. ¿Qué es un contrato?"]
        assert [t.question for t in threads.show(graph, "shared", "bob")] == [
            "My name is Bob and I live in Leeds. What is a lease?"]
        assert memories.recall(store, "ana")["name"] == "Ana" and memories.recall(store, "bob")["name"] == "Bob"
        assert memories.recall(store) == {}


def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer_and_no_new_turn(make):
    from graphs.cooperation import build_graph
    from memory import threads
    from memory.checkpoints import checkpointer

    service, client = make()
    headers = {"X-Concilio-Thread": "retry", "Idempotency-Key": "q-7f3a"}
    first = client.post("/v1/chat/completions", headers=headers, json=_ask("¿Qué es un contrato de arrendamiento?"))
    again = client.post("/v1/chat/completions", headers=headers, json=_ask("¿Qué es un contrato de arrendamiento?"))
    assert first.status_code == again.status_code == 200, again.text
    assert again.json()["choices"][0]["message"]["content"] == first.json()["choices"][0]["message"]["content"]
    assert again.json()["concilio"]["turn"] == 1 and again.json()["concilio"]["trace"][0]["node"] == "request"
    with client.stream("POST", "/v1/chat/completions", headers=headers,
                       json=_ask("¿Qué es un contrato de arrendamiento?", stream=True)) as response:
        chunks = [c for c in _events(response.iter_lines())[:-1] if c["choices"]]
    streamed = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert streamed == first.json()["choices"][0]["message"]["content"]  # a streamed retry: the same answer
    other = client.post("/v1/chat/completions", headers=headers, json=_ask("What is a lease?"))
    assert (other.status_code, other.json()["error"]["code"]) == (422, "idempotency_key_reused")
    bad = client.post("/v1/chat/completions", headers={**headers, "Idempotency-Key": "a\x01b"}, json=_ask("Hi"))
    assert bad.status_code == 400 and "request id" in bad.json()["error"]["message"]
    fresh = client.post("/v1/chat/completions", headers={**headers, "Idempotency-Key": "q-8b1c"},
                        json=_ask("What is a lease?"))
    assert fresh.status_code == 200 and fresh.json()["concilio"]["turn"] == 2
    assert service.ps()["runs"] == []  # nothing admitted was left behind by the refusals
    with checkpointer() as saver:
        assert [t.question for t in threads.show(build_graph(checkpointer=saver), "retry")] == [
            "¿Qué es un contrato de arrendamiento?", "What is a lease?"]
