"""The whole pipeline on a profile (default: the embedded model). Routing alone: evals/routing.py.

    python -m evals.pipeline [--profile P] --json

Prints one JSON object: a fixed set of Spanish and English questions (legal, technical, general) through the
graph: route accuracy, answer-language accuracy, seconds per question and per node, loads per question.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

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


def pipeline(team) -> dict:
    from agents.routing.language import detect
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
    p.add_argument("--profile", default="embedded")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    from agents.roles.team import team_for

    team = team_for(args.profile)
    report = {"profile": team.profile.name, "pipeline": pipeline(team)}
    print(json.dumps(report, indent=None if args.json else 2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
