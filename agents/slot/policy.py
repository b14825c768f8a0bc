"""The GPU slot's decisions, as pure functions: no I/O, no clocks, no logging. Each is tested by tables.

- `Budget`: how much the slot may keep loaded (`single` = the seed's one model at a time; or megabytes),
  and which models are pinned (kept while anything else can go instead);
- `evict_for()`: which resident models to unload before a target is used, least recently used first;
- `place()`: which device a model runs on, given the device asked for and whether it fits the budget;
- `pick_next()`: which waiter gets the slot next (FIFO, or swap-aware with a bound on being passed over);
- `transition()`: a model's lifecycle (stopped → loading → ready → unloading → stopped).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Hashable, Sequence
from dataclasses import dataclass, field

# --- budgets ---


@dataclass(frozen=True)
class Budget:
    """`max_models`: how many models may be loaded at once (None: no count limit); `mb`: the memory they may
    use together (None: no memory limit); `pinned`: model keys evicted only when nothing else is left."""

    max_models: int | None = 1
    mb: float | None = None
    pinned: frozenset = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.max_models is not None and self.max_models < 1:
            raise ValueError("a budget must allow at least one model")
        if self.mb is not None and self.mb <= 0:
            raise ValueError("a memory budget must be positive")

    @property
    def single(self) -> bool:
        return self.max_models == 1

    def describe(self) -> str:
        if self.single:
            return "single"
        parts = [f"{self.mb:.0f} MB" if self.mb is not None else "",
                 f"{self.max_models} models" if self.max_models is not None else ""]
        return " / ".join(p for p in parts if p) or "unlimited"


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mb|m|gb|g|mib|gib)?\s*$", re.IGNORECASE)


def parse_budget(text: str | None, pinned: Collection[Hashable] = ()) -> Budget:
    """`single` (default), `models:N`, or a memory size: `6000`, `6000MB`, `6GB`."""
    text = (text or "single").strip().lower()
    pins = frozenset(pinned)
    if text == "single":
        return Budget(1, None, pins)
    if text.startswith("models:"):
        return Budget(int(text.split(":", 1)[1]), None, pins)
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"slot budget {text!r}: use 'single', 'models:N', or a size such as 6000MB or 6GB")
    size = float(m.group(1)) * (1024 if (m.group(2) or "mb").startswith("g") else 1)
    return Budget(None, size, pins)


def evict_for(target: tuple[Hashable, float], resident: Sequence[tuple[Hashable, float]],
              budget: Budget) -> list[Hashable]:
    """Keys to unload before `target` = (key, MB) is used. `resident` is (key, MB) from least to most recently
    used. Unpinned models go first, LRU first; pinned ones only when that is not enough. A target larger than
    the whole budget evicts everything (it then runs alone, see `place()`)."""
    key, need = target
    if any(k == key for k, _ in resident):
        return []
    order = [r for r in resident if r[0] not in budget.pinned] + [r for r in resident if r[0] in budget.pinned]
    kept = list(resident)
    victims: list[Hashable] = []

    def fits() -> bool:
        if budget.max_models is not None and len(kept) + 1 > budget.max_models:
            return False
        return budget.mb is None or sum(mb for _, mb in kept) + need <= budget.mb

    for victim in order:
        if fits():
            break
        victims.append(victim[0])
        kept.remove(victim)
    return victims


# --- devices ---

CPU_DEVICES = frozenset({"cpu", ""})


def place(device: str, need_mb: float, budget: Budget) -> tuple[str, str]:
    """(device to load on, trace note). A GPU model that can't fit the memory budget runs on the CPU, and the
    note says why; the slot still serialises it like any model. (A GPU that is missing or fails at load is the
    backend's to detect: it falls back to the CPU with its own note.)"""
    if device in CPU_DEVICES:
        return device, ""
    if budget.mb is not None and need_mb > budget.mb:
        return "cpu", f"needs ≈{need_mb:.0f} MB, over the GPU budget of {budget.mb:.0f} MB: running on cpu"
    return device, ""


# --- scheduling ---

POLICIES = ("aware", "fifo")


def pick_next(waiting: Sequence[tuple[Hashable, int]], resident: Collection[Hashable], policy: str = "aware",
              max_passes: int = 16) -> int:
    """Index of the waiter to serve next. `waiting` is (model key, times passed over) in arrival order.

    fifo: the oldest. aware: a waiter passed over `max_passes` times first (fairness), else the oldest waiter
    whose model is already loaded (no swap), else the oldest waiter of the model most waiters need (one swap
    serves them all; ties go to the oldest).
    """
    if not waiting:
        raise ValueError("nobody is waiting")
    if policy == "fifo":
        return 0
    if policy != "aware":
        raise ValueError(f"unknown scheduling policy {policy!r}; use one of {', '.join(POLICIES)}")
    for i, (_, passed) in enumerate(waiting):
        if passed >= max_passes:
            return i
    for i, (key, _) in enumerate(waiting):
        if key in resident:
            return i
    counts: dict[Hashable, int] = {}
    for key, _ in waiting:
        counts[key] = counts.get(key, 0) + 1
    most = max(counts.values())
    return next(i for i, (key, _) in enumerate(waiting) if counts[key] == most)


# --- lifecycle ---

STATES = ("stopped", "loading", "ready", "unloading")
_TRANSITIONS = {
    ("stopped", "load"): "loading",
    ("loading", "loaded"): "ready",
    ("loading", "failed"): "stopped",
    ("ready", "unload"): "unloading",
    ("unloading", "unloaded"): "stopped",
}


class LifecycleError(RuntimeError):
    pass


def transition(state: str, event: str) -> str:
    """The next state of a model, or LifecycleError for an event that makes no sense in `state`."""
    try:
        return _TRANSITIONS[(state, event)]
    except KeyError:
        raise LifecycleError(f"a model that is {state} can't take {event!r}") from None
