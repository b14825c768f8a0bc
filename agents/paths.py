"""Where concilio keeps things: model cache, data (checkpoints), config; each overridable by env var."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "concilio"


def _settings():
    from agents.settings import settings

    return settings()


def cache_dir() -> Path:
    """Things rebuilt from shipped data when lost (the fitted router). CONCILIO_CACHE_DIR overrides."""
    from platformdirs import user_cache_dir

    return _settings().cache_dir or Path(user_cache_dir(APP))


def models_dir() -> Path:
    """Model cache (the embedded model and its gpt4all-compatible copy). CONCILIO_MODELS_DIR overrides."""
    return _settings().models_dir or cache_dir() / "models"


def data_dir() -> Path:
    """Conversation checkpoints and other state. CONCILIO_DATA_DIR overrides."""
    from platformdirs import user_data_dir

    return _settings().data_dir or Path(user_data_dir(APP))


def config_file() -> Path:
    """The user's TOML config. CONCILIO_CONFIG overrides."""
    from platformdirs import user_config_dir

    return _settings().config or Path(user_config_dir(APP)) / "config.toml"


def runtime_dir() -> Path:
    """Machine-wide locks (the slot's guard): shared by every process of this user, whatever its data folder.
    CONCILIO_RUNTIME_DIR overrides."""
    import tempfile

    uid = os.getuid() if hasattr(os, "getuid") else 0
    return _settings().runtime_dir or Path(tempfile.gettempdir()) / f"concilio-{uid}"


def gpt4all_dirs() -> list[Path]:
    """Folders where GPT4All keeps downloaded models: the desktop app's, then the Python bindings' cache.

    CONCILIO_GPT4ALL_DIR (one folder) replaces the list.
    """
    override = _settings().gpt4all_dir
    if override:
        return [override]
    home = Path.home()
    if sys.platform == "darwin":
        app = home / "Library" / "Application Support" / "nomic.ai" / "GPT4All"
    elif sys.platform == "win32":
        app = Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local")) / "nomic.ai" / "GPT4All"
    else:
        app = Path(os.environ.get("XDG_DATA_HOME", home / ".local" / "share")) / "nomic.ai" / "GPT4All"
    return [app, home / ".cache" / "gpt4all"]
