"""Model calls as LangChain chat-model runs, so LangGraph streams their tokens in stream_mode="messages".

gpt4all's LangChain wrapper is a text LLM whose tokens LangGraph doesn't forward, and the agents call
`Team.call` directly. `StreamingTeam` keeps that interface but runs each call through `TeamChatModel`,
a `BaseChatModel` that reports every token as a `ChatGenerationChunk`, with the node's config, so a
client sees (AIMessageChunk, {"langgraph_node": ...}) pairs as the model writes.

Each call is tagged with what its text is, so a chat client (Studio, langgraph-sdk) can hide what isn't the
answer: `concilio:route` (the orchestrator choosing a domain) and `concilio:review` (the reviewer's verdict)
are never shown to the user; `concilio:draft` (a specialist's answer) is the answer unless a later
`concilio:final` (integrate's rewrite) replaces it. The same word is in the run's metadata as `concilio_step`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from agents.backends import Message
from agents.roles.team import Reply, Team

_TO_LC = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
STEPS = {"analyze": "route", "review": "review", "integrate": "final"}  # any other node writes a draft


def step_of(node: str) -> str:
    return STEPS.get(node, "draft")
_FROM_LC = {"system": "system", "human": "user", "ai": "assistant"}


class TeamChatModel(BaseChatModel):
    """One role of a Team as a LangChain chat model (a single call: node, role and limits fixed)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    team: Any
    node: str
    role: str
    call_kwargs: dict = {}
    on_token: Any = None

    @property
    def _llm_type(self) -> str:
        return "concilio-team"

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs) -> ChatResult:
        def on_token(piece: str):
            if run_manager is not None:
                run_manager.on_llm_new_token(piece, chunk=ChatGenerationChunk(message=AIMessageChunk(content=piece)))
            return self.on_token(piece) if self.on_token is not None else None

        plain: list[Message] = [{"role": _FROM_LC[m.type], "content": str(m.content)} for m in messages]
        reply = self.team.call(self.node, self.role, plain, on_token=on_token, **self.call_kwargs)
        message = AIMessage(reply.text, response_metadata={"finish": reply.finish, "trace": dict(reply.trace)})
        return ChatResult(generations=[ChatGeneration(message=message)])


class StreamingTeam:
    """A Team whose calls run as chat-model invocations under `config` (a node's RunnableConfig)."""

    def __init__(self, team: Team, config: dict) -> None:
        self.team = team
        self.config = config
        self.profile = team.profile
        self.slot = team.slot

    def role(self, role: str):
        return self.team.role(role)

    def prefetch(self, *roles: str) -> None:
        self.team.prefetch(*roles)

    def call(self, node: str, role: str, messages: Sequence[Message], *, max_tokens: int,
             on_token=None, **params) -> Reply:
        model = TeamChatModel(team=self.team, node=node, role=role, on_token=on_token,
                              call_kwargs={"max_tokens": max_tokens, **params})
        lc = [_TO_LC[m["role"]](m["content"]) for m in messages]
        step = step_of(node)
        config = {**self.config, "tags": [*self.config.get("tags", []), f"concilio:{step}"],
                  "metadata": {**self.config.get("metadata", {}), "concilio_step": step}}
        result = model.invoke(lc, config)
        return Reply(str(result.content), result.response_metadata["finish"], result.response_metadata["trace"])
