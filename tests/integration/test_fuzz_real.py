"""Fuzz smoke run on the real embedded model (SmolLM2-135M through gpt4all): a few dozen seeded questions of
every awkward kind through the whole graph. Each is answered with clean text or refused by the one
ConcilioError its kind expects, and a refused one stores nothing.

Bounded to about two minutes: answers are capped at a few tokens (what is tested is the input, not the
prose), and once SECONDS have passed after the first answer (which pays for loading the model and fitting
the router), questions that would reach a model are counted as skipped; refusals cost no model time and all
run. The counts by kind are printed (-s)."""

from __future__ import annotations

import collections
import time

import pytest
from fuzz import EXPECTED, questions

from agents.backends.base import BACKEND_ERROR_TEXT
from agents.errors import ConcilioError
from agents.models.profiles import ROLES
from agents.user_text import clean_question
from graphs.api import ask
from graphs.cooperation import build_graph
from memory.checkpoints import sqlite_checkpointer

pytestmark = pytest.mark.model

COUNT, SEED, SECONDS, MIN_ANSWERED = 36, 7, 120, 3
PROFILE = 'profile = "embedded"\n' + "".join(f"[roles.{r}]\nmax_tokens = 12\n" for r in ROLES)


def stored(db, thread: str) -> dict:
    with sqlite_checkpointer(db) as saver:
        return build_graph(checkpointer=saver).get_state({"configurable": {"thread_id": thread}}).values


def test_generated_questions_on_the_embedded_model(tmp_path):
    db = tmp_path / "fuzz.sqlite"
    (tmp_path / "short.toml").write_text(PROFILE, "utf-8")
    profile = str(tmp_path / "short.toml")
    outcomes: collections.Counter[tuple[str, str]] = collections.Counter()
    deadline = float("inf")  # set when the first answer is in
    for n, (kind, question, thread) in enumerate(questions(COUNT, SEED)):
        if EXPECTED[kind] is None and time.monotonic() > deadline:
            outcomes[(kind, "skipped (time)")] += 1
            continue
        thread_id = thread or f"r{n}"
        try:
            result = ask(question, profile=profile, db=db, thread_id=thread_id, learn=False)
        except ConcilioError as exc:
            assert EXPECTED[kind] is not None and isinstance(exc, EXPECTED[kind]), (kind, ascii(question[:80]), exc)
            if thread is None:
                assert stored(db, thread_id) == {}, (kind, "a refused question was stored")
            outcomes[(kind, type(exc).__name__)] += 1
            continue
        assert EXPECTED[kind] is None, (kind, ascii(question[:80]), "was answered")
        answer = result["answer"]
        assert isinstance(answer, str) and answer.strip() and not BACKEND_ERROR_TEXT.match(answer), (kind, answer)
        answer.encode("utf-8")
        assert stored(db, thread_id)["question"] == clean_question(question)
        outcomes[(kind, "answered")] += 1
        deadline = min(deadline, time.monotonic() + SECONDS)
    print("\nfuzz (embedded model):", dict(sorted(outcomes.items())))
    assert sum(outcomes.values()) == COUNT
    assert sum(n for (_, what), n in outcomes.items() if what == "answered") >= MIN_ANSWERED
    assert all(what != "skipped (time)" for kind, what in outcomes if EXPECTED[kind] is not None)
