"""Fuzz smoke run on the fake backend: a few hundred seeded questions of every awkward kind through the
whole graph (the API, as the CLI calls it). Each one is answered cleanly or refused with the one
ConcilioError its kind expects; a refused one stores nothing and reaches no model; no model ever receives a
chat marker."""

from __future__ import annotations

import collections
import time

from fuzz import EXPECTED, questions

from agents.backends.base import BACKEND_ERROR_TEXT
from agents.backends.fake import FakeChatModel
from agents.backends.markers import KNOWN_MARKERS
from agents.errors import ConcilioError
from agents.roles.team import Team
from agents.slot.slot import GpuSlot
from agents.user_text import clean_question
from graphs.api import ask
from graphs.cooperation import build_graph
from memory.checkpoints import sqlite_checkpointer
from tests.conftest import fake_profile

COUNT, SEED, SECONDS = 240, 20261202, 150


def stored(db, thread: str) -> dict:
    with sqlite_checkpointer(db) as saver:
        return build_graph(checkpointer=saver).get_state({"configurable": {"thread_id": thread}}).values


def test_generated_questions_are_answered_or_refused_clearly(tmp_path):
    db = tmp_path / "fuzz.sqlite"
    team = Team(fake_profile(), GpuSlot())
    outcomes: collections.Counter[tuple[str, str]] = collections.Counter()
    deadline = time.monotonic() + SECONDS
    for n, (kind, question, thread) in enumerate(questions(COUNT, SEED)):
        assert time.monotonic() < deadline, f"fuzz run over {SECONDS} s after {n} questions"
        thread_id = thread or f"f{n // 3}"  # three questions a thread: history, summaries and resumes too
        before_calls, before = len(FakeChatModel.calls), (stored(db, thread_id) if thread is None else {})
        expected = EXPECTED[kind]
        try:
            result = ask(question, profile=team, db=db, thread_id=thread_id)
        except ConcilioError as exc:
            assert expected is not None and isinstance(exc, expected), (kind, ascii(question[:80]), exc)
            str(exc).encode("utf-8")
            assert len(FakeChatModel.calls) == before_calls, (kind, "a refused question reached a model")
            if thread is None:
                assert stored(db, thread_id) == before, (kind, "a refused question changed the thread")
            outcomes[(kind, type(exc).__name__)] += 1
            continue
        assert expected is None, (kind, ascii(question[:80]), "was answered")
        answer = result["answer"]
        assert answer.strip() and not BACKEND_ERROR_TEXT.match(answer)
        answer.encode("utf-8")
        assert stored(db, thread_id)["question"] == clean_question(question)
        received = [m["content"] for _, msgs in FakeChatModel.calls[before_calls:] for m in msgs]
        assert received and not [m for m in KNOWN_MARKERS for c in received if m in c], kind
        outcomes[(kind, "answered")] += 1
    print("\nfuzz (fake backend):", dict(sorted(outcomes.items())))
    assert sum(outcomes.values()) == COUNT
    assert {kind for kind, _ in outcomes} == set(EXPECTED)  # every kind was generated
