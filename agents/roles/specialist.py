"""Answering a question as a specialist: legal, technical, or general (the orchestrator itself).

Each domain's system prompt is package data (agents/roles/prompts/legal.toml, technical.toml, and the
orchestrator's `general`), like what every answering role gets (specialist.toml); this module builds the
messages and calls the role's model.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.backends import Message
from agents.roles import prompts
from agents.roles.context import Fitted, char_budget, fit_context
from agents.roles.team import Reply, Team, join_notes

ROLE_FOR_DOMAIN = {"legal": "legal", "technical": "technical", "general": "orchestrator"}
SYSTEM_PROMPT = {"legal": ("legal", "system"), "technical": ("technical", "system"),
                 "general": ("orchestrator", "general")}  # domain → (prompt file, text)
HISTORY_SHARE = 0.5  # at most this share of the model's window goes to earlier turns


def role_for(domain: str) -> str:
    return ROLE_FOR_DOMAIN[domain]


def with_summary(system: str, fitted: Fitted, lang: str, facts: str = "") -> str:
    if facts:
        system += "\n\n" + facts
    if not fitted.summary:
        return system
    lines = "\n".join(f"- {line}" for line in fitted.summary)
    return system + "\n\n" + prompts.text("specialist", "summary_header", lang) + "\n" + lines


def build_messages(domain: str, lang: str, question: str, history: Sequence[Message], *,
                   context_window: int, prompt: str | None = None, revision: tuple[str, str] | None = None,
                   summaries: Sequence[str] = (), facts: str = "") -> tuple[list[Message], Fitted]:
    reserved = len(question) + len(facts) + (2 * len(revision[0]) if revision else 0)
    fitted = fit_context(history, summaries, char_budget(context_window, HISTORY_SHARE, reserved))
    system = prompt or prompts.text(*SYSTEM_PROMPT[domain], lang)
    messages: list[Message] = [{"role": "system", "content": with_summary(system, fitted, lang, facts)}]
    messages += fitted.recent
    messages.append({"role": "user", "content": question})
    if revision is not None:
        draft, notes = revision
        messages += [{"role": "assistant", "content": draft},
                     {"role": "user", "content": prompts.prompt("specialist", "revision_note", lang, notes=notes,
                                                                   draft=draft)}]
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
