"""The GPU slot on the real embedded model: memory estimates against measured RSS, page-cache prefetch, the
budget invariant under threads, and the slot benchmark's short run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest

from agents.backends import GenParams
from agents.models.profiles import embedded
from agents.slot import prefetch
from agents.slot.memory_need import estimate
from agents.slot.slot import GpuSlot
from tests.conftest import run_threads

RSS_SCRIPT = r"""
import json, sys
from agents.backends import GenParams, load_model
from agents.models.profiles import embedded
from dataclasses import replace

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024

from agents.backends.gpt4all_backend import _gpt4all_class

spec = replace(embedded().roles[0].model, context_window=int(sys.argv[1]))
from agents.models.gguf_file import inspect

_gpt4all_class()  # imported first: the estimate's overhead covers the model's runtime, not Python's imports
inspect(spec.path)  # (gguf and numpy, which the backend's file check imports)
before = rss_mb()
model = load_model(spec)
model.complete([{"role": "user", "content": "Hello, who are you?"}], GenParams(max_tokens=8))
print(json.dumps({"measured": rss_mb() - before}))
"""


@pytest.mark.parametrize("context", [1024, 4096])
def test_memory_estimate_matches_measured_rss(context):
    spec = replace(embedded().roles[0].model, context_window=context)
    need = estimate(spec)
    out = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(context)], capture_output=True, text=True,
                         check=True, timeout=120)
    measured = json.loads(out.stdout.strip().splitlines()[-1])["measured"]
    assert need.kv_mb == pytest.approx(22.5 * context / 1024, rel=0.01)  # f16 K and V, 30 layers × 3 heads × 64
    assert need.total_mb == pytest.approx(measured, rel=0.15), (need, measured)


def test_prefetch_brings_a_dropped_file_back_into_the_page_cache(tmp_path):
    copy = tmp_path / "model.gguf"
    shutil.copyfile(embedded().roles[0].model.path, copy)
    prefetch.drop(copy)
    assert prefetch.cached_fraction(copy) < 0.1
    reader = prefetch.Prefetcher()
    assert reader.submit(copy) is True
    assert reader.submit(copy) is False  # queued already: not read twice
    reader.wait()
    assert prefetch.cached_fraction(copy) > 0.99
    assert reader.events[-1].bytes == copy.stat().st_size and reader.events[-1].error == ""


def test_the_slot_prefetches_only_what_is_not_loaded(tmp_path):
    copy = tmp_path / "other.gguf"
    shutil.copyfile(embedded().roles[0].model.path, copy)
    spec = embedded().roles[0].model
    other = replace(spec, path=copy, name="other")
    slot = GpuSlot(prefetch=True)
    with slot.hold(spec):
        assert slot.prefetch(spec) is False  # loaded: nothing to read
        prefetch.drop(copy)
        assert slot.prefetch(other) is True
        slot.prefetcher.wait()
    assert prefetch.cached_fraction(copy) > 0.99
    with slot.hold(other) as lease:
        assert lease.swapped and lease.evicted == [spec.name]
    slot.clear()


@pytest.mark.parametrize("budget", ["single", "600MB"])
def test_real_models_stay_within_budget_under_threads(tmp_path, budget):
    spec = embedded().roles[0].model
    specs = []
    for i in range(3):
        copy = tmp_path / f"m{i}.gguf"
        shutil.copyfile(spec.path, copy)
        specs.append(replace(spec, path=copy, name=f"m{i}", context_window=1024))
    slot = GpuSlot(budget, timeout=300)
    answers = []

    def worker(n: int):
        for i in range(4):
            with slot.hold(specs[(n + i) % 3]) as lease:
                q = "¿Qué es una ley?" if (n + i) % 2 else "What is a law?"
                answers.append(lease.model.complete([{"role": "user", "content": q}], GenParams(max_tokens=6)).text)

    errors = run_threads(worker, 4)
    slot.clear()
    assert errors == [] and len(answers) == 16 and all(answers)
    assert slot.over_budget == []
    if budget == "single":
        assert slot.max_resident_seen == 1
    else:  # three models of ≈143 MB fit in 600 MB: loaded once each, never swapped out
        assert slot.max_resident_seen == 3 and slot.max_resident_mb_seen <= 600
        assert sum(e.kind == "load" for e in slot.events) == 3


def test_bench_slot_quick_run_reports_every_ratio():
    out = subprocess.run([sys.executable, "-m", "evals.bench_slot", "--quick", "--threads", "8", "--json"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    for key in ("swap_over_raw", "visible_swap_ratio"):
        assert result[key] > 0
    vis = result["visible"]["setups"]
    assert vis["naive"]["loads"] == 4 * result["visible"]["questions"]  # the naive four loads a question
    assert vis["skip+resident+prefetch"]["loads"] < vis["naive"]["loads"]
    conc = result["concurrency"]
    assert conc["aware"]["swaps"] < conc["fifo"]["swaps"]  # serving the loaded model's waiters saves swaps
    assert {"swap_reduction", "throughput_gain", "p95_ratio"} <= set(conc)
    assert result["prefetch"]["prefetched_load_s"] > 0


def test_bench_slot_refuses_a_model_file_that_is_not_there(tmp_path):
    readme = str(tmp_path / "notes.txt")
    (tmp_path / "notes.txt").write_text("not a model")
    out = subprocess.run([sys.executable, "-m", "evals.bench_slot", "--models", str(tmp_path / "missing.gguf"),
                          readme, readme, readme, "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    assert "missing.gguf: not found" in out.stderr
