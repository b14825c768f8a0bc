"""Writing a stand-in GGUF with the `gguf` package: metadata and tokenizer first, then one tensor at a time
(the largest, Llama 3.1's embedding, is 0.3 GB at full size), so a 9 GB file never sits in memory.

Weights are random but valid blocks: each quantised block's scale is a small finite f16 chosen so a layer
keeps its input's magnitude, its quants random bytes. Large tensors repeat a pool of random blocks (writing
the file is then disk-bound; the values don't matter, only that llama.cpp can run them).

`ends_turn=True` writes a model whose first generated token is always its end-of-turn marker: every token
embeds to the same positive vector, every layer adds nothing (zero output projections), so the last norm
gives a fixed vector and the output row of the marker is the largest everywhere. The tests use it to prove
that each backend stops on the marker.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from gguf import GGML_QUANT_SIZES, GGUFWriter
from gguf import GGMLQuantizationType as Q

from evals.standins import specs, vocab
from evals.standins.specs import Arch, TensorSpec

POOL_BLOCKS = 1 << 16  # random blocks generated per tensor type; larger tensors repeat them
FILE_TYPE_Q4_0 = 2  # llama.cpp's LLAMA_FTYPE_MOSTLY_Q4_0


def _f16_bytes(value: float) -> np.ndarray:
    return np.frombuffer(np.float16(value).tobytes(), dtype=np.uint8)


def _blocks(qtype: Q, count: int, scale: float, rng: np.random.Generator, fill: str = "random") -> np.ndarray:
    """`count` blocks of `qtype` as a (count, block bytes) uint8 array. fill: "random", "zero" (scale 0),
    "max" (every value the largest positive one) or "one" (Q4_0: every value +scale)."""
    size = GGML_QUANT_SIZES[qtype][1]
    pool_n = min(count, POOL_BLOCKS)
    pool = rng.integers(0, 256, size=(pool_n, size), dtype=np.uint8)
    if fill == "max":
        pool[:] = 0xFF
    if qtype == Q.Q4_0:  # f16 d, then 16 bytes of 4-bit quants (value = (q - 8) * d)
        if fill == "one":
            pool[:, 2:] = 0x99
        pool[:, :2] = _f16_bytes(0.0 if fill == "zero" else scale)
    elif qtype == Q.Q8_0:  # f16 d, then 32 int8 quants
        if fill == "max":
            pool[:, 2:] = 127
        pool[:, :2] = _f16_bytes(0.0 if fill == "zero" else scale / 64)
    elif qtype == Q.Q6_K:  # 128 low bits, 64 high bits, 16 int8 sub-scales, f16 d last
        if fill == "max":
            pool[:, 192:208] = 127
        pool[:, 208:210] = _f16_bytes(0.0 if fill == "zero" else scale / 2048)
    else:
        raise ValueError(f"no block writer for {qtype.name}")
    if pool_n == count:
        return pool
    reps = math.ceil(count / pool_n)
    return np.tile(pool, (reps, 1))[:count]


def tensor_data(t: TensorSpec, a: Arch, rng: np.random.Generator, *, ends_turn: bool = False) -> np.ndarray:
    """The bytes of tensor `t`, shaped as gguf wants them (numpy order: rows last-dimension-first)."""
    rows, ne0 = math.prod(t.shape[1:]), t.shape[0]
    np_shape = tuple(reversed(t.shape))
    if t.qtype == Q.F32:
        if t.role == "rope":
            return np.array(specs.rope_factors(a), dtype=np.float32)
        if t.role == "bias":
            one = ends_turn and t.name == "output_norm.bias"  # LayerNorm of a constant vector is its bias
            return np.full(np_shape, 1.0 if one else 0.0, dtype=np.float32)
        return np.ones(np_shape, dtype=np.float32)
    if t.qtype == Q.F16:
        if ends_turn:  # StarCoder's position embedding: nothing added, so every position looks the same
            return np.zeros(np_shape, dtype=np.float16)
        return (rng.standard_normal(np_shape, dtype=np.float32) * 0.02).astype(np.float16)
    block = GGML_QUANT_SIZES[t.qtype][0]
    scale = 0.2 / math.sqrt(ne0)
    per_row = ne0 // block
    fill = "random"
    if ends_turn and t.name == "token_embd.weight":
        fill, scale = "one", 0.5
    elif ends_turn and t.name.endswith(("attn_output.weight", "ffn_down.weight")):
        fill = "zero"
    data = _blocks(t.qtype, rows * per_row, scale, rng, fill).reshape(rows, per_row * GGML_QUANT_SIZES[t.qtype][1])
    if ends_turn and t.name == "output.weight":
        data = data.copy() if not data.flags.writeable else data
        data[a.eot] = _blocks(t.qtype, per_row, scale, rng, "max").reshape(-1)
    return data.reshape(*np_shape[:-1], -1)


def add_metadata(w: GGUFWriter, a: Arch, name: str) -> None:
    arch = a.arch
    w.add_name(name)
    w.add_file_type(FILE_TYPE_Q4_0)
    w.add_context_length(a.n_ctx)
    w.add_embedding_length(a.n_embd)
    w.add_block_count(a.n_layer)
    w.add_feed_forward_length(a.n_ff)
    w.add_head_count(a.n_head)
    w.add_head_count_kv(a.n_head_kv)
    if arch == "starcoder":
        w.add_layer_norm_eps(a.norm_eps)
    else:
        w.add_layer_norm_rms_eps(a.norm_eps)
        w.add_rope_dimension_count(a.head_dim)
        w.add_rope_freq_base(a.rope_base)
    if arch == "llama":
        w.add_vocab_size(a.n_vocab)
    w.add_tokenizer_model(a.tokenizer)
    if a.pre:
        w.add_tokenizer_pre(a.pre)
    if a.tokenizer == "llama":
        tokens, scores, types = vocab.spm(a.n_vocab, a.specials)
        w.add_token_list(tokens)
        w.add_token_scores(scores)
        w.add_token_types(types)
    else:
        tokens, types, merges = vocab.bpe(a.n_vocab, a.specials)
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges(merges)
    w.add_bos_token_id(a.bos)
    w.add_eos_token_id(a.eos)
    w.add_add_bos_token(a.add_bos)
    w.add_add_eos_token(False)


def write(a: Arch, path: Path, *, seed: int = 0, ends_turn: bool = False, name: str | None = None) -> Path:
    """Write stand-in `a` to `path` (through a temporary name, so a cut-off run leaves no usable-looking file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    rng = np.random.default_rng(seed)
    w = GGUFWriter(tmp, a.arch)
    add_metadata(w, a, name or f"concilio stand-in for {a.file_name}")
    plan = specs.tensors(a)
    for t in plan:
        if t.qtype in (Q.F32, Q.F16):
            dtype = np.float32 if t.qtype == Q.F32 else np.float16
            w.add_tensor_info(t.name, tuple(reversed(t.shape)), np.dtype(dtype), t.nbytes)
        else:
            byte_shape = (*reversed(t.shape[1:]), t.shape[0] // GGML_QUANT_SIZES[t.qtype][0]
                          * GGML_QUANT_SIZES[t.qtype][1])
            w.add_tensor_info(t.name, byte_shape, np.dtype(np.uint8), t.nbytes, raw_dtype=t.qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for t in plan:
        w.write_tensor_data(tensor_data(t, a, rng, ends_turn=ends_turn))
    w.close()
    tmp.replace(path)
    return path
