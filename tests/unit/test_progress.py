"""Progress: the events a user watches (route, waiting, loading, generating, tokens, verdict), through the
Python API, LangGraph's custom stream, and the CLI's live, quiet and JSON modes."""

from __future__ import annotations

import json
import threading

from agents import progress
from agents.backends.fake import FakeChatModel
from agents.models.profiles import ROLES
from agents.roles.team import Team
from agents.slot.slot import GpuSlot
from graphs.api import ask
from graphs.cli import main
from graphs.cooperation import build_graph
from graphs.state import Context
from tests.conftest import fake_config_toml, fake_profile, fake_spec, held_by_another_thread


def kinds(events):
    return [e["event"] for e in events if e["event"] != "token"]


def test_ask_reports_each_step_in_order(tmp_path):
    events = []
    FakeChatModel.enqueue("A lease needs notice.", "OK", "Leases need written notice.")
    ask("What does a lease need?", profile=Team(fake_profile(), GpuSlot()), db=tmp_path / "t.sqlite",
        on_event=events.append)
    assert kinds(events) == ["route", "loading", "loaded", "generating", "loading", "loaded", "generating",
                             "verdict", "loading", "loaded", "generating"]
    assert events[0] | {"confidence": None} == {"event": "route", "domain": "legal", "by": "classifier",
                                                "confidence": None, "language": "en", "node": "legal"}
    loading = [e for e in events if e["event"] == "loading"][0]
    assert loading["model"] == "fake-legal" and loading["size_mb"] is None  # the fake has no file
    tokens = "".join(e["text"] for e in events if e["event"] == "token" and e["node"] == "integrate")
    assert tokens == "Leases need written notice."


def test_a_langgraph_client_gets_the_same_events_on_the_custom_stream():
    FakeChatModel.enqueue("Everest.", "OK")
    graph = build_graph()
    team = Team(fake_profile(), GpuSlot())
    custom = [chunk for chunk in graph.stream({"question": "What is the tallest mountain?"},
                                              context=Context(profile=team), stream_mode="custom")]
    assert kinds(custom)[:2] == ["route", "loading"]  # the classifier routes before any model loads
    assert custom[-1] == {"event": "skipped", "node": "integrate",
                          "reason": "the orchestrator wrote the draft itself, the review passed and it is in "
                                    "the user's language"}


def test_waiting_for_a_busy_slot_is_reported():
    slot = GpuSlot()
    events = []
    with held_by_another_thread(slot, fake_spec("a")) as release:
        threading.Timer(0.2, release.set).start()
        with progress.reporting(events.append), slot.hold(fake_spec("b")):
            pass
    assert events[0] == {"event": "waiting", "model": "b", "position": 1, "resident": ["a"], "size_mb": None}
    assert kinds(events) == ["waiting", "loading", "loaded"]


def fake_config(tmp_path) -> str:
    replies = {r: "OK" if r == "reviewer" else f"The {r} answer about leases and notice." for r in ROLES}
    return fake_config_toml(tmp_path / "fake.toml", replies)


def test_cli_live_quiet_and_json(tmp_path, capsys):
    cfg = fake_config(tmp_path)
    assert main(["ask", "What does a lease need?", "--profile", cfg]) == 0
    out, err = capsys.readouterr()
    # the specialist's draft streams as it is written, then the orchestrator's rewrite, marked; then the trace
    assert out.startswith("The legal answer about leases and notice.\n\n[the orchestrator rewrites the draft "
                          "above:]\nThe orchestrator answer about leases and notice.\n")
    assert "route: legal" in out and "integrate" in out
    assert err.startswith("concilio: starting…\n")  # at once, before the imports and checks
    assert "concilio: route: legal (by classifier" in err and "concilio: loading fake-legal" in err
    assert "concilio: review: the reviewer found nothing to fix" in err
    assert main(["ask", "What does a lease need?", "--profile", cfg, "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out == "The orchestrator answer about leases and notice.\n" and "concilio:" not in err
    assert main(["ask", "What does a lease need?", "--profile", cfg, "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["answer"] == "The orchestrator answer about leases and notice." and err == ""


def test_answer_tokens_reach_stream_mode_messages_as_chunks_tagged_with_their_node():
    from langchain_core.messages import AIMessageChunk

    FakeChatModel.enqueue("A lease needs notice.", "OK", "Leases need written notice.")
    graph = build_graph()
    chunks = [(msg, meta) for msg, meta in graph.stream(
        {"question": "What does a lease need?"}, context=Context(profile=Team(fake_profile(), GpuSlot())),
        stream_mode="messages") if isinstance(msg, AIMessageChunk)]
    by_node: dict[str, str] = {}
    for msg, meta in chunks:
        by_node[meta["langgraph_node"]] = by_node.get(meta["langgraph_node"], "") + msg.content
    assert by_node["integrate"] == "Leases need written notice."
    assert by_node["legal"] == "A lease needs notice."
    assert sum(meta["langgraph_node"] == "integrate" for _, meta in chunks) == 4  # one chunk a token
