"""What makes two turns "the same question in the same context": the response cache's key. Pure.

A cached answer may only come back where running the graph again would have produced it, so the key is a
digest of everything the nodes read:

    question      normalised (Unicode NFC, case, inner whitespace): "¿Qué es X?" and "¿qué es  x?" are one
    language      the answer's language (a Spanish question answered in English is another answer)
    route         domain and answering node (legal | technical | general | long_context)
    team          every role's model identity (backend, file path, size, modification time; a server's URL and
                  model name), chat template, context window, options, custom prompt and max_tokens
    prompts       a digest of the roles' prompt files and concilio's version (a new prompt is a new answer)
    steps         the step policy's plan (review, revision, integration on or off) and generation defaults
    conversation  the earlier messages and summary lines the nodes see, and the remembered facts about the
                  user that reach the prompts: a follow-up in another thread doesn't hit, a first turn does

The thread id itself is not in the key: two threads with the same (empty) history asking the same question
share an answer; threads whose histories differ never do. LangGraph's own node cache (CachePolicy) keys on a
node's input only, so it can't see the team in the run's context; see memory/cache/__init__.py.
"""

from __future__ import annotations

import functools
import hashlib
import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agents.models.profiles import ModelSpec, Profile
from agents.roles import prompts

KEY_VERSION = 1  # bump when the key's recipe changes: older entries stop matching


def normalise(question: str) -> str:
    """The question as compared: NFC, casefolded, runs of whitespace as one space, outer punctuation kept."""
    return " ".join(unicodedata.normalize("NFC", question).casefold().split())


def digest(value: object) -> str:
    """A stable SHA-256 of a JSON-able value (sorted keys, no whitespace)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_identity(spec: ModelSpec, stat: tuple[int, int] | None) -> dict:
    """A model as the cache sees it. `stat`: the file's (size, mtime_ns), None for a server or missing file."""
    return {"backend": spec.backend, "path": str(spec.path), "file": list(stat) if stat else None,
            "template": spec.chat_template, "window": spec.context_window,
            "options": [[k, str(v)] for k, v in spec.options]}


def team_identity(profile: Profile, stats: Mapping[str, tuple[int, int] | None]) -> dict:
    """Every role's model and settings. `stats`: role -> ModelSpec.file_stat() of its model (read by the caller)."""
    return {r.role: {"model": model_identity(r.model, stats.get(r.role)), "prompt": r.prompt,
                     "max_tokens": r.max_tokens} for r in profile.roles}


@functools.cache
def prompts_version() -> str:
    """The roles' prompt files and concilio's version, as one digest (read once per process)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("concilio")
    except PackageNotFoundError:
        release = "source"
    return digest({"release": release, "prompts": {role: prompts.load(role) for role in prompts.ROLES}})


@dataclass(frozen=True)
class TurnKey:
    """The key's parts, kept for the trace and for the near-duplicate index; `value` is the lookup key."""

    value: str
    question: str  # normalised
    scope: str  # everything but the question: the near-duplicate index only compares within one scope
    first_turn: bool


def turn_key(question: str, *, language: str, domain: str, node: str, team: Mapping, history: Sequence[Mapping],
             summaries: Sequence[str], facts: str, prompts_digest: str, generation: Mapping) -> TurnKey:
    """The key of a turn. Every argument changes it; see the module's docstring for why each is there."""
    conversation = {"history": [[m["role"], m["content"]] for m in history], "summaries": list(summaries),
                    "facts": facts}
    scope = digest({"v": KEY_VERSION, "language": language, "domain": domain, "node": node, "team": team,
                    "prompts": prompts_digest, "generation": generation, "conversation": conversation})
    text = normalise(question)
    return TurnKey(digest({"scope": scope, "question": text}), text, scope, not history and not summaries)
