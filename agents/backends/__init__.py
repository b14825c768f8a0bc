"""Backends, registered by name and imported only when a model of theirs is loaded.

Built-in backends go through the same `register()` a third-party one uses. llama.cpp in-process and
OpenAI-compatible servers will register here too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from agents.backends.base import ChatModel, Completion, GenParams, LoopGuard, Message
from agents.errors import BackendError

if TYPE_CHECKING:
    from agents.models import ModelSpec

Loader = Callable[["ModelSpec"], ChatModel]

# name -> "module:function" (lazy) or a loader
_REGISTRY: dict[str, str | Loader] = {
    "gpt4all": "agents.backends.gpt4all_backend:load",
    "fake": "agents.backends.fake:load",
}


def register(name: str, loader: str | Loader) -> None:
    _REGISTRY[name] = loader


def names() -> list[str]:
    return sorted(_REGISTRY)


def loader_for(name: str) -> Loader:
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise BackendError(f"unknown backend {name!r}; known: {', '.join(names())}") from None
    if isinstance(target, str):
        module, _, func = target.partition(":")
        try:
            target = getattr(importlib.import_module(module), func)
        except ImportError as exc:
            raise BackendError(f"backend {name!r} needs a package that is not installed: {exc.name}") from exc
        _REGISTRY[name] = target
    return target


def load_model(spec: ModelSpec) -> ChatModel:
    """Load the weights. Only the GPU slot calls this."""
    return loader_for(spec.backend)(spec)


__all__ = ["ChatModel", "Completion", "GenParams", "LoopGuard", "Message", "load_model", "register", "names"]
