"""`python -m evals.bench_startup --json` runs before and after side by side and reports the figures and their
ratios (on scripted fake models here: the structure, not the timings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO, fake_config_toml


def test_bench_startup_reports_before_and_after_side_by_side(tmp_path):
    replies = {"orchestrator": "Use reversed().", "legal": "L.", "technical": "Use reversed().", "reviewer": "OK"}
    cfg = fake_config_toml(tmp_path / "fake.toml", replies)
    done = subprocess.run([sys.executable, "-m", "evals.bench_startup", "--profile", cfg, "--questions",
                           "How do I reverse a list in Python?", "--json"], cwd=REPO, env=dict(os.environ),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    figures = {"first_line_s", "first_token_s", "wall_s", "node_s", "wall_per_node"}
    assert set(report["modes"]) == {"before", "after"}
    for mode in report["modes"].values():
        assert set(mode["median"]) == figures and [r["code"] for r in mode["runs"]] == [0]
        assert all(r["first_line_s"] <= r["first_token_s"] <= r["wall_s"] for r in mode["runs"])
    assert set(report["after_over_before"]) == figures - {"node_s"}
    assert set(report["goals"]) == {"first_line_le_0.5_s", "wall_per_node_le_1.15"}
