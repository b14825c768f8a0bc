"""The seed's four models as shapes: architecture, hyper-parameters and tensor list, nothing loaded. Pure.

Hyper-parameters are the published ones (each model's Hugging Face `config.json`, cited per model below);
tensor names and shapes are llama.cpp's for each architecture (`llama`, `phi3`, `starcoder`: the tensors its
model loader creates, ggml order: ne0 first, the dimension a quantised block runs along).

Quantisation follows llama.cpp's `Q4_0` preset: 2-D weights Q4_0, the output head Q6_K, norms, biases and
rope factors F32, StarCoder's position embedding F16 (llama.cpp never quantises it). A shape whose first
dimension doesn't fit a type's block (the few-layer versions' narrow widths) falls back to Q8_0, then F16.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from gguf import GGML_QUANT_SIZES
from gguf import GGMLQuantizationType as Q

# token ids of each model's special tokens (its tokenizer.json / tokenizer_config.json `added_tokens`)
ORCA2_SPECIALS = {0: "<unk>", 1: "<s>", 2: "</s>", 32000: "<pad>", 32001: "<|im_start|>", 32002: "<|im_end|>"}
PHI3_SPECIALS = {0: "<unk>", 1: "<s>", 2: "</s>", 32000: "<|endoftext|>", 32001: "<|assistant|>",
                 32002: "<|placeholder1|>", 32003: "<|placeholder2|>", 32004: "<|placeholder3|>",
                 32005: "<|placeholder4|>", 32006: "<|system|>", 32007: "<|end|>", 32008: "<|placeholder5|>",
                 32009: "<|placeholder6|>", 32010: "<|user|>"}
STARCODER_SPECIALS = dict(enumerate([
    "<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>", "<gh_stars>",
    "<issue_start>", "<issue_comment>", "<issue_closed>", "<jupyter_start>", "<jupyter_text>", "<jupyter_code>",
    "<jupyter_output>", "<empty_output>", "<commit_before>", "<commit_msg>", "<commit_after>", "<reponame>"]))
_LLAMA31_NAMED = {128000: "<|begin_of_text|>", 128001: "<|end_of_text|>", 128004: "<|finetune_right_pad_id|>",
                  128006: "<|start_header_id|>", 128007: "<|end_header_id|>", 128008: "<|eom_id|>",
                  128009: "<|eot_id|>", 128010: "<|python_tag|>"}


def _llama31_specials() -> dict[int, str]:
    """128000–128255: the named ones, the rest `<|reserved_special_token_N|>` numbered in id order."""
    out, n = {}, 0
    for tid in range(128000, 128256):
        if tid in _LLAMA31_NAMED:
            out[tid] = _LLAMA31_NAMED[tid]
        else:
            out[tid] = f"<|reserved_special_token_{n}|>"
            n += 1
    return out


@dataclass(frozen=True)
class Arch:
    key: str  # short name used on the command line and in results
    file_name: str  # GPT4All's own file name (gpt4all-chat/metadata/models3.json)
    real_size: int  # that file's size in bytes, from the same catalog (Llama 3.1: its 128k entry)
    arch: str  # general.architecture
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    n_ff: int
    n_vocab: int
    n_ctx: int  # <arch>.context_length: the context the model was trained for
    tokenizer: str  # "llama" (SentencePiece) or "gpt2" (byte-level BPE)
    pre: str | None  # tokenizer.ggml.pre
    specials: dict[int, str]
    bos: int
    eos: int
    eot: int  # the token that ends an assistant turn in the model's chat format
    rope_base: float = 10000.0
    norm_eps: float = 1e-5
    add_bos: bool = True
    # Llama 3.1's rope scaling (rope_scaling in config.json): factor, low_freq_factor, high_freq_factor,
    # original_max_position_embeddings
    llama3_rope: tuple[float, float, float, int] | None = None

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def n_embd_kv(self) -> int:
        return self.head_dim * self.n_head_kv


SEED = {
    # microsoft/Orca-2-7b config.json (a Llama-2-7B fine-tune): 32 layers, hidden 4096, 32 heads and 32 KV
    # heads, intermediate 11008, vocab_size 32003 (Llama 2's 32000 + <pad>, <|im_start|>, <|im_end|>),
    # max_position_embeddings 4096, rms_norm_eps 1e-5, rope_theta 10000 (default)
    "orca2": Arch("orca2", "orca-2-7b.Q4_0.gguf", 3_825_824_192, "llama", 32, 4096, 32, 32, 11008, 32003, 4096,
                  "llama", None, ORCA2_SPECIALS, bos=1, eos=2, eot=32002),
    # microsoft/Phi-3-mini-4k-instruct config.json: model_type phi3, 32 layers, hidden 3072, 32 heads, 32 KV
    # heads, intermediate 8192, vocab_size 32064, max_position_embeddings 4096, rms_norm_eps 1e-5,
    # rope_theta 10000; eos_token "<|endoftext|>" (32000), turns end with <|end|> (32007)
    "phi3": Arch("phi3", "Phi-3-mini-4k-instruct.Q4_0.gguf", 2_176_181_568, "phi3", 32, 3072, 32, 32, 8192, 32064,
                 4096, "llama", None, PHI3_SPECIALS, bos=1, eos=32000, eot=32007),
    # bigcode/starcoder config.json (gpt_bigcode): n_layer 40, n_embd 6144, n_head 48, multi_query (one KV
    # head), n_inner 24576, vocab_size 49152, n_positions 8192, layer_norm_epsilon 1e-5; bos = eos =
    # <|endoftext|> (0). GPT4All's file predates pre-tokenizer names, so it carries none.
    "starcoder": Arch("starcoder", "starcoder-newbpe-q4_0.gguf", 8_987_411_904, "starcoder", 40, 6144, 48, 1,
                      24576, 49152, 8192, "gpt2", None, STARCODER_SPECIALS, bos=0, eos=0, eot=0,
                      add_bos=False),
    # meta-llama/Llama-3.1-8B-Instruct config.json: 32 layers, hidden 4096, 32 heads, 8 KV heads,
    # intermediate 14336, vocab_size 128256, max_position_embeddings 131072, rms_norm_eps 1e-5,
    # rope_theta 500000, rope_scaling {rope_type llama3, factor 8, low_freq_factor 1, high_freq_factor 4,
    # original_max_position_embeddings 8192}; bos <|begin_of_text|>, eos <|eot_id|> (generation_config's
    # eos list also holds <|end_of_text|> and <|eom_id|>)
    "llama31": Arch("llama31", "Meta-Llama-3.1-8B-Instruct-128k-Q4_0.gguf", 4_661_212_096, "llama", 32, 4096, 32, 8,
                    14336, 128256, 131072, "gpt2", "llama-bpe", _llama31_specials(), bos=128000, eos=128009,
                    eot=128009,
                    rope_base=500000.0, llama3_rope=(8.0, 1.0, 4.0, 8192)),
}
ROLE_OF = {"orca2": "orchestrator", "phi3": "legal", "starcoder": "technical", "llama31": "reviewer"}


def few_layer(arch: Arch) -> Arch:
    """The test-suite version: two layers, 256 wide (head size 64, the KV-head ratio kept: MQA stays MQA,
    Llama 3.1's 4:1 grouping stays 4:1), the real vocabulary, special tokens and context length."""
    heads = 4
    kv = max(1, heads * arch.n_head_kv // arch.n_head)
    return replace(arch, n_layer=2, n_embd=256, n_head=heads, n_head_kv=kv, n_ff=512)


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]  # ggml order: ne0 (the row, along which blocks run) first
    qtype: Q
    role: str = "weight"  # "weight", "norm" (ones), "bias" (zeros), "rope" (llama3 factors)

    @property
    def nbytes(self) -> int:
        block, size = GGML_QUANT_SIZES[self.qtype]
        return math.prod(self.shape) // block * size


def fit(qtype: Q, ne0: int) -> Q:
    """`qtype` if a row of `ne0` values is whole blocks of it, else the next that fits (Q8_0, then F16)."""
    for candidate in (qtype, Q.Q8_0, Q.F16):
        if ne0 % GGML_QUANT_SIZES[candidate][0] == 0:
            return candidate
    return Q.F16


def tensors(a: Arch) -> list[TensorSpec]:
    """Every tensor llama.cpp's loader expects for `a`, in file order."""
    def w(name, ne0, ne1, qtype=Q.Q4_0):
        return TensorSpec(name, (ne0, ne1), fit(qtype, ne0))

    def norm(name, n, role="norm"):
        return TensorSpec(name, (n,), Q.F32, role)

    e, kv, ff = a.n_embd, a.n_embd_kv, a.n_ff
    out = [w("token_embd.weight", e, a.n_vocab)]
    if a.arch == "starcoder":
        out.append(TensorSpec("position_embd.weight", (e, a.n_ctx), Q.F16))
    if a.llama3_rope:
        out.append(TensorSpec("rope_freqs.weight", (a.head_dim // 2,), Q.F32, "rope"))
    for i in range(a.n_layer):
        b = f"blk.{i}."
        out.append(norm(b + "attn_norm.weight", e))
        if a.arch == "llama":
            out += [w(b + "attn_q.weight", e, e), w(b + "attn_k.weight", e, kv), w(b + "attn_v.weight", e, kv),
                    w(b + "attn_output.weight", e, e), norm(b + "ffn_norm.weight", e),
                    w(b + "ffn_gate.weight", e, ff), w(b + "ffn_down.weight", ff, e), w(b + "ffn_up.weight", e, ff)]
        elif a.arch == "phi3":  # fused QKV, and gate+up fused into one ffn_up of twice the width
            out += [w(b + "attn_qkv.weight", e, e + 2 * kv), w(b + "attn_output.weight", e, e),
                    norm(b + "ffn_norm.weight", e), w(b + "ffn_up.weight", e, 2 * ff), w(b + "ffn_down.weight", ff, e)]
        elif a.arch == "starcoder":  # LayerNorm with bias, biased linear layers
            out += [norm(b + "attn_norm.bias", e, "bias"),
                    w(b + "attn_qkv.weight", e, e + 2 * kv), norm(b + "attn_qkv.bias", e + 2 * kv, "bias"),
                    w(b + "attn_output.weight", e, e), norm(b + "attn_output.bias", e, "bias"),
                    norm(b + "ffn_norm.weight", e), norm(b + "ffn_norm.bias", e, "bias"),
                    w(b + "ffn_up.weight", e, ff), norm(b + "ffn_up.bias", ff, "bias"),
                    w(b + "ffn_down.weight", ff, e), norm(b + "ffn_down.bias", e, "bias")]
        else:
            raise ValueError(f"no tensor list for architecture {a.arch!r}")
    out.append(norm("output_norm.weight", e))
    if a.arch == "starcoder":
        out.append(norm("output_norm.bias", e, "bias"))
    out.append(w("output.weight", e, a.n_vocab, Q.Q6_K))
    return out


def rope_factors(a: Arch) -> list[float]:
    """Llama 3.1's per-frequency rope divisors (what llama.cpp reads from `rope_freqs.weight`): frequencies
    whose wavelength exceeds original_ctx / low_freq_factor are slowed by `factor`, those under
    original_ctx / high_freq_factor are kept, the band between interpolated smoothly."""
    factor, low, high, original = a.llama3_rope
    out = []
    for i in range(0, a.head_dim, 2):
        wavelen = 2 * math.pi * a.rope_base ** (i / a.head_dim)
        if wavelen < original / high:
            out.append(1.0)
        elif wavelen > original / low:
            out.append(factor)
        else:
            smooth = (original / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return out


def data_bytes(a: Arch) -> int:
    """The tensors' bytes (the file adds its header and 32-byte alignment padding)."""
    return sum(t.nbytes for t in tensors(a))
