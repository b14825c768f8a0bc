"""Whether a model fits, before it loads: the verdict `concilio models` shows (agents/slot/fit.py)."""

from __future__ import annotations

import json

import pytest

from agents.slot import fit
from agents.slot.policy import parse_budget


@pytest.mark.parametrize("need, budget, device, gpu, ram, expected", [
    (4900, "single", "auto", 143_000, 24_000, "yes (GPU 143,000 MB)"),
    (4900, "single", "auto", None, 24_000, "yes (CPU)"),
    (4900, "single", "cpu", 143_000, 24_000, "yes"),
    (4900, "4GB", "auto", 143_000, 24_000, "no: over the slot budget (4,096 MB)"),
    (4900, "6GB", "cuda", 4_000, 24_000, "no: GPU has 4,000 MB: runs on the CPU"),
    (30_000, "single", "gpu", 8_000, 24_000, "no: GPU has 8,000 MB: runs on the CPU, and RAM has 24,000 MB"),
    (30_000, "single", "cpu", None, 24_000, "no: RAM has 24,000 MB"),
    (4900, "models:2", "cpu", None, None, "yes"),
])
def test_verdict(need, budget, device, gpu, ram, expected):
    assert fit.verdict(need, parse_budget(budget), device, gpu, ram) == expected


def test_concilio_models_shows_each_seed_models_need_before_loading(tmp_path, monkeypatch, capsys):
    from evals.standins.__main__ import build
    from graphs.cli import main

    build(tmp_path, only=["phi3", "orca2"])  # two of four: the others are listed as missing
    monkeypatch.setenv("CONCILIO_GPT4ALL_DIR", str(tmp_path))
    monkeypatch.setenv("CONCILIO_SLOT_BUDGET", "45MB")
    assert main(["models", "--profile", "gpt4all-seed", "--json"]) == 0
    roles = {r["role"]: r for r in json.loads(capsys.readouterr().out)["roles"]}
    assert roles["legal"]["need_mb"] > 40 and roles["legal"]["fits"] == "no: over the slot budget (45 MB)"
    assert roles["technical"]["need_mb"] is None and roles["technical"]["state"] == "missing"
