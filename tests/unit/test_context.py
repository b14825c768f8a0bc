"""Context fitting, by table: what goes in, what is dropped (oldest first)."""

from __future__ import annotations

import pytest

from agents.roles.context import char_budget


def m(role: str, text: str) -> dict:
    return {"role": role, "content": text}


@pytest.mark.parametrize("window, share, reserved, budget", [(4096, 0.5, 0, 4505), (1000, 0.75, 100, 1550),
                                                              (100, 0.5, 1000, 0)])
def test_char_budget(window, share, reserved, budget):
    assert char_budget(window, share, reserved) == budget


from agents.roles.context import fit_context, group_turns, summarize_turn  # noqa: E402


def turn(i: int, q: int = 40, a: int = 40) -> list[dict]:
    return [m("user", f"q{i}:" + "x" * q), m("assistant", f"a{i}:" + "y" * a)]


def thread(n: int, **kw) -> list[dict]:
    return [msg for i in range(n) for msg in turn(i, **kw)]


# Each turn below costs 105 chars (user 44+4+2, assistant 44+9+2); summary lines "s{i}"*30 cost 61.
@pytest.mark.parametrize(
    "n, budget, verbatim, summarized, dropped",
    [
        (0, 100, 0, 0, 0),  # nothing to fit
        (3, 10_000, 3, 0, 0),  # everything fits verbatim: no summary
        (10, 1000, 6, 4, 0),  # 700 verbatim -> 6 turns; 4 whole lines (244) within 300
        (10, 600, 4, 3, 3),  # 420 -> 4 turns; 6 lines need 366 > 180, a share of 29 < 48: newest 3 at 48
        (30, 600, 4, 3, 23),
        (10, 50, 0, 0, 10),  # a window too small for anything
    ],
)
def test_fit_context_table(n, budget, verbatim, summarized, dropped):
    fitted = fit_context(thread(n), [f"s{i}" * 30 for i in range(n)], budget)
    assert (fitted.verbatim_turns, fitted.summarized_turns, fitted.dropped_turns) == (verbatim, summarized, dropped)
    assert sum(len(x["content"]) + len(x["role"]) + 2 for x in fitted.recent) + sum(
        len(line) + 1 for line in fitted.summary) <= budget
    if fitted.recent:  # verbatim turns are whole and the newest ones
        assert fitted.recent[-1]["content"].startswith(f"a{n - 1}:") and fitted.recent[0]["role"] == "user"
    if fitted.summary:  # summary lines are the turns just before the verbatim ones
        assert fitted.summary[-1].startswith(f"s{n - verbatim - 1}")


def test_when_whole_lines_do_not_fit_every_older_turn_keeps_an_equal_share():
    lines = [f"Fact {i}: my budget is {i}00 euros. " + "detail " * 40 for i in range(4)]
    fitted = fit_context(thread(10), lines, 1000)  # 4 older turns, 300 chars of summary: 74 each
    assert fitted.summarized_turns == 4 and fitted.dropped_turns == 0
    assert [len(line) for line in fitted.summary] == [74] * 4
    assert fitted.summary[0].startswith("Fact 0: my budget is 000 euros.") and fitted.summary[0].endswith("…")


def test_summary_lines_are_made_for_turns_that_have_none():
    fitted = fit_context(thread(10), ["line0", "line1"], 1000)
    made = [summarize_turn(f"q{i}:" + "x" * 40, f"a{i}:" + "y" * 40) for i in (2, 3)]
    assert fitted.summary == ["line0", "line1", *made]
    assert made[0] == "q2:" + "x" * 40 + " → a2:" + "y" * 40


@pytest.mark.parametrize(
    "question, answer, line",
    [
        ("Me llamo Ana y vivo en Madrid.", "Encantado, Ana. ¿En qué te ayudo?",
         "Me llamo Ana y vivo en Madrid. → Encantado, Ana."),
        ("What is a lease?", "", "What is a lease? → "),
        ("q " * 200, "A long answer! With two sentences.", None),
    ],
)
def test_summarize_turn(question, answer, line):
    out = summarize_turn(question, answer)
    if line is not None:
        assert out == line
    else:
        assert out.endswith("→ A long answer!") and len(out.split(" → ")[0]) == 240


def test_group_turns():
    assert [len(t) for t in group_turns(thread(3))] == [2, 2, 2]
    assert [len(t) for t in group_turns([m("assistant", "hi"), m("user", "q"), m("assistant", "a")])] == [1, 2]
