"""One small interface every backend implements: messages in, text (or a token stream) out.

A backend subclasses `ChatModel`, names itself in the class attribute `backend`, and implements two
methods: `complete()` and `close()`. Constructing a ChatModel loads the weights, so only the GPU slot
constructs them (see agents/slot/slot.py).

Every subclass's `complete()` receives its messages with chat markers removed from their contents
(agents/backends/markers.py, plus the instance's `control_tokens`): a user can't forge a turn on any
backend, a third-party one included.
"""

from __future__ import annotations

import contextlib
import functools
import re
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import Self, TypedDict  # pydantic (Studio schemas) needs it before 3.12

from agents.backends.markers import neutralize
from agents.errors import BackendError, ContextWindowError

if TYPE_CHECKING:
    from agents.models.profiles import ModelSpec


class BackendOptions(BaseModel):
    """A backend's `options` table, typed. Each backend subclasses it beside its loader; unknown keys are
    refused. `devices` are the `device` values the backend accepts (besides names starting with a prefix in
    `device_prefixes`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    devices: ClassVar[tuple[str, ...]] = ("auto", "cpu", "gpu")
    device_prefixes: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def accepts_device(cls, device: str) -> bool:
        return device in cls.devices or any(device.startswith(p) and device != p for p in cls.device_prefixes)

    @classmethod
    def of(cls, spec: ModelSpec) -> Self:
        """The spec's options, checked (profiles are checked when they load; this catches specs built in code)."""
        try:
            return cls.model_validate(dict(spec.options))
        except ValidationError as exc:
            raise BackendError(f"model {spec.name}: {'; '.join(option_problems(exc))}") from None


def option_problems(exc: ValidationError) -> list[str]:
    """One line per bad option: its name, what is wrong and the value given (never a traceback)."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"unknown option {where!r}")
        elif where:
            lines.append(f"option {where} = {err['input']!r}: {err['msg']}")
        else:
            lines.append(err["msg"].removeprefix("Value error, "))
    return lines


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class GenParams:
    max_tokens: int = 256
    temperature: float = 0.0
    top_k: int = 1
    top_p: float = 1.0
    # 1.0: llama.cpp's repeat penalty also hits the end-of-turn token that sits in the prompt's last
    # tokens, so a penalised small model stops ending its answers. LoopGuard handles repetition instead.
    repeat_penalty: float = 1.0
    repeat_last_n: int = 64
    stop_on_loop: bool = True  # stop a small model that starts repeating itself (see LoopGuard)
    # A JSON schema (as JSON text) the reply must follow. Backends whose `supports_schema` is true constrain
    # decoding to it (llama.cpp grammars, a server's response_format); the others ignore it, so a caller that
    # needs a parseable reply checks `agents.backends.constrains(backend)` first and asks for a fixed format.
    schema: str | None = None
    # Strings that end the reply (OpenAI's `stop`): the text is cut before the first one found, which is never
    # shown, streamed or returned. Applied by the shared driver below, so every backend honours it the same.
    stop: tuple[str, ...] = ()


@dataclass
class Completion:
    text: str
    tokens_in: int
    tokens_out: int
    seconds: float
    finish: str = "stop"  # "stop" (end of turn) | "length" | "loop" | "cancelled"
    first_token_seconds: float | None = None  # from the call to the first piece of text (prompt processing)


TokenCallback = Callable[[str], bool | None]  # return False to stop generating

# What backends send as "text" when the prompt doesn't fit (gpt4all's llmodel, GPT4All's API server).
BACKEND_ERROR_TEXT = re.compile(r"^\s*ERROR: The prompt size exceeds the context window[^\n]*")


class ChatModel(ABC):
    backend: ClassVar[str]
    control_tokens: tuple[str, ...] = ()  # the model's own special tokens (from its GGUF), removed too
    supports_schema: ClassVar[bool] = False  # honours GenParams.schema (constrained decoding)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("complete")
        if own is not None and not getattr(own, "__isabstractmethod__", False):
            cls.complete = _neutralizing(own)  # type: ignore[method-assign]

    @abstractmethod
    def complete(self, messages: Sequence[Message], params: GenParams,
                 on_token: TokenCallback | None = None) -> Completion:
        """Generate the assistant's next message; call `on_token` with each piece of text as it comes."""

    @abstractmethod
    def close(self) -> None:
        """Free the weights (idempotent)."""


def _neutralizing(complete):
    """`complete` called with chat markers removed from the messages' contents (idempotent when nested)."""

    @functools.wraps(complete)
    def wrapper(self, messages, params, on_token=None):
        return complete(self, neutralize(messages, self.control_tokens), params, on_token)

    return wrapper


@dataclass
class LoopGuard:
    """Detects a small model repeating itself: the last `n` words already appeared `times` times.

    `feed()` takes the text so far and says whether to stop; `trimmed()` cuts the repeats off, keeping the
    text before the cut exactly as written (line breaks, indentation, a code block's fence closed again).
    """

    n: int = 6
    times: int = 2
    _cut: int | None = field(default=None, repr=False)

    def feed(self, text: str) -> bool:
        words = text.split()
        if len(words) < self.n * (self.times + 1):
            return False
        tail = words[-self.n:]
        starts = [i for i in range(len(words) - self.n) if words[i:i + self.n] == tail]
        if len(starts) >= self.times:
            self._cut = starts[1]  # keep the text up to the second occurrence of the repeated span
            return True
        return False

    def trimmed(self, text: str) -> str:
        if self._cut is None:
            return text
        starts = [m.start() for m in re.finditer(r"\S+", text)]
        kept = text[: starts[self._cut]].rstrip() if self._cut < len(starts) else text.rstrip()
        if kept.count("```") % 2:  # the cut fell inside a code block: close it, or the rest renders as code
            kept += "\n```"
        return kept


@contextlib.contextmanager
def _ctrl_c_stops(flag: threading.Event) -> Iterator[None]:
    """While a model generates in the main thread with Python's default Ctrl-C handling, Ctrl-C sets `flag`
    (the token callback then stops the model at the next token) instead of raising wherever the signal lands."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    signal.signal(signal.SIGINT, lambda _signum, _frame: flag.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


class StopScan:
    """Where the first stop string starts in a growing text, and how much of it is safe to show before more
    arrives (a tail that could still become a stop string is held back). Pure."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.longest = max((len(s) for s in self.stops), default=0)

    def cut(self, text: str, start: int = 0) -> int | None:
        """Index of the first stop string found at or after `start` (None: none)."""
        found = [i for i in (text.find(s, start) for s in self.stops) if i >= 0]
        return min(found) if found else None

    def safe(self, text: str) -> int:
        """Length of the prefix of `text` no stop string can still begin in."""
        for keep in range(min(self.longest - 1, len(text)), 0, -1):
            tail = text[-keep:]
            if any(s.startswith(tail) for s in self.stops):
                return len(text) - keep
        return len(text)


def timed_completion(generate: Callable[[Callable[[str], bool]], int], params: GenParams,
                     on_token: TokenCallback | None, *, model: str = "the model", window: int | None = None
                     ) -> Completion:
    """Shared driver for backends: runs `generate(callback) -> tokens_in`, applies limits and the loop guard.
    A backend's "prompt too large" text is raised as a ContextWindowError, never returned as an answer."""
    guard = LoopGuard() if params.stop_on_loop else None
    scan = StopScan(params.stop) if params.stop else None
    text, count, finish = [], 0, "stop"
    shown, stopped = 0, False  # with stop strings: how much text on_token has had; a stop string was met
    start = time.perf_counter()
    first: list[float] = []

    interrupted: list[KeyboardInterrupt] = []

    def show(joined: str, upto: int) -> bool:
        nonlocal shown
        piece, shown = joined[shown:upto], max(shown, upto)
        return not piece or on_token is None or on_token(piece) is not False

    def step(piece: str) -> bool:
        nonlocal count, finish, stopped
        if not first:
            first.append(time.perf_counter() - start)
        text.append(piece)
        count += 1
        if scan is not None:
            joined = "".join(text)
            at = scan.cut(joined, max(0, len(joined) - len(piece) - scan.longest))
            if at is not None:
                text[:] = [joined[:at]]
                stopped = True
                if not show(joined, at):
                    finish = "cancelled"
                return False
            if not show(joined, scan.safe(joined)):
                finish = "cancelled"
                return False
        elif on_token is not None and on_token(piece) is False:
            finish = "cancelled"
            return False
        if guard is not None and count % 4 == 0 and guard.feed("".join(text)):
            finish = "loop"
            return False
        if count >= params.max_tokens:
            finish = "length"
            return False
        return True

    ctrl_c = threading.Event()

    def callback(piece: str) -> bool:
        # A KeyboardInterrupt raised in here, or in a C library's Python wrapper around it, would be printed
        # and swallowed by ctypes (gpt4all calls back from C) and the run would go on: stop, re-raise below.
        try:
            return step(piece) and not ctrl_c.is_set()
        except KeyboardInterrupt as exc:
            interrupted.append(exc)
            return False

    with _ctrl_c_stops(ctrl_c):
        tokens_in = generate(callback)
    if interrupted:
        raise interrupted[0]
    if ctrl_c.is_set():
        raise KeyboardInterrupt
    out = "".join(text)
    if scan is not None and not stopped and finish != "cancelled":
        show(out, len(out))  # the held-back tail turned out to be text
    if error := BACKEND_ERROR_TEXT.match(out):
        raise ContextWindowError(model, window, error.group(0))
    if guard is not None and finish == "loop":
        out = guard.trimmed(out)
    return Completion(out.strip(), tokens_in, count, time.perf_counter() - start, finish,
                      round(first[0], 4) if first else None)
