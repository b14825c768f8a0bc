"""A first evaluation of the whole pipeline on a profile (default: the embedded model).

    python -m evals.pipeline [--data PATH] [--limit N] [--profile P] --json

Prints one JSON object:
  routing   on a dev.jsonl-style file: how often the bilingual cues decide, their accuracy when they do,
            and accuracy / macro-F1 of the analyze step as it runs (cues, then `general` for the rest,
            or the orchestrator model on a sample of --limit undecided questions)
  pipeline  a fixed set of Spanish and English questions (legal, technical, general) through the graph:
            route accuracy, answer-language accuracy, seconds per question and per node, loads per question
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "routing" / "dev.jsonl"
DOMAINS = ("legal", "technical", "general")
QUESTIONS = [  # (question, language, domain)
    ("¿Puede mi casero echarme del piso sin previo aviso?", "es", "legal"),
    ("Can my employer fire me for being sick?", "en", "legal"),
    ("¿Qué es un contrato de arrendamiento?", "es", "legal"),
    ("How do I reverse a list in Python?", "en", "technical"),
    ("¿Cómo invierto una lista en Python?", "es", "technical"),
    ("What is the difference between TCP and UDP?", "en", "technical"),
    ("¿Por qué el cielo es azul?", "es", "general"),
    ("What is the tallest mountain in the world?", "en", "general"),
]


def scores(pairs: list[tuple[str, str]]) -> dict:
    """Accuracy, macro-F1 and per-domain precision/recall/F1 of (truth, predicted) pairs."""
    per = {}
    for d in DOMAINS:
        tp = sum(t == d and p == d for t, p in pairs)
        fp = sum(t != d and p == d for t, p in pairs)
        fn = sum(t == d and p != d for t, p in pairs)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        per[d] = {"precision": round(prec, 3), "recall": round(rec, 3),
                  "f1": round(2 * prec * rec / (prec + rec), 3) if prec + rec else 0.0}
    return {"n": len(pairs), "accuracy": round(sum(t == p for t, p in pairs) / max(len(pairs), 1), 3),
            "macro_f1": round(statistics.mean(v["f1"] for v in per.values()), 3), "per_domain": per}


def routing(data: Path, limit: int, profile) -> dict:
    from agents import orchestrator, routing_rules

    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").split("\n") if line.strip()]
    decided, rest = [], []
    for row in rows:
        rule = routing_rules.decide(row["text"])
        (decided if rule.domain else rest).append((row, rule.domain))
    cues_only = [(r["domain"], d or "general") for r, d in decided + rest]
    out = {"n": len(rows), "cues_decide": round(len(decided) / len(rows), 3),
           "cues_when_deciding": scores([(r["domain"], d) for r, d in decided]),
           "cues_then_general": scores(cues_only)}
    if limit and profile is not None:
        sample = rest[:limit]
        start = time.perf_counter()
        llm = [(r["domain"], orchestrator.analyze(profile, r["text"]).domain) for r, _ in sample]
        out["model_on_undecided_sample"] = {**scores(llm), "general_baseline": scores(
            [(r["domain"], "general") for r, _ in sample]), "seconds_each": round(
            (time.perf_counter() - start) / max(len(sample), 1), 3)}
    return out


def pipeline(team) -> dict:
    from agents.language import detect
    from graphs.api import ask

    node_seconds: dict[str, list[float]] = {}
    per_question, route_ok, lang_ok, loads = [], 0, 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for question, lang, domain in QUESTIONS:
            start = time.perf_counter()
            result = ask(question, profile=team, db=Path(tmp) / "eval.sqlite")
            per_question.append(time.perf_counter() - start)
            route_ok += result["route"]["domain"] == domain
            lang_ok += detect(result["answer"], fallback=lang)[0] == lang
            for row in result["trace"]:
                node_seconds.setdefault(row["node"], []).append(row["seconds"])
                loads += bool(row["swapped"])
    n = len(QUESTIONS)
    return {"n": n, "route_accuracy": round(route_ok / n, 3), "answer_language_accuracy": round(lang_ok / n, 3),
            "seconds_per_question": {"mean": round(statistics.mean(per_question), 2),
                                     "max": round(max(per_question), 2)},
            "seconds_per_node": {k: round(statistics.mean(v), 3) for k, v in node_seconds.items()},
            "loads_per_question": round(loads / n, 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.pipeline", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--limit", type=int, default=40, help="undecided questions sent to the orchestrator model")
    p.add_argument("--profile", default="embedded")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    from agents.team import team_for

    team = team_for(args.profile)
    report = {"profile": team.profile.name, "routing": routing(args.data, args.limit, team) if args.data.exists()
              else None, "pipeline": pipeline(team)}
    print(json.dumps(report, indent=None if args.json else 2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
