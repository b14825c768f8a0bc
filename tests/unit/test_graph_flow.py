"""The cooperation graph end to end on the scripted fake backend: the flow, the revision bound, skips,
persistence across graph instances, and failures that leave the thread intact. (The same flow on the
real embedded model is in tests/integration.)"""

from __future__ import annotations

import copy

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from agents.backends.fake import FakeChatModel
from agents.errors import EmptyQuestionError, ModelFileError, ModelRunError
from agents.models.profiles import ModelSpec
from agents.roles.team import Team
from agents.routing import store as router_store
from agents.slot.slot import GpuSlot
from graphs.api import ask
from graphs.cooperation import build_graph
from memory.checkpoints import sqlite_checkpointer
from tests.conftest import fake_profile, fake_spec


def team(**per_role) -> Team:
    return Team(fake_profile(per_role), GpuSlot())


def nodes(result) -> list[str]:
    return [row["node"] for row in result["trace"]]


def test_legal_question_flows_through_specialist_review_and_integration(tmp_path):
    FakeChatModel.enqueue("A lease requires written notice before eviction.", "OK",
                          "Your landlord must give written notice before evicting you.")
    result = ask("Can my landlord evict me without notice?", profile=team(), db=tmp_path / "t.sqlite")
    assert nodes(result) == ["analyze", "legal", "review", "integrate"]
    route = result["route"]
    assert route["domain"] == route["node"] == "legal" and route["by"] == "classifier"
    assert route["confidence"] >= router_store.current().threshold  # sure enough: the model isn't asked
    assert result["language"] == "en" and result["turn"] == 1
    assert result["answer"] == "Your landlord must give written notice before evicting you."
    rows = {r["node"]: r for r in result["trace"]}
    assert rows["analyze"]["model"] is None  # the classifier decided: no model call, no swap
    assert [rows[n]["model"] for n in ("legal", "review", "integrate")] == [
        "fake-legal", "fake-reviewer", "fake-orchestrator"]
    assert all(rows[n]["swapped"] for n in ("legal", "review", "integrate"))
    assert set(rows["legal"]) >= {"node", "model", "seconds", "load_seconds", "swapped", "tokens", "skipped"}
    integrate_system = FakeChatModel.calls[-1][1][0]["content"]
    assert "A lease requires written notice" in integrate_system and "reviewer" not in integrate_system


def test_a_revise_verdict_sends_the_draft_back_once_at_most(tmp_path):
    FakeChatModel.enqueue("Draft one about the contract.", "REVISE: misses the notice period",
                          "Draft two about the contract and the notice period.", "REVISE: still vague",
                          "Final answer about the contract and its notice period.")
    result = ask("Is this contract clause legal?", profile=team(), db=tmp_path / "t.sqlite")
    assert nodes(result) == ["analyze", "legal", "review", "legal", "review", "integrate"]
    revision_prompt = FakeChatModel.calls[2][1][-1]["content"]
    assert "misses the notice period" in revision_prompt and "Draft one" in revision_prompt
    integrate_system = FakeChatModel.calls[-1][1][0]["content"]
    assert "A reviewer found these problems" in integrate_system and "still vague" in integrate_system


def test_general_answer_by_the_orchestrator_skips_integration(tmp_path):
    FakeChatModel.enqueue("Mount Everest is the tallest mountain in the world.", "OK")
    result = ask("What is the tallest mountain in the world?", profile=team(), db=tmp_path / "t.sqlite")
    assert result["route"]["by"] == "classifier" and result["route"]["domain"] == "general"
    integrate = result["trace"][-1]
    assert integrate["node"] == "integrate" and integrate["skipped"]
    assert "orchestrator wrote the draft" in integrate["note"]
    assert result["answer"] == "Mount Everest is the tallest mountain in the world."


@pytest.fixture
def unsure_router(monkeypatch):
    """The real router with its threshold at 1.0: it is never sure, so the orchestrator model is consulted."""
    router = copy.copy(router_store.base())
    router.threshold = 1.0
    monkeypatch.setattr(router_store, "current", lambda: router)
    return router


def test_an_unsure_classifier_asks_the_orchestrator_model(tmp_path, unsure_router):
    FakeChatModel.enqueue("technical", "Use reversed() or slicing.", "OK", "Use reversed(xs) or xs[::-1].")
    result = ask("How do I reverse a list?", profile=team(), db=tmp_path / "t.sqlite")
    assert result["route"]["by"] == "llm" and result["route"]["domain"] == "technical"
    analyze = result["trace"][0]
    assert analyze["model"] == "fake-orchestrator" and "model said 'technical'" in analyze["note"]
    assert "threshold 1.00" in analyze["note"]


def test_a_model_reply_that_names_no_domain_keeps_the_classifier_route(tmp_path, unsure_router):
    FakeChatModel.enqueue("I am not sure", "Mount Everest.", "OK")
    result = ask("What is the tallest mountain in the world?", profile=team(), db=tmp_path / "t.sqlite")
    assert result["route"]["by"] == "classifier" and result["route"]["domain"] == "general"
    assert "kept the classifier's route" in result["trace"][0]["note"]


def test_without_model_routing_an_unsure_classifier_decides_without_a_model_call(tmp_path, unsure_router):
    from dataclasses import replace

    quiet = Team(replace(fake_profile(), model_routing=False), GpuSlot())
    FakeChatModel.enqueue("El cielo es azul por la dispersión de Rayleigh.", "OK")
    result = ask("¿Por qué el cielo es azul?", profile=quiet, db=tmp_path / "t.sqlite")
    assert result["route"]["domain"] == "general" and result["route"]["by"] == "classifier"
    assert result["trace"][0]["model"] is None and "model routing is off" in result["trace"][0]["note"]
    assert [name for name, _ in FakeChatModel.calls] == ["fake-orchestrator", "fake-reviewer"]


def test_trivial_question_skips_the_review(tmp_path):
    FakeChatModel.enqueue("¡Hola! ¿En qué puedo ayudarte hoy?")
    result = ask("¡Hola!", profile=team(), db=tmp_path / "t.sqlite")
    assert result["language"] == "es"
    review = [r for r in result["trace"] if r["node"] == "review"][0]
    assert review["skipped"] and review["model"] is None


def test_a_thread_continues_in_a_new_graph_and_the_reviewer_sees_the_first_turn(tmp_path):
    db = tmp_path / "t.sqlite"
    FakeChatModel.enqueue("Un contrato de arrendamiento cede el uso de una vivienda.", "OK",
                          "Un contrato de arrendamiento cede el uso de una vivienda a cambio de una renta.")
    first = ask("¿Qué es un contrato de arrendamiento?", profile=team(), db=db, thread_id="hilo")
    FakeChatModel.calls.clear()
    FakeChatModel.enqueue("El casero debe avisar antes del desahucio.", "OK", "Debe avisar con antelación.")
    second = ask("¿Y puede mi casero echarme sin aviso?", profile=team(), db=db, thread_id="hilo")
    assert (first["turn"], second["turn"]) == (1, 2)
    reviewer_input = [m for name, m in FakeChatModel.calls if name == "fake-reviewer"][0][-1]["content"]
    assert "¿Qué es un contrato de arrendamiento?" in reviewer_input
    assert "a cambio de una renta" in reviewer_input
    with sqlite_checkpointer(db) as saver:
        state = build_graph(checkpointer=saver).get_state({"configurable": {"thread_id": "hilo"}}).values
    kinds = [type(m) for m in state["messages"]]
    assert kinds == [HumanMessage, AIMessage, HumanMessage, AIMessage]
    assert state["messages"][1].response_metadata["route"]["domain"] == "legal"


def test_a_model_failing_mid_run_leaves_the_thread_intact_and_the_next_turn_works(tmp_path):
    db = tmp_path / "t.sqlite"
    FakeChatModel.enqueue("Leases need notice.", "OK", "A lease needs written notice.")
    ask("What notice does a lease need?", profile=team(), db=db, thread_id="t")
    crashing = team(legal=fake_spec("fake-legal-crash", fail_after_tokens=1))
    with pytest.raises(ModelRunError, match="fake-legal-crash failed as legal"):
        ask("Can my landlord evict me?", profile=crashing, db=db, thread_id="t")
    FakeChatModel.enqueue("Not without a court order.", "OK", "Not without a court order in most places.")
    again = ask("Can my landlord evict me?", profile=team(), db=db, thread_id="t")
    assert again["turn"] == 2
    with sqlite_checkpointer(db) as saver:
        messages = build_graph(checkpointer=saver).get_state({"configurable": {"thread_id": "t"}}).values["messages"]
    assert [m.content for m in messages] == [
        "What notice does a lease need?", "A lease needs written notice.",
        "Can my landlord evict me?", "Not without a court order in most places."]


def test_asking_the_same_question_again_resumes_the_interrupted_turn_from_its_checkpoint(tmp_path):
    db = tmp_path / "t.sqlite"
    FakeChatModel.enqueue("A tenant must get written notice.")
    broken_reviewer = team(reviewer=fake_spec("fake-reviewer-crash", fail_load="out of memory"))
    with pytest.raises(ModelRunError, match="fake-reviewer-crash failed as reviewer: out of memory"):
        ask("Can my landlord evict me?", profile=broken_reviewer, db=db, thread_id="r")
    FakeChatModel.calls.clear()
    FakeChatModel.enqueue("OK", "Your landlord must give written notice first.")
    result = ask("Can my landlord evict me?", profile=team(), db=db, thread_id="r")
    assert result["resumed"] is True and result["turn"] == 1
    assert [name for name, _ in FakeChatModel.calls] == ["fake-reviewer", "fake-orchestrator"]  # no re-draft
    assert [r["node"] for r in result["trace"]] == ["analyze", "legal", "review", "integrate"]
    assert "written notice" in FakeChatModel.calls[0][1][-1]["content"]  # the saved draft was reviewed


def test_empty_question_writes_nothing(tmp_path):
    db = tmp_path / "t.sqlite"
    with pytest.raises(EmptyQuestionError):
        ask("   ", profile=team(), db=db)
    assert not db.exists()


def test_a_missing_model_file_is_named_before_anything_is_written(tmp_path):
    db = tmp_path / "t.sqlite"
    missing = ModelSpec(name="phi", path=tmp_path / "Phi-3-mini-4k-instruct.Q4_0.gguf", fix="download it")
    with pytest.raises(ModelFileError, match=r"Phi-3-mini-4k-instruct\.Q4_0\.gguf: not found\. Fix: download it"):
        ask("Can my landlord evict me?", profile=team(legal=missing), db=db)
    assert not db.exists()
