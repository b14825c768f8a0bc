"""The orchestrator's pure parts and the graph's edge functions, by table, in Spanish and English."""

from __future__ import annotations

import pytest

from agents.errors import EmptyQuestionError, QuestionTooLongError
from agents.roles.context import needs_long_context
from agents.roles.orchestrator import can_skip_integration, clean_question, parse_domain
from agents.routing import signals as routing_rules
from agents.routing.language import detect
from graphs import routing


def test_accents_and_case_do_not_matter():
    assert routing_rules.fold("CONSTITUCIÓN Jurisdicción") == "constitucion jurisdiccion"


@pytest.mark.parametrize(
    "question, level",
    [("hola", "trivial"), ("thanks!", "trivial"), ("What is a lease?", "simple"),
     ("word " * 61, "complex"), ("a? b? c? d?", "complex")],
)
def test_complexity(question, level):
    assert routing_rules.complexity(question) == level


@pytest.mark.parametrize(
    "reply, domain",
    [("legal", "legal"), (" Technical.", "technical"), ("general", "general"), ("técnico", "technical"),
     ("Jurídica", "legal"), ("The answer is no", None), ("", None)],
)
def test_parse_domain(reply, domain):
    assert parse_domain(reply) == domain


@pytest.mark.parametrize(
    "text, lang",
    [("¿Qué es un contrato de arrendamiento?", "es"), ("What is a lease agreement?", "en"),
     ("Explica cómo funciona una base de datos", "es"), ("Write a Python function that adds two numbers", "en"),
     ("¡Hola!", "es")],
)
def test_language_detection(text, lang):
    assert detect(text)[0] == lang


def test_ambiguous_short_text_keeps_the_conversation_language():
    assert detect("ok", fallback="es")[0] == "es"
    assert detect("ok", fallback="en")[0] == "en"


@pytest.mark.parametrize("bad", ["", "   ", "\n\t", None])
def test_empty_question_is_refused(bad):
    with pytest.raises(EmptyQuestionError, match="empty"):
        clean_question(bad)


def test_huge_question_is_refused_with_the_limit(monkeypatch):
    monkeypatch.setenv("CONCILIO_MAX_QUESTION_CHARS", "100")
    with pytest.raises(QuestionTooLongError, match="101 characters .* limit is 100"):
        clean_question("x" * 101)
    assert clean_question("  fine  ") == "fine"


@pytest.mark.parametrize(
    "draft_role, verdict, draft_lang, lang, skip",
    [("orchestrator", "ok", "es", "es", True), ("orchestrator", "ok", "en", "es", False),
     ("orchestrator", "revise", "es", "es", False), ("legal", "ok", "es", "es", False)],
)
def test_integration_is_skipped_only_when_it_has_nothing_to_add(draft_role, verdict, draft_lang, lang, skip):
    reason = can_skip_integration(draft_role=draft_role, verdict=verdict, draft_language=draft_lang, lang=lang)
    assert (reason is not None) == skip


@pytest.mark.parametrize(
    "state, nxt",
    [
        ({"route": {"domain": "legal"}, "review": {"verdict": "ok"}, "revisions": 0}, "integrate"),
        ({"route": {"domain": "legal"}, "review": {"verdict": "revise"}, "revisions": 0}, "legal"),
        ({"route": {"domain": "technical"}, "review": {"verdict": "revise"}, "revisions": 1}, "integrate"),
        ({"route": {"domain": "general"}, "review": None, "revisions": 0}, "integrate"),
        ({"route": {"domain": "legal", "node": "long_context"}, "review": {"verdict": "revise"}, "revisions": 0},
         "long_context"),
    ],
)
def test_after_review(state, nxt):
    assert routing.after_review(state) == nxt


@pytest.mark.parametrize("domain", ["legal", "technical", "general"])
def test_after_analyze_follows_the_route(domain):
    assert routing.after_analyze({"route": {"domain": domain, "confidence": 1.0, "by": "classifier"}}) == domain
    assert routing.after_analyze({"route": {"domain": domain, "node": "long_context"}}) == "long_context"


@pytest.mark.parametrize(
    "tokens, window, long_window, needed",
    [
        (1000, 4096, 16384, False),  # fits with room for the answer
        (3800, 4096, 16384, True),  # the answer (320 tokens) would not fit
        (5000, 4096, 4096, False),  # no larger model: stay, and let context fitting compress
        (20000, 4096, 16384, True),  # even the long model must compress, but it holds the most
        (0, 256, 16384, True),  # a window smaller than an answer
    ],
)
def test_long_context_is_a_rule_from_token_counts(tokens, window, long_window, needed):
    assert needs_long_context(tokens, window, long_window) is needed


@pytest.mark.parametrize(
    "node, state, roles",
    [
        ("analyze", {"route": {"domain": "legal", "node": "legal"}}, ["legal"]),
        ("analyze", {"route": {"domain": "general", "node": "general"}}, ["orchestrator"]),
        ("analyze", {"route": {"domain": "technical", "node": "long_context"}}, ["reviewer"]),
        ("legal", {"complexity": "complex"}, ["reviewer"]),
        ("technical", {"complexity": "trivial"}, ["orchestrator"]),  # no review: integrate is next
        ("review", {}, ["orchestrator"]),
        ("integrate", {}, []),
    ],
)
def test_roles_ahead_name_the_models_to_prefetch(node, state, roles):
    assert routing.roles_ahead(node, state) == roles
