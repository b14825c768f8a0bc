"""What an answer says, read deterministically: the draft's option, code and numbers against the final answer
(EN and ES), and the reviewer's option checks against the conversation."""

from __future__ import annotations

import pytest

from agents.roles.final import keep_substance
from agents.roles.substance import lost, missing_option, numbers, option_conflict, options_in

CHOICES = ["Paris", "London", "Madrid", "Berlin"]
CODE_EN = "Use this:\n```python\ndef add(a, b):\n    return a + b\n```\nIt returns 5 for add(2, 3)."
CODE_ES = "Usa esto:\n```python\ndef suma(a, b):\n    return a + b\n```\nDevuelve 5 para suma(2, 3)."


@pytest.mark.parametrize("draft, final, expected", [
    ("C) Madrid, because it is the capital.", "The answer is C) Madrid.", []),
    ("C) Madrid, because it is the capital.", "Madrid is a large city in Spain.", []),  # the text names C too
    ("C) Madrid, because it is the capital.", "The capital is a big city.", ["the chosen option C (now none)"]),
    ("C) Madrid.", "B) London.", ["the chosen option C (now B)"]),
    ("La respuesta es la C) Madrid.", "Respuesta: C", []),
    ("La respuesta es la C) Madrid.", "La respuesta es la D) Berlin.", ["the chosen option C (now D)"]),
    (CODE_EN, CODE_EN.replace("Use this:", "Here you go:"), []),
    (CODE_EN, "Define a function that adds two numbers; it returns 5 for add(2, 3).", ["a code block"]),
    (CODE_ES, "Define una función que sume dos números. Devuelve 5 para suma(2, 3).", ["a code block"]),
    ("The fee is 1,500 euros within 30 days.", "The fee is 1500 euros within 30 days.", []),
    ("La tasa es de 1.500 euros en 30 días.", "La tasa es de 1500 euros en un mes.", ["the number(s) 30"]),
    ("It weighs 3,5 kg.", "It weighs 3.5 kg.", []),
])
def test_what_the_final_answer_dropped(draft, final, expected):
    assert lost(draft, final, CHOICES) == expected


@pytest.mark.parametrize("text, expected", [
    ("x 1,000 y 2.5 z", {"1000", "2.5"}), ("1 000", {"1000"}), ("```\nx = 42\n```", set()), ("v2 and 3", {"3"}),
])
def test_numbers_are_normalised(text, expected):
    assert numbers(text) == expected


@pytest.mark.parametrize("lang, draft, final, draft_lang, answer_is, note_has", [
    ("en", "C) Madrid.", "The capital is a big city.", "en", "C) Madrid.", "the draft is the answer"),
    ("es", "La respuesta es la C) Madrid.", "Es una ciudad grande.", "es", "La respuesta es la C) Madrid.",
     "the draft is the answer"),
    ("en", "C) Madrid.", "The answer is C) Madrid.", "en", "The answer is C) Madrid.", ""),
    ("es", CODE_ES, "Define una función que sume. Devuelve 5 para suma(2, 3).", "es", CODE_ES, "a code block"),
    ("es", CODE_EN, "Define una función que sume. Devuelve 5 para add(2, 3).", "en", None, "put back"),
])
def test_a_rewrite_that_lost_the_substance_gives_way_to_the_draft(lang, draft, final, draft_lang, answer_is,
                                                                  note_has):
    answer, note = keep_substance(draft, final, draft_language=draft_lang, lang=lang, choices=CHOICES)
    if answer_is is not None:
        assert answer == answer_is
    else:  # a draft in another language: the rewrite stays, with the code put back verbatim
        assert answer.startswith(final) and "def add(a, b):" in answer
    assert note_has in note


QUESTION = "Capital of Spain?\n\nA) Paris\nB) London\nC) Madrid\nD) Berlin\n\nAnswer with the letter."
PREGUNTA = "¿Capital de España?\n\nA) Paris\nB) London\nC) Madrid\nD) Berlin\n\nResponde con la letra."


def test_options_are_read_from_a_message():
    assert options_in(QUESTION) == CHOICES and options_in("no options here") == []


@pytest.mark.parametrize("said, follow_up, draft, flagged", [
    ("The answer is C) Madrid.", "Which option was it again?", "It was D) Berlin.", True),
    ("The answer is C) Madrid.", "Which option was it again?", "It was C) Madrid.", False),
    ("La respuesta es la C) Madrid.", "¿Qué opción era?", "Era la A) Paris.", True),
    ("La respuesta es la C) Madrid.", "¿Qué opción era?", "Era la C) Madrid.", False),
    ("The answer is C) Madrid.", "New one:\nA) x\nB) y", "B) y", False),  # a new question with its own options
])
def test_a_draft_that_contradicts_the_option_given_earlier(said, follow_up, draft, flagged):
    history = [{"role": "user", "content": QUESTION if said.startswith("The") else PREGUNTA},
               {"role": "assistant", "content": said}]
    assert bool(option_conflict(history, follow_up, draft)) is flagged


@pytest.mark.parametrize("history, question, draft, flagged", [
    ([], QUESTION, "Madrid is the capital.", True),
    ([], QUESTION, "C) Madrid is the capital.", False),
    ([], PREGUNTA, "Es Madrid, la capital.", True),
    ([], PREGUNTA, "La respuesta es la C.", False),
    ([{"role": "user", "content": "Always start with the letter of the option."},
      {"role": "assistant", "content": "Understood."}], QUESTION.replace("\n\nAnswer with the letter.", ""),
     "The correct one is: Madrid.", True),
    ([], "Capital of Spain?\n\nA) Paris\nB) Madrid", "Madrid.", False),  # nobody asked for a letter
    ([], "Which letter comes after B?", "C.", False),  # no options on the table
])
def test_a_draft_that_leaves_out_the_letter_the_user_asked_for(history, question, draft, flagged):
    assert bool(missing_option(history, question, draft)) is flagged
