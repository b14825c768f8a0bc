"""Shared fixtures. Unit tests use the scripted fake backend (through the real backend registry);
tests marked `model` run the real embedded SmolLM2-135M-Instruct through gpt4all."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.backends.fake import FakeChatModel
from agents.models import ROLES, ModelSpec, Profile, RoleSpec
from agents.slot import GpuSlot
from agents.team import Team

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """Every test writes conversations to its own data folder and never reads a user's config."""
    base = tmp_path_factory.mktemp("concilio")
    monkeypatch.setenv("CONCILIO_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("CONCILIO_CONFIG", str(base / "no-config.toml"))
    monkeypatch.setenv("CONCILIO_GPT4ALL_DIR", str(base / "no-gpt4all"))
    monkeypatch.delenv("CONCILIO_PROFILE", raising=False)
    FakeChatModel.reset()
    yield


def fake_spec(name: str, **options) -> ModelSpec:
    return ModelSpec(name=name, path=Path(f"/nonexistent/{name}.gguf"), backend="fake",
                     options=tuple(sorted(options.items())))


def fake_profile(per_role: dict[str, ModelSpec] | None = None, **options) -> Profile:
    """A profile with one distinct fake model per role (so every role change is a swap)."""
    per_role = per_role or {}
    return Profile("fake", tuple(RoleSpec(r, per_role.get(r) or fake_spec(f"fake-{r}", **options)) for r in ROLES))


@pytest.fixture
def fake_team() -> Team:
    return Team(fake_profile(), GpuSlot())
