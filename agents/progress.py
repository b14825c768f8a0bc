"""Progress events from agents without LangGraph in agents/: `emit()` sends to whatever sink the caller
set with `reporting()` (the graph sets its stream writer, so events arrive as `stream_mode="custom"`).

Events (dicts with an "event" key): route, waiting, loading, loaded, generating, token, verdict, skipped.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar

Sink = Callable[[dict], None]
_sink: ContextVar[Sink | None] = ContextVar("concilio_progress", default=None)
_cancel: ContextVar[threading.Event | None] = ContextVar("concilio_cancel", default=None)


@contextlib.contextmanager
def reporting(sink: Sink | None) -> Iterator[None]:
    token = _sink.set(sink)
    try:
        yield
    finally:
        _sink.reset(token)


def emit(event: str, **data) -> None:
    sink = _sink.get()
    if sink is not None:
        sink({"event": event, **data})


def active() -> bool:
    return _sink.get() is not None


@contextlib.contextmanager
def cancelling(event: threading.Event | None) -> Iterator[None]:
    """Within the block, setting `event` stops the run at its next token (a client that left, a shutdown)."""
    token = _cancel.set(event)
    try:
        yield
    finally:
        _cancel.reset(token)


def cancelled() -> bool:
    event = _cancel.get()
    return event is not None and event.is_set()
