"""The stand-ins' shapes (evals/standins/specs.py, vocab.py): pure, no file written."""

from __future__ import annotations

import pytest

from evals.standins import specs, vocab

SEED = specs.SEED


@pytest.mark.parametrize("key", list(SEED))
def test_a_full_size_stand_in_is_within_one_percent_of_the_real_file(key):
    arch = SEED[key]
    assert specs.data_bytes(arch) == pytest.approx(arch.real_size, rel=0.01)


@pytest.mark.parametrize("key, layers, embd, heads, kv, ff, n_vocab, ctx", [
    ("orca2", 32, 4096, 32, 32, 11008, 32003, 4096),
    ("phi3", 32, 3072, 32, 32, 8192, 32064, 4096),
    ("starcoder", 40, 6144, 48, 1, 24576, 49152, 8192),
    ("llama31", 32, 4096, 32, 8, 14336, 128256, 131072),
])
def test_the_published_hyper_parameters(key, layers, embd, heads, kv, ff, n_vocab, ctx):
    a = SEED[key]
    assert (a.n_layer, a.n_embd, a.n_head, a.n_head_kv, a.n_ff, a.n_vocab, a.n_ctx) == (
        layers, embd, heads, kv, ff, n_vocab, ctx)


@pytest.mark.parametrize("key", list(SEED))
def test_the_few_layer_version_keeps_architecture_vocabulary_and_kv_grouping(key):
    full, few = SEED[key], specs.few_layer(SEED[key])
    assert few.n_layer == 2 and few.arch == full.arch and few.n_vocab == full.n_vocab
    assert few.n_head // few.n_head_kv == min(full.n_head // full.n_head_kv, few.n_head)
    assert few.specials == full.specials and specs.data_bytes(few) < 60_000_000


@pytest.mark.parametrize("key, marker, tid", [
    ("orca2", "<|im_start|>", 32001), ("orca2", "<|im_end|>", 32002),
    ("phi3", "<|user|>", 32010), ("phi3", "<|assistant|>", 32001), ("phi3", "<|end|>", 32007),
    ("phi3", "<|system|>", 32006), ("phi3", "<|endoftext|>", 32000),
    ("starcoder", "<|endoftext|>", 0), ("starcoder", "<fim_prefix>", 1), ("starcoder", "<reponame>", 18),
    ("llama31", "<|begin_of_text|>", 128000), ("llama31", "<|start_header_id|>", 128006),
    ("llama31", "<|end_header_id|>", 128007), ("llama31", "<|eot_id|>", 128009),
    ("llama31", "<|reserved_special_token_247|>", 128255),
])
def test_special_tokens_sit_at_their_real_ids_as_control_tokens(key, marker, tid):
    a = SEED[key]
    if a.tokenizer == "llama":
        tokens, _, types = vocab.spm(a.n_vocab, a.specials)
    else:
        tokens, types, _ = vocab.bpe(a.n_vocab, a.specials)
    assert len(tokens) == a.n_vocab == len(set(tokens)) and tokens[tid] == marker
    assert types[tid] == (vocab.UNKNOWN if marker == "<unk>" else vocab.CONTROL)


def test_bpe_merges_only_join_tokens_that_exist():
    tokens, _, merges = vocab.bpe(49152, specs.STARCODER_SPECIALS)
    have = set(tokens)
    assert len(merges) > 1000 and all(a in have and b in have and a + b in have
                                      for a, b in (m.split(" ") for m in merges))


def test_llama31_rope_factors_slow_only_the_long_wavelengths():
    factors = specs.rope_factors(SEED["llama31"])
    assert len(factors) == 64 and factors[0] == 1.0 and factors[-1] == 8.0
    assert all(1.0 <= f <= 8.0 for f in factors) and factors == sorted(factors)


@pytest.mark.parametrize("name, template", [
    ("orca-2-7b.Q4_0.gguf", "chatml"), ("Phi-3-mini-4k-instruct.Q4_0.gguf", "phi3"),
    ("starcoder-newbpe-q4_0.gguf", "alpaca"), ("Meta-Llama-3.1-8B-Instruct-128k-Q4_0.gguf", "llama3"),
    ("orchestrator.gguf", "gguf"),
])
def test_bench_slot_gives_a_seed_file_its_profile_template(name, template):
    from pathlib import Path

    from evals.bench_slot import template_for

    assert template_for(Path("/m") / name) == template


def test_memory_eval_contexts_default_to_the_profile_windows_and_parse_overrides():
    from evals.standins_memory import default_contexts, parse_contexts, ratio

    assert default_contexts() == {"orca2": [4096], "phi3": [4096], "starcoder": [8192], "llama31": [16384, 32768]}
    assert parse_contexts(["llama31=16384,65536", "phi3=2048"]) == {"llama31": [16384, 65536], "phi3": [2048]}
    assert ratio(110.0, 100.0) == 1.1 and ratio(1.0, 0.0) is None
