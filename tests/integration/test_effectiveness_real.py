"""The ledger, stats, metrics and the answer-quality evaluation on the real embedded model, each command in
its own process as a user runs them; the ledger on SQLite and on PostgreSQL (CONCILIO_DATABASE_URL)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from evals.answers import DEFAULT_DATA
from tests.conftest import free_port

pytestmark = pytest.mark.model


def run(*args, timeout=600):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=dict(os.environ),
                          timeout=timeout)


def _scrape(port: int, deadline: float = 30.0) -> str:
    start = time.monotonic()
    while True:
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        except OSError:
            if time.monotonic() - start > deadline:
                raise
            time.sleep(0.2)


def test_runs_from_separate_processes_show_in_stats_and_on_the_metrics_port(storage):
    for question, thread in (("¿Puede mi casero echarme del piso sin previo aviso?", "es"),
                             ("How do I reverse a list in Python?", "en")):
        done = run("-m", "graphs.cli", "ask", question, "--thread", thread, "--quiet")
        assert done.returncode == 0, done.stderr
    assert run("-m", "graphs.cli", "feedback", "en", "good").returncode == 0

    stats = run("-m", "graphs.cli", "stats", "--json")
    assert stats.returncode == 0, stats.stderr
    report = json.loads(stats.stdout)
    assert report["summary"]["runs"] == 2 and report["summary"]["by_domain"] == {"legal": 1, "technical": 1}
    rows = {(m["model"], m["domain"]): m for m in report["models"]}
    legal, technical = rows[("SmolLM2-135M-Instruct", "legal")], rows[("SmolLM2-135M-Instruct", "technical")]
    assert legal["answered"] == 1 and technical["feedback"] == {"good": 1, "bad": 0, "score": 1.0}
    assert legal["tokens_per_s"] > 0 and legal["p50_s"] > 0  # measured, not a speed floor
    assert report["summary"]["swaps_per_run"] == 1.0  # one load per process: every role is the same file
    assert report["ledger"]["count"] == 0

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "graphs.cli", "metrics", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        text = _scrape(port)
    finally:
        server.terminate()
        server.wait(10)
    runs = [float(v) for v in re.findall(r'^concilio_runs_total\{[^}]*\} (\S+)$', text, re.MULTILINE)]
    assert sum(runs) == 2
    assert re.search(r'^concilio_feedback_total\{verdict="good"\} 1\.0$', text, re.MULTILINE)
    assert re.search(r'^concilio_swaps_total\{model="SmolLM2-135M-Instruct"\} 2\.0$', text, re.MULTILINE)


@pytest.mark.skipif(not DEFAULT_DATA.exists(), reason=f"needs {DEFAULT_DATA} (the shared data beside the repo)")
def test_the_answer_evaluation_compares_graph_single_model_and_oracle(tmp_path):
    done = run("-m", "evals.answers", "--limit", "3", "--reviewer-cases", "2", "--json", "--out", str(tmp_path),
               "--vote-n", "2")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["conditions"]) == {"graph", "oracle", "routed", "single:SmolLM2-135M-Instruct",
                                         "vote@2:SmolLM2-135M-Instruct"}
    for condition in report["conditions"].values():
        assert condition["n"] == 3 and set(condition["per_domain"]) == {"legal", "technical", "general"}
        assert condition["seconds_per_question"] > 0 and len(condition["ci95"]) == 2
    assert report["conditions"]["vote@2:SmolLM2-135M-Instruct"]["calls_per_question"] == 2
    assert report["conditions"]["oracle"]["routing_accuracy"] == 1.0
    assert report["training"]["left_out_overlap"] >= 3  # the router never routes a question it trained on
    assert report["reviewer"]["contradicts"]["n"] == 2 and report["reviewer"]["agrees"]["n"] == 2
    assert (tmp_path / "accuracy.png").read_bytes()[:4] == b"\x89PNG"
    assert "| graph |" in (tmp_path / "report.md").read_text()
