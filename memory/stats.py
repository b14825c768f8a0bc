"""Effectiveness per model × domain, read from the ledger (memory/ledger/): what `concilio stats` prints
and what notebooks call.

    from memory.stats import collect
    report = collect(since="7d")     # {"summary": {...}, "models": [...], "ledger": {...}}

Per model and domain (the run's routed domain):
  runs          runs in which the model executed a node
  answered      runs whose answer the model drafted (a specialist, general or long_context node)
  feedback      user ratings of those answers: good, bad, and score = (good − bad) / rated
  review_pass   share of the reviews of its drafts that said ok
  revision_rate share of its answered runs that needed a revision
  p50_s, p95_s  seconds per node execution (model calls; skipped nodes left out)
  swaps_per_run loads of this model per run it took part in
  tokens_per_s  generated tokens ÷ seconds of its model calls
  errors        node executions that failed
`aggregate()` does the arithmetic on plain rows (no database), so it is tested by tables.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable

import numpy as np
import sqlalchemy as sa

from memory import ledger as ledger_mod
from memory.ledger import ANSWERING, Ledger, LedgerError

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since_time(text: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """'30m', '24h', '7d', '2w' (ago), or an ISO date/time (UTC). None → None."""
    if not text:
        return None
    now = now or ledger_mod.now()
    match = _SPAN.match(text)
    if match:
        return now - dt.timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise LedgerError(f"--since takes a span like 24h, 7d, 30m or a date like 2026-11-01, not {text!r}") from None
    return when.astimezone(dt.timezone.utc).replace(tzinfo=None) if when.tzinfo else when


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _answering_model(nodes: Iterable[dict]) -> str | None:
    model = None
    for n in sorted(nodes, key=lambda n: n["seq"]):
        if n["node"] in ANSWERING and n.get("model") and not n.get("skipped"):
            model = n["model"]
    return model


def last_completed(runs: list[dict]) -> dict[tuple, dict]:
    """(user, thread, turn) -> the last run of that turn that ended without an error: what a rating is about.
    Pure."""
    last: dict[tuple, dict] = {}
    for r in sorted(runs, key=lambda r: r["started_at"]):
        if not r.get("error"):
            last[(r.get("user_id"), r["thread_id"], r["turn"])] = r
    return last


def step_feedback(runs: list[dict], nodes: list[dict], reviews: list[dict], feedback: list[dict],
                  profile: str) -> dict[str, dict]:
    """Per "domain/language" cell of `profile`'s runs: good ratings and ratings with each step on and off
    (agents/roles/steps.py reads them), from `read_rows`. A cache hit ran no step and is left out, and so is a
    review the checks decided (the model was never asked, whatever the plan said). Pure."""
    last = last_completed(runs)
    rows: dict[str, dict[str, dict]] = {}
    for n in nodes:
        rows.setdefault(n["run_id"], {})[n["node"]] = n
    by_checks = {rv["run_id"] for rv in reviews if rv.get("verdict_by") == "checks" and rv.get("verdict") != "ok"}
    cells: dict[str, dict] = {}
    for fb in feedback:
        run = last.get((fb.get("user_id"), fb["thread_id"], fb["turn"]))
        if not run or run.get("profile") != profile or str(run.get("cache") or "miss") != "miss":
            continue
        cell = cells.setdefault(f"{run.get('domain') or 'general'}/{run.get('language') or 'en'}", {})
        good = int(fb["verdict"] == "good")
        review, integrate = rows.get(run["id"], {}).get("review"), rows.get(run["id"], {}).get("integrate")
        arms = []
        if review and not review.get("skipped") and run["id"] not in by_checks:
            arms.append(f"review_{'on' if review.get('tokens_out') else 'off'}")
        if integrate:
            arms.append(f"integrate_{'off' if integrate.get('skipped') else 'on'}")
        for arm in arms:
            cell[f"{arm}_n"] = cell.get(f"{arm}_n", 0) + 1
            cell[f"{arm}_good"] = cell.get(f"{arm}_good", 0) + good
    return dict(sorted(cells.items()))


def aggregate(runs: list[dict], nodes: list[dict], reviews: list[dict], feedback: list[dict]) -> dict:
    """{"summary": {...}, "models": [one dict per model × domain]} from plain rows. Pure."""
    by_run: dict[str, list[dict]] = defaultdict(list)
    for n in nodes:
        by_run[n["run_id"]].append(n)
    run_of = {r["id"]: r for r in runs}
    drafter = {rid: _answering_model(ns) for rid, ns in by_run.items()}
    last_ok = last_completed(runs)  # a rating is about the last completed run of its user's thread and turn
    cells: dict[tuple, dict] = defaultdict(lambda: {"runs": set(), "answered": set(), "seconds": [], "swaps": 0,
                                                    "tokens": 0, "gen_seconds": 0.0, "errors": 0, "good": 0,
                                                    "bad": 0, "reviews": 0, "passed": 0, "revised": 0})
    for n in nodes:
        if not n.get("model") or n["run_id"] not in run_of:
            continue
        cell = cells[(n["model"], n.get("domain") or "-")]
        cell["errors"] += bool(n.get("error"))
        if n.get("skipped"):
            continue
        cell["runs"].add(n["run_id"])
        cell["seconds"].append(float(n.get("seconds") or 0.0))
        cell["swaps"] += bool(n.get("swapped"))
        if n.get("tokens_out"):
            cell["tokens"] += int(n["tokens_out"])
            cell["gen_seconds"] += float(n.get("seconds") or 0.0)
    for rid, model in drafter.items():
        if model and rid in run_of:
            run = run_of[rid]
            cell = cells[(model, run.get("domain") or "-")]
            cell["answered"].add(rid)
            cell["revised"] += bool(run.get("revisions"))
    for rv in reviews:
        run = run_of.get(rv["run_id"])
        if run and rv.get("draft_model"):
            cell = cells[(rv["draft_model"], run.get("domain") or "-")]
            cell["reviews"] += 1
            cell["passed"] += rv.get("verdict") == "ok"
    rated = 0
    for fb in feedback:
        run = last_ok.get((fb.get("user_id"), fb["thread_id"], fb["turn"]))
        model = drafter.get(run["id"]) if run else None
        if model:
            rated += 1
            cells[(model, run.get("domain") or "-")]["good" if fb["verdict"] == "good" else "bad"] += 1
    models = []
    for (model, domain), c in sorted(cells.items()):
        n_runs, n_answered, n_rated = len(c["runs"]), len(c["answered"]), c["good"] + c["bad"]
        models.append({
            "model": model, "domain": domain, "runs": n_runs, "answered": n_answered,
            "feedback": {"good": c["good"], "bad": c["bad"],
                         "score": round((c["good"] - c["bad"]) / n_rated, 3) if n_rated else None},
            "review_pass": _rate(c["passed"], c["reviews"]), "reviews": c["reviews"],
            "revision_rate": _rate(c["revised"], n_answered),
            "p50_s": _pct(c["seconds"], 50), "p95_s": _pct(c["seconds"], 95),
            "swaps_per_run": _rate(c["swaps"], n_runs),
            "tokens_per_s": round(c["tokens"] / c["gen_seconds"], 1) if c["gen_seconds"] > 0 else None,
            "errors": c["errors"],
        })
    seconds = [float(r["seconds"]) for r in runs if not r.get("error") and r.get("seconds") is not None]
    count = defaultdict(lambda: defaultdict(int))
    for r in runs:
        for key in ("domain", "routed_by", "verdict", "cache"):
            count[key][str(r.get(key))] += 1
    summary = {
        "runs": len(runs), "errors": sum(bool(r.get("error")) for r in runs),
        "by_domain": dict(count["domain"]), "by_path": dict(count["routed_by"]), "verdicts": dict(count["verdict"]),
        "cache": {k: v for k, v in count["cache"].items() if k != "None"},  # hit-exact | hit-near | miss
        "p50_s": _pct(seconds, 50), "p95_s": _pct(seconds, 95),
        "swaps_per_run": _rate(sum(int(r.get("swaps") or 0) for r in runs), len(runs)),
        "feedback": {"good": sum(f["verdict"] == "good" for f in feedback),
                     "bad": sum(f["verdict"] == "bad" for f in feedback), "matched_to_runs": rated},
    }
    return {"summary": summary, "models": models}


def read_rows(ledger: Ledger, since: dt.datetime | None = None) -> tuple[list, list, list, list]:
    """runs, node rows, reviews and feedback (as dicts) started at or after `since`."""
    t = ledger_mod
    run_filter = [t.runs.c.started_at >= since] if since else []
    with ledger.connect() as conn:
        runs = [dict(r) for r in conn.execute(sa.select(t.runs).where(*run_filter)).mappings()]
        nodes = [dict(r) for r in conn.execute(
            sa.select(t.node_runs).join(t.runs, t.node_runs.c.run_id == t.runs.c.id).where(*run_filter)).mappings()]
        reviews = [dict(r) for r in conn.execute(
            sa.select(t.reviews).join(t.runs, t.reviews.c.run_id == t.runs.c.id).where(*run_filter)).mappings()]
        fb_filter = [t.feedback.c.at >= since] if since else []
        feedback = [dict(r) for r in conn.execute(sa.select(t.feedback).where(*fb_filter)).mappings()]
    return runs, nodes, reviews, feedback


def collect(since: str | dt.datetime | None = None, ledger: Ledger | None = None) -> dict:
    """The stats report: summary, per model × domain rows, and the ledger's own health (failed writes,
    records waiting to be replayed). Raises LedgerError, naming the reason, when the ledger can't be read."""
    ledger = ledger or ledger_mod.default()
    ledger.flush(timeout=10)  # this process's own runs first
    when = since if isinstance(since, dt.datetime) or since is None else since_time(since)
    health = {"url": _safe_url(ledger.url), **ledger_mod.failures(ledger.url)}
    report = aggregate(*read_rows(ledger, when))
    return {"since": when.isoformat() if when else None, **report, "ledger": health}


def cache_outcomes(ledger: Ledger | None = None) -> dict[str, int]:
    """How often the response cache hit (exact, near) and missed, over the whole ledger."""
    ledger = ledger or ledger_mod.default()
    ledger.flush(timeout=10)
    with ledger.connect() as conn:
        return cache_counts(conn)


def cache_counts(conn: sa.Connection) -> dict[str, int]:
    """outcome -> runs, for the runs the response cache saw (the CLI's report and the Prometheus counter)."""
    runs = ledger_mod.runs
    rows = conn.execute(sa.select(runs.c.cache, sa.func.count()).where(runs.c.cache.is_not(None))
                        .group_by(runs.c.cache)).all()
    return {str(outcome): int(n) for outcome, n in rows}


def _safe_url(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url
