"""Fitting a conversation into a model's window: the newest turns that fit, oldest dropped first.

A pure function, shared by the specialists (a share of their window) and the reviewer (most of its
window). Sizes are estimated at CHARS_PER_TOKEN until per-model tokenizer counts land.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.backends.base import Message

CHARS_PER_TOKEN = 3  # conservative for English and Spanish prose with BPE tokenizers


def char_budget(context_window: int, share: float, reserved_chars: int = 0) -> int:
    return max(int(context_window * share * CHARS_PER_TOKEN) - reserved_chars, 0)


def fit_newest(history: Sequence[Message], budget_chars: int) -> list[Message]:
    """The most recent messages whose contents fit in `budget_chars`, in their original order."""
    kept: list[Message] = []
    for message in reversed(history):
        budget_chars -= len(message["content"]) + len(message["role"]) + 2  # "role: content\n"
        if budget_chars < 0:
            break
        kept.append(message)
    return kept[::-1]
