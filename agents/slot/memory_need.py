"""How much memory a model will take, estimated before it is loaded, from its GGUF metadata.

need = weights (the tensors' bytes) + KV cache (2 × layers × context × KV heads × head size × 2 bytes, f16)
       + a fixed overhead (compute buffers and runtime)

`OVERHEAD_MB` was measured: gpt4all 2.8.2 loading SmolLM2-135M at contexts 1k–8k on CPU, resident memory
after one generation minus weights and KV cache. `tests/integration/test_slot_real.py` checks the estimate
against measured RSS. A server-side model (the `openai` backend) takes nothing locally.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.backends import loads_local_file, options_model
from agents.models.profiles import ModelSpec

MB = 2**20
OVERHEAD_MB = 28.0
KV_BYTES = 2  # llama.cpp's default KV cache type is f16


@dataclass(frozen=True)
class Need:
    weights_mb: float
    kv_mb: float
    overhead_mb: float

    @property
    def total_mb(self) -> float:
        return self.weights_mb + self.kv_mb + self.overhead_mb


def _scalar(value) -> int:
    """Some architectures give a per-layer list (e.g. KV heads); the largest layer bounds the cache."""
    if isinstance(value, (list, tuple)):
        return max((int(v) for v in value), default=0)
    return int(value or 0)


def need_mb(*, tensor_bytes: int, block_count: int, head_count_kv, key_length: int, value_length: int,
            context: int, overhead_mb: float = OVERHEAD_MB) -> Need:
    """The estimate itself, pure."""
    kv = block_count * context * _scalar(head_count_kv) * (key_length + value_length) * KV_BYTES
    return Need(round(tensor_bytes / MB, 1), round(kv / MB, 1), overhead_mb)


def estimate(spec: ModelSpec) -> Need:
    """The memory `spec` needs once loaded. A local GGUF file is read (cached) and refused with ModelFileError
    if broken; a model that is not a local file (a server's) needs none here, unless its options say
    `size_mb` (the fake backend's tests do)."""
    if not loads_local_file(spec.backend):
        options = options_model(spec.backend).of(spec)
        return Need(float(getattr(options, "size_mb", 0.0)), 0.0, 0.0)
    from agents.models.gguf_file import inspect

    info = inspect(spec.path, fix=spec.fix)
    return need_mb(tensor_bytes=info.tensor_bytes, block_count=info.block_count,
                   head_count_kv=info.head_count_kv, key_length=info.key_length,
                   value_length=info.value_length, context=spec.context_window)
