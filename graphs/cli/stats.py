"""`concilio stats` and `concilio metrics`: the ledger as a table and as Prometheus metrics."""

from __future__ import annotations

import argparse
import json
import threading

from graphs.cli.text import table

# memory.ledger (SQLAlchemy, ~1 s) is imported by the commands that use it, not by every `concilio` start.


def _fmt(value, pattern: str = "{}") -> str:
    return "-" if value is None else pattern.format(value)


def stats_text(report: dict) -> str:
    s, health = report["summary"], report["ledger"]
    head = [f"runs {s['runs']} (errors {s['errors']})" + (f" since {report['since']}" if report["since"] else ""),
            f"seconds per run p50 {_fmt(s['p50_s'])} p95 {_fmt(s['p95_s'])}; swaps per run "
            f"{_fmt(s['swaps_per_run'])}; feedback {s['feedback']['good']} good / {s['feedback']['bad']} bad",
            "routes: " + ", ".join(f"{k} {v}" for k, v in sorted(s["by_domain"].items()))
            + "  paths: " + ", ".join(f"{k} {v}" for k, v in sorted(s["by_path"].items()))
            + ("  cache: " + ", ".join(f"{k} {v}" for k, v in sorted(s["cache"].items())) if s.get("cache") else "")]
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
    tail += f", {health['spooled']} records waiting to be written" + _quarantined(health)
    return "\n".join([*head, "", table(rows) if len(rows) > 1 else "no runs recorded yet", "", tail])


def _quarantined(health: dict) -> str:
    n = health.get("quarantined") or 0
    return f", {n} records quarantined (unwritable by themselves: {health['quarantine']})" if n else ""


def cmd_stats(args: argparse.Namespace) -> int:
    from memory import ledger as ledger_mod
    from memory.ledger import LedgerError
    from memory.stats import collect

    try:
        report = collect(since=args.since)
    except LedgerError as exc:
        health = ledger_mod.failures()
        if args.json:
            print(json.dumps({"error": str(exc), "ledger": health}))
        else:
            print(f"error: {exc}\nledger: {health['count']} failed writes (last: {health['last_error']}), "
                  f"{health['spooled']} records waiting to be written" + _quarantined(health))
        return 1
    from agents.models.profiles import resolve
    from graphs.cli import steps

    profile = resolve(args.profile, fetch=False, require=False).name
    if args.json:
        print(json.dumps({**report, "step_policy": steps.policy_json(profile)}, ensure_ascii=False, default=str))
    else:
        print(stats_text(report) + "\n\n" + steps.policy_text(profile))
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    from graphs.monitor import serve

    server = serve(args.port, args.host)  # refuses a non-loopback host without CONCILIO_API_KEY
    print(f"serving Prometheus metrics on http://{args.host}:{server.server_port}/metrics"
          + (" (requests need Authorization: Bearer <CONCILIO_API_KEY>)" if server.requires_key else "")
          + " (Ctrl-C stops)",
          flush=True)
    try:
        threading.Event().wait()
    finally:
        server.shutdown()
    return 0


def add_commands(sub) -> None:
    s = sub.add_parser("stats", help="effectiveness per model and domain, from the ledger")
    s.add_argument("--since", help="only runs since: 30m, 24h, 7d, or a date (2026-11-01)")
    s.add_argument("--profile", help="whose step policy to show (default: the active profile)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_stats)
    m = sub.add_parser("metrics", help="serve Prometheus metrics (loopback by default)")
    m.add_argument("--port", type=int, default=9464)
    m.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: loopback only; any other needs CONCILIO_API_KEY)")
    m.set_defaults(func=cmd_metrics)
