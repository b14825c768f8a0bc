"""Last checks on the final answer, pure: the user's remembered facts never appear in it verbatim (a small
model copies its system prompt's "Known about the user: ..." line), and when it is not in the user's
language the run says so instead of passing it off as right."""

from __future__ import annotations

import re

from agents.roles import substance
from agents.routing import language

FACTS_HEADERS = {"en": "Known about the user", "es": "Datos conocidos del usuario"}  # = prompts/orchestrator.toml
_HEADER_TO_EOL = re.compile("(?:" + "|".join(map(re.escape, FACTS_HEADERS.values())) + r")\s*:[^\n]*", re.I)
FACTS_TAKEN_OUT = "took out the remembered facts the model copied from its prompt"
ONLY_FACTS = {"en": "(The model only repeated what it knows about you; ask again, or rephrase the question.)",
              "es": "(El modelo solo repitió lo que sabe de ti; vuelve a preguntar o reformula la pregunta.)"}


def facts_line(memories: dict[str, str], lang: str) -> str:
    """The user's remembered facts as one line for a system prompt ('' when there are none)."""
    from agents.roles import prompts

    if not memories:
        return ""
    return prompts.prompt("orchestrator", "known_facts", lang,
                          facts="; ".join(f"{k}: {v}" for k, v in sorted(memories.items())))


def without_facts(text: str, memories: dict[str, str], lang: str) -> str:
    """`text` without the facts line or its list of facts copied from the prompt (line breaks kept)."""
    cleaned = _HEADER_TO_EOL.sub("", text)
    body = "; ".join(f"{k}: {v}" for k, v in sorted(memories.items()))
    if body:
        cleaned = re.sub(re.escape(body) + r"[ \t]*[.;,]?[ \t]*", "", cleaned)
    if cleaned == text:
        return text
    cleaned = re.sub(r"[ \t]+\n", "\n", re.sub(r"\n{3,}", "\n\n", cleaned)).strip()
    return cleaned or ONLY_FACTS[lang]


def language_note(answer: str, lang: str) -> str | None:
    """What to tell the user when the answer is not in their language (None when it is)."""
    found, _ = language.detect(answer, fallback=lang) if answer.strip() else (lang, 1.0)
    if found == lang:
        return None
    return (f"the models could not answer in {language.name(lang)}: the answer is in {language.name(found)}; "
            "a larger model in the profile, or asking again, may do better")


RESTORED_OPTION = {"en": "Answer: {letter}", "es": "Respuesta: {letter}"}


def keep_substance(draft: str, answer: str, *, draft_language: str | None, lang: str,
                   choices=()) -> tuple[str, str]:
    """(the answer, a trace note): the integrator's rewrite when it kept the draft's code blocks, chosen option
    and numbers; else the draft itself when it is in the user's language, or (a draft in another language)
    the rewrite with what it dropped put back: the code blocks verbatim and the option's letter."""
    if answer == draft:
        return answer, ""
    missing = substance.lost(draft, answer, choices)
    if not missing:
        return answer, ""
    what = ", ".join(missing)
    if draft_language in (None, lang):
        return draft, f"the rewrite dropped or changed {what}; the draft is the answer"
    restored = answer.rstrip()
    blocks = substance.code_blocks(draft)
    kept = re.sub(r"\s+", " ", answer)
    for block in blocks:
        if re.sub(r"\s+", " ", block) not in kept:
            restored += "\n\n```\n" + block + "\n```"
    letter = substance.chosen_letter(draft, choices or substance.options_in(draft))
    if letter and substance.chosen_letter(answer, choices or substance.options_in(draft)) != letter:
        restored += "\n\n" + RESTORED_OPTION.get(lang, RESTORED_OPTION["en"]).format(letter=letter)
    return restored, f"the rewrite dropped or changed {what}; put back from the draft (in {draft_language})"
