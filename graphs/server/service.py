"""What `concilio serve` owns: the one slot of the machine, the team, the router, the runs in flight.

The HTTP layer (graphs/server/app.py) only translates; everything that happens to models happens here, in worker
threads (inference blocks), one run per request:
- a graph run: a turn of the cooperation graph on a stored thread (X-Concilio-Thread) or on a thread that lives
  only for the request (seeded from the request's earlier messages);
- a model run: one model of the profile called through the same slot, as llama-swap serves a model.
Admission is bounded (`max_queue` runs in flight, then 429); a shutdown cancels every run at its next token
(its client gets an error, nothing half-written is stored) and unloads the models. Idle models are unloaded
after the keep-alive. A changed config file is picked up by the next request (or refused, keeping the old).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from agents import progress
from agents.errors import ConcilioError
from agents.models.profiles import resolve
from agents.paths import config_file
from agents.roles.team import Team
from agents.settings import settings
from agents.slot import slot as slot_mod
from agents.slot.slot import GpuSlot
from graphs.server.wire import ChatRequest, Conversation, RequestError, Target, catalogue

log = logging.getLogger("concilio.serve")


@dataclass
class Run:
    id: str
    model: str
    thread: str | None
    user: str | None = None  # the request's `user`: its threads and memories are that user's own
    started: float = field(default_factory=time.time)
    cancel: threading.Event = field(default_factory=threading.Event)
    state: str = "running"
    cache: bool | None = None  # False: the client sent Cache-Control: no-cache (None: CONCILIO_CACHE decides)
    request_id: str | None = None  # the client's Idempotency-Key: a retry on a stored thread is answered from it


class Service:
    def __init__(self, profile: str | None = None, *, max_queue: int = 32, keep_alive: float | None = None,
                 slot: GpuSlot | None = None) -> None:
        from agents.routing import store as router_store
        from graphs.api import preflight

        slot_mod.SERVING = True
        self.slot = slot or GpuSlot()
        slot_mod.use_default(self.slot)  # every team in this process shares the machine's slot
        self.profile_name = profile
        self.team = Team(resolve(profile), self.slot)
        preflight(self.team)
        self._config_stamp = _stamp()
        self.ids = self._catalogue()
        router_store.current()  # fitted or read once, now, not on the first question
        self.max_queue, self.keep_alive = max_queue, settings().keep_alive if keep_alive is None else keep_alive
        self.runs: dict[str, Run] = {}
        self._lock = threading.Lock()
        self.closing = threading.Event()
        self.started = time.time()
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=max_queue, thread_name_prefix="concilio-run")
        self._reaper = threading.Thread(target=self._reap, name="concilio-keep-alive", daemon=True)
        self._reaper.start()

    # --- the profile ---
    def _catalogue(self) -> dict[str, Target]:
        return catalogue([(r.model.name, r.role) for r in self.team.profile.roles])

    def model_paths(self) -> dict[str, str | None]:
        from agents.backends import loads_local_file

        return {r.model.name: (str(r.model.path) if loads_local_file(r.model.backend) else None)
                for r in self.team.profile.roles}

    def refresh(self) -> None:
        """A config file changed since the profile was read: read it again, or keep the old with a warning."""
        stamp = _stamp()
        if stamp == self._config_stamp:
            return
        self._config_stamp = stamp
        try:
            from graphs.api import preflight

            team = Team(resolve(self.profile_name), self.slot)
            preflight(team)
        except ConcilioError as exc:
            log.warning("config changed but can't be used (%s): still serving profile %s", exc,
                        self.team.profile.name)
            return
        self.team, self.ids = team, None
        self.ids = self._catalogue()
        log.info("config changed: now serving profile %s", team.profile.name)

    # --- admission ---
    def admit(self, model: str, thread: str | None, user: str | None = None) -> Run:
        if self.closing.is_set():
            raise RequestError(503, "the server is shutting down; retry in a moment", code="shutting_down")
        with self._lock:
            if len(self.runs) >= self.max_queue:
                raise RequestError(429, f"{len(self.runs)} runs are in flight (the limit is {self.max_queue}); "
                                        "retry shortly", code="queue_full")
            if thread is not None and any((r.thread, r.user) == (thread, user) for r in self.runs.values()):
                raise RequestError(409, f"thread {thread} has a turn in flight; wait for it, then ask again",
                                   code="thread_busy")
            run = Run("run-" + uuid.uuid4().hex[:10], model, thread, user)
            self.runs[run.id] = run
        return run

    def done(self, run: Run) -> None:
        with self._lock:
            self.runs.pop(run.id, None)

    # --- the work (in worker threads) ---
    def run_graph(self, run: Run, target: Target, conv: Conversation,
                  on_event: Callable[[dict], None] | None) -> dict:
        from graphs.api import run_turn

        if run.thread is not None:
            return run_turn(conv.question, team=self.team, thread_id=run.thread, history=conv.history,
                            force_domain=target.domain, on_event=on_event, cancel=run.cancel, cache=run.cache,
                            user=run.user, request_id=run.request_id)
        from langgraph.checkpoint.memory import InMemorySaver

        result = run_turn(conv.question, team=self.team, thread_id=run.id, history=conv.history,
                          force_domain=target.domain, on_event=on_event, cancel=run.cancel, saver=InMemorySaver(),
                          cache=run.cache, user=run.user)
        return {**result, "thread_id": None}

    def run_model(self, run: Run, target: Target, request: ChatRequest, messages: list[dict],
                  on_event: Callable[[dict], None] | None) -> dict:
        params = {"temperature": request.temperature} if request.temperature is not None else {}
        if request.stops:
            params["stop"] = request.stops
        with progress.reporting(on_event), progress.cancelling(run.cancel):
            reply = self.team.call("api", target.role, messages, max_tokens=request.token_limit or 512,
                                   **params)
        return {"text": reply.text, "finish": reply.finish, "trace_row": dict(reply.trace)}

    # --- housekeeping ---
    def _reap(self) -> None:
        while not self.closing.wait(min(5.0, max(0.5, self.keep_alive / 4))):
            with contextlib.suppress(Exception):
                gone = self.slot.unload_idle(self.keep_alive)
                if gone:
                    log.info("unloaded %s (idle for %.0f s)", ", ".join(gone), self.keep_alive)

    def ps(self) -> dict:
        now = time.time()
        return {"pid": os.getpid(), "profile": self.team.profile.name, "uptime_s": round(now - self.started, 1),
                "keep_alive_s": self.keep_alive, "slot": self.slot.snapshot(),
                "runs": [{"id": r.id, "model": r.model, "thread": r.thread, "seconds": round(now - r.started, 1),
                          "state": r.state} for r in list(self.runs.values())]}

    def shutdown(self, wait_s: float = 10.0) -> None:
        """Stop: refuse new runs, cancel those in flight at their next token, unload every model."""
        self.closing.set()
        for run in list(self.runs.values()):
            run.state = "cancelled"
            run.cancel.set()
        deadline = time.monotonic() + wait_s
        while self.runs and time.monotonic() < deadline:
            time.sleep(0.05)
        self.pool.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            self.slot.clear()
        slot_mod.SERVING = False


def _stamp() -> tuple:
    with contextlib.suppress(OSError):
        st = config_file().stat()
        return (st.st_mtime_ns, st.st_size)
    return ()
