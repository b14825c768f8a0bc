"""`concilio stats` arithmetic (by tables), and the stats and Prometheus counters agreeing after 20 runs."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

import pytest
from conftest import fake_config_toml

from graphs import cli
from graphs.api import ask, feedback
from graphs.cli.stats import stats_text
from graphs.monitor import serve
from memory.ledger import LedgerError
from memory.stats import aggregate, collect, since_time

T0 = dt.datetime(2026, 11, 1, 12, 0)
NOW = dt.datetime(2026, 11, 24, 12, 0)


@pytest.mark.parametrize("text, expected", [
    (None, None),
    ("30m", NOW - dt.timedelta(minutes=30)),
    ("24h", NOW - dt.timedelta(hours=24)),
    ("7d", NOW - dt.timedelta(days=7)),
    ("2w", NOW - dt.timedelta(weeks=2)),
    ("2026-11-01", dt.datetime(2026, 11, 1)),
    ("2026-11-01T10:00:00+01:00", dt.datetime(2026, 11, 1, 9, 0)),  # kept in UTC
])
def test_since_takes_spans_and_dates(text, expected):
    assert since_time(text, now=NOW) == expected


def test_since_refuses_what_it_cannot_read():
    with pytest.raises(LedgerError, match="24h, 7d"):
        since_time("last tuesday")


def _run(rid, thread, turn, domain, *, minutes=0, revisions=0, error=None, seconds=4.0):
    return {"id": rid, "thread_id": thread, "turn": turn, "domain": domain, "routed_by": "classifier",
            "verdict": None if error else "ok", "revisions": revisions, "swaps": 2, "seconds": seconds,
            "error": error, "started_at": T0 + dt.timedelta(minutes=minutes)}


def _node(rid, seq, node, model, domain, seconds=1.0, tokens=10, swapped=False, skipped=False, error=None):
    return {"run_id": rid, "seq": seq, "node": node, "model": model, "domain": domain, "seconds": seconds,
            "tokens_out": tokens, "swapped": swapped, "skipped": skipped, "error": error}


RUNS = [_run("r1", "a", 1, "legal", revisions=1), _run("r2", "b", 1, "legal"),
        _run("r3", "c", 1, "technical", error="boom"), _run("r4", "c", 1, "technical", minutes=1)]
NODES = [
    _node("r1", 0, "analyze", "orca", "legal", 0.5, 0, swapped=True),
    _node("r1", 1, "legal", "phi", "legal", 2.0, 40, True),
    _node("r1", 2, "review", "llama", "legal", 1.0, 2, True), _node("r1", 3, "legal", "phi", "legal", 4.0, 40, True),
    _node("r2", 0, "analyze", "orca", "legal", 0.5, 0), _node("r2", 1, "legal", "phi", "legal", 6.0, 60),
    _node("r2", 2, "integrate", "orca", "legal", skipped=True),
    _node("r3", 0, "analyze", "orca", "technical", 0.5, 0), _node("r3", 1, "technical", None, "technical", error="x"),
    _node("r4", 0, "analyze", "orca", "technical", 0.5, 0), _node("r4", 1, "technical", "star", "technical", 1.0, 50),
]
REVIEWS = [{"run_id": "r1", "draft_model": "phi", "verdict": "revise"}, {"run_id": "r1", "draft_model": "phi",
                                                                          "verdict": "ok"},
           {"run_id": "r2", "draft_model": "phi", "verdict": "ok"}, {"run_id": "r4", "draft_model": "star",
                                                                      "verdict": "ok"}]
FEEDBACK = [{"thread_id": "a", "turn": 1, "verdict": "good"}, {"thread_id": "b", "turn": 1, "verdict": "bad"},
            {"thread_id": "c", "turn": 1, "verdict": "good"}, {"thread_id": "zz", "turn": 9, "verdict": "bad"}]


@pytest.mark.parametrize("model, domain, expected", [
    ("phi", "legal", {"runs": 2, "answered": 2, "feedback": {"good": 1, "bad": 1, "score": 0.0},
                      "review_pass": 0.667, "reviews": 3, "revision_rate": 0.5, "p50_s": 4.0, "swaps_per_run": 1.0,
                      "tokens_per_s": 11.7, "errors": 0}),
    ("orca", "legal", {"runs": 2, "answered": 0, "feedback": {"good": 0, "bad": 0, "score": None},
                       "review_pass": None, "revision_rate": None, "p50_s": 0.5, "swaps_per_run": 0.5,
                       "tokens_per_s": None}),
    # the retried turn's rating goes to the run that completed (r4), not the one that failed (r3)
    ("star", "technical", {"runs": 1, "answered": 1, "feedback": {"good": 1, "bad": 0, "score": 1.0},
                           "review_pass": 1.0, "revision_rate": 0.0, "tokens_per_s": 50.0}),
    ("llama", "legal", {"runs": 1, "answered": 0, "p50_s": 1.0, "tokens_per_s": 2.0}),
])
def test_per_model_and_domain_arithmetic(model, domain, expected):
    rows = {(m["model"], m["domain"]): m for m in aggregate(RUNS, NODES, REVIEWS, FEEDBACK)["models"]}
    assert {k: rows[(model, domain)][k] for k in expected} == expected


def test_summary_counts_runs_errors_paths_and_ratings():
    summary = aggregate(RUNS, NODES, REVIEWS, FEEDBACK)["summary"]
    assert summary["runs"] == 4 and summary["errors"] == 1
    assert summary["by_domain"] == {"legal": 2, "technical": 2} and summary["by_path"] == {"classifier": 4}
    assert summary["feedback"] == {"good": 2, "bad": 2, "matched_to_runs": 3}  # thread zz has no run
    assert summary["p50_s"] == 4.0 and summary["swaps_per_run"] == 2.0


def test_an_empty_ledger_gives_an_empty_report():
    report = aggregate([], [], [], [])
    assert report["models"] == [] and report["summary"]["runs"] == 0 and report["summary"]["p50_s"] is None


def _metrics(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("concilio_"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_after_20_runs_stats_and_the_metrics_endpoint_agree(tmp_path, capsys):
    profile = fake_config_toml(tmp_path / "fake.toml", {
        "orchestrator": "general", "legal": "Tiene que avisarle con antelación.", "technical": "Use reversed(xs).",
        "reviewer": "OK"})
    questions = ["How do I reverse a list in Python?", "¿Puede mi casero echarme sin avisar?",
                 "What is the capital of France?", "¿Cómo ordeno un diccionario en Python?"]
    for i in range(20):
        ask(questions[i % 4], profile=profile, thread_id=f"t{i}")
    feedback("t0", "good")
    feedback("t1", "bad", domain="legal")
    assert cli.main(["stats", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["runs"] == 20 and report["summary"]["errors"] == 0
    cells = {(m["model"], m["domain"]) for m in report["models"]}
    assert {("fake-technical", "technical"), ("fake-legal", "legal"), ("fake-orchestrator", "general")} <= cells
    assert sum(m["answered"] for m in report["models"]) == 20

    server = serve(0)
    try:
        metrics = _metrics(server.server_port)
    finally:
        server.shutdown()
    runs = {k: v for k, v in metrics.items() if k.startswith("concilio_runs_total")}
    assert sum(runs.values()) == 20
    for domain, n in report["summary"]["by_domain"].items():
        assert sum(v for k, v in runs.items() if f'domain="{domain}"' in k) == n
    swaps = sum(v for k, v in metrics.items() if k.startswith("concilio_swaps_total"))
    assert swaps == report["summary"]["swaps_per_run"] * 20
    assert metrics['concilio_feedback_total{verdict="good"}'] == 1 == report["summary"]["feedback"]["good"]
    assert metrics['concilio_feedback_total{verdict="bad"}'] == 1
    assert metrics["concilio_ledger_up"] == 1 and metrics["concilio_ledger_write_failures_total"] == 0

    text = stats_text(collect())
    assert "fake-technical" in text and "0 failed writes" in text


def test_stats_reports_an_unreadable_ledger_and_its_failures(monkeypatch, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("CONCILIO_LEDGER_URL", f"sqlite:///{tmp_path / 'file' / 'ledger.sqlite'}")
    assert cli.main(["stats"]) == 1
    out = capsys.readouterr().out
    assert "can't be used" in out and "failed writes" in out


def test_metrics_listen_on_loopback_by_default():
    server = serve(0)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.shutdown()


def test_cache_hits_and_misses_reach_stats_and_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("CONCILIO_CACHE", "on")
    profile = fake_config_toml(tmp_path / "fake.toml", {
        "orchestrator": "general", "legal": "Tiene que avisarle con antelación.", "technical": "Use reversed(xs).",
        "reviewer": "OK"})
    questions = ["How do I reverse a list in Python?", "¿Puede mi casero echarme sin avisar?"]
    results = [ask(questions[i % 2], profile=profile, thread_id=f"t{i}") for i in range(6)]  # 1 miss, 2 hits each
    calls = sum(bool(r.get("model")) for result in results for r in result["trace"])
    report = collect()
    assert report["summary"]["cache"] == {"miss": 2, "hit-exact": 4}
    assert "cache: hit-exact 4, miss 2" in stats_text(report)
    server = serve(0)
    try:
        metrics = _metrics(server.server_port)
    finally:
        server.shutdown()
    assert metrics['concilio_cache_lookups_total{outcome="hit-exact"}'] == 4
    assert metrics['concilio_cache_lookups_total{outcome="miss"}'] == 2
    assert sum(v for k, v in metrics.items() if k.startswith("concilio_model_calls_total")) == calls
    assert calls == sum(bool(r.get("model")) for result in results[:2] for r in result["trace"])  # misses only
