"""Monitoring: `concilio stats` (effectiveness per model × domain) and Prometheus metrics.

The counters are read from the ledger when Prometheus scrapes, so every process's runs count (a CLI `ask`,
a notebook, `langgraph dev`) and the numbers always match `concilio stats`. Two gauges are live in the
serving process: the models resident in its GPU slot and how many runs wait for the slot.

    concilio metrics --port 9464                 # a metrics endpoint on 127.0.0.1
    from graphs.monitor import serve; serve(9464)  # from a long-running process (notebook, server)
"""

from __future__ import annotations

import argparse
import functools
import json
import threading

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from memory import ledger as ledger_mod
from memory.ledger import Ledger, LedgerError

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class LedgerCollector:
    """Prometheus families computed from the ledger at scrape time (aggregates in SQL)."""

    def __init__(self, ledger: Ledger | None = None, slot=None) -> None:
        self.ledger = ledger
        self.slot = slot

    def collect(self):
        ledger = self.ledger or ledger_mod.default()
        ledger.flush(timeout=2)
        health = ledger_mod.failures(ledger.url)
        yield _counter("concilio_ledger_write_failures", "Ledger writes that failed (the record was spooled)",
                       [((), health["count"])])
        yield _gauge("concilio_ledger_spooled_records", "Records waiting to be written to the ledger",
                     [((), health["spooled"])])
        try:
            yield from self._from_ledger(ledger)
        except LedgerError:
            yield _gauge("concilio_ledger_up", "1 when the ledger could be read", [((), 0)])
        else:
            yield _gauge("concilio_ledger_up", "1 when the ledger could be read", [((), 1)])
        yield from self._live()

    def _from_ledger(self, ledger: Ledger):
        runs, nodes, fb = ledger_mod.runs, ledger_mod.node_runs, ledger_mod.feedback
        outcome = sa.case((runs.c.error.is_not(None), "error"), else_=sa.func.coalesce(runs.c.verdict, "none"))
        with ledger.connect() as conn:
            by_outcome = conn.execute(sa.select(runs.c.domain, outcome, sa.func.count())
                                      .group_by(runs.c.domain, outcome)).all()
            by_path = conn.execute(sa.select(runs.c.domain, runs.c.routed_by, sa.func.count())
                                   .group_by(runs.c.domain, runs.c.routed_by)).all()
            used = sa.and_(nodes.c.skipped.is_(False), nodes.c.model.is_not(None))
            per_model = conn.execute(
                sa.select(nodes.c.model, sa.func.count(), sa.func.sum(sa.cast(nodes.c.swapped, sa.Integer)),
                          sa.func.sum(nodes.c.load_seconds), sa.func.sum(nodes.c.tokens_out))
                .where(used).group_by(nodes.c.model)).all()
            hist = conn.execute(
                sa.select(nodes.c.node, nodes.c.model, sa.func.count(), sa.func.sum(nodes.c.seconds),
                          *[sa.func.sum(sa.case((nodes.c.seconds <= b, 1), else_=0)) for b in BUCKETS])
                .where(used).group_by(nodes.c.node, nodes.c.model)).all()
            ratings = conn.execute(sa.select(fb.c.verdict, sa.func.count()).group_by(fb.c.verdict)).all()
        yield _counter("concilio_runs", "Runs of the cooperation graph, by routed domain and outcome",
                       [((str(d), str(o)), n) for d, o, n in by_outcome], ("domain", "outcome"))
        yield _counter("concilio_routing_decisions", "Routing decisions by domain and path (classifier, llm, ...)",
                       [((str(d), str(p)), n) for d, p, n in by_path], ("domain", "path"))
        yield _counter("concilio_model_calls", "Node executions that called a model",
                       [((m,), n) for m, n, *_ in per_model], ("model",))
        yield _counter("concilio_swaps", "Model loads into the GPU slot", [((m,), s or 0) for m, _, s, *_ in per_model],
                       ("model",))
        yield _counter("concilio_load_seconds", "Seconds spent loading models",
                       [((m,), float(ls or 0)) for m, _, _, ls, _ in per_model], ("model",))
        yield _counter("concilio_generated_tokens", "Tokens generated", [((m,), t or 0) for m, *_, t in per_model],
                       ("model",))
        family = HistogramMetricFamily("concilio_node_seconds", "Seconds per node execution",
                                       labels=("node", "model"))
        for node, model, count, total, *cumulative in hist:
            buckets = [(str(b), int(c or 0)) for b, c in zip(BUCKETS, cumulative)] + [("+Inf", int(count))]
            family.add_metric((str(node), str(model)), buckets, float(total or 0))
        yield family
        yield _counter("concilio_feedback", "User ratings of answers", [((str(v),), n) for v, n in ratings],
                       ("verdict",))

    def _live(self):
        from agents.slot import default_slot

        slot = self.slot or default_slot()
        yield _gauge("concilio_resident_model", "1 for each model resident in this process's GPU slot",
                     [((name,), 1) for name in slot.resident()], ("model",))
        yield _gauge("concilio_slot_queue_length", "Runs in this process waiting for the GPU slot",
                     [((), slot.waiting)])
        yield _gauge("concilio_slot_resident_megabytes", "Estimated memory of the models resident in the slot",
                     [((), slot.resident_mb())])


def _family(kind, name, doc, samples, labels=()):
    family = kind(name, doc, labels=labels)
    for values, n in samples:
        family.add_metric(list(values), n)
    return family


_counter = functools.partial(_family, CounterMetricFamily)
_gauge = functools.partial(_family, GaugeMetricFamily)


def serve(port: int, host: str = "127.0.0.1", ledger: Ledger | None = None, slot=None):
    """Serve /metrics on host:port from a daemon thread; returns the server (`.server_port`, `.shutdown()`)."""
    registry = CollectorRegistry()
    registry.register(LedgerCollector(ledger, slot))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server


# --- the CLI commands ------------------------------------------------------------------------------------------
def _fmt(value, pattern: str = "{}") -> str:
    return "-" if value is None else pattern.format(value)


def stats_text(report: dict) -> str:
    from graphs.cli import _table

    s, health = report["summary"], report["ledger"]
    head = [f"runs {s['runs']} (errors {s['errors']})" + (f" since {report['since']}" if report["since"] else ""),
            f"seconds per run p50 {_fmt(s['p50_s'])} p95 {_fmt(s['p95_s'])}; swaps per run "
            f"{_fmt(s['swaps_per_run'])}; feedback {s['feedback']['good']} good / {s['feedback']['bad']} bad",
            "routes: " + ", ".join(f"{k} {v}" for k, v in sorted(s["by_domain"].items()))
            + "  paths: " + ", ".join(f"{k} {v}" for k, v in sorted(s["by_path"].items()))]
    rows = [["model", "domain", "runs", "answered", "feedback", "review pass", "revised", "p50 s", "p95 s",
             "swaps/run", "tok/s", "errors"]]
    for m in report["models"]:
        fb = m["feedback"]
        rows.append([m["model"], m["domain"], str(m["runs"]), str(m["answered"]),
                     f"{fb['good']}+/{fb['bad']}- ({_fmt(fb['score'], '{:+.2f}')})" if fb["good"] + fb["bad"] else "-",
                     _fmt(m["review_pass"], "{:.0%}"), _fmt(m["revision_rate"], "{:.0%}"), _fmt(m["p50_s"]),
                     _fmt(m["p95_s"]), _fmt(m["swaps_per_run"]), _fmt(m["tokens_per_s"]), str(m["errors"])])
    tail = f"ledger {health['url']}: {health['count']} failed writes"
    if health["count"]:
        tail += f" (last {health['last_at']}: {health['last_error']})"
    tail += f", {health['spooled']} records waiting to be written"
    return "\n".join([*head, "", _table(rows) if len(rows) > 1 else "no runs recorded yet", "", tail])


def cmd_stats(args: argparse.Namespace) -> int:
    from memory.stats import collect

    try:
        report = collect(since=args.since)
    except LedgerError as exc:
        health = ledger_mod.failures()
        if args.json:
            print(json.dumps({"error": str(exc), "ledger": health}))
        else:
            print(f"error: {exc}\nledger: {health['count']} failed writes (last: {health['last_error']}), "
                  f"{health['spooled']} records waiting to be written")
        return 1
    print(json.dumps(report, ensure_ascii=False, default=str) if args.json else stats_text(report))
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    server = serve(args.port, args.host)
    print(f"serving Prometheus metrics on http://{args.host}:{server.server_port}/metrics (Ctrl-C stops)",
          flush=True)
    try:
        threading.Event().wait()
    finally:
        server.shutdown()
    return 0


def add_commands(sub) -> None:
    s = sub.add_parser("stats", help="effectiveness per model and domain, from the ledger")
    s.add_argument("--since", help="only runs since: 30m, 24h, 7d, or a date (2026-11-01)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_stats)
    m = sub.add_parser("metrics", help="serve Prometheus metrics (loopback by default)")
    m.add_argument("--port", type=int, default=9464)
    m.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    m.set_defaults(func=cmd_metrics)
