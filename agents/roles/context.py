"""Fitting a conversation into a model's window: recent turns verbatim, older turns as summary lines.

Pure functions, shared by the specialists (a share of their window) and the reviewer (most of its window).
The running summary is one line per completed turn, kept in the graph state (`summaries`): the user's
words (where facts about them live) and the first sentence of the answer. It is extractive on purpose:
deterministic, free, and a small model asked to summarise loses exactly the facts that matter.
Sizes are estimated at CHARS_PER_TOKEN until per-model tokenizer counts land. Measured on SmolLM2's
tokenizer: English 4.35, Spanish 2.77, Python code 2.28 characters a token; 2.2 stays below all three
(tests/integration/test_embedded_model.py keeps it so).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agents.backends.base import Message

CHARS_PER_TOKEN = 2.2  # conservative: fewer characters a token than measured for es, en and code
SUMMARY_SHARE = 0.3  # of a node's history budget, once the thread no longer fits verbatim
QUESTION_CHARS, ANSWER_CHARS = 240, 160
MIN_LINE_CHARS = 48  # a compressed line keeps at least the user's first words
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def char_budget(context_window: int, share: float, reserved_chars: int = 0) -> int:
    return max(int(context_window * share * CHARS_PER_TOKEN) - reserved_chars, 0)


def estimated_tokens(history: Sequence[Message], question: str) -> int:
    return int((sum(size(m) for m in history) + len(question)) / CHARS_PER_TOKEN) + 1


def needs_long_context(tokens: int, window: int, long_window: int, answer_tokens: int = 320) -> bool:
    """Route to the long-context model: the whole thread, the question and an answer don't fit the
    specialist's window, and the long-context model's window is larger. A rule from token counts."""
    return tokens + answer_tokens > window and long_window > window


def size(message: Message) -> int:
    return len(message["content"]) + len(message["role"]) + 2  # "role: content\n"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def summarize_turn(question: str, answer: str) -> str:
    """One line for a completed turn: the user's words, then the answer's first sentence."""
    first = _SENTENCE_END.split(" ".join(answer.split()), maxsplit=1)[0] if answer.strip() else ""
    return f"{_clip(question, QUESTION_CHARS)} → {_clip(first, ANSWER_CHARS)}"


def group_turns(history: Sequence[Message]) -> list[list[Message]]:
    """Messages grouped into turns, each starting at a user message."""
    turns: list[list[Message]] = []
    for message in history:
        if message["role"] == "user" or not turns:
            turns.append([])
        turns[-1].append(message)
    return turns


@dataclass(frozen=True)
class Fitted:
    recent: list[Message]  # verbatim, oldest first
    summary: list[str] = field(default_factory=list)  # lines for older turns, oldest first
    verbatim_turns: int = 0
    summarized_turns: int = 0
    dropped_turns: int = 0

    def note(self) -> str:
        return (f"history: {self.verbatim_turns} turn(s) verbatim, {self.summarized_turns} summarised, "
                f"{self.dropped_turns} dropped")


def fit_context(history: Sequence[Message], summaries: Sequence[str], budget_chars: int) -> Fitted:
    """Recent turns verbatim and older ones as summary lines, within `budget_chars`.

    Everything verbatim when it fits. Otherwise SUMMARY_SHARE of the budget goes to summary lines and the
    rest to whole recent turns. Summary lines are kept whole when they fit; else every older turn gets an
    equal share of the summary budget (its line clipped, so the user's first words survive); only when
    that share would fall under MIN_LINE_CHARS are the oldest turns dropped. `summaries[i]` is turn i's
    line; a missing one is made from the turn itself.
    """
    turns = group_turns(history)
    if sum(size(m) for m in history) <= budget_chars:
        return Fitted(list(history), [], len(turns), 0, 0)
    summary_budget = int(budget_chars * SUMMARY_SHARE)
    verbatim_budget = budget_chars - summary_budget
    first_kept = len(turns)
    for i in range(len(turns) - 1, -1, -1):
        cost = sum(size(m) for m in turns[i])
        if cost > verbatim_budget:
            break
        verbatim_budget -= cost
        first_kept = i
    lines = [summaries[i] if i < len(summaries) else _line_for(turns[i]) for i in range(first_kept)]
    lines = compress(lines, summary_budget)
    recent = [m for turn in turns[first_kept:] for m in turn]
    return Fitted(recent, lines, len(turns) - first_kept, len(lines), first_kept - len(lines))


def compress(lines: Sequence[str], budget_chars: int) -> list[str]:
    """Summary lines within `budget_chars` (each costs its length + 1): whole, else equal clipped shares,
    else the newest ones at MIN_LINE_CHARS."""
    if sum(len(line) + 1 for line in lines) <= budget_chars:
        return list(lines)
    share = budget_chars // len(lines) - 1 if lines else 0
    if share >= MIN_LINE_CHARS:
        return [_clip(line, share) for line in lines]
    keep = budget_chars // (MIN_LINE_CHARS + 1)
    return [_clip(line, MIN_LINE_CHARS) for line in lines[len(lines) - keep:]] if keep else []


def _line_for(turn: Sequence[Message]) -> str:
    question = next((m["content"] for m in turn if m["role"] == "user"), "")
    answer = next((m["content"] for m in turn if m["role"] == "assistant"), "")
    return summarize_turn(question, answer)
