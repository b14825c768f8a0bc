"""The step policy: a pure function from measured evidence to the steps that run, and the note that says why."""

from __future__ import annotations

import json

import pytest

from agents.roles.steps import FULL, Plan, describe, evidence_for, plan
from memory import step_policy


def cell(n=8, draft=3, integrated=3, checks_gain=0, model_gain=0, checks_flagged=1, model_flagged=2):
    return {"n": n, "draft": draft, "integrated": integrated, "checks_flagged": checks_flagged,
            "checks_gain": checks_gain, "model_flagged": model_flagged, "model_gain": model_gain}


@pytest.mark.parametrize("evidence, review, revise, integrate", [
    (None, "model", True, True),                                                  # no evidence: the full flow
    ({}, "model", True, True),
    ({"cells": {}}, "model", True, True),
    ({"cells": {"legal/en": cell(integrated=5)}}, "off", False, True),              # integration helped
    ({"cells": {"legal/en": cell(integrated=2)}}, "off", False, False),             # it hurt
    ({"cells": {"legal/en": cell(integrated=3)}}, "off", False, False),             # a tie costs time for nothing
    ({"cells": {"legal/en": cell(model_gain=2)}}, "model", True, False),            # the reviewer model helped
    ({"cells": {"legal/en": cell(model_gain=-1, checks_gain=1)}}, "checks", True, False),  # only the checks did
    ({"cells": {"legal/en": cell(model_gain=0, checks_gain=0)}}, "off", False, False),
])
def test_steps_follow_the_evidence(evidence, review, revise, integrate):
    p = plan(evidence, "legal", "en")
    assert (p.review, p.revise, p.integrate) == (review, revise, integrate)


def test_no_evidence_runs_the_seeds_full_flow_and_says_so():
    assert plan(None, "technical", "es") == Plan() and Plan().note == FULL


@pytest.mark.parametrize("cells, where, n", [
    ({"legal/es": cell(n=5)}, "legal/es", 5),                                      # its own cell is big enough
    ({"legal/es": cell(n=2), "legal/en": cell(n=3)}, "legal (both languages)", 5),  # borrows its domain
    ({"legal/es": cell(n=1), "general/en": cell(n=6)}, "the whole profile", 7),      # then the profile
    ({"legal/es": cell(n=1)}, "", None),                                             # too little: none
])
def test_small_cells_borrow_evidence_upwards(cells, where, n):
    found, source = evidence_for({"cells": cells}, "legal", "es")
    assert source == where and (found["n"] if found else None) == n


@pytest.mark.parametrize("lang, evidence_cell, words", [
    ("en", cell(integrated=1, draft=4), ["integration skipped", "1/8", "4/8", "legal/en"]),
    ("es", cell(model_gain=-2, model_flagged=3), ["reviewer model skipped", "3 revision(s)", "-2", "legal/es"]),
])
def test_a_skipped_step_names_its_evidence(lang, evidence_cell, words):
    note = plan({"cells": {f"legal/{lang}": evidence_cell}}, "legal", lang).note
    assert all(w in note for w in words), note


def test_describe_covers_every_domain_and_language():
    rows = describe({"cells": {"general/en": cell(integrated=9)}})
    assert len(rows) == 6 and {(r["domain"], r["language"]) for r in rows} >= {("legal", "es"), ("general", "en")}
    assert next(r for r in rows if r["domain"] == "general" and r["language"] == "en")["integrate"] is True


def test_the_evidence_file_round_trips_and_an_override_wins(tmp_path):
    file = tmp_path / "policy.json"
    assert step_policy.load("embedded", file) is None
    step_policy.save("embedded", {"cells": {"legal/en": cell()}}, file)
    step_policy.save("other", {"cells": {}}, file)
    assert json.loads(file.read_text())["profiles"]["embedded"]["cells"]["legal/en"]["n"] == 8
    with step_policy.using({"cells": {}}):
        assert step_policy.load("embedded", file) == {"cells": {}}
    assert step_policy.load("embedded", file)["cells"]["legal/en"]["draft"] == 3


def test_a_damaged_evidence_file_is_a_clear_error(tmp_path):
    from agents.errors import ConfigFileError

    file = tmp_path / "policy.json"
    file.write_text("{not json")
    with pytest.raises(ConfigFileError, match="concilio calibrate"):
        step_policy.load("embedded", file)
