"""Chat templates: the GGUF's own Jinja template where it has one, or a named one for files that don't.

Rendering uses Jinja's sandbox as Hugging Face and llama.cpp do. Control tokens (<|im_start|>, ...) are
removed from message contents first, to a fixpoint (agents/backends/markers.py), so a user can't forge a
turn: the backend parses specials in the rendered prompt, which is only safe because of this.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from agents.backends.base import Message
from agents.backends.markers import strip_markers
from agents.errors import ProfileError

# For GGUF files that carry no template (or an unusable one). Values are Jinja, like tokenizer.chat_template.
# Each renders what its model's reference renders, character for character (tests/unit/test_seed_templates.py):
# GPT4All's own catalog (gpt4all-chat/metadata/models3.json, its `chatTemplate` for each seed file) for
# chatml (Orca 2), phi3 (Phi-3 Mini) and llama3 (Llama 3.1 8B Instruct 128k).
NAMED = {
    "chatml": (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    ),
    "phi3": (
        "{{ bos_token }}{% for m in messages %}{{ '<|' + m['role'] + '|>\n' + m['content'] + '<|end|>\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
    ),
    "llama3": (
        "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n'"
        " + m['content'] | trim + '<|eot_id|>' }}{% endfor %}"
        "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    ),
    # StarCoder is a completion model: GPT4All's catalog marks it "not available for chat" and passes the raw
    # text ("%1"). concilio's technical role gives it an Alpaca-style instruction block instead: headers that
    # code and Markdown in its training data use, which gpt4all stops on ("### Instruction", "### Response")
    # and which the llamacpp backend is given as stop strings (STOPS below).
    "alpaca": (
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] + '\n\n' }}"
        "{% elif m['role'] == 'user' %}{{ '### Instruction:\n' + m['content'] + '\n\n' }}"
        "{% else %}{{ '### Response:\n' + m['content'] + '\n\n' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '### Response:\n' }}{% endif %}"
    ),
}
# Text that ends an answer besides the model's end-of-turn token (gpt4all 2.8.2 stops on these by itself)
STOPS = {"alpaca": ("### Instruction", "### Response", "### Human")}


def resolve(name: str, gguf_template: str | None, path: str) -> str:
    """The Jinja source for a profile's `chat_template` setting ("gguf" or a name from NAMED)."""
    if name == "gguf":
        if gguf_template:
            return gguf_template
        raise ProfileError(
            f"{path} has no chat template in its metadata; set chat_template to one of "
            f"{', '.join(sorted(NAMED))} for this model in your config"
        )
    if name in NAMED:
        return NAMED[name]
    raise ProfileError(f"unknown chat_template {name!r}; use 'gguf' or one of {', '.join(sorted(NAMED))}")


def prompt(template: str, messages: Sequence[Message], *, control_tokens: Sequence[str] = (),
           bos_token: str = "", eos_token: str = "", adds_bos: bool = False) -> str:
    """The text a local backend tokenises. When its tokenizer adds the BOS token itself (`adds_bos`, the file's
    `tokenizer.ggml.add_bos_token`), a BOS the template wrote first is dropped: one BOS, never two."""
    text = render(template, messages, control_tokens=control_tokens, bos_token=bos_token, eos_token=eos_token)
    return text[len(bos_token):] if adds_bos and bos_token and text.startswith(bos_token) else text


def sanitize(text: str, control_tokens: Iterable[str]) -> str:
    """`text` without the model's control tokens or any known chat marker, none left by nesting."""
    return strip_markers(text, control_tokens)


def render(template: str, messages: Sequence[Message], *, control_tokens: Sequence[str] = (),
           bos_token: str = "", eos_token: str = "") -> str:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(message: str) -> None:  # used by many HF templates
        raise ProfileError(f"chat template refused the conversation: {message}")

    env.globals["raise_exception"] = raise_exception
    clean = [{"role": m["role"], "content": sanitize(m["content"], control_tokens)} for m in messages]
    return env.from_string(template).render(
        messages=clean, add_generation_prompt=True, bos_token=bos_token, eos_token=eos_token
    )
