"""The roles' prompts are package data (agents/roles/prompts/*.toml), both languages alike, filled one way."""

from __future__ import annotations

import tomllib

import pytest

from agents.roles import prompts, reviewer, specialist
from tests.conftest import REPO

TEXTS = [(role, name) for role in prompts.ROLES for name, value in prompts.load(role).items()
         if set(value) & set(prompts.LANGUAGES)]
TRICKY = ["{x}", "{{", "}}", "{draft}", "{notes}", "{0}", "{question.__class__}", "%s", "{{draft}}", "$draft"]


def test_every_role_has_a_file_and_the_answering_roles_have_a_system_prompt():
    assert {f.stem for f in (REPO / "agents" / "roles" / "prompts").glob("*.toml")} == set(prompts.ROLES)
    for role in ("legal", "technical", "reviewer"):
        assert ("system" in prompts.load(role)), role
    assert prompts.load("orchestrator")["router"]["system"]


@pytest.mark.parametrize("role, name", TEXTS)
def test_every_text_has_both_languages_with_the_same_placeholders(role, name):
    table = prompts.load(role)[name]
    assert set(table) == set(prompts.LANGUAGES)
    en, es = (table[lang] for lang in prompts.LANGUAGES)
    assert en.strip() and es.strip()
    assert prompts.placeholders(en) == prompts.placeholders(es)


@pytest.mark.parametrize("role, name, expected", [
    ("orchestrator", "integrate", {"draft"}),
    ("orchestrator", "integrate_notes", {"notes"}),
    ("orchestrator", "known_facts", {"facts"}),
    ("specialist", "revision_note", {"notes", "draft"}),
    ("reviewer", "body", {"thread", "question", "draft"}),
    ("legal", "system", set()),
    ("reviewer", "system", set()),
])
def test_each_text_has_the_placeholders_its_code_fills(role, name, expected):
    assert prompts.placeholders(prompts.text(role, name, "en")) == expected


@pytest.mark.parametrize("tricky", TRICKY)
def test_filling_never_evaluates_what_it_inserts(tricky):
    filled = prompts.fill("Q: {question} / D: {draft} / {unknown}", question=f"a {tricky} b", draft=tricky)
    assert filled == f"Q: a {tricky} b / D: {tricky} / {{unknown}}"  # inserted as is; no value: left alone


@pytest.mark.parametrize("tricky", TRICKY)
@pytest.mark.parametrize("lang", prompts.LANGUAGES)
def test_a_question_or_draft_with_braces_reaches_the_reviewer_as_written(tricky, lang):
    question, draft = f"¿Qué hace {tricky} en Python?", f"It prints {tricky}."
    (system, user), _ = reviewer.build_messages(lang, question, draft, [], context_window=4096)
    assert system["content"] == prompts.text("reviewer", "system", lang)
    assert f"\n{question}\n" in user["content"] and user["content"].endswith(f"\n{draft}")


@pytest.mark.parametrize("tricky", TRICKY)
@pytest.mark.parametrize("lang", prompts.LANGUAGES)
def test_a_revision_note_with_braces_reaches_the_specialist_as_written(tricky, lang):
    messages, _ = specialist.build_messages("legal", lang, f"What is {tricky}?", [], context_window=4096,
                                            revision=(f"draft {tricky}", f"notes {tricky}"))
    note = messages[-1]["content"]
    assert messages[0]["content"] == prompts.text("legal", "system", lang)
    assert f"\nnotes {tricky}\n" in note and f"\ndraft {tricky}\n" in note
    assert messages[1]["content"] == f"What is {tricky}?"


def test_a_users_own_prompt_with_braces_is_filled_without_errors():
    filled = prompts.fill("Use {draft}; keep {x} and {{literal}}.", draft="D {x}")
    assert filled == "Use D {x}; keep {x} and {{literal}}."


def test_the_prompt_files_ship_as_package_data():
    setup = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    assert "agents.roles.prompts" in setup["packages"]
    assert setup["package-data"]["agents.roles.prompts"] == ["*.toml"]


def test_the_facts_line_that_answers_are_cleaned_of_is_the_one_the_prompts_write():
    from agents.roles import final, prompts

    for lang, header in final.FACTS_HEADERS.items():
        assert prompts.prompt("orchestrator", "known_facts", lang, facts="x").startswith(header + ":")
