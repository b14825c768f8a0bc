"""The ledger's ratings as step-policy evidence: counted per cell and arm from the ledger's rows (pure), deciding
a step only with enough ratings on both arms and a clear lead, and read by `concilio calibrate --from-ledger`
from real turns and real feedback."""

from __future__ import annotations

import json

import pytest

from agents.backends.fake import FakeChatModel
from agents.roles import steps
from agents.roles.steps import MIN_FEEDBACK, feedback_says, plan
from agents.roles.team import Team
from agents.slot.slot import GpuSlot
from evals import calibrate
from graphs.api import ask, feedback
from graphs.cli import main
from memory import step_policy
from memory.stats import step_feedback
from tests.conftest import fake_profile


def arms(step, on_good, on_n, off_good, off_n) -> dict:
    return {f"{step}_on_good": on_good, f"{step}_on_n": on_n, f"{step}_off_good": off_good, f"{step}_off_n": off_n}


@pytest.mark.parametrize("cell, step, on", [
    ({}, "integrate", None),
    (arms("integrate", 6, 6, 0, 5), "integrate", None),        # one arm short of MIN_FEEDBACK: no say
    (arms("integrate", 6, 6, 1, 6), "integrate", True),        # 100% vs 17%
    (arms("integrate", 1, 6, 5, 6), "integrate", False),
    (arms("integrate", 4, 8, 4, 8), "integrate", None),        # a tie: the calibration's call stands
    (arms("integrate", 5, 8, 4, 8), "integrate", None),        # a 12.5-point lead is under the margin
    (arms("review", 8, 10, 2, 10), "review", True),
    (arms("review", 8, 10, 2, 10), "integrate", None),         # another step's ratings say nothing of this one
])
def test_feedback_decides_only_with_enough_ratings_and_a_clear_lead(cell, step, on):
    assert feedback_says(cell, step)[0] is on


CALIBRATED_OFF = {"n": 8, "draft": 4, "integrated": 3, "model_flagged": 2, "model_gain": -1, "checks_gain": 0}


@pytest.mark.parametrize("lang, rated, review, integrate, words", [
    ("en", {}, "off", False, "integration skipped"),                                    # calibration alone
    ("en", {"legal/en": arms("integrate", 6, 6, 1, 6)}, "off", True, "integration on, good 6/6"),
    ("es", {"legal/en": arms("integrate", 3, 3, 0, 3),                                  # pooled: legal, both
            "legal/es": arms("integrate", 3, 3, 1, 3)}, "off", True, "legal (both languages)"),
    ("en", {"legal/en": arms("review", 7, 8, 2, 8)}, "model", False, "the reviewer model on"),
])
def test_ledger_feedback_overrides_the_calibration_and_says_so(lang, rated, review, integrate, words):
    evidence = {"cells": {"legal/en": CALIBRATED_OFF, "legal/es": CALIBRATED_OFF}, "feedback": {"cells": rated}}
    p = plan(evidence, "legal", lang)
    assert (p.review, p.integrate) == (review, integrate)
    assert words in p.note


def test_feedback_without_calibration_can_turn_integration_off():
    p = plan({"feedback": {"cells": {"general/es": arms("integrate", 1, 6, 6, 6)}}}, "general", "es")
    assert (p.review, p.integrate) == ("model", False) and "ledger feedback (general/es)" in p.note


def _run(rid, thread, turn, *, user=None, profile="p", cache="miss", at="2026-12-01T10:00", error=None):
    return {"id": rid, "thread_id": thread, "turn": turn, "user_id": user, "profile": profile, "domain": "legal",
            "language": "es", "cache": cache, "started_at": at, "error": error}


def _nodes(rid, *, review_tokens=5, integrate_skipped=False):
    return [{"run_id": rid, "node": "review", "skipped": False, "tokens_out": review_tokens},
            {"run_id": rid, "node": "integrate", "skipped": integrate_skipped, "tokens_out": 0 if integrate_skipped
             else 9}]


def _fb(thread, turn, verdict, user=None):
    return {"thread_id": thread, "turn": turn, "verdict": verdict, "user_id": user}


def test_ratings_are_counted_per_arm_from_the_ledgers_rows():
    runs = [_run("a", "t", 1), _run("b", "t", 2), _run("c", "t", 3, cache="hit-exact"),
            _run("d", "t", 1, user="ana"), _run("e", "u", 1, profile="other"),
            _run("f", "v", 1, at="2026-12-01T09:00"), _run("g", "v", 1, at="2026-12-01T11:00")]  # asked again
    nodes = (_nodes("a") + _nodes("b", review_tokens=0, integrate_skipped=True) + _nodes("c") + _nodes("d")
             + _nodes("e") + _nodes("f") + _nodes("g", integrate_skipped=True))
    reviews = [{"run_id": "d", "verdict": "revise", "verdict_by": "checks"}]  # the model was never asked
    given = [_fb("t", 1, "good"), _fb("t", 2, "bad"), _fb("t", 3, "good"), _fb("t", 1, "bad", user="ana"),
             _fb("u", 1, "good"), _fb("v", 1, "good"), _fb("nowhere", 1, "good")]
    assert step_feedback(runs, nodes, reviews, given, "p") == {"legal/es": {
        "review_on_n": 2, "review_on_good": 2,          # a, g
        "review_off_n": 1, "review_off_good": 0,        # b
        "integrate_on_n": 2, "integrate_on_good": 1,    # a, d
        "integrate_off_n": 2, "integrate_off_good": 1,  # b, g (the last run of v:1)
    }}


def _turn(question: str, thread: str, evidence: dict | None, replies: tuple[str, ...]) -> dict:
    FakeChatModel.enqueue(*replies)
    with step_policy.using(evidence):
        return ask(question, profile=Team(fake_profile(), GpuSlot()), thread_id=thread, force_domain="legal")


def test_calibrate_from_the_ledger_reads_real_turns_and_their_feedback(capsys):
    no_integration = {"cells": {"legal/en": {**CALIBRATED_OFF, "model_gain": 1}}}  # review by model, no integration
    _turn("What does a lease need?", "full", None, ("A lease needs notice.", "OK", "Leases need written notice."))
    _turn("What does a lease need in writing?", "short", no_integration, ("A lease needs it in writing.", "OK"))
    feedback("full", "good")
    feedback("short", "bad")
    result = calibrate.from_ledger(fake_profile(), save=False)
    assert result["feedback"]["ratings"] == 2
    assert result["feedback"]["cells"] == {"legal/en": {
        "review_on_n": 2, "review_on_good": 1, "integrate_on_n": 1, "integrate_on_good": 1,
        "integrate_off_n": 1, "integrate_off_good": 0}}
    assert MIN_FEEDBACK > 1 and steps.plan(result, "legal", "en").integrate  # two ratings decide nothing yet


def test_the_cli_refreshes_feedback_without_running_a_model(capsys, monkeypatch):
    monkeypatch.setattr(calibrate, "calibrate", lambda *a, **k: pytest.fail("--from-ledger ran the evaluation"))
    assert main(["calibrate", "--from-ledger", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["feedback"]["ratings"] == 0 and out["feedback"]["cells"] == {}
    assert step_policy.read_all()["profiles"][out["profile"]]["feedback"]["cells"] == {}
