"""The reviewer on real cases: does it flag drafts that contradict the conversation, or leave out what an
earlier turn asked for, and leave good drafts alone? Per backend, per verdict form, with the parse rate.

    python -m evals.reviewer [--backend gpt4all|llamacpp|PROFILE.toml] [--limit N] [--variants free,verdict,claim]

Cases come from real multiple-choice questions (the sample of evals/answers.py), two pairs per question:
  contradiction  the assistant already gave the right option; asked "which option was it?", the draft names
                 another (bad) or the same (good)
  omission       an earlier turn asked that every answer start with the option's letter; the draft gives the
                 right option's text without its letter (bad) or with it (good)
Each case is judged by the deterministic checks alone, by the reviewer model alone in each verdict form
(`agents.roles.reviewer.VARIANTS`; constrained where the backend can), and by both as the graph runs them
(checks first, the model when they find nothing). Catch rate = bad drafts flagged, false-alarm rate = good
drafts flagged; the figure of merit is catch − false alarm.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from evals.metrics import read_jsonl

FOLLOW_UP = {"en": "Which option was it again? Just the letter and the option.",
             "es": "¿Qué opción era? Solo la letra y la opción."}
EARLIER = {"en": "The answer is {letter}) {text}.", "es": "La respuesta es la {letter}) {text}."}
RECALL = {"en": "It was {letter}) {text}.", "es": "Era la {letter}) {text}."}
RULE = {"en": "For every question I ask, start your answer with the letter of the correct option.",
        "es": "En cada pregunta que te haga, empieza la respuesta con la letra de la opción correcta."}
RULE_OK = {"en": "Understood: I will start with the letter.", "es": "Entendido: empezaré por la letra."}
WITHOUT_LETTER = {"en": "The correct one is: {text}. It fits the question best.",
                  "es": "La correcta es: {text}. Es la que mejor encaja con la pregunta."}
WITH_LETTER = {"en": "{letter}) {text}. It fits the question best.",
               "es": "{letter}) {text}. Es la que mejor encaja con la pregunta."}


def cases(items: list[dict]) -> list[dict]:
    """Four cases per question: a contradiction pair and an omission pair, each a bad and a good draft. Pure."""
    from agents.roles.substance import LETTERS
    from evals.answers import prompt

    out = []
    for item in items:
        lang, right = item["language"], LETTERS.index(item["answer"])
        wrong = (right + 1) % len(item["choices"])
        letter, text = LETTERS[right], item["choices"][right]
        history = [{"role": "user", "content": prompt(item)},
                   {"role": "assistant", "content": EARLIER[lang].format(letter=letter, text=text)}]
        for bad, pick in ((True, wrong), (False, right)):
            out.append({"id": item["id"], "language": lang, "kind": "contradiction", "bad": bad, "history": history,
                        "question": FOLLOW_UP[lang],
                        "draft": RECALL[lang].format(letter=LETTERS[pick], text=item["choices"][pick])})
        options = "\n".join(f"{LETTERS[i]}) {c}" for i, c in enumerate(item["choices"]))
        rule = [{"role": "user", "content": RULE[lang]}, {"role": "assistant", "content": RULE_OK[lang]}]
        for bad, template in ((True, WITHOUT_LETTER), (False, WITH_LETTER)):
            out.append({"id": item["id"], "language": lang, "kind": "omission", "bad": bad, "history": rule,
                        "question": f"{item['stem']}\n\n{options}",
                        "draft": template[lang].format(letter=letter, text=text)})
    return out


def rates(rows: list[dict]) -> dict:
    """catch, false_alarm, catch − false alarm (points), parse rate, n: for rows of {bad, flagged, parsed}. Pure."""
    bad = [r for r in rows if r["bad"]]
    good = [r for r in rows if not r["bad"]]
    catch = sum(r["flagged"] for r in bad) / len(bad) if bad else None
    alarm = sum(r["flagged"] for r in good) / len(good) if good else None
    parsed = [r["parsed"] for r in rows if r.get("parsed") is not None]
    return {"n": len(rows), "catch": None if catch is None else round(catch, 3),
            "false_alarm": None if alarm is None else round(alarm, 3),
            "margin_points": None if catch is None or alarm is None else round(100 * (catch - alarm), 1),
            "parse_rate": round(sum(parsed) / len(parsed), 3) if parsed else None}


def judge(team, all_cases: list[dict], variants: tuple[str, ...]) -> list[dict]:
    """Every case judged by the checks, by each model variant, and by checks-then-model."""
    from agents.roles import reviewer

    rows = []
    for case in all_cases:
        found = reviewer.checks(case["draft"], "stop", case["language"], case["history"], case["question"])
        base = {k: case[k] for k in ("id", "language", "kind", "bad")}
        rows.append({**base, "judge": "checks", "flagged": bool(found), "parsed": None})
        for variant in variants:
            verdict, parsed, trace, _, _ = reviewer.model_verdict(team, case["language"], case["question"],
                                                                  case["draft"], case["history"], variant=variant)
            flagged = verdict["verdict"] == "revise"
            rows.append({**base, "judge": f"model:{variant}", "flagged": flagged, "parsed": parsed,
                         "seconds": trace.get("seconds")})
            rows.append({**base, "judge": f"checks+model:{variant}", "flagged": bool(found) or flagged,
                         "parsed": None if found else parsed})
    return rows


def report(rows: list[dict]) -> dict:
    """Per judge: overall, per kind and per language. Pure."""
    by_judge: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_judge[r["judge"]].append(r)
    out = {}
    for name, rs in by_judge.items():
        out[name] = {**rates(rs),
                     "by_kind": {k: rates([r for r in rs if r["kind"] == k]) for k in sorted({r["kind"] for r in rs})},
                     "by_language": {g: rates([r for r in rs if r["language"] == g])
                                     for g in sorted({r["language"] for r in rs})}}
    return out


def profile_for(backend: str) -> str:
    """A profile name/file: the embedded profile with its reviewer on `backend` (gpt4all: as shipped)."""
    if backend in ("embedded", "gpt4all"):
        return "embedded"
    if backend.endswith(".toml") or backend == "gpt4all-seed":
        return backend
    folder = Path(tempfile.mkdtemp(prefix="concilio-reviewer-"))
    path = folder / f"reviewer-{backend}.toml"
    path.write_text(f'profile = "embedded"\n[roles.reviewer]\nbackend = "{backend}"\n', "utf-8")
    return str(path)


def evaluate(rows: list[dict], *, backend: str = "llamacpp", limit: int = 10,
             variants: tuple[str, ...] = ("free", "verdict", "claim")) -> dict:
    from agents import backends
    from agents.roles.team import team_for
    from evals.answers import sample
    from graphs.api import preflight

    team = team_for(profile_for(backend))
    preflight(team)
    items = sample(rows, limit)
    judged = judge(team, cases(items), variants)
    spec = team.role("reviewer").model
    return {"backend": spec.backend, "model": spec.name, "constrained": backends.constrains(spec.backend),
            "questions": len(items), "cases": len(judged) // (1 + 2 * len(variants)), "judges": report(judged)}


def main(argv: list[str] | None = None) -> int:
    from evals.answers import DEFAULT_DATA

    p = argparse.ArgumentParser(prog="python -m evals.reviewer", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="rows with text, domain, choices, answer")
    p.add_argument("--backend", default="llamacpp", help="the reviewer's backend on the embedded model (gpt4all, "
                                                         "llamacpp), or a profile .toml")
    p.add_argument("--limit", type=int, default=10, help="questions (4 cases each)")
    p.add_argument("--variants", default="free,verdict,claim", help="verdict forms to compare")
    args = p.parse_args(argv)
    if not args.data.exists():
        print(f"no data file {args.data}; pass --data PATH (rows with choices and answer)", file=sys.stderr)
        return 2
    out = evaluate(read_jsonl(args.data), backend=args.backend, limit=args.limit,
                   variants=tuple(v for v in args.variants.split(",") if v))
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
