"""Backends, registered by name with their typed options, and imported only when one of theirs is used.

Built-in backends go through the same `register()` a third-party one uses:
  gpt4all    gpt4all 2.8.2 in process (the default)
  llamacpp   llama-cpp-python in process (extra `llama`)
  openai     any OpenAI-compatible server: Ollama, llama.cpp server, vLLM, GPT4All's API server
  fake       the scripted model of the tests (loadable, never offered to users)
Each backend declares its `options` table as a `BackendOptions` model beside its loader; a profile is
checked against it when it loads (agents/models/profiles.py), long before a model is.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agents.backends.base import BackendOptions, ChatModel, Completion, GenParams, LoopGuard, Message
from agents.errors import BackendError

if TYPE_CHECKING:
    from agents.models.profiles import ModelSpec

Loader = Callable[["ModelSpec"], ChatModel]


@dataclass
class _Backend:
    loader: str | Loader  # "module:function" (imported on first use) or the function
    options: str | type[BackendOptions]  # "module:Class" or the class
    local_file: bool  # the model's path is a GGUF file this process loads
    listed: bool  # offered to users in messages
    schema: bool = False  # its models honour GenParams.schema (= the class's supports_schema), known unloaded


_REGISTRY: dict[str, _Backend] = {
    "gpt4all": _Backend("agents.backends.gpt4all_backend:load", "agents.backends.gpt4all_backend:Gpt4AllOptions",
                        True, True),
    "llamacpp": _Backend("agents.backends.llamacpp_backend:load",
                         "agents.backends.llamacpp_backend:LlamaCppOptions", True, True, True),
    "openai": _Backend("agents.backends.openai_backend:load", "agents.backends.openai_backend:OpenAIOptions",
                       False, True, True),
    "fake": _Backend("agents.backends.fake:load", "agents.backends.fake:FakeOptions", False, False),
}
EXTRAS = {"llama_cpp": "llama"}  # missing module → the extra that installs it


def register(name: str, loader: str | Loader, *, local_file: bool = False,
             options: str | type[BackendOptions] = BackendOptions, listed: bool = True, schema: bool = False) -> None:
    """`local_file=True`: the model's `path` is a GGUF file this process loads (checked before runs, its
    memory need estimated from it, read ahead by the slot); otherwise the path is not touched. `options`: the
    model of the backend's `options` table (unknown keys are refused). `listed=False` keeps it out of messages."""
    _REGISTRY[name] = _Backend(loader, options, local_file, listed, schema)


def loads_local_file(name: str) -> bool:
    entry = _REGISTRY.get(name)
    return entry is not None and entry.local_file


def constrains(name: str) -> bool:
    """Whether the backend's models decode to a JSON schema given in GenParams.schema (known without loading)."""
    entry = _REGISTRY.get(name)
    return entry is not None and entry.schema


def known(name: str) -> bool:
    return name in _REGISTRY


def names() -> list[str]:
    """The backends a user may name (the test-only `fake` is left out)."""
    return sorted(name for name, entry in _REGISTRY.items() if entry.listed)


def _entry(name: str) -> _Backend:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise BackendError(f"unknown backend {name!r}; known: {', '.join(names())}") from None


def _missing_package(name: str, exc: ImportError) -> BackendError:
    extra = EXTRAS.get(exc.name or "")
    hint = (f"; install it with pip install 'concilio[{extra}]' (from a checkout: pip install -e '.[{extra}]')"
            if extra else "")
    return BackendError(f"backend {name!r} needs a package that is not installed: {exc.name}{hint}")


def _resolve(name: str, target: str | object) -> object:
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        raise _missing_package(name, exc) from exc


def loader_for(name: str) -> Loader:
    entry = _entry(name)
    entry.loader = _resolve(name, entry.loader)  # type: ignore[assignment]
    return entry.loader  # type: ignore[return-value]


def options_model(name: str) -> type[BackendOptions]:
    """The typed `options` table of backend `name` (its module is light: no weights, no native library)."""
    entry = _entry(name)
    entry.options = _resolve(name, entry.options)  # type: ignore[assignment]
    return entry.options  # type: ignore[return-value]


def load_model(spec: ModelSpec) -> ChatModel:
    """Load the weights. Only the GPU slot calls this."""
    loader = loader_for(spec.backend)
    try:
        return loader(spec)
    except ImportError as exc:  # a backend that imports its native library when it loads (llamacpp)
        raise _missing_package(spec.backend, exc) from exc


__all__ = ["BackendOptions", "ChatModel", "Completion", "GenParams", "LoopGuard", "Message", "load_model",
           "known", "loads_local_file", "names", "options_model", "register"]
