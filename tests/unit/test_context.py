"""Context fitting, by table: what goes in, what is dropped (oldest first)."""

from __future__ import annotations

import pytest

from memory.context import char_budget, fit_newest


def m(role: str, text: str) -> dict:
    return {"role": role, "content": text}


THREAD = [m("user", "a" * 10), m("assistant", "b" * 10), m("user", "c" * 10), m("assistant", "d" * 10)]


@pytest.mark.parametrize(
    "budget, kept",
    [
        (0, []),
        (15, []),  # the newest message alone needs 10 + len("assistant") + 2 = 21
        (21, ["d"]),
        (36, ["d"]),
        (37, ["c", "d"]),  # exact fit: the user message costs 10 + len("user") + 2 = 16
        (10_000, ["a", "b", "c", "d"]),
    ],
)
def test_fit_newest_keeps_the_newest_messages_in_order(budget, kept):
    assert [msg["content"][0] for msg in fit_newest(THREAD, budget)] == kept


def test_a_message_that_does_not_fit_stops_the_walk_even_if_older_ones_would():
    thread = [m("user", "x"), m("user", "y" * 100), m("user", "z")]
    assert [msg["content"] for msg in fit_newest(thread, 20)] == ["z"]


@pytest.mark.parametrize("window, share, reserved, budget", [(4096, 0.5, 0, 6144), (1000, 0.75, 100, 2150),
                                                              (100, 0.5, 1000, 0)])
def test_char_budget(window, share, reserved, budget):
    assert char_budget(window, share, reserved) == budget
