"""The pure parts of the calibration and of the reviewer and answer evaluations: which questions, what a
cell counts, how catch and false alarm are computed, majority votes, model calls and intervals."""

from __future__ import annotations

import pytest

from agents.roles import reviewer
from evals import calibrate
from evals import reviewer as reviewer_eval
from evals.answers import majority, model_calls, summarize
from evals.metrics import wilson

ITEM = {"id": "q", "stem": "Capital of Spain?", "choices": ["Paris", "London", "Madrid", "Berlin"], "answer": "C",
        "language": "en", "domain": "general"}


def test_calibration_takes_every_cell_in_turn_and_is_kept_out_of_the_answer_evaluation():
    rows = calibrate.shipped()
    assert {(r["domain"], r["language"]) for r in rows} == {(d, g) for d in ("legal", "technical", "general")
                                                           for g in ("en", "es")}
    six = calibrate.take(rows, 6)
    assert len({(r["domain"], r["language"]) for r in six}) == 6
    assert len(calibrate.take(rows, 1000)) == len(rows) == 72
    assert calibrate.ids() == {r["source_id"] for r in rows} and len(calibrate.ids()) == 72


def _outcome(domain="legal", lang="en", draft=False, integrated=False, flagged_by=None, revised=None, parsed=True):
    return {"domain": domain, "language": lang, "draft": draft, "integrated": integrated, "flagged_by": flagged_by,
            "revised": revised, "parsed": parsed, "seconds": {"draft": 1.0, "review": 0.5, "revise": 0.0,
                                                              "integrate": 1.0}}


def test_a_cell_counts_right_answers_and_what_each_kind_of_revision_gained():
    cells = calibrate.evidence([
        _outcome(draft=True, integrated=False),
        _outcome(draft=False, integrated=True, flagged_by="checks", revised=True),
        _outcome(draft=True, integrated=True, flagged_by="model", revised=False, parsed=True),
        _outcome(lang="es", parsed=False),
    ])
    en = cells["legal/en"]
    assert (en["n"], en["draft"], en["integrated"]) == (3, 2, 2)
    assert (en["checks_flagged"], en["checks_gain"], en["model_flagged"], en["model_gain"]) == (1, 1, 1, -1)
    assert en["seconds"]["draft"] == 3.0 and cells["legal/es"]["unparsed"] == 1


def test_reviewer_cases_are_contradictions_and_omissions_each_bad_and_good():
    cases = reviewer_eval.cases([ITEM, {**ITEM, "language": "es", "stem": "¿Capital de España?"}])
    assert [(c["kind"], c["bad"]) for c in cases[:4]] == [("contradiction", True), ("contradiction", False),
                                                         ("omission", True), ("omission", False)]
    omits = cases[2]
    assert "letter" in omits["history"][0]["content"] and "C)" not in omits["draft"] and "Madrid" in omits["draft"]
    assert cases[6]["draft"].startswith("La correcta es") and cases[7]["draft"].startswith("C) Madrid")


def test_the_deterministic_checks_catch_every_bad_case_and_pass_every_good_one():
    for case in reviewer_eval.cases([ITEM, {**ITEM, "language": "es", "stem": "¿Capital de España?"}]):
        found = reviewer.checks(case["draft"], "stop", case["language"], case["history"], case["question"])
        assert bool(found) is case["bad"], case


def test_catch_and_false_alarm_rates():
    rows = [{"bad": True, "flagged": True, "parsed": True}, {"bad": True, "flagged": False, "parsed": False},
            {"bad": False, "flagged": False, "parsed": True}, {"bad": False, "flagged": True, "parsed": True}]
    assert reviewer_eval.rates(rows) == {"n": 4, "catch": 0.5, "false_alarm": 0.5, "margin_points": 0.0,
                                         "parse_rate": 0.75}


@pytest.mark.parametrize("letters, expected", [
    (["A", "B", "B"], "B"), (["A", "B"], "A"), ([None, "C", None], "C"), ([None, None], None),
    (["D", "A", "A", "D"], "D"),
])
def test_majority_vote(letters, expected):
    assert majority(letters) == expected


def test_model_calls_count_rows_that_ran_a_model():
    trace = [{"node": "analyze", "model": None}, {"node": "legal", "model": "m"},
             {"node": "review", "model": "m", "skipped": True}, {"node": "integrate", "model": "m"}]
    assert model_calls(trace) == 2


@pytest.mark.parametrize("k, n, low, high", [(0, 10, 0.0, 0.278), (5, 10, 0.237, 0.763), (60, 60, 0.94, 1.0)])
def test_wilson_intervals(k, n, low, high):
    assert wilson(k, n) == pytest.approx([low, high], abs=0.002)
    assert wilson(0, 0) is None


def test_summaries_carry_intervals_and_calls():
    rows = [{"domain": "legal", "language": "en", "correct": True, "chosen": "A", "seconds": 1.0, "swaps": 0,
             "calls": 2}, {"domain": "legal", "language": "es", "correct": False, "chosen": None, "seconds": 3.0,
                          "swaps": 1, "calls": 4}]
    s = summarize(rows)
    assert s["calls_per_question"] == 3.0 and s["ci95"] == wilson(1, 2)
    assert s["per_language"]["es"]["ci95"] == wilson(0, 1) and s["per_language"]["en"]["seconds_per_question"] == 1.0
