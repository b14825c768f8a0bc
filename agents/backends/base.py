"""One small interface every backend implements: messages in, text (or a token stream) out.

A backend subclasses `ChatModel`, declares its capabilities as class attributes, and implements two
methods: `complete()` and `close()`. Constructing a ChatModel loads the weights, so only the GPU slot
constructs them (see agents/slot/slot.py).
"""

from __future__ import annotations

import contextlib
import queue
import re
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from typing_extensions import TypedDict  # pydantic (Studio schemas) needs it before 3.12


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


@dataclass
class Completion:
    text: str
    tokens_in: int
    tokens_out: int
    seconds: float
    finish: str = "stop"  # "stop" (end of turn) | "length" | "loop" | "cancelled"


TokenCallback = Callable[[str], bool | None]  # return False to stop generating


class ChatModel(ABC):
    backend: ClassVar[str]
    can_stream: ClassVar[bool] = True
    supports_gpu: ClassVar[bool] = False

    @abstractmethod
    def complete(self, messages: Sequence[Message], params: GenParams,
                 on_token: TokenCallback | None = None) -> Completion:
        """Generate the assistant's next message; call `on_token` with each piece of text as it comes."""

    @abstractmethod
    def close(self) -> None:
        """Free the weights (idempotent)."""

    def stream(self, messages: Sequence[Message], params: GenParams) -> Iterator[str]:
        """Token stream built on `complete()`; an exception in the model is re-raised in the consumer."""
        pieces: queue.Queue[object] = queue.Queue()
        done = object()
        cancelled = threading.Event()

        def run() -> None:
            try:
                self.complete(messages, params, lambda tok: (pieces.put(tok), not cancelled.is_set())[1])
                pieces.put(done)
            except BaseException as exc:  # handed to the consumer thread
                pieces.put(exc)

        worker = threading.Thread(target=run, daemon=True, name=f"{self.backend}-stream")
        worker.start()
        try:
            while (item := pieces.get()) is not done:
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            cancelled.set()
            worker.join()


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


def timed_completion(generate: Callable[[Callable[[str], bool]], int], params: GenParams,
                     on_token: TokenCallback | None) -> Completion:
    """Shared driver for backends: runs `generate(callback) -> tokens_in`, applies limits and the loop guard."""
    guard = LoopGuard() if params.stop_on_loop else None
    text, count, finish = [], 0, "stop"
    start = time.perf_counter()

    interrupted: list[KeyboardInterrupt] = []

    def step(piece: str) -> bool:
        nonlocal count, finish
        text.append(piece)
        count += 1
        if on_token is not None and on_token(piece) is False:
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
    if guard is not None and finish == "loop":
        out = guard.trimmed(out)
    return Completion(out.strip(), tokens_in, count, time.perf_counter() - start, finish)
