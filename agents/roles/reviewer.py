"""The long-context reviewer (Llama 3.1 8B 128k in the seed's set): checks a draft against the whole
conversation for coherence and omissions, and returns a structured verdict.

Cheap deterministic checks come first (empty draft, a draft that looped, wrong language, a draft that names
another option than the assistant gave earlier, or none when the user asked for one: agents/roles/substance.py);
a draft they flag goes back without a model call. Otherwise the model gives a verdict in one of three forms
(`VARIANTS`, measured side by side by `python -m evals.reviewer`):

  free     the seed's one line, `OK` or `REVISE: <what is wrong>`, read leniently (`parse_verdict`)
  verdict  JSON {"verdict": "ok"|"revise", "issue": ...}, decoded to VERDICT_SCHEMA where the backend
           constrains decoding (llama.cpp grammars, a server's response_format); elsewhere (gpt4all) the
           same one line, read strictly: a reply that is not exactly that form is "model-unclear"
  claim    one yes/no question about one claim (the draft agrees with the conversation and does what was
           asked), decoded to CLAIM_SCHEMA where it can be, else the first word read strictly

Its texts: agents/roles/prompts/reviewer.toml.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from typing_extensions import TypedDict  # pydantic (Studio schemas) needs it before 3.12

from agents.backends import Message, constrains
from agents.roles import prompts, substance
from agents.roles.context import Fitted, char_budget, fit_context
from agents.roles.team import Team, TraceEntry, trace_row
from agents.routing import language

CONTEXT_SHARE = 0.75  # the reviewer sees the thread up to this share of its window
VARIANTS = ("free", "verdict", "claim")
# The best measured with the checks in front (evals/reviewer.py on llama.cpp, SmolLM2-135M): constrained,
# "verdict" flagged every good draft too, "claim" none; unconstrained backends keep the seed's one-line form,
# read strictly (its figures on gpt4all are not measured yet).
DEFAULT_VARIANT = {True: "claim", False: "verdict"}  # constrained? → form
ISSUE_CHARS = 80
VERDICT_SCHEMA = json.dumps({
    "type": "object", "additionalProperties": False, "required": ["verdict", "issue"],
    "properties": {"verdict": {"type": "string", "enum": ["ok", "revise"]},
                   "issue": {"type": "string", "maxLength": ISSUE_CHARS}}})
CLAIM_SCHEMA = json.dumps({"type": "object", "additionalProperties": False, "required": ["answer"],
                           "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}}})


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


_STRICT = re.compile(r"^\s*(?:(OK)|REVISE:\s*(\S[^\n]*))\s*$", re.DOTALL)
# A reply cut by the token limit: the schema's enum makes the value's first letter decide it.
_FIELD = re.compile(r'"(verdict|answer)"\s*:\s*"([orny])')
_BY_LETTER = {"o": "ok", "r": "revise", "y": "yes", "n": "no"}
_YES_NO = re.compile(r"^\W*(yes|no|s[ií])\b", re.IGNORECASE)


def parse_strict(text: str, variant: str, constrained: bool) -> Verdict | None:
    """The verdict in a reply of the fixed form asked for, or None (unparsed). Constrained replies are JSON
    (one cut by the token limit is read up to its first field, which the schema puts first); unconstrained
    ones must be exactly `OK` / `REVISE: <issue>` (verdict) or start with yes/no/sí (claim). Pure."""
    if constrained:
        try:
            data = json.loads(text)
        except ValueError:
            match = _FIELD.search(text)
            data = {match.group(1): _BY_LETTER[match.group(2)]} if match else {}
        word = str(data.get("verdict" if variant == "verdict" else "answer", ""))
        if variant == "verdict" and word in ("ok", "revise"):
            issue = str(data.get("issue") or "").strip() or "unspecified"
            return {"verdict": word, "issues": [issue] if word == "revise" else [], "by": "model"}
        if variant == "claim" and word in ("yes", "no"):
            return {"verdict": "ok" if word == "yes" else "revise", "issues": [] if word == "yes" else [""],
                    "by": "model"}
        return None
    if variant == "verdict":
        match = _STRICT.match(text.strip().splitlines()[0] if text.strip() else "")
        if not match:
            return None
        return ({"verdict": "ok", "issues": [], "by": "model"} if match.group(1)
                else {"verdict": "revise", "issues": [match.group(2).strip()], "by": "model"})
    match = _YES_NO.match(text)
    if not match:
        return None
    yes = match.group(1).casefold() != "no"
    return {"verdict": "ok" if yes else "revise", "issues": [] if yes else [""], "by": "model"}


def checks(draft: str, finish: str, lang: str, history: Sequence[Message] = (), question: str = "") -> list[str]:
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
        for found in (substance.option_conflict(history, question, draft),
                      substance.missing_option(history, question, draft)):
            if found:
                issues.append(found)
    return issues


def transcript(fitted: Fitted) -> str:
    """The thread as text: summary lines for older turns, then recent turns verbatim."""
    lines = [f"(summary) {line}" for line in fitted.summary]
    lines += [f"{m['role']}: {m['content']}" for m in fitted.recent]
    return "\n".join(lines)


def build_messages(lang: str, question: str, draft: str, history: Sequence[Message], *,
                   context_window: int, prompt: str | None = None, summaries: Sequence[str] = (),
                   variant: str = "free", constrained: bool = False) -> tuple[list[Message], Fitted]:
    budget = char_budget(context_window, CONTEXT_SHARE, reserved_chars=len(question) + len(draft))
    fitted = fit_context(history, summaries, budget)
    thread = transcript(fitted) or prompts.text("reviewer", "no_history", lang)
    body = prompts.prompt("reviewer", "body", lang, thread=thread, question=question, draft=draft)
    name = {"free": "system", "verdict": "json_system" if constrained else "system", "claim": "claim_system"}
    system = prompt or prompts.text("reviewer", name[variant], lang)
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


def model_verdict(team: Team, lang: str, question: str, draft: str, history: Sequence[Message],
                  summaries: Sequence[str] = (), *, variant: str | None = None
                  ) -> tuple[Verdict, bool, TraceEntry, str, Fitted]:
    """(verdict, parsed, trace row, the text the model received, what of the thread it saw): the model's
    verdict in the form `variant` (default: the best measured for the backend), constrained where it can."""
    spec = team.role("reviewer")
    variant = variant or DEFAULT_VARIANT[constrains(spec.model.backend)]
    constrained = variant != "free" and constrains(spec.model.backend)
    messages, fitted = build_messages(lang, question, draft, history, context_window=spec.model.context_window,
                                      prompt=spec.prompt, summaries=summaries, variant=variant,
                                      constrained=constrained)
    schema = (VERDICT_SCHEMA if variant == "verdict" else CLAIM_SCHEMA) if constrained else None
    reply = team.call("review", "reviewer", messages, max_tokens=48 if variant != "claim" else 16, schema=schema,
                      stop_on_loop=not constrained)
    if variant == "free":
        verdict = parse_verdict(reply.text)
        parsed = verdict["by"] == "model"
    else:
        found = parse_strict(reply.text, variant, constrained)
        parsed = found is not None
        verdict = found or {"verdict": "ok", "issues": [], "by": "model-unclear"}
        if variant == "claim" and verdict["verdict"] == "revise":
            verdict["issues"] = [prompts.text("reviewer", "claim_issue", lang)]
    how = "constrained" if constrained else "fixed format"
    reply.trace["note"] = f"verdict {variant} ({how}){'' if parsed else ', unparsed'}"
    return verdict, parsed, reply.trace, messages[-1]["content"], fitted


def review(team: Team, lang: str, question: str, draft: str, finish: str,
           history: Sequence[Message], summaries: Sequence[str] = (), *, variant: str | None = None,
           use_model: bool = True) -> tuple[Verdict, TraceEntry, str]:
    """(verdict, trace row, the text the reviewer model received): the deterministic checks, then (when
    they find nothing and `use_model`) the model's verdict."""
    found = checks(draft, finish, lang, history, question)
    earlier = sum(m["role"] == "user" for m in history)
    if found or not use_model:
        verdict: Verdict = ({"verdict": "revise", "issues": found, "by": "checks"} if found
                            else {"verdict": "ok", "issues": [], "by": "checks"})
        why = "" if use_model else "model review skipped by the step policy; "
        row = trace_row("review", note=f"{why}{in_words(verdict['verdict'], verdict['by'], verdict['issues'])}; "
                                       f"saw {earlier} earlier turn(s)")  # the checks read the thread too
        return verdict, row, ""
    verdict, _, row, body, fitted = model_verdict(team, lang, question, draft, history, summaries, variant=variant)
    row["note"] = (f"{in_words(verdict['verdict'], verdict['by'], verdict['issues'])}; {row['note']}; "
                   f"saw {earlier} earlier turn(s); " + fitted.note())
    return verdict, row, body
