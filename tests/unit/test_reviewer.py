"""The reviewer's verdict parsing, its deterministic checks, and what it is shown."""

from __future__ import annotations

import pytest

from agents.reviewer import build_messages, checks, parse_verdict


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


def test_the_reviewer_sees_the_whole_thread_and_cuts_the_oldest_turns_first():
    history = [{"role": "user", "content": "Me llamo Ana y vivo en Madrid."},
               {"role": "assistant", "content": "Encantado, Ana."}]
    body = build_messages("es", "¿Dónde vivo?", "Vives en Madrid.", history, context_window=4096)[-1]["content"]
    assert "Me llamo Ana y vivo en Madrid." in body and "Vives en Madrid." in body
    long = [{"role": "user", "content": "old " * 400}, {"role": "user", "content": "recent fact"}]
    tiny = build_messages("en", "q?", "a", long, context_window=200)[-1]["content"]
    assert "recent fact" in tiny and "old old" not in tiny
