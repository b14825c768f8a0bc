"""The long-context reviewer (Llama 3.1 8B 128k in the seed's set): checks a draft against the whole
conversation for coherence and omissions, and returns a structured verdict.

Cheap deterministic checks come first (empty draft, a draft that looped, wrong language); the model is
then asked for a one-line verdict, `OK` or `REVISE: <what is wrong>`, which `parse_verdict` reads. Its texts:
agents/roles/prompts/reviewer.toml.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from typing_extensions import TypedDict  # pydantic (Studio schemas) needs it before 3.12

from agents.backends import Message
from agents.roles import prompts
from agents.roles.context import Fitted, char_budget, fit_context
from agents.roles.team import Team, TraceEntry
from agents.routing import language

CONTEXT_SHARE = 0.75  # the reviewer sees the thread up to this share of its window


class Verdict(TypedDict):
    verdict: str  # "ok" | "revise"
    issues: list[str]
    by: str  # "checks" | "model" | "model-unclear"


_REVISE = re.compile(r"\b(REVISE|REVISAR|REVISA)\b\s*:?\s*(.*)", re.IGNORECASE | re.DOTALL)
_OK = re.compile(r"^\W*(OK|okay|correct|correcto|bien)\b", re.IGNORECASE)


def parse_verdict(text: str) -> Verdict:
    """Read a model's reply: 'REVISE: x' -> revise; a leading OK -> ok; anything else -> ok, marked unclear."""
    match = _REVISE.search(text)
    if match:
        issue = match.group(2).strip().splitlines()[0].strip() if match.group(2).strip() else "unspecified"
        return {"verdict": "revise", "issues": [issue], "by": "model"}
    if _OK.match(text):
        return {"verdict": "ok", "issues": [], "by": "model"}
    return {"verdict": "ok", "issues": [], "by": "model-unclear"}


def checks(draft: str, finish: str, lang: str) -> list[str]:
    """Deterministic problems with a draft, no model needed."""
    issues = []
    if not draft.strip():
        issues.append("the draft is empty")
    elif finish == "loop":
        issues.append("the draft started repeating itself and was cut")
    if draft.strip():
        draft_lang, conf = language.detect(draft, fallback=lang)
        if draft_lang != lang and conf >= language.MIN_CONFIDENCE:
            issues.append(f"the draft is in {language.name(draft_lang)}, the user wrote in {language.name(lang)}")
    return issues


def transcript(fitted: Fitted) -> str:
    """The thread as text: summary lines for older turns, then recent turns verbatim."""
    lines = [f"(summary) {line}" for line in fitted.summary]
    lines += [f"{m['role']}: {m['content']}" for m in fitted.recent]
    return "\n".join(lines)


def build_messages(lang: str, question: str, draft: str, history: Sequence[Message], *,
                   context_window: int, prompt: str | None = None, summaries: Sequence[str] = ()
                   ) -> tuple[list[Message], Fitted]:
    budget = char_budget(context_window, CONTEXT_SHARE, reserved_chars=len(question) + len(draft))
    fitted = fit_context(history, summaries, budget)
    thread = transcript(fitted) or prompts.text("reviewer", "no_history", lang)
    body = prompts.prompt("reviewer", "body", lang, thread=thread, question=question, draft=draft)
    system = prompt or prompts.text("reviewer", "system", lang)
    return [{"role": "system", "content": system}, {"role": "user", "content": body}], fitted


def in_words(verdict: str, by: str, issues: list[str]) -> str:
    """The reviewer's verdict as a sentence (pure): what it means for the answer, not its internal codes."""
    found = "; ".join(issues)
    if verdict == "revise":
        return f"the draft failed a check: {found}" if by == "checks" else f"the reviewer asked for changes: {found}"
    if by == "model-unclear":
        return "the reviewer's reply was unclear, so the draft stands as written"
    if by == "checks":
        return "the draft passed the checks"
    return "the reviewer found nothing to fix"


def review(team: Team, lang: str, question: str, draft: str, finish: str,
           history: Sequence[Message], summaries: Sequence[str] = ()) -> tuple[Verdict, TraceEntry, str]:
    """(verdict, trace row, the text the reviewer model received)."""
    spec = team.role("reviewer")
    messages, fitted = build_messages(lang, question, draft, history, context_window=spec.model.context_window,
                                      prompt=spec.prompt, summaries=summaries)
    reply = team.call("review", "reviewer", messages, max_tokens=48)
    verdict = parse_verdict(reply.text)
    found = checks(draft, finish, lang)
    if found:
        verdict = {"verdict": "revise", "issues": found + verdict["issues"], "by": "checks"}
    earlier = sum(m["role"] == "user" for m in history)
    reply.trace["note"] = (f"{in_words(verdict['verdict'], verdict['by'], verdict['issues'])}; "
                           f"saw {earlier} earlier turn(s); "
                           + fitted.note())
    return verdict, reply.trace, messages[-1]["content"]
