"""The OpenAI chat API as concilio speaks it: requests, the model catalogue, chunks and errors. Pure: no I/O.

Conventions followed (as the `openai` SDK, LangChain's ChatOpenAI, Open WebUI and LiteLLM expect them):
- `POST /v1/chat/completions` takes `model`, `messages`, `stream`, `max_tokens` (or `max_completion_tokens`),
  `temperature`, `stop` (one model only), `stream_options.include_usage`, `user`; unknown fields are ignored,
  as OpenAI does;
- a stream is `chat.completion.chunk` objects: the role in the first delta, text in `delta.content`, progress in
  `delta.reasoning_content` (shown as the model's thinking by Open WebUI and others), `finish_reason` in the
  last choice, a usage chunk with empty `choices` when asked, then `data: [DONE]`;
- errors are `{"error": {"message", "type", "param", "code"}}` with the HTTP status that names the problem.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

GRAPH_MODEL = "concilio"
DOMAINS = ("legal", "technical", "general")


# --- requests ---------------------------------------------------------------------------------------------------
class RequestError(Exception):
    """A request the server refuses; `status` and `code` say how, the message says why and what to do."""

    def __init__(self, status: int, message: str, *, code: str | None = None, param: str | None = None,
                 kind: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.param = status, code, param
        self.kind = kind or {401: "authentication_error", 429: "rate_limit_error"}.get(
            status, "server_error" if status >= 500 else "invalid_request_error")

    def body(self) -> dict:
        return error_body(str(self), self.kind, code=self.code, param=self.param)


def error_body(message: str, kind: str, *, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        parts = []
        for part in self.content:
            if part.get("type") != "text":
                raise RequestError(400, f"content parts of type {part.get('type')!r} are not supported: send text",
                                   param="messages")
            parts.append(str(part.get("text", "")))
        return "".join(parts)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = Field(min_length=1)
    messages: list[ChatMessage]
    stream: bool = False
    max_tokens: int | None = Field(None, gt=0)
    max_completion_tokens: int | None = Field(None, gt=0)
    temperature: float | None = Field(None, ge=0, le=2)
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None  # up to 4 strings that end the reply, as OpenAI takes them
    user: str | None = None
    thread_id: str | None = None  # concilio's own: the thread to continue (or the X-Concilio-Thread header)

    @field_validator("messages")
    @classmethod
    def _not_empty(cls, value: list[ChatMessage]) -> list[ChatMessage]:
        if not value:
            raise ValueError("messages is empty: send at least one user message")
        return value

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        items = [value] if isinstance(value, str) else value or []
        if len(items) > 4 or any(not s or len(s) > 200 for s in items):
            raise ValueError("stop takes up to 4 non-empty strings of at most 200 characters")
        return value

    @property
    def stops(self) -> tuple[str, ...]:
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())

    @property
    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


def parse_request(body: object) -> ChatRequest:
    """A ChatRequest, or a RequestError(400) that says which field is wrong."""
    if not isinstance(body, dict):
        raise RequestError(400, "the request body must be a JSON object", code="invalid_json")
    try:
        return ChatRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RequestError(400, f"{where}: {first['msg']}", param=where or None) from None


@dataclass(frozen=True)
class Conversation:
    """What a graph run needs from a request: the question (the last user message) and the turns before it."""

    question: str
    history: list[tuple[str, str]]  # (question, answer) pairs, oldest first


def conversation(request: ChatRequest) -> Conversation:
    """The request's messages as a concilio turn. System messages are instructions for a single model and are
    not part of a cooperation thread; the last message must be the user's question."""
    turns = [(m.role, m.text()) for m in request.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user":
        raise RequestError(400, "the last message must be the user's question", param="messages")
    question = turns[-1][1]
    if not question.strip():
        raise RequestError(400, "the last user message is empty: ask something", param="messages")
    history, pending = [], None
    for role, text in turns[:-1]:
        if role == "user":
            pending = text if pending is None else f"{pending}\n{text}"
        elif pending is not None:
            history.append((pending, text))
            pending = None
    return Conversation(question, history)


def single_model_messages(request: ChatRequest) -> list[dict[str, str]]:
    """Messages for one model, as the backends take them (developer → system; tool messages dropped)."""
    out = []
    for m in request.messages:
        if m.role == "tool":
            continue
        out.append({"role": "system" if m.role == "developer" else m.role, "content": m.text()})
    if not any(m["role"] == "user" and m["content"].strip() for m in out):
        raise RequestError(400, "there is no user message with text", param="messages")
    return out


# --- the catalogue ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    kind: Literal["graph", "model"]
    domain: str | None = None  # graph: a forced route (None: routed automatically)
    role: str | None = None  # model: the first role that uses this model


def catalogue(model_roles: list[tuple[str, str]]) -> dict[str, Target]:
    """Model ids the server answers to: the graph (`concilio`, `concilio-<domain>`) and each distinct model of
    the profile by name. `model_roles`: (model name, role) for every role, in the profile's order."""
    ids = {GRAPH_MODEL: Target("graph")}
    ids.update({f"{GRAPH_MODEL}-{d}": Target("graph", domain=d) for d in DOMAINS})
    for name, role in model_roles:
        ids.setdefault(name, Target("model", role=role))
    return ids


def models_list(ids: dict[str, Target], created: int, profile: str) -> dict:
    return {"object": "list", "data": [
        {"id": i, "object": "model", "created": created, "owned_by": "concilio",
         "concilio": {"kind": t.kind, "domain": t.domain, "role": t.role, "profile": profile}}
        for i, t in ids.items()]}


def resolve_target(ids: dict[str, Target], model: str) -> Target:
    target = ids.get(model)
    if target is None:
        raise RequestError(404, f"The model {model!r} does not exist here; GET /v1/models lists: "
                                f"{', '.join(ids)}", code="model_not_found", param="model")
    return target


# --- responses --------------------------------------------------------------------------------------------------
def new_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def usage(trace: list[dict]) -> dict:
    prompt = sum(int(r.get("tokens_in") or 0) for r in trace)
    completion = sum(int(r.get("tokens") or 0) for r in trace)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion(cid: str, model: str, text: str, finish: str, use: dict, extra: dict | None = None) -> dict:
    body = {"id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": finish}], "usage": use}
    if extra:
        body["concilio"] = extra
    return body


def chunk(cid: str, model: str, delta: dict | None = None, *, finish: str | None = None,
          usage_: dict | None = None, extra: dict | None = None) -> dict:
    """One `chat.completion.chunk`. With `usage_` and no delta: the usage chunk (empty choices)."""
    body: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                            "model": model}
    if usage_ is not None and delta is None:
        body["choices"], body["usage"] = [], usage_
    else:
        body["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
    if extra:
        body.update(extra)
    return body


def finish_reason(finish: str) -> str:
    """A backend's finish ("stop", "length", "loop", "cancelled") as OpenAI names it."""
    return "length" if finish in ("length", "loop") else "stop"


def progress_text(event: dict) -> str | None:
    """A progress event as one line of `reasoning_content` (None: not shown, e.g. tokens)."""
    kind = event.get("event")
    if kind == "route":
        return f"route: {event['domain']} (by {event['by']}, {event['confidence']:.2f}), language {event['language']}"
    if kind == "waiting":
        holder = f", held by pid {event['holder_pid']}" if event.get("holder_pid") else ""
        return f"waiting for the GPU slot to load {event.get('model')}{holder}"
    if kind == "loading":
        size = f" ({event['size_mb']} MB)" if event.get("size_mb") else ""
        return f"loading {event['model']}{size}"
    if kind == "loaded":
        return f"loaded {event['model']} in {event['seconds']:.2f} s"
    if kind == "generating":
        return f"{event['node']}: {event['model']} is writing"
    if kind == "verdict":
        issues = f": {'; '.join(event['issues'])}" if event.get("issues") else ""
        return f"review: {event['verdict']}{issues}"
    if kind == "skipped":
        return f"{event['node']} skipped: {event['reason']}"
    if kind == "fallback":
        return f"{event['role']} model {event['model']} unavailable: the orchestrator's model answers"
    return None
