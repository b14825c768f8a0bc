"""Answer quality: does cooperation beat a single model, and how close is it to perfect routing?

    python -m evals.answers [--data PATH] [--profile P] [--limit N] [--reviewer-cases N] [--out DIR] --json

Multiple-choice questions (rows with `choices` and `answer`, as the MMLU rows of dev.jsonl), sampled evenly
across legal / technical / general and alternating English and Spanish (a Spanish row is the shipped
translation of the question's stem, `agents/routing/data/es_train_*.jsonl`, with the original options), go through:
  graph    the cooperation graph, with the step policy `concilio calibrate` stored (--steps full: every step)
  oracle   the graph with the route forced to the true domain (perfect routing)
  routed   the routed specialist alone: no review, no integration
  single   each distinct model of the profile alone, asked the same question once
  vote     a majority vote of the best single model over n sampled answers (n = the graph's calls, at least 3)
Reported per condition: accuracy with its 95% Wilson interval per domain and language, seconds, model calls
and swaps per question, replies with no readable choice. The calibration questions are left out. The router
is refitted without the sampled questions first (they are among its training rows), and the router learns
nothing during the run; threads and the ledger go to a scratch folder.

The reviewer is measured on its own (`reviewer`): for each question, a thread where the assistant already
gave the right option, then the user asks which option it was, and the draft either contradicts that
earlier turn (names another option) or agrees with it. How often it flags each is its catch rate and its
false-alarm rate.

A markdown report and a PNG chart are written to --out (default ./evals-out/answers).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from importlib import resources
from pathlib import Path

from agents.roles.substance import LETTERS
from evals.metrics import DOMAINS, read_jsonl

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "routing" / "dev.jsonl"
INSTRUCTION = {"en": "Answer with the letter of the correct option, then explain briefly.",
               "es": "Responde con la letra de la opción correcta y explica brevemente."}
SINGLE_SYSTEM = {"en": "You are a helpful assistant.", "es": "Eres un asistente útil."}
FOLLOW_UP = {"en": "Which option was it again? Just the letter and the option.",
             "es": "¿Qué opción era? Solo la letra y la opción."}
EARLIER = {"en": "The answer is {letter}) {text}.", "es": "La respuesta es la {letter}) {text}."}
RECALL = {"en": "It was {letter}) {text}.", "es": "Era la {letter}) {text}."}


# --- questions ---------------------------------------------------------------------------------------------------
def spanish_stems() -> dict[str, str]:
    """source id → the shipped Spanish translation of that question's stem."""
    stems = {}
    for name in ("es_train_legal.jsonl", "es_train_other.jsonl", "es_train_more.jsonl"):
        text = resources.files("agents.routing").joinpath("data", name).read_text("utf-8")
        for line in text.split("\n"):
            if line.strip():
                row = json.loads(line)
                stems.setdefault(row["source_id"], row["text"])
    return stems


def sample(rows: list[dict], limit: int, seed: int = 0) -> list[dict]:
    """Up to `limit` multiple-choice items, the domains taken in turn and, within a domain, English and Spanish
    in turn while translated questions last. Each item: id, source_id, domain, language, stem, choices, answer."""
    stems = spanish_stems()
    queues: dict[tuple[str, str], list[dict]] = {}
    for d in DOMAINS:
        pool = [r for r in rows if r.get("choices") and r.get("answer") and r["domain"] == d]
        random.Random(seed).shuffle(pool)
        queues[(d, "es")] = [r for r in pool if r["id"] in stems]
        queues[(d, "en")] = [r for r in pool if r["id"] not in stems]
    picked: list[dict] = []
    turn = {d: "en" if i % 2 == 0 else "es" for i, d in enumerate(DOMAINS)}  # a short sample has both
    while len(picked) < limit and any(queues.values()):
        for d in DOMAINS:
            if len(picked) >= limit:
                break
            lang = turn[d] if queues[(d, turn[d])] else ("es" if turn[d] == "en" else "en")
            if not queues[(d, lang)]:
                continue
            row = queues[(d, lang)].pop(0)
            turn[d] = "es" if lang == "en" else "en"
            es = lang == "es"
            picked.append({"id": f"es-{row['id']}" if es else row["id"], "source_id": row["id"], "domain": d,
                           "language": lang, "stem": stems[row["id"]] if es else row["text"],
                           "choices": list(row["choices"]), "answer": row["answer"]})
    return picked


def prompt(item: dict) -> str:
    options = "\n".join(f"{LETTERS[i]}) {c}" for i, c in enumerate(item["choices"]))
    return f"{item['stem']}\n\n{options}\n\n{INSTRUCTION[item['language']]}"


def chosen_letter(reply: str, choices: list[str]) -> str | None:
    """The option a reply picks (agents/roles/substance.py: the graph reads drafts the same way)."""
    from agents.roles.substance import chosen_letter as read

    return read(reply, choices)


# --- the conditions ------------------------------------------------------------------------------------------
def _score(item: dict, reply: str, seconds: float, swaps: int, calls: int = 1, **extra) -> dict:
    letter = chosen_letter(reply, item["choices"])
    return {"id": item["id"], "domain": item["domain"], "language": item["language"], "chosen": letter,
            "correct": letter == item["answer"], "seconds": round(seconds, 3), "swaps": swaps, "calls": calls,
            **extra}


def model_calls(trace: list[dict]) -> int:
    """Model calls in a run's trace (rows that name a model and were not skipped). Pure."""
    return sum(bool(r.get("model")) and not r.get("skipped") for r in trace)


def run_graph(item: dict, profile, db: Path, *, oracle: bool) -> dict:
    from graphs.api import ask

    start = time.perf_counter()
    out = ask(prompt(item), profile=profile, db=db, force_domain=item["domain"] if oracle else None, learn=False)
    swaps = sum(bool(r.get("swapped")) for r in out["trace"])
    skipped = sorted({r["node"] for r in out["trace"] if r.get("skipped")})
    return _score(item, out["answer"], time.perf_counter() - start, swaps, model_calls(out["trace"]),
                  routed=out["route"]["domain"], routed_by=out["route"]["by"], skipped=skipped)


def run_single(item: dict, team, role: str, **params) -> dict:
    start = time.perf_counter()
    lang = item["language"]
    messages = [{"role": "system", "content": SINGLE_SYSTEM[lang]}, {"role": "user", "content": prompt(item)}]
    reply = team.call("single", role, messages, max_tokens=320, **params)
    return _score(item, reply.text, time.perf_counter() - start, int(reply.trace["swapped"]))


def run_routed(item: dict, team) -> dict:
    """The routed specialist alone: the router's domain, that specialist's answer, no review or integration."""
    from agents.roles import orchestrator, specialist

    start = time.perf_counter()
    question = prompt(item)
    analysis = orchestrator.analyze(team, question)
    reply = specialist.answer(team, analysis.domain, analysis.language, question, [])
    return _score(item, reply.text, time.perf_counter() - start, int(reply.trace["swapped"]),
                  model_calls([analysis.trace, reply.trace]), routed=analysis.domain, routed_by=analysis.by)


VOTE_SAMPLING = {"temperature": 0.7, "top_k": 40, "top_p": 0.95}


def majority(letters: list[str | None]) -> str | None:
    """The most named letter (ties: the one named first); None when no reply named one. Pure."""
    named = [x for x in letters if x]
    if not named:
        return None
    return max(dict.fromkeys(named), key=named.count)


def run_vote(item: dict, team, role: str, n: int) -> dict:
    """Majority vote over n sampled answers of one model (Self-MoA's "same model, several samples")."""
    start, letters, swaps = time.perf_counter(), [], 0
    for _ in range(n):
        one = run_single(item, team, role, **VOTE_SAMPLING)
        letters.append(one["chosen"])
        swaps += one["swaps"]
    letter = majority(letters)
    reply = f"{letter})" if letter else ""
    return _score(item, reply, time.perf_counter() - start, swaps, n, votes=letters)


def summarize(results: list[dict]) -> dict:
    """Accuracy with its 95% Wilson interval overall, per domain and per language; seconds, swaps and model
    calls per question. Pure."""
    from evals.metrics import wilson

    def acc(rows):
        k, n = sum(r["correct"] for r in rows), len(rows)
        return {"n": n, "accuracy": round(k / n, 3) if n else None, "ci95": wilson(k, n),
                "seconds_per_question": round(sum(r["seconds"] for r in rows) / n, 3) if n else None}

    groups: dict[str, dict[str, list]] = {"per_domain": defaultdict(list), "per_language": defaultdict(list)}
    for r in results:
        groups["per_domain"][r["domain"]].append(r)
        groups["per_language"][r["language"]].append(r)
    n = len(results) or 1
    out = {**acc(results), **{k: {g: acc(v) for g, v in sorted(rows.items())} for k, rows in groups.items()},
           "seconds_per_question": round(sum(r["seconds"] for r in results) / n, 3),
           "swaps_per_question": round(sum(r["swaps"] for r in results) / n, 3),
           "calls_per_question": round(sum(r.get("calls", 1) for r in results) / n, 3),
           "unreadable": sum(r["chosen"] is None for r in results)}
    if results and "routed" in results[0]:
        out["routing_accuracy"] = round(sum(r["routed"] == r["domain"] for r in results) / n, 3)
    return out


# --- the reviewer on contradictions (the full study: evals/reviewer.py) ---------------------------------------
def reviewer_cases(items: list[dict]) -> list[dict]:
    """Per question two cases with the same earlier turn (the right option): a draft that contradicts it
    (the next option) and one that agrees. Pure."""
    cases = []
    for item in items:
        lang, right = item["language"], LETTERS.index(item["answer"])
        wrong = (right + 1) % len(item["choices"])
        history = [{"role": "user", "content": prompt(item)},
                   {"role": "assistant", "content": EARLIER[lang].format(letter=LETTERS[right],
                                                                         text=item["choices"][right])}]
        for kind, pick in (("contradicts", wrong), ("agrees", right)):
            cases.append({"id": item["id"], "language": lang, "kind": kind, "history": history,
                          "question": FOLLOW_UP[lang],
                          "draft": RECALL[lang].format(letter=LETTERS[pick], text=item["choices"][pick])})
    return cases


def run_reviewer(team, cases: list[dict]) -> dict:
    from agents.roles import reviewer

    by_kind: dict[str, list[dict]] = defaultdict(list)
    for case in cases:
        verdict, _, _ = reviewer.review(team, case["language"], case["question"], case["draft"], "stop",
                                        case["history"])
        by_kind[case["kind"]].append({"flagged": verdict["verdict"] == "revise", "by": verdict["by"],
                                      "language": case["language"]})

    def rate(rows):
        return round(sum(r["flagged"] for r in rows) / len(rows), 3) if rows else None

    report = {}
    for kind, rows in by_kind.items():
        report[kind] = {"n": len(rows), "flagged": rate(rows),
                        "by_language": {lang: rate([r for r in rows if r["language"] == lang])
                                        for lang in sorted({r["language"] for r in rows})},
                        "decided_by": {b: sum(r["by"] == b for r in rows) for b in sorted({r["by"] for r in rows})}}
    return {"catch_rate": report.get("contradicts", {}).get("flagged"),
            "false_alarm_rate": report.get("agrees", {}).get("flagged"), **report}


# --- the whole evaluation -------------------------------------------------------------------------------------------
@contextlib.contextmanager
def scratch_data_dir():
    """Threads, ledger and router corrections of the evaluation go to a temporary folder."""
    previous = os.environ.get("CONCILIO_DATA_DIR")
    with tempfile.TemporaryDirectory(prefix="concilio-eval-") as folder:
        os.environ["CONCILIO_DATA_DIR"] = folder
        try:
            yield Path(folder)
        finally:
            if previous is None:
                os.environ.pop("CONCILIO_DATA_DIR", None)
            else:
                os.environ["CONCILIO_DATA_DIR"] = previous


CONDITIONS = ("graph", "oracle", "single", "routed", "vote")


def _per_language_gap(conditions: dict, name: str, best: str | None) -> dict:
    if not best or name not in conditions:
        return {}
    a, b = conditions[name]["per_language"], conditions[best]["per_language"]
    return {g: round((a[g]["accuracy"] or 0) - (b.get(g, {}).get("accuracy") or 0), 3) for g in a}


def evaluate(rows: list[dict], *, profile="embedded", limit: int = 60, reviewer_limit: int | None = 12,
             conditions: tuple[str, ...] = CONDITIONS, steps: str = "calibrated", vote_n: int | None = None) -> dict:
    from agents.roles import steps as step_rules
    from agents.roles.team import team_for
    from agents.routing import store as router_store
    from evals.calibrate import ids as calibration_ids
    from evals.routing import router_for
    from graphs.api import preflight
    from memory import step_policy
    from memory.stats import collect

    held_out = calibration_ids()  # the questions `concilio calibrate` measures on stay out of this evaluation
    items = sample([r for r in rows if r["id"] not in held_out], limit)
    team = team_for(profile)
    preflight(team)
    evidence = step_policy.load(team.profile.name) if steps == "calibrated" else None
    router, training = router_for([{"id": i["source_id"]} for i in items])
    results: dict[str, list[dict]] = {c: [] for c in ("graph", "oracle", "routed") if c in conditions}
    singles = {m.name: next(r.role for r in team.profile.roles if r.model.key == m.key)
               for m in team.profile.models()}
    with scratch_data_dir() as folder, router_store.using(router), step_policy.using(evidence or {}):
        db = folder / "threads.sqlite"
        for item in items:
            if "graph" in conditions:
                results["graph"].append(run_graph(item, team, db, oracle=False))
            if "oracle" in conditions:
                results["oracle"].append(run_graph(item, team, db, oracle=True))
            if "routed" in conditions:
                results["routed"].append(run_routed(item, team))
            for name, role in singles.items() if "single" in conditions or "vote" in conditions else ():
                results.setdefault(f"single:{name}", []).append(run_single(item, team, role))
        summary = {name: summarize(rs) for name, rs in results.items()}
        best = max((k for k in summary if k.startswith("single:")), key=lambda k: summary[k]["accuracy"] or 0,
                   default=None)
        graph_calls = summary.get("graph", {}).get("calls_per_question") or 1
        n = vote_n or max(3, round(graph_calls))
        if "vote" in conditions and best:
            key = f"vote@{n}:{best.removeprefix('single:')}"
            results[key] = [run_vote(item, team, singles[best.removeprefix("single:")], n) for item in items]
        cases = reviewer_cases(items[:reviewer_limit if reviewer_limit is not None else len(items)])
        review = run_reviewer(team, cases) if cases else {}
        ledger = collect()["models"]
    summary = {name: summarize(rs) for name, rs in results.items()}
    best_acc = summary[best]["accuracy"] if best else 0
    graph = summary.get("graph", {})
    return {
        "profile": team.profile.name, "questions": len(items), "training": training,
        "languages": {lang: sum(i["language"] == lang for i in items) for lang in ("en", "es")},
        "chance": round(sum(1 / len(i["choices"]) for i in items) / max(len(items), 1), 3),
        "steps": steps, "step_policy": step_rules.describe(evidence) if evidence else "full flow (no evidence)",
        "conditions": summary, "best_single": best,
        "vote": {"n": n, "graph_calls_per_question": graph_calls,
                 "note": "at the graph's model calls per question" if n == round(graph_calls) else
                 f"the graph makes {graph_calls} calls a question; a vote needs 3 or more, so it gets more calls"},
        "graph_minus_best_single": round((graph.get("accuracy") or 0) - (best_acc or 0), 3) if graph else None,
        "graph_minus_best_single_per_language": _per_language_gap(summary, "graph", best),
        "graph_seconds_ratio": round(graph["seconds_per_question"] / summary[best]["seconds_per_question"], 2)
        if graph and best and summary[best]["seconds_per_question"] else None,
        "oracle_minus_graph": round((summary["oracle"]["accuracy"] or 0) - (graph.get("accuracy") or 0), 3)
        if "oracle" in summary and graph else None,
        "reviewer": review, "ledger": ledger, "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    from evals.answer_report import write_report

    p = argparse.ArgumentParser(prog="python -m evals.answers", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="rows with text, domain, choices, answer")
    p.add_argument("--profile", default="embedded", help="embedded, gpt4all-seed, or a config .toml")
    p.add_argument("--limit", type=int, default=60, help="questions (taken evenly across the domains)")
    p.add_argument("--reviewer-cases", type=int, default=12,
                   help="questions turned into reviewer cases (default 12; the full study: python -m evals.reviewer)")
    p.add_argument("--conditions", default=",".join(CONDITIONS), help="which to run (default: all of "
                                                                      + ", ".join(CONDITIONS) + ")")
    p.add_argument("--steps", choices=["calibrated", "full"], default="calibrated",
                   help="the graph's steps: the stored calibration's policy (default), or the full flow")
    p.add_argument("--vote-n", type=int, help="answers per vote (default: the graph's calls, at least 3)")
    p.add_argument("--out", type=Path, default=Path("evals-out") / "answers", help="folder for report.md and chart")
    p.add_argument("--json", action="store_true", help="one line of JSON (default: indented)")
    args = p.parse_args(argv)
    if not args.data.exists():
        print(f"no data file {args.data}; pass --data PATH (rows with choices and answer)", file=sys.stderr)
        return 2
    report = evaluate(read_jsonl(args.data), profile=args.profile, limit=args.limit,
                      reviewer_limit=args.reviewer_cases, steps=args.steps, vote_n=args.vote_n,
                      conditions=tuple(c for c in args.conditions.split(",") if c))
    report["report"] = {k: str(v) for k, v in write_report(report, args.out).items()}
    shown = {k: v for k, v in report.items() if k != "results"}
    print(json.dumps(shown, indent=None if args.json else 2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
