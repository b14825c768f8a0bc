"""The roles' prompts, as package data: one TOML file a role (legal, technical, orchestrator, reviewer, and
specialist for what every answering role gets), each text in English and Spanish with the same placeholders.

    text("legal", "system", "es")                      the text as written
    prompt("orchestrator", "integrate", "en", draft=d)  filled: `{name}` placeholders replaced in one pass

Filling never evaluates what it inserts: a question or draft containing `{x}` or `{{` stays as written, and
a placeholder with no value (e.g. in a user's own prompt) is left alone. Files are read on first use.
"""

from __future__ import annotations

import functools
import re
import tomllib
from importlib import resources

LANGUAGES = ("en", "es")
ROLES = ("orchestrator", "legal", "technical", "specialist", "reviewer")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@functools.cache
def load(role: str) -> dict:
    """The role's file as read (tables of language → text, and the orchestrator's `router`)."""
    return tomllib.loads(resources.files(__name__).joinpath(f"{role}.toml").read_text(encoding="utf-8"))


def text(role: str, name: str, lang: str) -> str:
    return load(role)[name][lang]


def fill(template: str, **values: str) -> str:
    """`{name}` replaced by `values[name]` in one pass over the template only (inserted text is never
    scanned again); other braces, and placeholders without a value, stay as they are."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def prompt(role: str, name: str, lang: str, **values: str) -> str:
    return fill(text(role, name, lang), **values)


def placeholders(template: str) -> set[str]:
    return set(PLACEHOLDER.findall(template))
