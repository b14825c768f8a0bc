"""The step policy's evidence on disk: one JSON file (CONCILIO_STEP_POLICY, default DATA_DIR/step_policy.json)
holding, per profile, what `concilio calibrate` measured (agents/roles/steps.py decides from it).

    {"profiles": {"embedded": {"measured_at": "...", "questions": 48, "cells": {"legal/en": {...}, ...}}}}

`using(evidence)` overrides the file for the runs in a context (an evaluation that measured its own), the
way the router's store does. Writes are atomic (a temporary file renamed over the old one) under a lock.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from agents.errors import ConfigFileError

_override: contextvars.ContextVar[dict | None] = contextvars.ContextVar("concilio_step_evidence", default=None)


def path() -> Path:
    from agents.paths import data_dir
    from agents.settings import settings

    return settings().step_policy or data_dir() / "step_policy.json"


def read_all(file: Path | None = None) -> dict:
    """The whole file ({"profiles": {}} when there is none); a damaged file is a clear error."""
    file = file or path()
    if not file.exists():
        return {"profiles": {}}
    try:
        data = json.loads(file.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigFileError(f"{file}: not a step-policy file ({exc}); delete it and run concilio calibrate "
                              "again") from None
    if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict):
        raise ConfigFileError(f"{file}: not a step-policy file (no profiles table); delete it and run concilio "
                              "calibrate again")
    return data


def load(profile: str, file: Path | None = None) -> dict | None:
    """The evidence for `profile`: the context's override, else the file's entry, else None (full flow)."""
    forced = _override.get()
    if forced is not None:
        return forced
    return read_all(file)["profiles"].get(profile)


def save(profile: str, evidence: dict, file: Path | None = None) -> Path:
    from filelock import FileLock

    file = file or path()
    file.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(file) + ".lock", timeout=30):
        data = read_all(file)
        data["profiles"][profile] = evidence
        fd, tmp = tempfile.mkstemp(prefix=".step_policy-", dir=file.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=1)
        os.replace(tmp, file)
    return file


@contextlib.contextmanager
def using(evidence: dict | None) -> Iterator[None]:
    """Runs in this context decide their steps from `evidence` ({} = none: the full flow)."""
    token = _override.set(evidence if evidence is not None else None)
    try:
        yield
    finally:
        _override.reset(token)
