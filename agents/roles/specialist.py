"""Answering a question as a specialist: legal, technical, or general (the orchestrator itself).

Each domain's prompts live in its own module (agents/roles/legal.py, agents/roles/technical.py, and the orchestrator's
general prompt); this module builds the messages and calls the role's model.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.backends import Message
from agents.roles import legal, orchestrator, technical
from agents.roles.context import Fitted, char_budget, fit_context
from agents.roles.team import Reply, Team, join_notes

ROLE_FOR_DOMAIN = {"legal": "legal", "technical": "technical", "general": "orchestrator"}
_PROMPTS = {"legal": legal.PROMPTS, "technical": technical.PROMPTS, "general": orchestrator.GENERAL_PROMPTS}
REVISION_NOTE = {
    "en": "A reviewer found problems with your previous answer:\n{notes}\n\nPrevious answer:\n{draft}\n\n"
          "Write a corrected answer to the question.",
    "es": "Un revisor encontró problemas en tu respuesta anterior:\n{notes}\n\nRespuesta anterior:\n{draft}\n\n"
          "Escribe una respuesta corregida a la pregunta.",
}
HISTORY_SHARE = 0.5  # at most this share of the model's window goes to earlier turns
SUMMARY_HEADER = {"en": "Earlier in this conversation (summary):", "es": "Antes en esta conversación (resumen):"}


def role_for(domain: str) -> str:
    return ROLE_FOR_DOMAIN[domain]


def with_summary(system: str, fitted: Fitted, lang: str, facts: str = "") -> str:
    if facts:
        system += "\n\n" + facts
    if not fitted.summary:
        return system
    return system + "\n\n" + SUMMARY_HEADER[lang] + "\n" + "\n".join(f"- {line}" for line in fitted.summary)


def build_messages(domain: str, lang: str, question: str, history: Sequence[Message], *,
                   context_window: int, prompt: str | None = None, revision: tuple[str, str] | None = None,
                   summaries: Sequence[str] = (), facts: str = "") -> tuple[list[Message], Fitted]:
    reserved = len(question) + len(facts) + (2 * len(revision[0]) if revision else 0)
    fitted = fit_context(history, summaries, char_budget(context_window, HISTORY_SHARE, reserved))
    messages: list[Message] = [{"role": "system", "content": with_summary(prompt or _PROMPTS[domain][lang],
                                                                          fitted, lang, facts)}]
    messages += fitted.recent
    messages.append({"role": "user", "content": question})
    if revision is not None:
        draft, notes = revision
        messages += [{"role": "assistant", "content": draft},
                     {"role": "user", "content": REVISION_NOTE[lang].format(notes=notes, draft=draft)}]
    return messages, fitted


def answer(team: Team, domain: str, lang: str, question: str, history: Sequence[Message], *,
           revision: tuple[str, str] | None = None, summaries: Sequence[str] = (), facts: str = "",
           on_token=None, role: str | None = None, node: str | None = None) -> Reply:
    """The domain's answer by its role's model, or by `role` (the long-context model, for long threads)."""
    role = role or role_for(domain)
    spec = team.role(role)
    messages, fitted = build_messages(domain, lang, question, history, context_window=spec.model.context_window,
                                      prompt=spec.prompt, revision=revision, summaries=summaries, facts=facts)
    reply = team.call(node or domain, role, messages, max_tokens=320, on_token=on_token)
    reply.trace["note"] = join_notes(reply.trace.get("note", ""), fitted.note())
    return reply
