"""The GPU slot: the pure eviction decision by table, and the lock's behaviour on the fake backend."""

from __future__ import annotations

import threading
import time

import pytest

from agents.backends import GenParams
from agents.backends.fake import FakeChatModel, FakeModelError
from agents.errors import SlotTimeoutError
from agents.slot import GpuSlot, evict_for
from tests.conftest import fake_spec, held_by_another_thread


@pytest.mark.parametrize(
    "target, resident, capacity, expected",
    [
        ("a", [], 1, []),  # empty slot: load, evict nothing
        ("a", ["a"], 1, []),  # already resident: no swap
        ("b", ["a"], 1, ["a"]),  # the seed's rule: one model at a time
        ("c", ["a", "b"], 2, ["a"]),  # full: the least recently used goes
        ("c", ["a"], 2, []),  # room for two
        ("a", ["b", "a"], 2, []),  # resident among several
        ("d", ["a", "b", "c"], 2, ["a", "b"]),  # over capacity (capacity lowered): shed down to fit
    ],
)
def test_evict_for_table(target, resident, capacity, expected):
    assert evict_for(target, resident, capacity) == expected


def test_evict_for_rejects_zero_capacity():
    with pytest.raises(ValueError):
        evict_for("a", [], 0)


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
    errors: list[BaseException] = []

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
        try:
            for i in range(50):
                with slot.hold(specs[(n + i) % len(specs)]) as lease:
                    lease.model.complete([{"role": "user", "content": "x"}], GenParams(max_tokens=2))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
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
