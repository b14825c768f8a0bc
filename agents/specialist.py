"""Answering a question as a specialist: legal, technical, or general (the orchestrator itself).

Each domain's prompts live in its own module (agents/legal.py, agents/technical.py, and the orchestrator's
general prompt); this module builds the messages and calls the role's model.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents import legal, orchestrator, technical
from agents.backends import Message
from agents.team import Reply, Team
from memory.context import char_budget, fit_newest

ROLE_FOR_DOMAIN = {"legal": "legal", "technical": "technical", "general": "orchestrator"}
_PROMPTS = {"legal": legal.PROMPTS, "technical": technical.PROMPTS, "general": orchestrator.GENERAL_PROMPTS}
REVISION_NOTE = {
    "en": "A reviewer found problems with your previous answer:\n{notes}\n\nPrevious answer:\n{draft}\n\n"
          "Write a corrected answer to the question.",
    "es": "Un revisor encontró problemas en tu respuesta anterior:\n{notes}\n\nRespuesta anterior:\n{draft}\n\n"
          "Escribe una respuesta corregida a la pregunta.",
}
HISTORY_SHARE = 0.5  # at most this share of the model's window goes to earlier turns


def role_for(domain: str) -> str:
    return ROLE_FOR_DOMAIN[domain]


def build_messages(domain: str, lang: str, question: str, history: Sequence[Message], *,
                   context_window: int, prompt: str | None = None, revision: tuple[str, str] | None = None
                   ) -> list[Message]:
    messages: list[Message] = [{"role": "system", "content": prompt or _PROMPTS[domain][lang]}]
    messages += fit_newest(history, char_budget(context_window, HISTORY_SHARE))
    messages.append({"role": "user", "content": question})
    if revision is not None:
        draft, notes = revision
        messages += [{"role": "assistant", "content": draft},
                     {"role": "user", "content": REVISION_NOTE[lang].format(notes=notes, draft=draft)}]
    return messages


def answer(team: Team, domain: str, lang: str, question: str, history: Sequence[Message], *,
           revision: tuple[str, str] | None = None, on_token=None) -> Reply:
    role = role_for(domain)
    spec = team.role(role)
    messages = build_messages(domain, lang, question, history, context_window=spec.model.context_window,
                              prompt=spec.prompt, revision=revision)
    return team.call(domain, role, messages, max_tokens=320, on_token=on_token)
