"""The GPU slot: a node-level resource lock that keeps at most `capacity` models loaded (1 = the seed's
"one model on the GPU at a time").

Three parts, kept apart:
- `evict_for()`: the pure eviction decision (no I/O, no logging), tested by tables;
- `GpuSlot.hold()`: the lock a node holds while its model generates; it applies the decision, loads the
  model the node needs (a model already resident costs nothing) and records what that cost;
- the side effects themselves (loading, closing) come from agents.backends.

One slot per process (`default_slot()`), shared by every graph and thread in it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field

from agents import progress
from agents.backends import ChatModel, load_model
from agents.errors import SlotTimeoutError
from agents.models import ModelSpec


def evict_for(target: Hashable, resident: Sequence[Hashable], capacity: int = 1) -> list[Hashable]:
    """Which resident models must be unloaded before `target` is used, least recently used first.

    `resident` is ordered from least to most recently used. Pure: no I/O, no logging.
    """
    if capacity < 1:
        raise ValueError("capacity must be at least 1")
    if target in resident:
        return []
    overflow = len(resident) + 1 - capacity
    return list(resident[:overflow]) if overflow > 0 else []


@dataclass
class Lease:
    """What a node got from the slot: the model, and what getting it cost."""

    model: ChatModel
    spec: ModelSpec
    load_seconds: float = 0.0
    unload_seconds: float = 0.0
    waited_seconds: float = 0.0
    swapped: bool = False  # a load happened for this lease
    evicted: list[str] = field(default_factory=list)


@dataclass
class SlotEvent:
    kind: str  # "load" | "unload" | "load-failed" | "evict-on-error"
    model: str
    seconds: float


class GpuSlot:
    def __init__(self, capacity: int = 1, loader: Callable[[ModelSpec], ChatModel] = load_model,
                 timeout: float | None = None) -> None:
        self.capacity = capacity
        self._loader = loader
        self._lock = threading.Lock()
        self._resident: dict[Hashable, tuple[ModelSpec, ChatModel]] = {}  # insertion order = LRU order
        self.timeout = timeout if timeout is not None else float(os.environ.get("CONCILIO_SLOT_TIMEOUT", "600"))
        self.events: list[SlotEvent] = []
        self.max_resident_seen = 0  # instrumentation for the invariant "resident <= capacity"
        self.waiting = 0  # runs blocked on the slot right now (monitoring)
        self._count_lock = threading.Lock()

    def resident(self) -> list[str]:
        return [spec.name for spec, _ in self._resident.values()]

    @contextlib.contextmanager
    def hold(self, spec: ModelSpec) -> Iterator[Lease]:
        """Hold the slot with `spec` loaded for the duration of the block.

        A load failure or an exception inside the block releases the slot; a model that raised while
        generating is unloaded, since its state can't be trusted.
        """
        start = time.perf_counter()
        if not self._lock.acquire(blocking=False):
            progress.emit("waiting", model=spec.name, resident=self.resident())
            with self._count_lock:
                self.waiting += 1
            try:
                acquired = self._lock.acquire(timeout=self.timeout)
            finally:
                with self._count_lock:
                    self.waiting -= 1
            if not acquired:
                raise SlotTimeoutError(spec.name, time.perf_counter() - start)
        try:
            lease = self._ensure(spec)
            lease.waited_seconds = time.perf_counter() - start - lease.load_seconds - lease.unload_seconds
            try:
                yield lease
            except BaseException:
                self._unload(spec.key, kind="evict-on-error")
                raise
        finally:
            self._lock.release()

    def _ensure(self, spec: ModelSpec) -> Lease:
        key = spec.key
        evicted, unload_s = [], 0.0
        for victim in evict_for(key, list(self._resident), self.capacity):
            evicted.append(self._resident[victim][0].name)
            unload_s += self._unload(victim)
        if key in self._resident:
            self._resident[key] = self._resident.pop(key)  # most recently used
            return Lease(self._resident[key][1], spec, evicted=evicted, unload_seconds=unload_s)
        size = spec.size_bytes()
        progress.emit("loading", model=spec.name, size_mb=round(size / 2**20, 1) if size else None,
                      evicted=evicted)
        t0 = time.perf_counter()
        try:
            model = self._loader(spec)
        except BaseException:
            self.events.append(SlotEvent("load-failed", spec.name, time.perf_counter() - t0))
            raise
        load_s = time.perf_counter() - t0
        self._resident[key] = (spec, model)
        self.max_resident_seen = max(self.max_resident_seen, len(self._resident))
        self.events.append(SlotEvent("load", spec.name, load_s))
        progress.emit("loaded", model=spec.name, seconds=round(load_s, 3))
        return Lease(model, spec, load_seconds=load_s, unload_seconds=unload_s, swapped=True, evicted=evicted)

    def _unload(self, key: Hashable, kind: str = "unload") -> float:
        entry = self._resident.pop(key, None)
        if entry is None:
            return 0.0
        t0 = time.perf_counter()
        try:
            entry[1].close()
        finally:
            seconds = time.perf_counter() - t0
            self.events.append(SlotEvent(kind, entry[0].name, seconds))
        return seconds

    def clear(self) -> None:
        """Unload everything (tests, shutdown)."""
        with self._lock:
            for key in list(self._resident):
                self._unload(key)


_default: GpuSlot | None = None
_default_lock = threading.Lock()


def default_slot() -> GpuSlot:
    """The process-wide slot, created on first use (never at import)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = GpuSlot(capacity=int(os.environ.get("CONCILIO_SLOT_CAPACITY", "1")))
        return _default
