"""OpenAI-compatible servers (`/v1/chat/completions`, streamed): Ollama, llama.cpp's server, vLLM, GPT4All's
API server, llama-cpp-python's server (httpx, with httpx-sse reading the stream).

    [roles.legal]
    backend = "openai"
    name = "phi3:mini"                                   # the model's name on the server
    options = { base_url = "http://127.0.0.1:11434/v1", flavor = "ollama", timeout = 60, retries = 2 }
    # several servers for one role, used in turn:  options = { endpoints = ["http://a:8080/v1", "http://b:8080/v1"] }
    # a key, read from the environment:            options = { ..., api_key_env = "VLLM_API_KEY" }

Loading checks the servers' health (`GET /models`). `timeout` bounds how long concilio waits for a server,
across all attempts: to connect, for the first token, and between tokens. A server that refuses, answers
5xx, hangs or sends something that isn't the expected JSON is retried (`retries` more attempts, taking the
next endpoint) and then skipped for `cooldown` seconds, and probed before it is used again. A stream that
breaks after the first token is not retried (the tokens have gone out); every failure raises
`BackendUnavailable`, naming the server and what it did, and the role then falls back to the orchestrator.
With `flavor = "ollama"`, unloading the model in the slot tells Ollama to free it too (`keep_alive: 0`),
so "one model on the GPU" holds for a server you run.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import httpx
from httpx_sse import SSEError, connect_sse
from pydantic import Field, model_validator

from agents.backends.base import (
    BackendOptions,
    ChatModel,
    Completion,
    GenParams,
    Message,
    TokenCallback,
    timed_completion,
)
from agents.errors import BackendError, BackendUnavailable

if TYPE_CHECKING:
    from agents.models.profiles import ModelSpec

log = logging.getLogger(__name__)
PROBE_SECONDS = 5.0

_down_until: dict[str, float] = {}  # endpoint → monotonic time until which it is skipped (process-wide)
_rotation: dict[tuple[str, ...], int] = {}
_state_lock = threading.Lock()


class _Retry(Exception):
    """A failure worth another attempt (another endpoint, or the same one again)."""


def endpoint_order(endpoints: Sequence[str], start: int, down_until: dict[str, float], now: float) -> list[str]:
    """Endpoints in turn from `start`; those marked down go last, soonest-back first. Pure."""
    n = len(endpoints)
    rotated = [endpoints[(start + i) % n] for i in range(n)]
    up = [e for e in rotated if down_until.get(e, 0.0) <= now]
    down = sorted((e for e in rotated if down_until.get(e, 0.0) > now), key=lambda e: down_until[e])
    return up + down


def attempt_plan(order: Sequence[str], retries: int) -> list[str]:
    """The endpoints to try, in order: `retries + 1` attempts going round `order`. Pure."""
    return [order[i % len(order)] for i in range(retries + 1)] if order else []


class OpenAIOptions(BackendOptions):
    """Where the server is and how long to wait for it. The server decides the device."""

    base_url: str | None = None
    endpoints: tuple[str, ...] | str = ()  # several servers for one role, used in turn
    model: str | None = None  # the model's name on the server (default: the role's `name`)
    flavor: Literal["openai", "ollama"] = "openai"
    timeout: float = Field(60.0, gt=0)  # seconds, across every attempt
    retries: int = Field(2, ge=0, le=20)
    cooldown: float = Field(30.0, ge=0)  # seconds a failing server is skipped
    api_key_env: str | None = None  # the environment variable holding the key
    size_mb: float = Field(0.0, ge=0)  # what the slot counts for the model (it runs elsewhere)

    @model_validator(mode="after")
    def _needs_a_server(self) -> OpenAIOptions:
        if not self.urls():
            raise ValueError("backend 'openai' needs options.base_url or options.endpoints")
        return self

    def urls(self) -> list[str]:
        endpoints = self.endpoints or ((self.base_url,) if self.base_url else ())
        return [str(e).rstrip("/") for e in ((endpoints,) if isinstance(endpoints, str) else endpoints)]


def structured(schema: str | None, flavor: str) -> dict:
    """The request fields that constrain a reply to a JSON schema (pure): OpenAI's `response_format`
    json_schema, which llama-cpp-python's server, vLLM and Ollama's /v1 accept; for Ollama also its own
    `format` (the schema itself), which its native API reads."""
    if not schema:
        return {}
    parsed = json.loads(schema)
    body: dict = {"response_format": {"type": "json_schema",
                                      "json_schema": {"name": "reply", "schema": parsed, "strict": True}}}
    if flavor == "ollama":
        body["format"] = parsed
    return body


class OpenAICompatibleModel(ChatModel):
    backend = "openai"
    supports_schema = True

    def __init__(self, spec: ModelSpec) -> None:
        opts = OpenAIOptions.of(spec)
        self.spec = spec
        self.endpoints: list[str] = opts.urls()
        self.model = opts.model or spec.name
        self.flavor = opts.flavor
        self.timeout = opts.timeout
        self.retries = opts.retries
        self.cooldown = opts.cooldown
        key = os.environ.get(opts.api_key_env, "") if opts.api_key_env else ""
        self._client = httpx.Client(headers={"Authorization": f"Bearer {key}"} if key else {})
        self.note = ""
        healthy, problems = [], []
        for url in self.endpoints:
            problem = self._probe(url, min(PROBE_SECONDS, self.timeout))
            (problems.append(f"{url}: {problem}") if problem else healthy.append(url))
        if not healthy:
            self._client.close()
            raise BackendUnavailable(f"model {self.model}: no server answers ({'; '.join(problems)})")
        if problems:
            self.note = f"skipping {'; '.join(problems)}"

    # --- health -------------------------------------------------------------------------------------------
    def _probe(self, url: str, seconds: float) -> str | None:
        """None when the server answers GET /models with 200, else what went wrong (and it is marked down)."""
        try:
            response = self._client.get(f"{url}/models", timeout=seconds)
            problem = None if response.status_code == 200 else f"HTTP {response.status_code}"
        except httpx.TimeoutException:
            problem = f"no answer in {seconds:.0f} s"
        except httpx.HTTPError as exc:
            problem = _describe(exc)
        if problem:
            self._mark_down(url)
        else:
            with _state_lock:
                _down_until.pop(url, None)
        return problem

    def _mark_down(self, url: str) -> None:
        """Skip `url` for `cooldown` seconds (every model of this process that uses it)."""
        with _state_lock:
            _down_until[url] = time.monotonic() + self.cooldown

    def _order(self) -> list[str]:
        key = tuple(self.endpoints)
        with _state_lock:
            start = _rotation.get(key, 0)
            _rotation[key] = start + 1
            return endpoint_order(self.endpoints, start, dict(_down_until), time.monotonic())

    # --- generation -----------------------------------------------------------------------------------------
    def complete(self, messages: Sequence[Message], params: GenParams,
                 on_token: TokenCallback | None = None) -> Completion:
        deadline = time.monotonic() + self.timeout
        problems = []
        for i, url in enumerate(attempt_plan(self._order(), self.retries)):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if i and problems:
                time.sleep(min(0.2 * 2 ** (i - 1), remaining / 4))  # a short back-off between attempts
            if _down_until.get(url, 0.0) and (problem := self._probe(url, min(PROBE_SECONDS, remaining))):
                problems.append(f"{url}: {problem}")
                continue
            try:
                return self._complete_at(url, messages, params, on_token, deadline)
            except _Retry as exc:
                problems.append(f"{url}: {exc}")
                self._mark_down(url)
        waited = self.timeout - max(0.0, deadline - time.monotonic())
        raise BackendUnavailable(f"model {self.model}: no answer after {len(problems)} attempt(s) in {waited:.1f} s "
                                 f"(timeout {self.timeout:g} s): {'; '.join(problems) or 'out of time'}")

    def _complete_at(self, url: str, messages: Sequence[Message], params: GenParams,
                     on_token: TokenCallback | None, deadline: float) -> Completion:
        produced = 0
        body = {"model": self.model, "messages": list(messages), "max_tokens": params.max_tokens,
                "temperature": params.temperature, "top_p": params.top_p, "stream": True,
                **structured(params.schema, self.flavor), **({"stop": list(params.stop)} if params.stop else {})}

        def generate(callback) -> int:
            nonlocal produced
            remaining = max(0.1, deadline - time.monotonic())
            timeout = httpx.Timeout(remaining, connect=min(remaining, PROBE_SECONDS))
            with connect_sse(self._client, "POST", f"{url}/chat/completions", json=body, timeout=timeout) as source:
                response = source.response
                if response.status_code >= 400:
                    response.read()
                    detail = response.text[:200].strip()
                    if response.status_code >= 500 or response.status_code == 429:
                        raise _Retry(f"HTTP {response.status_code} {detail}".strip())
                    raise BackendUnavailable(f"model {self.model} at {url} refused the request: HTTP "
                                             f"{response.status_code} {detail}")
                finished = False
                for event in source.iter_sse():
                    if event.data.strip() == "[DONE]":
                        finished = True
                        break
                    choice = (json.loads(event.data).get("choices") or [{}])[0]
                    piece = (choice.get("delta") or {}).get("content")
                    finished = finished or bool(choice.get("finish_reason"))
                    if piece:
                        produced += 1
                        if not callback(piece):
                            finished = True
                            break
                if not finished:  # a stream must end with [DONE] or a finish reason: this one was cut
                    raise httpx.RemoteProtocolError("the stream ended before the answer did")
            return 0  # servers report prompt tokens only at the end, and not all of them

        try:
            return timed_completion(generate, params, on_token)
        except (_Retry, BackendError):
            if produced:
                raise BackendUnavailable(f"model {self.model} at {url} failed after {produced} tokens") from None
            raise
        except (httpx.HTTPError, SSEError, ValueError, AttributeError, TypeError) as exc:
            what = "sent an invalid response" if isinstance(exc, (SSEError, ValueError, AttributeError,
                                                                     TypeError)) else _describe(exc)
            if produced:  # the answer was streaming: retrying would repeat what went out
                raise BackendUnavailable(f"model {self.model} at {url} stopped mid-answer after {produced} "
                                         f"tokens ({what})") from None
            raise _Retry(what) from None

    def close(self) -> None:
        if self.flavor == "ollama":  # free the server's GPU too: the slot's rule holds on the server
            for url in self.endpoints:
                root = url.removesuffix("/v1")
                try:
                    self._client.post(f"{root}/api/generate", json={"model": self.model, "keep_alive": 0},
                                      timeout=PROBE_SECONDS)
                except httpx.HTTPError as exc:
                    log.info("ollama at %s: unload of %s failed (%s)", root, self.model, _describe(exc))
        self._client.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or unreachable"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the connection broke: {exc}"
    return f"{type(exc).__name__}: {exc}"


def load(spec: ModelSpec) -> OpenAICompatibleModel:
    return OpenAICompatibleModel(spec)
