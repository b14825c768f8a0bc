"""Stop strings (GenParams.stop, OpenAI's `stop`): the shared driver cuts the reply before the first one, never
shows any of it to a token callback even when it arrives split over several pieces, and stops generating; the
server takes `stop` for one model and refuses it for the graph. The real model: tests/integration/test_stops_real.py."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from agents.backends.base import GenParams, StopScan, timed_completion
from graphs.server.app import create_app
from graphs.server.service import Service
from tests.conftest import fake_config_toml


@pytest.mark.parametrize("stops, text, start, cut", [
    (["</s>"], "hello</s>more", 0, 5), (["END", "</s>"], "a</s>b END", 0, 1), (["x"], "abc", 0, None),
    (["ab"], "abab", 1, 2), ([""], "abc", 0, None),
])
def test_the_first_stop_string_is_found(stops, text, start, cut):
    assert StopScan(stops).cut(text, start) == cut


@pytest.mark.parametrize("stops, text, safe", [
    (["</s>"], "hello<", 5), (["</s>"], "hello</", 5), (["</s>"], "hello", 5), (["</s>"], "a<b", 3),
    (["User:", "###"], "ok\nUse", 3), (["User:", "###"], "ok #", 3), (["END"], "", 0),
])
def test_a_tail_that_may_become_a_stop_string_is_held_back(stops, text, safe):
    assert StopScan(stops).safe(text) == safe


def _drive(pieces: list[str], stop: tuple[str, ...], max_tokens: int = 50):
    shown, fed = [], []

    def generate(callback) -> int:
        for piece in pieces:
            fed.append(piece)
            if not callback(piece):
                break
        return 3

    params = GenParams(max_tokens=max_tokens, stop=stop, stop_on_loop=False)
    return timed_completion(generate, params, shown.append), "".join(shown), fed


@pytest.mark.parametrize("pieces, stop, text, asked", [
    (["The answer", " is 4.", "\nUs", "er:", " and more"], ("\nUser:",), "The answer is 4.", 4),
    (["La respuesta", " es 4", ".###", " fin"], ("###", "\nUser:"), "La respuesta es 4.", 3),
    (["a", "b", "c", "d"], ("abc",), "", 3),
])
def test_the_reply_ends_before_a_stop_string_split_over_pieces(pieces, stop, text, asked):
    done, shown, fed = _drive(pieces, stop)
    assert (done.text, done.finish, shown.strip()) == (text, "stop", text)
    assert len(fed) == asked  # generation ended at the piece that completed the stop string


def test_held_back_text_that_was_no_stop_string_is_shown_at_the_end():
    done, shown, _ = _drive(["Use the list", " <", "b>"], ("</s>",))
    assert done.text == shown == "Use the list <b>" and done.finish == "stop"
    limited, shown, _ = _drive(["one", " two", " thr<"], ("</s>",), max_tokens=3)
    assert limited.finish == "length" and shown == "one two thr<"


REPLIES = {"orchestrator": "One, two, three. User: four", "legal": "x", "technical": "x", "reviewer": "OK"}


def test_the_server_takes_stop_for_one_model_and_refuses_it_for_the_graph(tmp_path):
    service = Service(fake_config_toml(tmp_path / "fake.toml", REPLIES))
    client = TestClient(create_app(service))
    try:
        model = next(m["id"] for m in client.get("/v1/models").json()["data"] if m["concilio"]["kind"] == "model"
                     and "orchestrator" in m["id"])
        ask = {"model": model, "messages": [{"role": "user", "content": "Count"}]}
        whole = client.post("/v1/chat/completions", json=ask).json()["choices"][0]["message"]["content"]
        cut = client.post("/v1/chat/completions", json={**ask, "stop": [" User:"]}).json()
        assert "User:" in whole and cut["choices"][0]["message"]["content"] == "One, two, three."
        graph = client.post("/v1/chat/completions", json={**ask, "model": "concilio", "stop": "User:"})
        assert graph.status_code == 400 and graph.json()["error"]["param"] == "stop"
        many = client.post("/v1/chat/completions", json={**ask, "stop": ["a", "b", "c", "d", "e"]})
        assert many.status_code == 400 and "stop" in many.json()["error"]["message"]
    finally:
        service.shutdown(wait_s=2)
