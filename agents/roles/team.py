"""A Team is a profile bound to the GPU slot: the one way agents call a model.

`Team.call(role, messages, ...)` holds the slot for the role's model, generates, and returns the text
together with a trace row (model, seconds, load seconds, swapped, tokens). Model failures become a
`ModelRunError` naming the model and role; bad model files stay a `ModelFileError` naming the file.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from typing_extensions import TypedDict  # pydantic (Studio schemas) needs it before 3.12

from agents import progress
from agents.backends import GenParams, Message
from agents.backends.base import TokenCallback
from agents.errors import BackendUnavailable, ConcilioError, ModelRunError, RunCancelled
from agents.models.profiles import Profile, RoleSpec, resolve
from agents.settings import settings
from agents.slot.slot import GpuSlot, default_slot


class TraceEntry(TypedDict, total=False):
    node: str
    role: str | None
    model: str | None
    backend: str | None
    seconds: float
    load_seconds: float
    swapped: bool
    tokens: int  # generated tokens
    tokens_in: int
    first_token_s: float  # the model call's time to its first token (its prompt processing, mostly)
    skipped: bool
    note: str
    pid: int  # the process that ran the model call (the server's, when one served it)
    turn: int
    error: str  # a node that failed: the exception
    verdict: str  # review rows: "ok" | "revise", who decided it, and what is wrong
    verdict_by: str
    issues: list[str]


FALLBACK_ROLE = "orchestrator"  # whose model answers when another role's server is unavailable


@dataclass
class Reply:
    text: str
    finish: str
    trace: TraceEntry


def join_notes(*notes: str) -> str:
    """Trace notes joined with '; ', empty ones left out."""
    return "; ".join(n for n in notes if n)


def trace_row(node: str, *, seconds: float = 0.0, skipped: bool = False, note: str = "", **extra) -> TraceEntry:
    row: TraceEntry = {"node": node, "role": None, "model": None, "backend": None, "seconds": round(seconds, 4),
                       "load_seconds": 0.0, "swapped": False, "tokens": 0, "tokens_in": 0,
                       "skipped": skipped, "note": note}
    row.update(extra)  # type: ignore[typeddict-item]
    return row


class Team:
    def __init__(self, profile: Profile, slot: GpuSlot | None = None) -> None:
        self.profile = profile
        self.slot = slot or default_slot()
        for role in settings().slot_pin:
            self.slot.pin(self.role(role).model)  # e.g. keep the orchestrator while others swap

    def prefetch(self, *roles: str) -> None:
        """The next nodes are known: start reading their models' files while the current one works."""
        for role in roles:
            self.slot.prefetch(self.role(role).model)

    def role(self, role: str) -> RoleSpec:
        return self.profile.role(role)

    def call(self, node: str, role: str, messages: Sequence[Message], *, max_tokens: int,
             on_token: TokenCallback | None = None, **params) -> Reply:
        spec = self.role(role)
        gen = GenParams(max_tokens=spec.max_tokens or max_tokens, **params)
        start = time.perf_counter()
        given_on_token = on_token
        if progress.active():
            on_token = _tee(on_token, node)
        on_token = _stoppable(on_token)
        if progress.cancelled():
            raise RunCancelled()
        try:
            with self.slot.hold(spec.model) as lease:
                progress.emit("generating", node=node, role=role, model=spec.model.name)
                completion = lease.model.complete(messages, gen, on_token)
        except BackendUnavailable as exc:
            if role == FALLBACK_ROLE:
                raise
            # A specialist's server is down, hanging or broken: the orchestrator's model takes the role,
            # with the same messages, and the trace says so.
            note = f"{role} model {spec.model.name} unavailable ({exc}); the {FALLBACK_ROLE}'s model answered"
            progress.emit("fallback", node=node, role=role, model=spec.model.name, reason=str(exc))
            reply = self.call(node, FALLBACK_ROLE, messages, max_tokens=max_tokens, on_token=given_on_token,
                              **params)
            reply.trace["note"] = join_notes(note, reply.trace.get("note", ""))
            reply.trace["seconds"] = round(time.perf_counter() - start, 4)
            return reply
        except ConcilioError:
            raise
        except Exception as exc:
            raise ModelRunError(spec.model.name, role, exc) from exc
        if progress.cancelled():
            raise RunCancelled()
        note = join_notes(lease.note, getattr(lease.model, "note", ""))
        if completion.finish in ("loop", "length"):
            note = join_notes(note, f"stopped: {completion.finish}")
        row = trace_row(
            node, seconds=time.perf_counter() - start, note=note, role=role, model=spec.model.name,
            backend=spec.model.backend, load_seconds=round(lease.load_seconds, 4), swapped=lease.swapped,
            tokens=completion.tokens_out, tokens_in=completion.tokens_in,
            pid=getattr(lease.model, "served_pid", None) or os.getpid(),
        )
        if completion.first_token_seconds is not None:
            row["first_token_s"] = completion.first_token_seconds
        return Reply(completion.text, completion.finish, row)


def _stoppable(on_token: TokenCallback | None) -> TokenCallback:
    """Stop generating (between two tokens) once the run is cancelled."""
    def callback(piece: str):
        if progress.cancelled():
            return False
        return on_token(piece) if on_token is not None else None

    return callback


def _tee(on_token: TokenCallback | None, node: str) -> TokenCallback:
    def callback(piece: str):
        progress.emit("token", node=node, text=piece)
        return on_token(piece) if on_token is not None else None

    return callback


@functools.lru_cache(maxsize=8)
def _team_for_name(name: str | None) -> Team:
    return Team(resolve(name))


def team_for(profile: str | Profile | Team | None) -> Team:
    """The team for a profile name/path (cached per process), a Profile, or a Team as is."""
    if isinstance(profile, Team):
        return profile
    if isinstance(profile, Profile):
        return Team(profile)
    return _team_for_name(profile)
