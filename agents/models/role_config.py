"""Checking a config file's `[roles.<role>]` table when the profile loads, long before a model does.

A table of rules, one a setting, each with what the value may be; `problems()` is pure and returns one line
per bad setting, naming the role, the setting, the value and what it may be. The profile loader turns
them into one `RoleConfigError` that also names the config file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

MAX_CONTEXT_WINDOW = 1_048_576  # tokens: the largest window a GGUF in use claims (Llama 3.1 128k is 131,072)
MAX_THREADS = 1024
TEMPLATE_DEFAULT = "gguf"  # the file's own chat template


def _whole(low: int, high: int) -> Callable[[object], bool]:
    return lambda v: type(v) is int and low <= v <= high  # bool is an int in Python: refused


def _text(v: object) -> bool:
    return isinstance(v, str) and bool(v.strip())


@dataclass(frozen=True)
class Rule:
    ok: Callable[[object], bool]
    may_be: str


RULES: dict[str, Rule] = {
    "name": Rule(_text, "a non-empty string"),
    "path": Rule(_text, "the path of a GGUF file, as a string"),
    "context_window": Rule(_whole(1, MAX_CONTEXT_WINDOW),
                           f"a whole number of tokens from 1 to {MAX_CONTEXT_WINDOW:,} (e.g. 8192, not \"8k\")"),
    "max_tokens": Rule(_whole(1, MAX_CONTEXT_WINDOW), "a whole number of tokens, at least 1 (e.g. 400)"),
    "threads": Rule(_whole(1, MAX_THREADS), f"a whole number of CPU threads from 1 to {MAX_THREADS}"),
    "prompt": Rule(_text, "a non-empty string (the role's system prompt)"),
}
KEYS = (*RULES, "backend", "chat_template", "device", "options")


def _show(value: object) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {v!r}" for k, v in value.items()) + " }"
    return repr(value)


def problems(role: str, table: dict, *, backend: str, device: str) -> list[str]:
    """What is wrong with `[roles.<role>]` (empty when nothing is). `backend` and `device`: the values the
    role ends up with (the table's or the base profile's). Pure, apart from looking up registered backends."""
    from agents import backends
    from agents.backends.base import option_problems
    from agents.backends.templates import NAMED

    where = f"[roles.{role}]"
    found = []
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        found.append(f"{where} has unknown key(s) {', '.join(unknown)}; a role takes {', '.join(KEYS)}")
    for key, rule in RULES.items():
        if key in table and not rule.ok(table[key]):
            found.append(f"{where} {key} = {_show(table[key])} can't be used: it must be {rule.may_be}")
    user_backends = backends.names()
    if not backends.known(backend):
        found.append(f"{where} backend = {backend!r} is not a backend: use one of {', '.join(user_backends)}")
        return found
    template = table.get("chat_template", TEMPLATE_DEFAULT)
    if template != TEMPLATE_DEFAULT and template not in NAMED:
        found.append(f"{where} chat_template = {_show(template)} is not a chat template: use "
                     f"{TEMPLATE_DEFAULT!r} (the file's own) or one of {', '.join(sorted(NAMED))}")
    model = backends.options_model(backend)
    if not isinstance(device, str) or not model.accepts_device(device):
        prefixes = "".join(f", {p}NAME" for p in model.device_prefixes)
        found.append(f"{where} device = {_show(device)} is not a device backend {backend!r} knows: use one of "
                     f"{', '.join(model.devices)}{prefixes}")
    options = table.get("options", {})
    if not isinstance(options, dict):
        found.append(f"{where} options = {_show(options)} can't be used: it must be a table, "
                     "e.g. options = { timeout = 60 }")
        return found
    try:
        model.model_validate(options)
    except ValidationError as exc:
        takes = ", ".join(model.model_fields) or "no options"
        found += [f"{where} {line} (backend {backend!r} takes {takes})" for line in option_problems(exc)]
    return found
