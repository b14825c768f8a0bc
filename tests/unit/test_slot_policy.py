"""The GPU slot's pure decisions, by tables: eviction under budgets, placement, scheduling, lifecycle."""

from __future__ import annotations

import pytest

from agents.slot.policy import Budget, LifecycleError, evict_for, parse_budget, pick_next, place, transition

SINGLE = Budget()
TWO = Budget(max_models=2)
MB_1000 = Budget(max_models=None, mb=1000)
MB_1000_PIN_O = Budget(max_models=None, mb=1000, pinned=frozenset({"o"}))


@pytest.mark.parametrize(
    "target, resident, budget, expected",
    [
        # the seed's rule: one model at a time
        (("a", 100), [], SINGLE, []),  # empty slot: load, evict nothing
        (("a", 100), [("a", 100)], SINGLE, []),  # already resident: no swap
        (("b", 100), [("a", 100)], SINGLE, ["a"]),
        (("b", 100), [("a", 100)], Budget(pinned=frozenset({"a"})), ["a"]),  # single: a pin can't keep it
        # a count budget
        (("c", 1), [("a", 1), ("b", 1)], TWO, ["a"]),  # full: the least recently used goes
        (("c", 1), [("a", 1)], TWO, []),  # room for two
        (("a", 1), [("b", 1), ("a", 1)], TWO, []),  # resident among several
        (("d", 1), [("a", 1), ("b", 1), ("c", 1)], TWO, ["a", "b"]),  # over (budget lowered): shed to fit
        # a memory budget: keep what fits, least recently used out first
        (("c", 300), [("a", 400), ("b", 300)], MB_1000, []),  # 1000 fits exactly
        (("c", 301), [("a", 400), ("b", 300)], MB_1000, ["a"]),
        (("c", 700), [("a", 200), ("b", 300), ("d", 250)], MB_1000, ["a", "b"]),  # as many as it takes
        (("c", 1500), [("a", 200), ("b", 300)], MB_1000, ["a", "b"]),  # bigger than the budget: runs alone
        (("c", 0), [("a", 600), ("b", 400)], MB_1000, []),  # a server model needs nothing locally
        # pinning: the orchestrator stays while anything else can go
        (("s", 500), [("o", 400), ("t", 500)], MB_1000_PIN_O, ["t"]),
        (("s", 700), [("o", 400), ("t", 200)], MB_1000_PIN_O, ["t", "o"]),  # not enough: the pin goes too
        (("s", 100), [("t", 300), ("o", 400), ("r", 300)], MB_1000_PIN_O, ["t"]),  # LRU among the unpinned
        # both limits at once
        (("c", 10), [("a", 10), ("b", 10)], Budget(max_models=2, mb=1000), ["a"]),
    ],
)
def test_evict_for(target, resident, budget, expected):
    assert evict_for(target, resident, budget) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        (None, Budget()),
        ("single", Budget()),
        ("models:3", Budget(max_models=3)),
        ("6000", Budget(max_models=None, mb=6000)),
        ("6000MB", Budget(max_models=None, mb=6000)),
        ("6GB", Budget(max_models=None, mb=6144)),
        (" 1.5 gib ", Budget(max_models=None, mb=1536)),
    ],
)
def test_parse_budget(text, expected):
    assert parse_budget(text) == expected


@pytest.mark.parametrize("text", ["lots", "models:0", "-5", "0MB"])
def test_parse_budget_rejects_nonsense(text):
    with pytest.raises(ValueError):
        parse_budget(text)


@pytest.mark.parametrize(
    "device, need, budget, expected_device, note_has",
    [
        ("cpu", 5000, MB_1000, "cpu", ""),
        ("gpu", 500, MB_1000, "gpu", ""),
        ("cuda", 1500, MB_1000, "cpu", "over the GPU budget of 1000 MB"),  # doesn't fit: CPU, with a note
        ("gpu", 50_000, SINGLE, "gpu", ""),  # no memory budget: the backend finds out (and falls back itself)
    ],
)
def test_place(device, need, budget, expected_device, note_has):
    got, note = place(device, need, budget)
    assert got == expected_device
    assert (note_has in note) if note_has else note == ""


R = {"a"}  # the resident model


@pytest.mark.parametrize(
    "waiting, policy, max_passes, expected",
    [
        ([("b", 0), ("a", 0)], "fifo", 4, 0),  # FIFO: arrival order, swap or not
        ([("b", 0), ("a", 0)], "aware", 4, 1),  # aware: the resident model's waiter first
        ([("b", 0), ("c", 0)], "aware", 4, 0),  # nobody needs the resident model: the oldest
        ([("b", 0), ("c", 0), ("c", 0)], "aware", 4, 1),  # ... of the model most waiters need (one swap, two served)
        ([("b", 0), ("c", 0), ("b", 0), ("c", 0)], "aware", 4, 0),  # a tie: the oldest
        ([("b", 4), ("a", 0)], "aware", 4, 0),  # passed over 4 times: served now (fairness)
        ([("b", 3), ("a", 0)], "aware", 4, 1),  # not yet
        ([("c", 0), ("b", 5), ("d", 6)], "aware", 4, 1),  # several starving: the oldest of them
        ([("a", 0)], "aware", 0, 0),
        ([("b", 0), ("a", 0), ("a", 0)], "aware", 4, 1),  # the oldest among the resident model's waiters
    ],
)
def test_pick_next(waiting, policy, max_passes, expected):
    assert pick_next(waiting, R, policy, max_passes) == expected


def test_pick_next_rejects_an_empty_queue_and_unknown_policies():
    with pytest.raises(ValueError):
        pick_next([], R)
    with pytest.raises(ValueError, match="aware, fifo"):
        pick_next([("a", 0)], R, "random")


@pytest.mark.parametrize(
    "state, event, expected",
    [
        ("stopped", "load", "loading"),
        ("loading", "loaded", "ready"),
        ("loading", "failed", "stopped"),
        ("ready", "unload", "unloading"),
        ("unloading", "unloaded", "stopped"),
    ],
)
def test_lifecycle(state, event, expected):
    assert transition(state, event) == expected


@pytest.mark.parametrize("state, event", [("stopped", "unload"), ("ready", "load"), ("loading", "unload"),
                                          ("unloading", "loaded"), ("ready", "failed")])
def test_lifecycle_refuses_impossible_steps(state, event):
    with pytest.raises(LifecycleError, match=f"{state} can't take"):
        transition(state, event)
