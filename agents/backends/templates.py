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
NAMED = {
    "chatml": (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    ),
    "phi3": (
        "{% for m in messages %}{{ '<|' + m['role'] + '|>\n' + m['content'] + '<|end|>\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
    ),
    "llama3": (
        "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n'"
        " + m['content'] + '<|eot_id|>' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    ),
    # StarCoder is a completion model; GPT4All drives it with an Alpaca-style instruction block.
    "alpaca": (
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] + '\n\n' }}"
        "{% elif m['role'] == 'user' %}{{ '### Instruction:\n' + m['content'] + '\n\n' }}"
        "{% else %}{{ '### Response:\n' + m['content'] + '\n\n' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '### Response:\n' }}{% endif %}"
    ),
}


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
