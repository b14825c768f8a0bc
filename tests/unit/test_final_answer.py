"""The final answer is never damaged: the user's remembered facts are not copied into it, and when it is not
in the user's language the run says so (trace note, a `language` progress event) in either language."""

from __future__ import annotations

import pytest

from agents.backends.fake import FakeChatModel
from agents.roles import final
from agents.roles.team import Team
from agents.slot.slot import GpuSlot
from graphs.api import ask
from tests.conftest import fake_profile

FACTS = {"name": "Ana", "stack": "Python"}


@pytest.mark.parametrize("text, lang, expected", [
    ("Known about the user: name: Ana; stack: Python\nUse reversed(x).", "en", "Use reversed(x)."),
    ("Datos conocidos del usuario: name: Ana; stack: Python\n\nUsa reversed(x).", "es", "Usa reversed(x)."),
    ("Hi Ana. name: Ana; stack: Python. Use:\n```python\nx[::-1]\n```", "en", "Hi Ana. Use:\n```python\nx[::-1]\n```"),
    ("Use reversed(x).", "en", "Use reversed(x)."),  # nothing copied: untouched
    ("Known about the user: name: Ana; stack: Python", "en", final.ONLY_FACTS["en"]),
    ("Datos conocidos del usuario: name: Ana; stack: Python", "es", final.ONLY_FACTS["es"]),
])
def test_the_facts_line_never_reaches_the_answer(text, lang, expected):
    assert final.without_facts(text, FACTS, lang) == expected


@pytest.mark.parametrize("answer, lang, expected", [
    ("Paris is the capital of France.", "en", None),
    ("La capital de Francia es París.", "es", None),
    ("La capital de Francia es París.", "en", "the models could not answer in English: the answer is in Spanish"),
    ("Paris is the capital of France.", "es", "the models could not answer in Spanish: the answer is in English"),
])
def test_a_wrong_language_answer_is_said(answer, lang, expected):
    note = final.language_note(answer, lang)
    assert note == expected if expected is None else note.startswith(expected)


def team() -> Team:
    return Team(fake_profile(), GpuSlot())


def test_a_model_copying_the_facts_line_does_not_put_it_in_the_answer(tmp_path):
    db = tmp_path / "t.sqlite"
    FakeChatModel.enqueue("Hi Ana.", "OK", "Hi Ana, happy to help.")
    ask("My name is Ana. What is a tort?", profile=team(), db=db, thread_id="a")
    FakeChatModel.enqueue("Known about the user: name: Ana\nParis is the capital of France.", "OK")
    result = ask("What is the capital of France?", profile=team(), db=db, thread_id="b")
    assert result["answer"] == "Paris is the capital of France."
    assert final.FACTS_TAKEN_OUT in result["trace"][-1]["note"]  # said, so the CLI can tell why it differs


def test_an_answer_in_the_wrong_language_is_reported_not_passed_off(tmp_path):
    events = []
    # the checks flag the Spanish draft twice (no reviewer model call then); the rewrite comes out in Spanish too
    FakeChatModel.enqueue("La capital de Francia es París.", "La capital de Francia es París, claro.",
                          "La capital de Francia es París.")
    result = ask("What is the capital of France?", profile=team(), db=tmp_path / "t.sqlite", on_event=events.append)
    note = "the models could not answer in English: the answer is in Spanish"
    assert result["language"] == "en" and note in result["trace"][-1]["note"]
    assert [e["message"][:len(note)] for e in events if e["event"] == "language"] == [note]
    assert result["answer"] == "La capital de Francia es París."  # the best there is, but not passed off
