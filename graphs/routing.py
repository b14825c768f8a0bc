"""Pure edge functions: state in, the name of the next node out; and which models the next steps need."""

from __future__ import annotations

from typing import Literal

from agents.roles.specialist import role_for
from graphs.state import State

MAX_REVISIONS = 1
Specialist = Literal["legal", "technical", "general", "long_context"]


def after_analyze(state: State) -> Specialist | Literal["cached"]:
    if (state.get("cache") or {}).get("hit"):
        return "cached"  # the response cache had this turn: no model runs
    route = state["route"]
    return route.get("node") or route["domain"]  # type: ignore[return-value]


def _plan(state: State) -> dict:
    return state.get("plan") or {}


def after_draft(state: State) -> Literal["review", "integrate"]:
    """Review the draft unless the step policy measured that review gains nothing here."""
    return "integrate" if _plan(state).get("review") == "off" else "review"


def after_review(state: State) -> Literal["legal", "technical", "general", "long_context", "integrate"]:
    review = state.get("review")
    if (review and review["verdict"] == "revise" and state.get("revisions", 0) < MAX_REVISIONS
            and _plan(state).get("revise", True)):
        return after_analyze(state)
    return "integrate"


def roles_ahead(node: str, state: State) -> list[str]:
    """The roles whose models the step after `node` will call, so the slot can read their files in advance:
    after analyze, the answering node's; while a draft is written, the reviewer's (unless a trivial question
    skips the review); while reviewing, the orchestrator's (integrate)."""
    if node == "analyze":
        answering = after_analyze(state)
        return ["reviewer"] if answering == "long_context" else [role_for(answering)]
    if node in ("legal", "technical", "general", "long_context"):
        skip = state.get("complexity") == "trivial" or after_draft(state) == "integrate"
        return ["orchestrator"] if skip else ["reviewer"]
    if node == "review":
        return ["orchestrator"]
    return []
