"""Backends, registered by name and imported only when a model of theirs is loaded.

Built-in backends go through the same `register()` a third-party one uses:
  gpt4all    gpt4all 2.8.2 in process (the default)
  llamacpp   llama-cpp-python in process (extra `llama`)
  openai     any OpenAI-compatible server: Ollama, llama.cpp server, vLLM, GPT4All's API server
  fake       the scripted model of the tests
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from agents.backends.base import ChatModel, Completion, GenParams, LoopGuard, Message
from agents.errors import BackendError

if TYPE_CHECKING:
    from agents.models.profiles import ModelSpec

Loader = Callable[["ModelSpec"], ChatModel]

# name -> "module:function" (lazy) or a loader
_REGISTRY: dict[str, str | Loader] = {
    "gpt4all": "agents.backends.gpt4all_backend:load",
    "llamacpp": "agents.backends.llamacpp_backend:load",
    "openai": "agents.backends.openai_backend:load",
    "fake": "agents.backends.fake:load",
}
EXTRAS = {"llama_cpp": "llama"}  # missing module → the extra that installs it
_LOCAL_FILES = {"gpt4all", "llamacpp"}  # backends whose models are GGUF files on this machine


def register(name: str, loader: str | Loader, *, local_file: bool = False) -> None:
    """`local_file=True`: the model's `path` is a GGUF file this process loads (checked before runs, its
    memory need estimated from it, read ahead by the slot); otherwise the path is not touched."""
    _REGISTRY[name] = loader
    (_LOCAL_FILES.add if local_file else _LOCAL_FILES.discard)(name)


def loads_local_file(name: str) -> bool:
    return name in _LOCAL_FILES


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
            extra = EXTRAS.get(exc.name or "")
            hint = (f"; install it with pip install 'concilio[{extra}]' (from a checkout: pip install -e '.[{extra}]')"
                    if extra else "")
            raise BackendError(f"backend {name!r} needs a package that is not installed: {exc.name}{hint}") from exc
        _REGISTRY[name] = target
    return target


def load_model(spec: ModelSpec) -> ChatModel:
    """Load the weights. Only the GPU slot calls this."""
    return loader_for(spec.backend)(spec)


__all__ = ["ChatModel", "Completion", "GenParams", "LoopGuard", "Message", "load_model", "loads_local_file",
           "names", "register"]
