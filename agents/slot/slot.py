"""The GPU slot: the node-level resource lock that decides which models are loaded and who runs next.

In the style of llama-swap, three parts kept apart:
- the decisions (agents/slot/policy.py, pure, tested by tables): what to evict under the budget, which
  device a model runs on, which waiter goes next, and each model's lifecycle state;
- the queue (`Turns`, agents/slot/turns.py): one run holds the slot at a time; on release the next holder is
  picked by policy:
  `aware` (default) serves waiters whose model is already loaded first, but nobody is passed over more than
  `max_passes` times; `fifo` serves arrival order;
- the side effects, here and nowhere else: `ensure_ready()` loads and closes models (agents.backends) and
  `prefetch()` reads the next model's file into the page cache while the current one generates.

`hold(spec)` = wait for a turn + `ensure_ready(spec)`: callers never check state and then act.
Across processes, local models also take the machine-wide guard (agents/slot/guard.py): one process at a
time has local models loaded, and an idle holder gives way to a waiting one.
The budget (CONCILIO_SLOT_BUDGET): `single` (default: the seed's one model on the GPU at a time),
`models:N`, or megabytes (`6000MB`, `6GB`) with each model's need estimated from its GGUF before loading.
One slot per process (`default_slot()`), shared by every graph and thread in it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from agents import progress
from agents.backends import ChatModel, load_model, loads_local_file
from agents.backends.kv_state import held as kv_held
from agents.backends.kv_state import kv_state_note
from agents.errors import SlotConfigError, SlotTimeoutError
from agents.models.profiles import ModelSpec
from agents.settings import settings
from agents.slot.guard import GuardHandle, MachineGuard
from agents.slot.guard import shared as shared_guard
from agents.slot.memory_need import estimate
from agents.slot.policy import POLICIES, Budget, evict_for, parse_budget, place, transition
from agents.slot.prefetch import Prefetcher
from agents.slot.turns import Turns

__all__ = ["GpuSlot", "Lease", "SlotEvent", "default_slot", "evict_for"]
EVENTS_KEPT = 1000


@dataclass
class Lease:
    """What a node got from the slot: the model, and what getting it cost."""

    model: ChatModel
    spec: ModelSpec
    load_seconds: float = 0.0
    unload_seconds: float = 0.0
    swapped: bool = False  # a load happened for this lease
    evicted: list[str] = field(default_factory=list)
    note: str = ""  # e.g. "needs 9000 MB, over the GPU budget: running on cpu"


@dataclass
class SlotEvent:
    kind: str  # "load" | "unload" | "load-failed" | "evict-on-error"
    model: str
    seconds: float


class _Bounded(list):
    """A list that keeps only its last EVENTS_KEPT items (compares and prints as the plain list it is)."""

    def append(self, item) -> None:
        super().append(item)
        if len(self) > EVENTS_KEPT:
            del self[: len(self) - EVENTS_KEPT]


@dataclass
class _Entry:
    spec: ModelSpec
    need_mb: float
    state: str = "stopped"
    model: ChatModel | None = None  # set once loaded: every entry in GpuSlot._entries has one
    note: str = ""
    device: str = ""
    last_used: float = field(default_factory=time.monotonic)


class GpuSlot:
    def __init__(self, budget: Budget | str | None = None, loader: Callable[[ModelSpec], ChatModel] = load_model,
                 timeout: float | None = None, policy: str | None = None, max_passes: int | None = None,
                 prefetch: bool | None = None, guard: GuardHandle | MachineGuard | None | bool = True) -> None:
        try:  # settings are checked here, so a wrong one can't surface later, mid-run, in a hand-over
            s = settings()
            self.budget = budget if isinstance(budget, Budget) else parse_budget(budget or s.slot_budget)
            self.timeout = timeout if timeout is not None else s.slot_timeout
            policy = policy or s.slot_policy
            if policy not in POLICIES:
                raise ValueError(f"unknown scheduling policy {policy!r}; use one of {', '.join(POLICIES)}")
            max_passes = max_passes if max_passes is not None else s.slot_max_passes
        except ValueError as exc:  # a SettingsError is one too
            raise SlotConfigError(f"GPU slot settings: {exc} (see CONCILIO_SLOT_BUDGET, CONCILIO_SLOT_TIMEOUT, "
                                  "CONCILIO_SLOT_POLICY, CONCILIO_SLOT_MAX_PASSES in the README)") from None
        self._loader = loader
        self._turns = Turns(policy, max_passes, lambda: list(self._entries))
        self.prefetcher = Prefetcher() if (prefetch if prefetch is not None else s.prefetch) else None
        self._entries: dict[Hashable, _Entry] = {}  # loaded models, least recently used first
        self.states: dict[str, str] = {}  # model name -> lifecycle state (monitoring; one per model seen)
        self.events: _Bounded[SlotEvent] = _Bounded()  # bounded: a server runs for weeks
        # instrumentation for the invariant "resident <= budget" (checked by the stress tests)
        self.max_resident_seen = 0
        self.max_resident_mb_seen = 0.0
        self.over_budget: _Bounded[list[str]] = _Bounded()
        self.guard = (GuardHandle(shared_guard(runtime_dir()), id(self)) if guard is True else guard) or None
        self._journal = s.slot_journal
        if self._journal is not None:  # a process that ends keeps its models until it is gone: say when
            import atexit

            atexit.register(self._log, "exit", None)
        self._watcher: threading.Thread | None = None
        self._names: dict[Hashable, str] = {}  # model key -> name, for `ps` (one per model seen)

    # --- what is loaded ---

    # Read from other threads (waiters' progress events, metrics scrapes) while the holder changes what is
    # loaded: list() copies the entries in one step, so iterating can't meet a dict that changed size.
    def resident(self) -> list[str]:
        return [e.spec.name for e in list(self._entries.values())]

    def resident_mb(self) -> float:
        return sum(e.need_mb for e in list(self._entries.values()))

    @property
    def waiting(self) -> int:
        """Runs blocked on the slot right now (monitoring)."""
        return len(self._turns.waiters)

    def pin(self, spec: ModelSpec) -> None:
        """Keep `spec` loaded while other models can be evicted instead (needs a budget above `single`)."""
        self.budget = replace(self.budget, pinned=self.budget.pinned | {spec.key})

    def need_mb(self, spec: ModelSpec) -> float:
        return estimate(spec).total_mb  # the GGUF is read once per file version (gguf_file.inspect's cache)

    # --- the lock ---

    @contextlib.contextmanager
    def hold(self, spec: ModelSpec) -> Iterator[Lease]:
        """Hold the slot with `spec` loaded for the duration of the block.

        Waiting past the timeout raises SlotTimeoutError. A load failure or an exception inside the block
        releases the slot; a model that raised while generating is unloaded, since its state can't be trusted.
        """
        start = time.perf_counter()
        self._names[spec.key] = spec.name

        def on_wait(position: int) -> None:
            progress.emit("waiting", model=spec.name, position=position, resident=self.resident(),
                          size_mb=_file_mb(spec))

        try:
            self._turns.acquire(spec.key, self.timeout, on_wait)
        except TimeoutError:
            raise SlotTimeoutError(spec.name, time.perf_counter() - start) from None
        try:
            lease = self.ensure_ready(spec, deadline=start + self.timeout)
            try:
                yield lease
            except BaseException:
                self._unload(spec.key, kind="evict-on-error")
                raise
            if self.guard is not None and self.guard.held and self.guard.others_waiting():
                self._give_way()  # another process waits for the machine: let it in between our runs
        finally:
            self._turns.release()

    def ensure_ready(self, spec: ModelSpec, deadline: float | None = None) -> Lease:
        """Make `spec` loaded and ready, evicting what the budget says. Only the slot's holder may call it."""
        if self._turns.holder != threading.get_ident():
            raise RuntimeError("ensure_ready() needs the slot: use `with slot.hold(spec)`")
        key = spec.key
        need = self.need_mb(spec)
        resident = [(k, e.need_mb) for k, e in self._entries.items()]
        evicted, unload_s = [], 0.0
        for victim in evict_for((key, need), resident, self.budget):
            evicted.append(self._entries[victim].spec.name)
            unload_s += self._unload(victim)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries[key] = self._entries.pop(key)  # now the most recently used
            entry.last_used = time.monotonic()
            return Lease(entry.model, spec, evicted=evicted, unload_seconds=unload_s, note=entry.note)
        if self.guard is not None and loads_local_file(spec.backend):
            self._take_guard(spec, deadline)
        device, note = place(spec.device, need, self.budget)
        entry = _Entry(spec, need, note=note, device=device)
        self._set_state(entry, "load")
        progress.emit("loading", model=spec.name, size_mb=_file_mb(spec), need_mb=round(need, 1), device=device,
                      evicted=evicted)
        t0 = time.perf_counter()
        try:
            entry.model = self._loader(spec if device == spec.device else replace(spec, device=device))
        except BaseException:
            self._set_state(entry, "failed")
            self.events.append(SlotEvent("load-failed", spec.name, time.perf_counter() - t0))
            self._release_guard_if_unused()
            raise
        load_s = time.perf_counter() - t0
        self._set_state(entry, "loaded")
        self._entries[key] = entry
        self._check_budget()
        self.events.append(SlotEvent("load", spec.name, load_s))
        self._log("load", spec)
        progress.emit("loaded", model=spec.name, seconds=round(load_s, 3))
        return Lease(entry.model, spec, load_seconds=load_s, unload_seconds=unload_s, swapped=True,
                     evicted=evicted, note=note)

    def prefetch(self, spec: ModelSpec) -> bool:
        """Start reading `spec`'s file into the page cache in the background, unless it is loaded already or
        lives on a server. Never blocks; True when a read was queued."""
        if self.prefetcher is None or spec.key in self._entries or not loads_local_file(spec.backend):
            return False
        if not spec.path.is_file():
            return False
        queued = self.prefetcher.submit(spec.path)
        if queued:
            progress.emit("prefetch", model=spec.name)
        return queued

    # --- side effects ---

    def _set_state(self, entry: _Entry, event: str) -> None:
        entry.state = transition(entry.state, event)
        self.states[entry.spec.name] = entry.state

    def _check_budget(self) -> None:
        count, mb = len(self._entries), self.resident_mb()
        self.max_resident_seen = max(self.max_resident_seen, count)
        self.max_resident_mb_seen = max(self.max_resident_mb_seen, mb)
        b = self.budget
        over = (b.max_models is not None and count > b.max_models) or (b.mb is not None and mb > b.mb and count > 1)
        if over:  # a lone model bigger than the budget is allowed (it runs alone)
            self.over_budget.append(self.resident())

    def _unload(self, key: Hashable, kind: str = "unload") -> float:
        entry = self._entries.pop(key, None)
        if entry is None:
            return 0.0
        self._set_state(entry, "unload")
        t0 = time.perf_counter()
        try:
            entry.model.close()
        finally:
            seconds = time.perf_counter() - t0
            self._set_state(entry, "unloaded")
            self.events.append(SlotEvent(kind, entry.spec.name, seconds))
            self._log("unload", entry.spec)
            self._release_guard_if_unused()
        return seconds

    def clear(self) -> None:
        """Unload everything (tests, shutdown)."""
        self._turns.acquire(None, self.timeout, lambda _position: None)
        try:
            for key in list(self._entries):
                self._unload(key)
        finally:
            self._turns.release()

    def unload_idle(self, idle_s: float) -> list[str]:
        """Unload unpinned models unused for `idle_s` seconds, if the slot is free now (a server's keep-alive).
        Never waits: a busy slot is left alone and tried again later."""
        if not self._turns.try_acquire():
            return []
        try:
            now, gone = time.monotonic(), []
            for key, entry in list(self._entries.items()):
                if key not in self.budget.pinned and now - entry.last_used >= idle_s:
                    self._unload(key, kind="idle")
                    gone.append(entry.spec.name)
            return gone
        finally:
            self._turns.release()

    def snapshot(self) -> dict:
        """What `concilio ps` shows: resident models, who waits, the budget, the machine-wide guard."""
        now = time.monotonic()
        return {
            "resident": [{"model": e.spec.name, "need_mb": round(e.need_mb, 1), "device": e.device or e.spec.device,
                          "idle_s": round(now - e.last_used, 1), "state": e.state,
                          "pinned": k in self.budget.pinned, "prompt_state": kv_state_note(e.spec.backend)}
                         for k, e in list(self._entries.items())],
            "kept_states": [{"file": Path(key[0]).name, "window": key[3], "states": n, "mb": round(size / 1e6, 1)}
                            for key, (n, size) in kv_held().items()],
            "waiting": [{"model": self._names.get(w.key, "?"), "passed": w.passed} for w in list(self._turns.waiters)],
            "budget": self.budget.describe(),
            "guard": None if self.guard is None else {"held": self.guard.held, "holder": self.guard.holder(),
                                                      "waiting": self.guard.others_waiting()},
        }

    # --- the machine-wide guard ---

    def _take_guard(self, spec: ModelSpec, deadline: float | None) -> None:
        def on_wait(pid: int | None) -> None:
            progress.emit("waiting", model=spec.name, position=1, resident=[], size_mb=_file_mb(spec),
                          holder_pid=pid, machine=True)

        remaining = (deadline - time.perf_counter()) if deadline is not None else self.timeout
        try:
            self.guard.acquire(max(0.0, remaining), on_wait)
        except TimeoutError:
            raise SlotTimeoutError(spec.name, self.timeout) from None
        self._watch_guard()

    def _release_guard_if_unused(self) -> None:
        if self.guard is not None and self.guard.held and not any(
                loads_local_file(e.spec.backend) for e in self._entries.values()):
            self.guard.release(yielded=bool(self.guard.others_waiting()))

    def _give_way(self) -> None:
        """Unload the local models (only the holder calls this), which releases the guard for a waiter."""
        for key, entry in list(self._entries.items()):
            if loads_local_file(entry.spec.backend):
                self._unload(key, kind="give-way")

    def _watch_guard(self) -> None:
        """While we hold the guard, an idle slot gives way to a waiting process within a fraction of a second."""
        if self._watcher is not None and self._watcher.is_alive():
            return

        def watch() -> None:
            while self.guard is not None and self.guard.held:
                time.sleep(0.2)
                if self.guard.others_waiting() and self._turns.try_acquire():
                    try:
                        self._give_way()
                    finally:
                        self._turns.release()

        self._watcher = threading.Thread(target=watch, name="concilio-guard-watch", daemon=True)
        self._watcher.start()

    def _log(self, kind: str, spec: ModelSpec | None) -> None:
        """CONCILIO_SLOT_JOURNAL: one line per load and unload, from every process (the benchmarks' evidence)."""
        if self._journal is None:
            return
        line = json.dumps({"t": time.time(), "pid": os.getpid(), "event": kind, "model": spec and spec.name,
                           "local": spec is None or loads_local_file(spec.backend)})
        with contextlib.suppress(OSError), open(self._journal, "a", encoding="utf-8") as out:
            out.write(line + "\n")


def runtime_dir():
    from agents.paths import runtime_dir as folder

    return folder()


def _file_mb(spec: ModelSpec) -> float | None:
    size = spec.size_bytes()
    return round(size / 2**20, 1) if size else None


_default = None  # GpuSlot | RemoteSlot
_default_lock = threading.Lock()
SERVING = False  # True in `concilio serve`: its slot is the machine's, never a client of itself


def default_slot():
    """The process-wide slot, created on first use (never at import): the resident server's models through a
    RemoteSlot when a server runs (agents/slot/remote.py), else a GpuSlot of this process."""
    global _default
    with _default_lock:
        if _default is None:
            from agents.slot.remote import remote_slot

            _default = (None if SERVING else remote_slot()) or GpuSlot()
        return _default


def use_default(slot) -> None:
    """Make `slot` the process's slot (the server: every team in it shares the one slot it owns)."""
    global _default
    with _default_lock:
        _default = slot

