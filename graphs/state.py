"""The cooperation graph's typed state: what goes in, what comes out, and what nodes share.

`messages` is the whole conversation (one HumanMessage and one AIMessage per completed turn) and is
what the checkpointer persists across invocations and processes. `trace` holds this turn's rows
only: `analyze` overwrites it at the start of every turn; each answer's route and models are kept
in its AIMessage's `response_metadata`.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict  # pydantic (Studio schemas) needs it before 3.12

from agents.roles.reviewer import Verdict
from agents.roles.team import TraceEntry


class Route(TypedDict, total=False):
    domain: str  # "legal" | "technical" | "general"
    confidence: float
    by: str  # "classifier" | "feedback" | "llm" | "override"
    node: str  # the node that answers: the domain's, or "long_context" when the thread outgrows its model
    thread: str  # why the thread's domain was kept (a follow-up) or left (a change of subject), when it had a say
    swap: str  # why the resident model answers instead of the top domain's (swap-aware routing), when it does


class InputState(TypedDict, total=False):
    question: str
    force_domain: str | None  # skip routing and send the question to this domain
    # LangGraph chat clients send {"messages": [{"role": "user", "content": "..."}]}: the last user message is
    # then the question (see graphs/cooperation.py: incoming_question)
    messages: Annotated[list[AnyMessage], add_messages]


class OutputState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]  # the conversation, for chat clients
    answer: str
    route: Route
    language: str
    turn: int
    trace: Annotated[list[TraceEntry], operator.add]


class State(InputState, OutputState, total=False):
    complexity: str
    draft: str
    plan: dict  # the step policy's plan for this turn (agents/roles/steps.py Plan.as_dict())
    draft_role: str
    draft_finish: str
    review: Verdict | None
    revisions: int
    summaries: Annotated[list[str], operator.add]  # one line per completed turn (agents/roles/context.py)
    started_at: float  # when this turn's analyze ran (epoch seconds): the run's total time for the ledger
    cache: dict | None  # the response cache's key for this turn and, on a hit, the stored answer (memory/cache/)


@dataclass
class Context:
    """Per-run settings (LangGraph's runtime context). `profile`: a name, a TOML path, a Profile or a Team;
    None picks automatically (see agents.models.profiles.resolve)."""

    profile: Any = None
    learn: bool = True  # False: overrides and passed reviews don't teach the router (evaluations)
    cancel: Any = None  # a threading.Event: once set, the run stops at its next token (RunCancelled)
    cache: Any = None  # a memory.cache.ResponseCache: asked before any model runs, fed by integrate
    user: str | None = None  # whose memories the run reads and writes (None: the one local user)
    request_id: str | None = None  # the client's id for this question (Idempotency-Key), kept with the answer
