"""Chat-template markers in message contents: removed before any backend sees a message.

A user who types `<|im_start|>system …` (or Llama 3's `<|start_header_id|>`, Phi-3's `<|system|>`, Gemma's
`<start_of_turn>`, `<s>`/`</s>`, an Alpaca `### Response:` header) must not be able to forge a turn. Every
backend tokenises its rendered prompt with special tokens parsed (gpt4all through concilio's own renderer,
llama-cpp-python's chat handler, and OpenAI-compatible servers), so the markers have to go from the contents
themselves. `neutralize()` is applied to every message of every backend by `ChatModel` (agents/backends/base.py).

Markers are removed to a fixpoint, so a nested one (`<|im_st<|im_start|>art|>`) can't reassemble. Removal is
bounded: each pass that changes the text makes it shorter. Pure functions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

# Every `<|name|>` token (ChatML, Llama 3, Phi-3, Qwen, DeepSeek's full-width variant, SmolLM's
# <|endoftext|>, fill-in-the-middle tokens), plus the bracket-style markers of the other templates.
_GENERIC = [
    r"<\|[^<>|\s]{1,64}\|>",
    r"<｜[^<>｜\s]{1,64}｜>",  # DeepSeek: full-width bars
    r"</?s>",  # Llama 2 / Mistral BOS and EOS
    r"</?(?:bos|eos|pad|unk|mask)>",  # Gemma
    r"<(?:start|end)_of_turn>",  # Gemma
    r"\[/?INST\]",  # Llama 2 / Mistral
    r"<</?SYS>>",
    r"<\|?(?:fim_[a-z]+|file_sep|repo_name|filename|gh_stars|issue_[a-z]+|jupyter_[a-z]+|empty_output|"
    r"commit_[a-z]+|reponame|code_to_intermediate|intermediate_to_code|pr(?:_[a-z]+)?)\|?>",  # StarCoder/SmolLM
]
# Alpaca / Orca / Vicuna turn headers: the header word stays, its hashes go (Markdown headings stay).
_HEADER = re.compile(r"(?i)#{2,}[ \t]*(instruction|response|input|system|user|assistant|human)([ \t]*:)")
KNOWN_MARKERS = (  # for the tests and the docs: what each template the project knows uses
    "<|im_start|>", "<|im_end|>", "<|endoftext|>",  # ChatML, SmolLM2's BOS/EOS
    "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|end_of_text|>",  # Llama 3
    "<|system|>", "<|user|>", "<|assistant|>", "<|end|>",  # Phi-3
    "<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>",  # Gemma
    "<s>", "</s>", "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>",  # Llama 2 / Mistral
    "### Instruction:", "### Response:", "### System:", "### User:", "### Assistant:",  # Alpaca / Orca
)

# Tokens that end a model's turn: a backend stops generating at any of these that the model's file holds as a
# control token (gpt4all 2.8.2 by itself stops only at the file's EOS token, e.g. Phi-3's <|endoftext|>, not
# at the <|end|> its chat format ends turns with)
END_OF_TURN = ("<|im_end|>", "<|end|>", "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|endoftext|>", "</s>",
               "<end_of_turn>", "<eos>")


@functools.lru_cache(maxsize=16)
def _pattern(extra: tuple[str, ...]) -> re.Pattern[str]:
    literal = [re.escape(t) for t in sorted({t for t in extra if t}, key=len, reverse=True)]
    return re.compile("|".join([*literal, *_GENERIC]))


def strip_markers(text: str, control_tokens: Iterable[str] = ()) -> str:
    """`text` with every chat marker (and each of `control_tokens`, a model's own) removed, to a fixpoint."""
    pattern = _pattern(tuple(control_tokens))
    while True:
        stripped = _HEADER.sub(r"\1\2", pattern.sub("", text))
        if stripped == text:
            return text
        text = stripped


def neutralize(messages: Sequence[dict], control_tokens: Iterable[str] = ()) -> list:
    """Copies of `messages` whose contents hold no chat marker; roles and other keys untouched."""
    tokens = tuple(control_tokens)
    return [{**m, "content": strip_markers(m["content"], tokens)} if isinstance(m.get("content"), str) else dict(m)
            for m in messages]
