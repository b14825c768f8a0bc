"""Monitoring: `concilio stats` (effectiveness per model × domain) and Prometheus metrics.

The counters are read from the ledger when Prometheus scrapes, so every process's runs count (a CLI `ask`,
a notebook, `langgraph dev`) and the numbers always match `concilio stats`. Two gauges are live in the
serving process: the models resident in its GPU slot and how many runs wait for the slot.

    concilio metrics --port 9464                 # a metrics endpoint on 127.0.0.1
    from graphs.monitor import serve; serve(9464)  # from a long-running process (notebook, server)
"""

from __future__ import annotations

import functools
import socket
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer

from memory import ledger as ledger_mod
from memory.ledger import Ledger, LedgerError
from memory.stats import cache_counts

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
        yield _gauge("concilio_ledger_quarantined_records", "Records moved aside because they can't be written",
                     [((), health["quarantined"])])
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
            lookups = cache_counts(conn).items()
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
        yield _counter("concilio_cache_lookups", "Response cache lookups by outcome (hit-exact, hit-near, miss)",
                       [((str(o),), n) for o, n in lookups], ("outcome",))

    def _live(self):
        from agents.slot.slot import default_slot

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


def serve(port: int, host: str = "127.0.0.1", ledger: Ledger | None = None, slot=None, api_key: str | None = None):
    """Serve /metrics on host:port from a daemon thread; returns the server (`.server_port`, `.shutdown()`).

    The key is `api_key` or CONCILIO_API_KEY; with one, a request without `Authorization: Bearer <key>` gets
    401. A host beyond loopback without a key is refused (ApiKeyRequiredError; agents/security.py decides)."""
    from agents.security import listener_key
    from agents.settings import settings

    if api_key is None and (secret := settings().api_key) is not None:
        api_key = secret.get_secret_value()
    key = listener_key(host, api_key, "Prometheus metrics")
    registry = CollectorRegistry()
    registry.register(LedgerCollector(ledger, slot))
    app = make_wsgi_app(registry)
    if key:
        app = _with_key(app, key)

    class Server(ThreadingWSGIServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    server = make_server(host, port, app, Server, handler_class=_QuietHandler)
    server.requires_key = bool(key)
    threading.Thread(target=server.serve_forever, daemon=True, name="concilio-metrics").start()
    return server


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # no access log on stderr
        pass


def _with_key(app, api_key: str):
    from agents.security import bearer_matches

    def guarded(environ, start_response):
        if not bearer_matches(environ.get("HTTP_AUTHORIZATION"), api_key):
            start_response("401 Unauthorized", [("Content-Type", "text/plain; charset=utf-8"),
                                                ("WWW-Authenticate", 'Bearer realm="concilio"')])
            return [b"401: send Authorization: Bearer <CONCILIO_API_KEY>\n"]
        return app(environ, start_response)

    return guarded
