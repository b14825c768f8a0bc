"""Evaluated prompt state kept across swaps, for the llamacpp backend: a returning model doesn't re-read
the thread.

llama.cpp keeps the tokens it evaluated; llama-cpp-python reuses the longest common prefix of the last prompt
and the next one, and with a cache attached (`Llama.set_cache`) it saves the state after each completion and
restores the saved state with the longest common prefix before the next. Both die with the `Llama` object
when the GPU slot evicts the model. Here the cache outlives it: one `LlamaRAMCache` per *model identity*
(file path, size and modification time, context window, chat template, options), handed to every `Llama` that
loads that identity again. So the reviewer of turn 10 gets back its state from turn 9 (system prompt plus
turns 1–8 already evaluated) even after other models held the slot in between.

A state is only ever restored for the identity that saved it (another file, another context size or another
template is another cache), and only up to the prefix its tokens share with the new prompt (llama-cpp-python
compares token ids), so it can't leak into a prompt it doesn't match. Each cache is bounded in bytes
(CONCILIO_KV_CACHE_MB) and least-recently-used states go first; at most MAX_MODELS identities are kept.

gpt4all 2.8.2's Python binding has no state save/load, and a server keeps its own cache: there this does
nothing, and `concilio ps` and the trace say so (`kv_state_note`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

MAX_MODELS = 8  # identities whose states are kept (a long-running server sees a bounded set of files)

_lock = threading.Lock()
_caches: OrderedDict[Hashable, object] = OrderedDict()


def identity(path: str, size: int | None, mtime_ns: int | None, n_ctx: int, template: str,
             options: tuple) -> tuple:
    """What a saved state is valid for. Pure."""
    return (path, size, mtime_ns, n_ctx, template, options)


def cache_for(key: Hashable, capacity_mb: float):
    """The state cache for a model identity, made on first use (None when CONCILIO_KV_CACHE_MB is 0)."""
    if capacity_mb <= 0:
        return None
    with _lock:
        cache = _caches.get(key)
        if cache is None:
            cache = _slim_cache_class()(capacity_bytes=int(capacity_mb * 1e6))
            _caches[key] = cache
            while len(_caches) > MAX_MODELS:
                _caches.popitem(last=False)
        _caches.move_to_end(key)
        return cache


def held() -> dict[Hashable, tuple[int, int]]:
    """identity -> (states, bytes) kept now (for `concilio ps` and the benchmark)."""
    with _lock:
        return {k: (len(c.cache_state), int(c.cache_size)) for k, c in _caches.items()}


def forget() -> None:
    """Drop every kept state (tests, and `concilio cache clear`)."""
    with _lock:
        _caches.clear()


def kv_state_note(backend: str) -> str:
    """What `concilio ps` and the trace say about kept states for a backend. Pure."""
    if backend == "llamacpp":
        return "prompt state kept across swaps"
    if backend == "gpt4all":
        return "prompt state not kept across swaps (gpt4all 2.8.2 has no state save/load)"
    return "prompt state kept by the server, if it does"


_slim = None


def _slim_cache_class():
    """LlamaRAMCache storing states without the logits of every prompt position.

    llama-cpp-python's saved state copies the score matrix (n_batch × vocabulary floats: 100 MB for a 49k
    vocabulary) that its cache doesn't count against the capacity; after a restore it decodes at least one token
    again, which rewrites the logits it samples from, so one row is enough (broadcast back on load)."""
    global _slim
    if _slim is None:
        from llama_cpp.llama import LlamaState
        from llama_cpp.llama_cache import LlamaRAMCache

        class SlimRAMCache(LlamaRAMCache):
            def __setitem__(self, key, value) -> None:
                slim = LlamaState(input_ids=value.input_ids, scores=value.scores[-1:].copy(),
                                  n_tokens=value.n_tokens, llama_state=value.llama_state,
                                  llama_state_size=value.llama_state_size, seed=value.seed)
                super().__setitem__(key, slim)

        _slim = SlimRAMCache
    return _slim
