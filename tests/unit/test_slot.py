"""The GPU slot's behaviour on the fake backend: loads and evictions, failures, timeouts, and the invariant
under 16 threads (its pure decisions are tested by tables in test_slot_policy.py)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from agents import progress
from agents.backends import GenParams
from agents.backends.fake import FakeChatModel, FakeModelError
from agents.errors import SlotTimeoutError
from agents.models.profiles import ModelSpec
from agents.slot.slot import GpuSlot
from tests.conftest import fake_spec, held_by_another_thread, run_threads


def test_same_model_is_loaded_once_and_a_new_one_evicts_it():
    slot = GpuSlot()
    a, b = fake_spec("a"), fake_spec("b")
    with slot.hold(a) as first:
        assert first.swapped and first.evicted == []
    with slot.hold(a) as again:
        assert not again.swapped and again.load_seconds == 0.0
    with slot.hold(b) as other:
        assert other.swapped and other.evicted == ["a"]
    assert slot.resident() == ["b"]
    assert [e for e in FakeChatModel.events if e[0] in ("loaded", "closed")] == [
        ("loaded", "a"), ("closed", "a"), ("loaded", "b")]


def test_failed_load_releases_the_slot_and_leaves_nothing_resident():
    slot = GpuSlot()
    with pytest.raises(FakeModelError):
        with slot.hold(fake_spec("broken", fail_load="corrupt weights")):
            pass
    assert slot.resident() == []
    with slot.hold(fake_spec("ok")) as lease:  # not deadlocked
        assert lease.swapped


def test_model_that_raises_mid_generation_is_unloaded_and_the_slot_released():
    slot = GpuSlot()
    spec = fake_spec("crashy", fail_after_tokens=2, reply="one two three four")
    with pytest.raises(FakeModelError):
        with slot.hold(spec) as lease:
            lease.model.complete([{"role": "user", "content": "hi"}], GenParams())
    assert slot.resident() == []
    assert slot.events[-1].kind == "evict-on-error"


def test_waiting_times_out_with_a_clear_error():
    slot = GpuSlot(timeout=0.05)
    with held_by_another_thread(slot, fake_spec("a")):
        with pytest.raises(SlotTimeoutError, match="Waited .* GPU slot .* CONCILIO_SLOT_TIMEOUT"):
            with slot.hold(fake_spec("b")):
                pass


def test_at_most_one_model_loaded_under_16_threads_x_50_runs():
    slot = GpuSlot()
    specs = [fake_spec(f"m{i}") for i in range(4)]
    loaded = 0
    peak = 0
    count_lock = threading.Lock()

    # Instrument the real loader and close: count models alive at any instant.
    import agents.backends.fake as fake

    class Counting(fake.FakeChatModel):
        def __init__(self, spec):
            nonlocal loaded, peak
            super().__init__(spec)
            with count_lock:
                loaded += 1
                peak = max(peak, loaded)

        def close(self):
            nonlocal loaded
            if not self.closed:
                with count_lock:
                    loaded -= 1
            super().close()

    slot._loader = Counting

    def worker(n: int):
        for i in range(50):
            with slot.hold(specs[(n + i) % len(specs)]) as lease:
                lease.model.complete([{"role": "user", "content": "x"}], GenParams(max_tokens=2))

    assert run_threads(worker, 16) == []
    assert peak == 1
    assert slot.max_resident_seen == 1
    assert sum(e.kind == "load" for e in slot.events) >= 2


def test_the_slot_counts_who_is_waiting_for_it():
    slot = GpuSlot(timeout=5)
    with held_by_another_thread(slot, fake_spec("a")) as release:
        def wait_then_use():
            with slot.hold(fake_spec("b")):
                pass

        waiter = threading.Thread(target=wait_then_use)
        waiter.start()
        deadline = time.monotonic() + 5
        while slot.waiting == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert slot.waiting == 1
        release.set()
        waiter.join(5)
    assert slot.waiting == 0


def _queue_behind(slot, holder_spec, wanted: list, order: list, lock=threading.Lock()):
    """Hold the slot with `holder_spec` while threads queue for `wanted` (in that arrival order); return what
    order they were served in once the holder lets go."""
    threads = []
    with held_by_another_thread(slot, holder_spec) as release:
        for spec in wanted:
            def use(spec=spec):
                with slot.hold(spec):
                    with lock:
                        order.append(spec.name)
            t = threading.Thread(target=use)
            t.start()
            threads.append(t)
            deadline = time.monotonic() + 5
            while slot.waiting < len(threads) and time.monotonic() < deadline:  # arrival order is fixed
                time.sleep(0.005)
        release.set()
        for t in threads:
            t.join(10)
    return order


def test_aware_scheduling_serves_the_loaded_models_waiters_first():
    a, b = fake_spec("a"), fake_spec("b")
    order = _queue_behind(GpuSlot(policy="aware"), a, [b, a, b, a], [])
    assert order == ["a", "a", "b", "b"]  # the two waiters for the loaded model first, then one swap


def test_fifo_scheduling_serves_arrival_order():
    a, b = fake_spec("a"), fake_spec("b")
    order = _queue_behind(GpuSlot(policy="fifo"), a, [b, a, b, a], [])
    assert order == ["b", "a", "b", "a"]


def test_nobody_is_passed_over_more_than_max_passes_times():
    a, b = fake_spec("a"), fake_spec("b")
    order = _queue_behind(GpuSlot(policy="aware", max_passes=2), a, [b, a, a, a, a], [])
    assert order.index("b") == 2  # passed over twice, then served although "a" is loaded


def test_a_memory_budget_keeps_models_that_fit_and_evicts_the_least_recently_used():
    slot = GpuSlot("1000MB")
    a, b, c = (fake_spec(n, size_mb=400) for n in "abc")
    for spec in (a, b, a):
        with slot.hold(spec):
            pass
    assert slot.resident() == ["b", "a"]  # both fit (800 MB); "a" used last
    with slot.hold(c) as lease:
        assert lease.evicted == ["b"]
    assert slot.resident() == ["a", "c"] and slot.resident_mb() == 800
    assert slot.over_budget == []


def test_a_pinned_model_stays_while_others_swap():
    slot = GpuSlot("1000MB")
    orch, legal, tech = fake_spec("orch", size_mb=400), fake_spec("legal", size_mb=500), fake_spec("tech", size_mb=500)
    slot.pin(orch)
    for spec in (orch, legal, tech, orch, legal):
        with slot.hold(spec):
            pass
    assert [e.model for e in slot.events if e.kind == "load"] == ["orch", "legal", "tech", "legal"]
    assert "orch" in slot.resident()


def test_a_gpu_model_over_the_budget_runs_on_the_cpu_and_says_so():
    slot = GpuSlot("1000MB")
    big = ModelSpec(name="big", path=Path("/nonexistent/big.gguf"), backend="fake", device="gpu",
                    options=(("size_mb", 4000),))
    with slot.hold(big) as lease:
        assert lease.model.spec.device == "cpu"
        assert "over the GPU budget of 1000 MB: running on cpu" in lease.note


def test_lifecycle_states_are_visible_and_ensure_ready_needs_the_slot():
    slot = GpuSlot()
    a, b = fake_spec("a"), fake_spec("b")
    with slot.hold(a):
        assert slot.states == {"a": "ready"}
    with slot.hold(b):
        pass
    assert slot.states == {"a": "stopped", "b": "ready"}
    with pytest.raises(RuntimeError, match="needs the slot"):
        slot.ensure_ready(a)  # check-then-act from outside is refused
    with pytest.raises(FakeModelError):
        with slot.hold(fake_spec("bad", fail_load="no")):
            pass
    assert slot.states["bad"] == "stopped"


def test_a_waiter_that_times_out_leaves_the_queue_and_others_still_get_served():
    slot = GpuSlot(timeout=0.1)
    with held_by_another_thread(slot, fake_spec("a")):
        with pytest.raises(SlotTimeoutError):
            with slot.hold(fake_spec("b")):
                pass
        assert slot.waiting == 0
    with slot.hold(fake_spec("c")) as lease:  # the turn was handed back, not lost
        assert lease.swapped


@pytest.mark.parametrize("budget, policy", [("single", "aware"), ("single", "fifo"), ("1000MB", "aware")])
def test_resident_stays_within_budget_under_16_threads_x_50_runs(budget, policy):
    slot = GpuSlot(budget, policy=policy, timeout=60)
    sizes = [300, 400, 500, 600]
    specs = [fake_spec(f"m{i}", size_mb=mb) for i, mb in enumerate(sizes)]
    failing = fake_spec("fails", fail_load="corrupt", size_mb=100)

    def worker(n: int):
        for i in range(50):
            if (n * 50 + i) % 97 == 0:  # now and then a model that fails to load
                with pytest.raises(FakeModelError), slot.hold(failing):
                    pass
                continue
            with slot.hold(specs[(n * 7 + i) % len(specs)]) as lease:
                lease.model.complete([{"role": "user", "content": "x"}], GenParams(max_tokens=2))

    assert run_threads(worker, 16) == []
    assert slot.over_budget == []
    if budget == "single":
        assert slot.max_resident_seen == 1
    else:
        assert slot.max_resident_mb_seen <= 1000 and slot.max_resident_seen >= 2
    assert slot.waiting == 0


def test_live_gauges_show_what_the_slot_holds():
    from prometheus_client import CollectorRegistry, generate_latest

    from graphs.monitor import LedgerCollector

    slot = GpuSlot("1000MB")
    for name in ("a", "b"):
        with slot.hold(fake_spec(name, size_mb=300)):
            pass
    registry = CollectorRegistry()
    registry.register(LedgerCollector(slot=slot))
    text = generate_latest(registry).decode()
    assert 'concilio_resident_model{model="a"} 1.0' in text and 'concilio_resident_model{model="b"} 1.0' in text
    assert "concilio_slot_resident_megabytes 600.0" in text
    assert "concilio_slot_queue_length 0.0" in text


def test_a_progress_sink_that_fails_while_queued_leaves_no_ghost_in_the_queue():
    slot = GpuSlot(timeout=5)

    def broken_sink(event):
        raise RuntimeError("sink closed")

    with held_by_another_thread(slot, fake_spec("a")):
        with pytest.raises(RuntimeError, match="sink closed"), progress.reporting(broken_sink):
            with slot.hold(fake_spec("b")):
                pass
        assert slot.waiting == 0
    with slot.hold(fake_spec("c")) as lease:  # the slot still changes hands
        assert lease.swapped


@pytest.mark.parametrize("env, value, says", [
    ("CONCILIO_SLOT_BUDGET", "lots", "slot budget 'lots'"),
    ("CONCILIO_SLOT_POLICY", "random", "unknown scheduling policy 'random'"),
    ("CONCILIO_SLOT_MAX_PASSES", "many", "invalid literal"),
    ("CONCILIO_SLOT_TIMEOUT", "soon", "could not convert"),
])
def test_wrong_slot_settings_are_refused_when_the_slot_is_made(monkeypatch, env, value, says):
    from agents.errors import SlotConfigError

    monkeypatch.setenv(env, value)
    with pytest.raises(SlotConfigError, match=f"GPU slot settings: .*{says}.*CONCILIO_SLOT_BUDGET"):
        GpuSlot(os.environ.get("CONCILIO_SLOT_BUDGET"))
