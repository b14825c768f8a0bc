"""Forged turns on the real embedded model, counted in tokens: a question full of (nested) chat markers puts
no more control tokens in the prompt than a plain one, on gpt4all (concilio renders, llmodel tokenises with
specials on) and on llama.cpp in process (llama-cpp-python's chat handler renders and tokenises)."""

from __future__ import annotations

import dataclasses

import pytest
from forged import FORGED

from agents.backends import GenParams
from agents.backends.markers import KNOWN_MARKERS
from agents.models import embedded
from agents.models.gguf_file import inspect
from agents.models.profiles import resolve
from agents.slot.slot import GpuSlot

pytestmark = pytest.mark.model
llama_cpp = pytest.importorskip("llama_cpp", reason="needs the 'llama' extra (llama-cpp-python)")

FAMILIES = ["chatml", "llama3", "phi3", "gemma", "smollm2"]
SYSTEM = {"role": "system", "content": "Answer briefly."}


@pytest.fixture(scope="module")
def files():
    return embedded.ensure()


@pytest.fixture(scope="module")
def vocab(files):
    """SmolLM2's tokenizer (no weights) and the ids of its control tokens."""
    tok = llama_cpp.Llama(model_path=str(files.original), vocab_only=True, verbose=False)
    ids = {t: tok.tokenize(t.encode(), add_bos=False, special=True) for t in inspect(files.original).control_tokens}
    yield tok, {i[0] for i in ids.values() if len(i) == 1}
    tok.close()


def controls(ids, control_ids) -> int:
    return sum(i in control_ids for i in ids)


@pytest.fixture(scope="module")
def gpt4all_model():
    slot = GpuSlot()
    with slot.hold(resolve("embedded").role("orchestrator").model) as lease:
        yield lease.model
    slot.clear()


@pytest.fixture(scope="module")
def llamacpp_model(files):
    spec = dataclasses.replace(resolve("embedded").role("orchestrator").model, backend="llamacpp",
                               path=files.original, name="smollm2-llamacpp")
    slot = GpuSlot()
    with slot.hold(spec) as lease:
        yield lease.model
    slot.clear()


def gpt4all_prompt(model, content: str) -> str:
    """The prompt string gpt4all's llmodel is given (and tokenises with special=True)."""
    llmodel = model._model.model
    seen: list[str] = []
    original = llmodel.prompt_model

    def recording(prompt, *args, **kwargs):
        seen.append(prompt)
        return original(prompt, *args, **kwargs)

    llmodel.prompt_model = recording
    try:
        model.complete([SYSTEM, {"role": "user", "content": content}], GenParams(max_tokens=2))
    finally:
        del llmodel.prompt_model
    return seen[0]


@pytest.mark.parametrize("family", FAMILIES)
def test_gpt4all_prompt_has_only_the_templates_control_tokens(gpt4all_model, vocab, family):
    tok, control_ids = vocab
    plain = gpt4all_prompt(gpt4all_model, "Hi")
    forged = gpt4all_prompt(gpt4all_model, FORGED[family])
    count = [controls(tok.tokenize(p.encode(), add_bos=False, special=True), control_ids) for p in (plain, forged)]
    assert count[0] == 5  # system and user turns (start + end each) and the generation prompt
    assert count[1] == count[0], forged
    body = forged.split("<|im_start|>user\n", 1)[1].split("<|im_end|>", 1)[0]
    assert [m for m in KNOWN_MARKERS if m in body] == [], body


def llamacpp_prompt_ids(model, content: str) -> list[int]:
    """The token ids llama.cpp evaluated for the prompt (its context holds the prompt, then the answer)."""
    done = model.complete([SYSTEM, {"role": "user", "content": content}], GenParams(max_tokens=2))
    return list(model._llm.input_ids[:done.tokens_in])


@pytest.mark.parametrize("family", FAMILIES)
def test_llamacpp_prompt_has_only_the_templates_control_tokens(llamacpp_model, vocab, family):
    _, control_ids = vocab
    plain = controls(llamacpp_prompt_ids(llamacpp_model, "Hi"), control_ids)
    forged_ids = llamacpp_prompt_ids(llamacpp_model, FORGED[family])
    assert plain == 5
    assert controls(forged_ids, control_ids) == plain
    text = llamacpp_model._llm.detokenize(forged_ids, special=True).decode("utf-8", "replace")
    body = text.split("<|im_start|>user\n", 1)[1].split("<|im_end|>", 1)[0]
    assert [m for m in KNOWN_MARKERS if m in body] == [], body


def test_gpt4all_prompt_too_large_is_an_error_not_an_answer(gpt4all_model):
    from agents.errors import ContextWindowError

    pieces: list[str] = []
    with pytest.raises(ContextWindowError, match="SmolLM2.* 4,096-token context window .*exceeds"):
        gpt4all_model.complete([{"role": "user", "content": "contrato de arrendamiento " * 1200}],
                               GenParams(max_tokens=4), pieces.append)
    assert pieces == []  # nothing of the error text was streamed as an answer


def test_cli_refuses_20000_characters_on_the_4096_token_model_and_stores_nothing(capsys):
    from graphs.cli import main
    from memory.checkpoints import default_db_path

    assert main(["ask", "¿Qué es un contrato? " + "x" * 19_979, "--thread", "big"]) == 2
    err = capsys.readouterr().err
    assert "about 9,091 tokens" in err and "4,096-token context window" in err and "Traceback" not in err
    assert not default_db_path().exists() or main(["threads", "show", "big"]) == 1
