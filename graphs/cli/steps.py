"""`concilio calibrate`, and the step policy as `concilio stats` and `concilio models` show it."""

from __future__ import annotations

import argparse
from pathlib import Path

from graphs.cli.text import table


def policy_rows(profile: str) -> tuple[dict | None, list[dict]]:
    """The stored evidence for `profile` (None: none yet) and the plan per domain and language."""
    from agents.roles import steps
    from memory import step_policy

    evidence = step_policy.load(profile)
    return evidence, steps.describe(evidence)


def policy_text(profile: str) -> str:
    evidence, rows = policy_rows(profile)
    if evidence is None:
        return (f"step policy for {profile}: not calibrated, the full flow runs (review, revision, integration); "
                f"`concilio calibrate --profile {profile}` measures it")
    lines = [["domain", "lang", "review", "revise", "integrate", "evidence"]]
    for r in rows:
        lines.append([r["domain"], r["language"], r["review"], "yes" if r["revise"] else "no",
                      "yes" if r["integrate"] else "no", r["note"]])
    head = (f"step policy for {profile}: calibrated {evidence.get('measured_at', '?')} on "
            f"{evidence.get('questions', '?')} question(s)")
    return head + "\n" + table(lines)


def policy_json(profile: str) -> dict:
    evidence, rows = policy_rows(profile)
    return {"profile": profile, "calibrated": evidence is not None,
            "measured_at": (evidence or {}).get("measured_at"), "plans": rows}


def cmd_calibrate(args: argparse.Namespace) -> int:
    from evals import calibrate

    return calibrate.run(args)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", help="embedded, gpt4all-seed, or a config .toml (default: the active one)")
    p.add_argument("--limit", type=int, default=36, help="questions, taken per domain and language in turn "
                                                         "(default 36: 6 a cell)")
    p.add_argument("--data", type=Path, help="rows with domain, language, stem, choices, answer (default: the "
                                             "shipped calibration set)")
    p.add_argument("--max-seconds", type=float, help="stop starting new questions after this many seconds (what "
                                                     "was measured is kept)")
    p.add_argument("--from-ledger", action="store_true", help="only refresh the ledger's ratings of the profile's "
                                                              "answers in the stored evidence (no model runs)")
    p.add_argument("--json", action="store_true", help="print the evidence and the plans as JSON")


def add_commands(sub) -> None:
    c = sub.add_parser("calibrate", help="measure which steps help on your models and store the step policy",
                       description="Runs a short multiple-choice evaluation on the profile's models: the "
                                   "specialist's draft, then the reviewer's checks and model, a revision and the "
                                   "integration of that same draft, each scored; stores per domain and language "
                                   "which steps gained right answers (the step policy the graph follows).")
    add_arguments(c)
    c.set_defaults(func=cmd_calibrate)
