"""The OpenAI-compatible backend against scripted loopback servers: streaming, every way a server can fail
(each a clear error within the timeout), endpoint rotation, Ollama unloading, and the fallback to the
orchestrator's model in a run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import fake_config_toml, free_port
from openai_fake import FakeServer

from agents.backends import GenParams, load_model, openai_backend
from agents.backends.openai_backend import attempt_plan, endpoint_order
from agents.errors import BackendUnavailable
from agents.models.profiles import ModelSpec
from agents.slot.slot import GpuSlot
from graphs.api import ask

TIMEOUT = 2.0


@pytest.fixture(autouse=True)
def _fresh_endpoint_state():
    openai_backend._down_until.clear()
    openai_backend._rotation.clear()
    yield


def spec(*urls: str, **options) -> ModelSpec:
    opts = {"endpoints": tuple(urls), "timeout": TIMEOUT, "retries": 1, "cooldown": 30, **options}
    return ModelSpec(name="served", path=Path("/nonexistent"), backend="openai", options=tuple(sorted(opts.items())))


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


@pytest.mark.parametrize("endpoints, start, down, expected", [
    (["a", "b", "c"], 0, {}, ["a", "b", "c"]),
    (["a", "b", "c"], 1, {}, ["b", "c", "a"]),
    (["a", "b", "c"], 4, {}, ["b", "c", "a"]),
    (["a", "b", "c"], 0, {"a": 50.0}, ["b", "c", "a"]),  # down: last
    (["a", "b", "c"], 0, {"a": 5.0}, ["a", "b", "c"]),  # its cool-down is over
    (["a", "b", "c"], 0, {"a": 60.0, "b": 50.0}, ["c", "b", "a"]),  # soonest back first
])
def test_endpoint_order(endpoints, start, down, expected):
    assert endpoint_order(endpoints, start, down, now=10.0) == expected


@pytest.mark.parametrize("order, retries, expected", [
    (["a"], 2, ["a", "a", "a"]), (["a", "b"], 2, ["a", "b", "a"]), (["a", "b"], 0, ["a"]), ([], 2, []),
])
def test_attempt_plan(order, retries, expected):
    assert attempt_plan(order, retries) == expected


def test_an_answer_streams_token_by_token():
    with FakeServer(reply="A lease is a contract.") as server:
        model = load_model(spec(server.url))
        pieces = []
        done = model.complete([{"role": "user", "content": "What is a lease?"}], GenParams(max_tokens=50),
                              pieces.append)
        model.close()
    assert done.text == "A lease is a contract." and pieces == ["A", " lease", " is", " a", " contract."]
    body = [b for method, path, b in server.requests if path.endswith("/chat/completions")][0]
    assert body["model"] == "served" and body["stream"] is True and body["max_tokens"] == 50


@pytest.mark.parametrize("mode, when, says", [
    ("wrong-url", "load", "connection refused"),
    ("down500", "load", "HTTP 500"),
    ("chat500", "answer", "HTTP 500"),
    ("hang", "answer", "timed out"),
    ("invalid", "answer", "invalid response"),
    ("refuse400", "answer", "HTTP 400"),
])
def test_a_failing_server_is_a_clear_error_within_the_timeout(mode, when, says):
    with FakeServer("ok" if mode == "wrong-url" else mode) as server:
        url = closed_port_url() if mode == "wrong-url" else server.url
        start = time.monotonic()
        with pytest.raises(BackendUnavailable) as caught:
            model = load_model(spec(url))
            assert when == "answer", "the load should have failed"
            model.complete([{"role": "user", "content": "hola"}], GenParams(max_tokens=20))
        elapsed = time.monotonic() - start
    message = str(caught.value)
    assert says in message and url in message, message
    assert elapsed < TIMEOUT + 1.0, elapsed  # the configured timeout bounds every failure
    if mode == "refuse400":
        assert server.chats() == 1  # a refusal is not retried


def test_a_stream_that_breaks_mid_answer_is_not_retried():
    with FakeServer("break", reply="uno dos tres cuatro cinco seis") as server:
        model = load_model(spec(server.url))
        pieces = []
        with pytest.raises(BackendUnavailable, match="stopped mid-answer after 3 tokens"):
            model.complete([{"role": "user", "content": "cuenta"}], GenParams(max_tokens=20), pieces.append)
    assert pieces == ["uno", " dos", " tres"] and server.chats() == 1


def test_endpoints_are_used_in_turn_and_a_failed_one_is_skipped_until_healthy():
    with FakeServer(reply="A") as a, FakeServer(reply="B") as b:
        model = load_model(spec(a.url, b.url, cooldown=0.3))
        ask_ = lambda: model.complete([{"role": "user", "content": "?"}], GenParams(max_tokens=5)).text  # noqa: E731
        assert [ask_() for _ in range(4)] == ["A", "B", "A", "B"]
        b.mode = "chat500"
        assert [ask_() for _ in range(4)] == ["A", "A", "A", "A"]  # b failed once, then skipped
        assert b.chats() == 3  # two good answers and the failed attempt
        b.mode = "ok"
        time.sleep(0.35)  # its cool-down is over: probed, healthy, used again
        assert sorted(ask_() for _ in range(2)) == ["A", "B"]
        model.close()


def test_ollama_is_told_to_unload_when_the_slot_unloads_the_model():
    with FakeServer() as server:
        slot = GpuSlot()
        with slot.hold(spec(server.url, flavor="ollama", model="phi3:mini")) as lease:
            lease.model.complete([{"role": "user", "content": "hi"}], GenParams(max_tokens=5))
        slot.clear()
    unloads = [body for method, path, body in server.requests if path == "/api/generate"]
    assert unloads == [{"model": "phi3:mini", "keep_alive": 0}]


@pytest.mark.parametrize("mode", ["wrong-url", "down500", "chat500", "hang", "invalid"])
def test_a_run_falls_back_to_the_orchestrator_and_says_so(tmp_path, mode):
    with FakeServer("ok" if mode == "wrong-url" else mode) as server:
        url = closed_port_url() if mode == "wrong-url" else server.url
        toml = fake_config_toml(tmp_path / "p.toml", {"orchestrator": "El orquestador responde.", "legal": "-",
                                                       "technical": "-", "reviewer": "OK"})
        text = Path(toml).read_text().replace(
            '[roles.legal]\nbackend = "fake"\npath = "fake-legal.gguf"\noptions = { reply = "-" }',
            f'[roles.legal]\nbackend = "openai"\nname = "phi3"\noptions = {{ base_url = "{url}", timeout = 2, '
            'retries = 1 }')
        Path(toml).write_text(text)
        events = []
        result = ask("¿Puede mi casero echarme sin avisar?", profile=toml, thread_id="t", on_event=events.append)
    assert result["route"]["domain"] == "legal" and result["answer"] == "El orquestador responde."
    legal = [r for r in result["trace"] if r["node"] == "legal"][0]
    assert legal["model"] == "fake-orchestrator" and "legal model phi3 unavailable" in legal["note"]
    assert "the orchestrator's model answered" in legal["note"]
    assert [e["role"] for e in events if e["event"] == "fallback"] == ["legal"]
