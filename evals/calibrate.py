"""`concilio calibrate`: measure, on the user's own models, whether review, revision and integration help,
and store the step policy that follows (memory/step_policy.py; agents/roles/steps.py decides from it).

    concilio calibrate [--profile P] [--limit N] [--data FILE] [--json]

Multiple-choice questions with known answers (evals/data/calibration.jsonl: 12 per domain and language,
MMLU rows kept out of `python -m evals.answers`; or --data rows of the same shape), taken domain by domain and
English/Spanish in turn, up to --limit. For each one the domain's specialist drafts an answer, exactly as in
the graph; then, on that same draft:
  checks      the reviewer's deterministic checks; a flagged draft is revised once (the graph's revision)
  model       otherwise the reviewer model's verdict; a draft it flags is revised once
  integrate   the orchestrator's integration of the draft (with the substance guard the graph applies)
Each outcome is scored, so the cell for (domain, language) gets: correct drafts, correct integrated answers,
how many drafts each kind of review flagged and the net right answers its revisions gained, and seconds per
step. The router is not involved (the true domain is used) and nothing is learned or stored but the policy.

The ledger's ratings of the profile's answers (`concilio feedback`) are read too and stored beside the
measurement (memory/stats.py `step_feedback`); `--from-ledger` refreshes only them, with no model run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections import defaultdict
from importlib import resources

from evals.metrics import DOMAINS, read_jsonl

STEPS = ("draft", "review", "revise", "integrate")


def shipped() -> list[dict]:
    text = resources.files("evals").joinpath("data", "calibration.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def ids() -> set[str]:
    """The source ids of the shipped calibration questions (the answer evaluation leaves them out)."""
    return {row["source_id"] for row in shipped()}


def take(rows: list[dict], limit: int) -> list[dict]:
    """Up to `limit` rows, (domain, language) cells in turn so that a short run covers each. Pure."""
    queues: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        queues[(row["domain"], row.get("language", "en"))].append(row)
    order = [(d, lang) for lang in ("en", "es") for d in DOMAINS if (d, lang) in queues]
    order += [k for k in queues if k not in order]
    picked: list[dict] = []
    while len(picked) < limit and any(queues[k] for k in order):
        for key in order:
            if queues[key] and len(picked) < limit:
                picked.append(queues[key].pop(0))
    return picked


def _cell() -> dict:
    return {"n": 0, "draft": 0, "integrated": 0, "checks_flagged": 0, "checks_gain": 0, "model_flagged": 0,
            "model_gain": 0, "unparsed": 0, "seconds": {s: 0.0 for s in STEPS}}


def measure(team, item: dict, *, variant: str | None = None) -> dict:
    """One question's outcomes: each step's answer scored, and its seconds."""
    from agents.roles import final, orchestrator, reviewer, specialist
    from agents.routing import language
    from evals.answers import chosen_letter, prompt

    lang, domain = item["language"], item["domain"]
    question = prompt(item)

    def right(text: str) -> bool:
        return chosen_letter(text, item["choices"]) == item["answer"]

    seconds = dict.fromkeys(STEPS, 0.0)
    start = time.perf_counter()
    draft = specialist.answer(team, domain, lang, question, [])
    seconds["draft"] = time.perf_counter() - start
    out = {"domain": domain, "language": lang, "draft": right(draft.text), "flagged_by": None, "revised": None,
           "parsed": True}
    start = time.perf_counter()
    found = reviewer.checks(draft.text, draft.finish, lang, [], question)
    if found:
        verdict = {"verdict": "revise", "issues": found, "by": "checks"}
    else:
        verdict, out["parsed"], _, _, _ = reviewer.model_verdict(team, lang, question, draft.text, [],
                                                                  variant=variant)
    seconds["review"] = time.perf_counter() - start
    if verdict["verdict"] == "revise":
        start = time.perf_counter()
        revised = specialist.answer(team, domain, lang, question, [],
                                    revision=(draft.text, "; ".join(verdict["issues"])))
        seconds["revise"] = time.perf_counter() - start
        out["flagged_by"], out["revised"] = verdict["by"], right(revised.text)
    start = time.perf_counter()
    text, _ = orchestrator.integrate(team, question=question, draft=draft.text, notes="", lang=lang)
    draft_lang = language.detect(draft.text, fallback=lang)[0] if draft.text else None
    text, _ = final.keep_substance(draft.text, text, draft_language=draft_lang, lang=lang, choices=item["choices"])
    seconds["integrate"] = time.perf_counter() - start
    out["integrated"] = right(text)
    out["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    return out


def evidence(outcomes: list[dict]) -> dict:
    """Per (domain, language) cell, the counts the step policy reads (agents/roles/steps.py). Pure."""
    cells: dict[str, dict] = defaultdict(_cell)
    for o in outcomes:
        cell = cells[f"{o['domain']}/{o['language']}"]
        cell["n"] += 1
        cell["draft"] += o["draft"]
        cell["integrated"] += o["integrated"]
        cell["unparsed"] += not o.get("parsed", True)
        if o["flagged_by"] in ("checks", "model"):
            cell[f"{o['flagged_by']}_flagged"] += 1
            cell[f"{o['flagged_by']}_gain"] += int(o["revised"]) - int(o["draft"])
        for step, s in o["seconds"].items():
            cell["seconds"][step] = round(cell["seconds"][step] + s, 3)
    return dict(sorted(cells.items()))


def ledger_feedback(profile: str) -> dict:
    """{"read_at", "ratings", "cells"} from the configured ledger's feedback on `profile`'s runs; {"error": ...}
    when the ledger is off or can't be read (the calibration stands alone then)."""
    from memory import ledger
    from memory.stats import read_rows, step_feedback

    if ledger.default_url() == "off":
        return {"error": "the ledger is off (CONCILIO_LEDGER_URL=off)"}
    try:
        book = ledger.default()
        book.flush(timeout=10)
        runs, nodes, reviews, feedback = read_rows(book)
    except Exception as exc:  # noqa: BLE001 - a ledger problem must not lose a calibration
        return {"error": f"the ledger could not be read ({exc})"}
    cells = step_feedback(runs, nodes, reviews, feedback, profile)
    return {"read_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "ratings": len(feedback), "cells": cells}


def from_ledger(profile=None, *, save: bool = True) -> dict:
    """Refresh only the ledger's feedback in the stored evidence (no model runs); returns it with the plans."""
    from agents.roles import steps
    from agents.roles.team import team_for
    from memory import step_policy

    name = team_for(profile).profile.name
    result = dict(step_policy.read_all()["profiles"].get(name) or {"questions": 0, "cells": {}})
    result["feedback"] = ledger_feedback(name)
    if save:
        result["file"] = str(step_policy.save(name, {k: v for k, v in result.items() if k != "file"}))
    return {**result, "plans": steps.describe(result), "profile": name}


def calibrate(profile=None, *, limit: int = 36, rows: list[dict] | None = None, save: bool = True,
              deadline_s: float | None = None) -> dict:
    """Measure and (save) store the evidence for the profile; returns it with the plans it implies."""
    from agents.roles import steps
    from agents.roles.team import team_for
    from graphs.api import preflight
    from memory import step_policy

    team = team_for(profile)
    preflight(team)
    items = take(rows if rows is not None else shipped(), limit)
    started, outcomes = time.perf_counter(), []

    def result_so_far() -> dict:
        return {"measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "questions": len(outcomes), "seconds": round(time.perf_counter() - started, 1),
                "cells": evidence(outcomes)}

    for item in items:
        if deadline_s is not None and time.perf_counter() - started > deadline_s:
            break
        outcomes.append(measure(team, item))
        if save:  # stored as it grows: a run stopped part-way still leaves what it measured
            step_policy.save(team.profile.name, result_so_far())
    result = {**result_so_far(), "feedback": ledger_feedback(team.profile.name)}
    if save:
        result["file"] = str(step_policy.save(team.profile.name, result))
    result["plans"] = steps.describe(result)
    result["profile"] = team.profile.name
    return result


def run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        print("--limit must be at least 1", file=sys.stderr)
        return 2
    if args.from_ledger:
        result = from_ledger(args.profile)
    else:
        rows = read_jsonl(args.data) if args.data else None
        result = calibrate(args.profile, limit=args.limit, rows=rows, deadline_s=args.max_seconds)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    fb = result.get("feedback") or {}
    print(f"calibrated profile {result['profile']} on {result.get('questions', 0)} question(s)"
          + (f" in {result['seconds']} s" if "seconds" in result else "")
          + (f" and {fb['ratings']} ledger rating(s)" if "ratings" in fb else f" ({fb['error']})" if fb else "")
          + f"; stored in {result['file']}")
    for row in result["plans"]:
        print(f"  {row['domain']:<9} {row['language']}  review {row['review']:<6} revise "
              f"{'yes' if row['revise'] else 'no ':<3}  integrate {'yes' if row['integrate'] else 'no'}  "
              f"({row['note']})")
    return 0


def main(argv: list[str] | None = None) -> int:
    from graphs.cli.steps import add_arguments

    p = argparse.ArgumentParser(prog="python -m evals.calibrate", description=__doc__.splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
