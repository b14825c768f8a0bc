"""The step policy and the substance guard inside the graph, on the scripted fake backend (the races and
bookkeeping; the real-model side is tests/integration/test_steps_real.py)."""

from __future__ import annotations

from agents.backends.fake import FakeChatModel
from agents.roles.team import Team
from agents.slot.slot import GpuSlot
from graphs.api import ask
from memory import step_policy
from tests.conftest import fake_profile

QUESTION = "Can my landlord evict me without notice?"


def team() -> Team:
    return Team(fake_profile(), GpuSlot())


def cell(**kw):
    base = {"n": 6, "draft": 3, "integrated": 3, "checks_flagged": 0, "checks_gain": 0, "model_flagged": 2,
            "model_gain": 0}
    return {**base, **kw}


def test_measured_evidence_skips_review_and_integration_and_the_trace_says_why(tmp_path):
    FakeChatModel.enqueue("A lease requires written notice before eviction.")
    with step_policy.using({"cells": {"legal/en": cell()}}):
        result = ask(QUESTION, profile=team(), db=tmp_path / "t.sqlite")
    assert [r["node"] for r in result["trace"]] == ["analyze", "legal", "integrate"]
    assert result["answer"] == "A lease requires written notice before eviction."
    assert len(FakeChatModel.calls) == 1  # the specialist only
    analyze, _, integrate = result["trace"]
    assert "calibrated on 6 question(s), legal/en" in analyze["note"]
    assert integrate["skipped"] and "integration skipped: its answers were right 3/6 times" in integrate["note"]


def test_checks_only_review_calls_no_reviewer_model(tmp_path):
    FakeChatModel.enqueue("A lease requires written notice before eviction.", "Written notice is required.")
    with step_policy.using({"cells": {"legal/en": cell(checks_gain=1, integrated=5)}}):
        result = ask(QUESTION, profile=team(), db=tmp_path / "t.sqlite")
    review = next(r for r in result["trace"] if r["node"] == "review")
    assert review["model"] is None and "model review skipped by the step policy" in review["note"]
    assert [c[0] for c in FakeChatModel.calls] == ["fake-legal", "fake-orchestrator"]


def test_without_evidence_the_full_flow_runs(tmp_path):
    FakeChatModel.enqueue("A lease requires written notice.", "OK", "Written notice is required.")
    with step_policy.using({}):
        result = ask(QUESTION, profile=team(), db=tmp_path / "t.sqlite")
    assert [r["node"] for r in result["trace"]] == ["analyze", "legal", "review", "integrate"]
    assert "no calibration evidence" in result["trace"][0]["note"]


def test_a_rewrite_that_dropped_the_drafts_option_gives_way_to_the_draft(tmp_path):
    question = ("Which document starts a lease?\n\nA) A will\nB) A lease agreement\nC) A deed\nD) A patent\n\n"
                "Answer with the letter of the correct option, then explain briefly.")
    FakeChatModel.enqueue("B) A lease agreement, signed by both parties.", "OK",
                          "Leases are contracts between landlords and tenants.")
    with step_policy.using({}):
        result = ask(question, profile=team(), db=tmp_path / "t.sqlite")
    assert result["answer"] == "B) A lease agreement, signed by both parties."
    assert "dropped or changed the chosen option B (now none); the draft is the answer" in result["trace"][-1]["note"]
