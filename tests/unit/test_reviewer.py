"""The reviewer's verdict parsing, its deterministic checks, and what it is shown."""

from __future__ import annotations

import pytest

from agents.roles.reviewer import build_messages, checks, parse_verdict


@pytest.mark.parametrize(
    "reply, verdict, issues, by",
    [
        ("OK", "ok", [], "model"),
        ("ok.", "ok", [], "model"),
        ("Correcto", "ok", [], "model"),
        ("REVISE: it ignores the earlier budget of 100 euros", "revise",
         ["it ignores the earlier budget of 100 euros"], "model"),
        ("Revisar: falta mencionar el plazo de preaviso\nmás texto", "revise",
         ["falta mencionar el plazo de preaviso"], "model"),
        ("REVISE", "revise", ["unspecified"], "model"),
        ("The weather is nice", "ok", [], "model-unclear"),
    ],
)
def test_parse_verdict(reply, verdict, issues, by):
    assert parse_verdict(reply) == {"verdict": verdict, "issues": issues, "by": by}


def test_checks_flag_empty_looping_and_wrong_language_drafts():
    assert checks("", "stop", "en") == ["the draft is empty"]
    assert "repeating" in checks("Paris is the capital of France.", "loop", "en")[0]
    assert checks("The capital of France is Paris, a city with a long history.", "stop", "es") == [
        "the draft is in English, the user wrote in Spanish"]
    assert checks("La capital de Francia es París, una ciudad con mucha historia.", "stop", "es") == []


def test_the_reviewer_sees_the_whole_thread_and_compresses_what_does_not_fit():
    history = [{"role": "user", "content": "Me llamo Ana y vivo en Madrid."},
               {"role": "assistant", "content": "Encantado, Ana."}]
    body = build_messages("es", "¿Dónde vivo?", "Vives en Madrid.", history, context_window=4096)[0][-1]["content"]
    assert "Me llamo Ana y vivo en Madrid." in body and "Vives en Madrid." in body
    long = [{"role": "user", "content": "old " * 400}, {"role": "user", "content": "recent fact"}]
    tiny = build_messages("en", "q?", "a", long, context_window=200)[0][-1]["content"]
    assert "user: recent fact" in tiny and "user: old" not in tiny  # the old turn isn't verbatim...
    summary_line = next(line for line in tiny.splitlines() if line.startswith("(summary) old old"))
    assert len(summary_line) <= len("(summary) ") + 132 and summary_line.endswith("…")  # ...but clipped


def test_older_turns_reach_the_reviewer_as_summary_lines():
    history = []
    for i in range(12):
        history += [{"role": "user", "content": f"Fact number {i}: my budget is {i}00 euros. " + "pad " * 30},
                    {"role": "assistant", "content": f"Noted, {i}00 euros. " + "more " * 30}]
    messages, fitted = build_messages("en", "What was my budget?", "It was 300.", history, context_window=1024)
    body = messages[-1]["content"]
    assert fitted.summarized_turns > 0 and fitted.verbatim_turns > 0 and fitted.dropped_turns == 0
    assert "(summary) Fact number 0: my budget is 000 euros." in body
    assert "user: Fact number 11" in body


@pytest.mark.parametrize("text, variant, constrained, expected", [
    ('{"verdict": "ok", "issue": ""}', "verdict", True, ("ok", [])),
    ('{"verdict": "revise", "issue": "names B, earlier C"}', "verdict", True, ("revise", ["names B, earlier C"])),
    ('{"verdict": "revise", "issue": "cut by the tok', "verdict", True, ("revise", ["unspecified"])),  # truncated
    ('{"answer": "no"}', "claim", True, ("revise", [""])),
    ('{"answer": "n', "claim", True, ("revise", [""])),  # cut by the token limit: the enum's letter decides
    ('{"answer": "', "claim", True, None),
    ('{"answer": "yes"}', "claim", True, ("ok", [])),
    ("OK", "verdict", False, ("ok", [])),
    ("REVISE: the draft names B, the thread said C", "verdict", False, ("revise", ["the draft names B, the thread "
                                                                                    "said C"])),
    ("ok, looks fine", "verdict", False, None),  # not the fixed form: unparsed, never guessed
    ("I think REVISE: x", "verdict", False, None),
    ("Sí, coincide.", "claim", False, ("ok", [])),
    ("no", "claim", False, ("revise", [""])),
    ("Maybe", "claim", False, None),
])
def test_strict_verdicts_parse_only_the_form_asked_for(text, variant, constrained, expected):
    from agents.roles.reviewer import parse_strict

    found = parse_strict(text, variant, constrained)
    assert (None if found is None else (found["verdict"], found["issues"])) == expected


def test_checks_flag_a_draft_that_contradicts_the_option_given_earlier_without_a_model():
    history = [{"role": "user", "content": "Capital of Spain?\n\nA) Paris\nB) London\nC) Madrid\nD) Berlin"},
               {"role": "assistant", "content": "The answer is C) Madrid."}]
    assert "option D" in checks("It was D) Berlin.", "stop", "en", history, "Which option was it again?")[0]
    assert checks("It was C) Madrid.", "stop", "en", history, "Which option was it again?") == []


def test_schemas_are_valid_json_schemas_with_the_verdict_first():
    import json

    from agents.roles.reviewer import CLAIM_SCHEMA, VERDICT_SCHEMA

    verdict = json.loads(VERDICT_SCHEMA)
    assert list(verdict["properties"]) == ["verdict", "issue"] and verdict["properties"]["verdict"]["enum"] == [
        "ok", "revise"]
    assert json.loads(CLAIM_SCHEMA)["properties"]["answer"]["enum"] == ["yes", "no"]
