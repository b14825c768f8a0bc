"""Pure edge functions: state in, the name of the next node out."""

from __future__ import annotations

from typing import Literal

from graphs.state import State

MAX_REVISIONS = 1
Specialist = Literal["legal", "technical", "general", "long_context"]


def after_analyze(state: State) -> Specialist:
    route = state["route"]
    return route.get("node") or route["domain"]  # type: ignore[return-value]


def after_review(state: State) -> Literal["legal", "technical", "general", "long_context", "integrate"]:
    review = state.get("review")
    if review and review["verdict"] == "revise" and state.get("revisions", 0) < MAX_REVISIONS:
        return after_analyze(state)
    return "integrate"
