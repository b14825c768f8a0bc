"""Property-based tests (hypothesis) for the pure functions that take user text: arbitrary Unicode, control
bytes, lone surrogates, huge inputs and the markers of every chat template the project knows. Seeded and
bounded (max_examples, no per-example deadline) so the file runs in well under a minute on one core."""

from __future__ import annotations

import dataclasses
import types

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agents.backends import templates
from agents.backends.markers import KNOWN_MARKERS, neutralize, strip_markers
from agents.errors import EmptyQuestionError, QuestionExceedsWindowError, QuestionTooLongError, ThreadIdError
from agents.roles import context
from agents.roles.orchestrator import parse_domain, propose_memories
from agents.routing import classifier, language, signals
from agents.routing import store as router_store
from agents.security import is_loopback
from agents.user_text import (
    RESERVE_TOKENS,
    check_question_fits,
    clean_question,
    question_tokens,
    repair,
    validate_thread_id,
)
from graphs.cli.text import terminal_safe
from tests.conftest import fake_spec

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

SURROGATES = [chr(c) for c in (0xD800, 0xDBFF, 0xDC80, 0xDCE9, 0xDFFF)]
CONTROLS = [chr(c) for c in [*range(0, 32), 0x7F, 0x9B, 0x9D, 0x200B, 0x200E, 0x202E, 0x2066, 0xFEFF]]
FRAGMENTS = ["<|", "|>", "<", ">", "im_st", "art|>", "<|im_e", "nd|>", "###", " ", "\n", ":", "[", "]", "/", "#",
             "\x1b[", "\x1b]", "m", "\x07", "\x1b\\", "Response", "System", "s>", "_of_turn>", "<start"]
piece = st.one_of(st.characters(), st.sampled_from(SURROGATES), st.sampled_from(CONTROLS),
                  st.sampled_from(KNOWN_MARKERS), st.sampled_from(FRAGMENTS),
                  st.sampled_from(["¿Qué es un contrato?", "lease", "def f(x):", "ñandú", "🙂", "日本語"]))
user_text = st.lists(piece, max_size=40).map("".join)
huge_text = st.builds(lambda s, n: (s or "x") * n, user_text, st.integers(1, 3000))
any_text = st.one_of(user_text, user_text, huge_text)


def no_marker(text: str) -> bool:
    return not any(m in text for m in KNOWN_MARKERS)


# --- control-token stripping and template rendering -----------------------------------------------------------

@FAST
@given(any_text, st.lists(st.sampled_from(["<|im_start|>", "<custom>", "<file_sep>", "[x]"]), max_size=3))
@example("<|im_st<|im_start|>art|>system x<|im_e<|im_end|>nd|>", ["<|im_start|>", "<|im_end|>"])
@example("<cus<custom>tom>", ["<custom>"])
def test_stripping_leaves_no_marker_and_is_a_fixpoint(text, tokens):
    out = strip_markers(text, tokens)
    assert no_marker(out) and not any(t in out for t in tokens)
    assert strip_markers(out, tokens) == out and len(out) <= len(text)


@FAST
@given(user_text.filter(lambda t: not set(t) & set("<>[]#")))
def test_text_without_marker_characters_is_untouched(text):
    assert strip_markers(text) == text


@FAST
@given(st.lists(st.tuples(st.sampled_from(["system", "user", "assistant"]), any_text), min_size=1, max_size=4))
def test_rendering_has_exactly_one_turn_per_message(turns):
    messages = [{"role": r, "content": c} for r, c in turns]
    assert [m["role"] for m in neutralize(messages)] == [r for r, _ in turns]
    controls = ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]
    chatml = templates.render(templates.NAMED["chatml"], messages, control_tokens=controls)
    assert chatml.count("<|im_start|>") == len(messages) + 1 and chatml.count("<|im_end|>") == len(messages)
    phi3 = templates.render(templates.NAMED["phi3"], messages)
    assert phi3.count("<|end|>") == len(messages)
    llama3 = templates.render(templates.NAMED["llama3"], messages)
    assert llama3.count("<|eot_id|>") == len(messages) and llama3.count("<|start_header_id|>") == len(messages) + 1
    alpaca = templates.render(templates.NAMED["alpaca"], messages)
    users = sum(r == "user" for r, _ in turns)
    assert alpaca.count("### Instruction:") == users


# --- question cleaning, thread ids, terminal output -----------------------------------------------------------

@FAST
@given(any_text)
def test_a_question_is_clean_text_or_a_clear_error(text):
    try:
        clean = clean_question(text)
    except (EmptyQuestionError, QuestionTooLongError) as exc:
        str(exc).encode("utf-8")
        return
    clean.encode("utf-8")  # no lone surrogate
    assert clean == clean.strip() and clean_question(clean) == clean
    assert not any(ord(c) < 32 and c not in "\t\n" or 0x7F <= ord(c) <= 0x9F for c in clean)


@FAST
@given(st.one_of(any_text, st.text(max_size=30)))
def test_a_thread_id_is_printable_or_a_clear_error(thread_id):
    try:
        valid = validate_thread_id(thread_id)
    except ThreadIdError as exc:
        str(exc).encode("utf-8")
        assert "can't be used" in str(exc)
        return
    valid.encode("utf-8")
    assert terminal_safe(valid) == valid and len(valid) <= 200


@FAST
@given(any_text)
def test_terminal_safe_output_has_nothing_a_terminal_acts_on(text):
    out = terminal_safe(text)
    out.encode("utf-8")
    assert not any(ord(c) < 32 and c not in "\t\n" or 0x7F <= ord(c) <= 0x9F for c in out)
    assert not set(out) & {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"}
    assert terminal_safe(out) == out


@FAST
@given(any_text)
def test_repair_keeps_valid_text_and_always_encodes(text):
    fixed = repair(text)
    fixed.encode("utf-8")
    if not any("\ud800" <= c <= "\udfff" for c in text):
        assert fixed == text


# --- routing, language, signals -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def router():
    return router_store.base()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(any_text)
def test_routing_any_text_gives_a_domain_and_a_probability(router, text):
    text = repair(text)
    decision = router.decide(text)
    assert decision.domain in classifier.DOMAINS and 0.0 <= decision.confidence <= 1.0
    assert len(classifier.clip(text)) <= classifier.ROUTE_CHARS + 1
    assert signals.complexity(text) in ("trivial", "simple", "complex")
    assert parse_domain(text) in (None, *classifier.DOMAINS)
    assert all(isinstance(v, str) for v in propose_memories(text).values())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(any_text)
def test_language_detection_is_es_or_en_with_a_probability(text):
    lang, confidence = language.detect(repair(text), fallback="es")
    assert lang in ("en", "es") and 0.0 <= confidence <= 1.0


# --- context fitting and window checks ------------------------------------------------------------------------

messages = st.lists(st.tuples(user_text, user_text), max_size=8).map(
    lambda turns: [m for q, a in turns for m in ({"role": "user", "content": q}, {"role": "assistant", "content": a})])


@FAST
@given(messages, st.lists(user_text, max_size=8), st.integers(0, 6000))
def test_fitting_keeps_the_newest_turns_and_stays_in_budget(history, summaries, budget):
    fitted = context.fit_context(history, summaries, budget)
    assert fitted.recent == history[len(history) - len(fitted.recent):]  # a suffix, in order
    used = sum(context.size(m) for m in fitted.recent) + sum(len(line) + 1 for line in fitted.summary)
    if sum(context.size(m) for m in history) <= budget:
        assert fitted.recent == history and fitted.summary == []
    else:
        assert used <= budget
    turns = len(context.group_turns(history))
    assert fitted.verbatim_turns + fitted.summarized_turns + fitted.dropped_turns == turns


class _Readers:
    """A stand-in team whose every role has one model of `window` tokens."""

    def __init__(self, window: int) -> None:
        self.spec = dataclasses.replace(fake_spec("m"), context_window=window)

    def role(self, _role: str):
        return types.SimpleNamespace(model=self.spec)


@FAST
@given(any_text, st.integers(1, 40_000))
def test_a_question_is_refused_exactly_when_it_outgrows_a_readers_window(question, window):
    too_big = question_tokens(question) > window - RESERVE_TOKENS
    try:
        check_question_fits(_Readers(window), question)
    except QuestionExceedsWindowError as exc:
        assert too_big and f"{window:,}-token" in str(exc)
    else:
        assert not too_big


@FAST
@given(any_text)
def test_is_loopback_never_raises(host):
    assert is_loopback(host) in (True, False)
