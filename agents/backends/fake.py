"""A deterministic scripted model, registered like any backend, for what a real model can't make
reproducible: lock races, load failures, mid-generation crashes, slow loads.

Knobs come from the model spec's `options` (`FakeOptions`; a TOML profile can use them too):
  load_seconds, fail_load ("message"), fail_after_tokens (int), reply ("text" or "echo"), tokens_per_second,
  kill_process_on_load (SIGKILL this process when the model loads: a crash between two graph nodes).
Every instance is recorded in `FakeChatModel.events` (load/close/complete, in order) so tests can
check what the slot did.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from agents.backends.base import (
    BackendOptions,
    ChatModel,
    Completion,
    GenParams,
    Message,
    TokenCallback,
    timed_completion,
)

if TYPE_CHECKING:
    from agents.models.profiles import ModelSpec


class FakeModelError(RuntimeError):
    pass


class FakeOptions(BackendOptions):
    load_seconds: float = Field(0.0, ge=0)
    fail_load: str | None = None  # the load fails with this message
    fail_after_tokens: int | None = Field(None, ge=0)
    reply: str = "echo"  # "echo": the last message, prefixed with the model's name
    tokens_per_second: float | None = Field(None, gt=0)
    kill_process_on_load: bool = False
    size_mb: float = Field(0.0, ge=0)  # what the slot counts for it (it has no file)


class FakeChatModel(ChatModel):
    backend = "fake"
    events: ClassVar[list[tuple[str, str]]] = []
    calls: ClassVar[list[tuple[str, list[Message]]]] = []  # (model name, messages it was given)
    _events_lock: ClassVar[threading.Lock] = threading.Lock()
    # scripted replies by role marker, consumed in order: FakeChatModel.enqueue("text")
    _queue: ClassVar[list[str]] = []

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.device = "cpu"
        self.note = ""
        opts = FakeOptions.of(spec)
        self._record("load-start")
        if opts.kill_process_on_load:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(opts.load_seconds)
        if opts.fail_load:
            self._record("load-failed")
            raise FakeModelError(opts.fail_load)
        self.opts = opts
        self.closed = False
        self._record("loaded")

    @classmethod
    def enqueue(cls, *replies: str) -> None:
        cls._queue.extend(replies)

    @classmethod
    def reset(cls) -> None:
        with cls._events_lock:
            cls.events.clear()
            cls.calls.clear()
            cls._queue.clear()

    def _record(self, what: str) -> None:
        with self._events_lock:
            self.events.append((what, self.spec.name))

    def complete(self, messages: Sequence[Message], params: GenParams,
                 on_token: TokenCallback | None = None) -> Completion:
        if self.closed:
            raise RuntimeError(f"{self.spec.name} is closed")
        self._record("complete")
        with self._events_lock:
            self.calls.append((self.spec.name, [dict(m) for m in messages]))
            scripted = self._queue.pop(0) if self._queue else None
        reply = scripted if scripted is not None else self.opts.reply
        if reply == "echo":
            reply = f"[{self.spec.name}] " + messages[-1]["content"]
        fail_after = self.opts.fail_after_tokens
        delay = 1.0 / self.opts.tokens_per_second if self.opts.tokens_per_second else 0.0

        def generate(callback) -> int:
            for i, word in enumerate(reply.split(" ")):
                if fail_after is not None and i >= fail_after:
                    raise FakeModelError(f"{self.spec.name} crashed after {i} tokens")
                if delay:
                    time.sleep(delay)
                if not callback(word if i == 0 else " " + word):
                    break
            return sum(len(m["content"].split()) for m in messages)

        return timed_completion(generate, params, on_token)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._record("closed")


def load(spec: ModelSpec) -> FakeChatModel:
    return FakeChatModel(spec)
