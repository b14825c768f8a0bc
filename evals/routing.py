"""Routing evaluation: the learned classifier, the orchestrator model, and both combined as analyze runs them.

    python -m evals.routing [--data PATH] [--corrections PATH] [--limit N] [--profile P] [--replay] --json

Prints one JSON object:
  classifier      every row through the classifier (accuracy, macro-F1, per domain, confusion, p50/p99 ms),
                  plus the same per language (`by_language`, from each row's `language` or detected)
  llm             a domain-balanced sample of --limit rows through the orchestrator model alone (a reply
                  that names no domain counts as `general`, what a model-only router would have to do)
  combined        every row as the analyze step decides it: the classifier, and the model where the classifier
                  is below its fitted threshold and the profile allows model routing
  learning_curve  macro-F1 after 0, 50 and 200 labelled corrections, fed as user feedback from --corrections
                  (default: half of --data, stratified; the curve is then measured on the other half)
  heldout         each held-out set of evals/data/ (never trained on): the router in use (n-gram, and the
                  embeddings where the n-gram is unsure) side by side with the n-gram alone; macro-F1, technical
                  recall, per language, p50/p99 ms, the share that needed the embeddings
  corrected_kind  learning curve on held-out questions of a corrected kind: a router fitted without MMLU's
                  technical exam rows is fed N of them as feedback; technical recall on routing_exam.jsonl
  follow_up       second turns alone vs with their thread, and topic changes (evals/routing_context.py)
  swap_aware      a mixed 200-question stream through a one-model slot: swaps per 100, accuracy, margin off/on
  replay          (--replay) the same policies on the ledger's logged questions
  training        how the router was trained: when rows of --data (by id or source id) are among the shipped
                  training examples, they are left out and the router is refitted, so no score is on seen data
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

from evals.metrics import DOMAINS, classification, latency_ms, read_jsonl

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "routing" / "dev.jsonl"
EVAL_DATA = Path(__file__).resolve().parent / "data"
HELDOUT = ("routing_exam.jsonl", "routing_chat.jsonl", "routing_parallel.jsonl", "routing_practical.jsonl")
CURVE = (0, 50, 200)
KIND_CURVE = (0, 25, 50, 100, 200)
TECHNICAL_EXAM = ("computer_security", "electrical_engineering", "college_computer_science",
                  "high_school_computer_science", "machine_learning")


def _ids(rows: list[dict]) -> set[str]:
    return {str(r[k]) for r in rows for k in ("id", "source_id") if r.get(k)}


def router_for(rows: list[dict]):
    """The shipped router, or one refitted without the training examples that these rows come from."""
    from agents.routing import store as router_store

    base = router_store.base()
    router_store.load_vectors()  # a refit needn't encode the training rows again
    examples = router_store.training_examples(exclude=_ids(rows))
    left_out = len(router_store.training_rows()) - len(examples)
    router = base.refit_on(examples) if left_out else base
    return router, {"examples": len(examples), "left_out_overlap": left_out, "threshold": round(base.threshold, 4)}


def _language(row: dict) -> str:
    from agents.routing.language import detect

    return row.get("language") or detect(row["text"], fallback="en")[0]


def run_classifier(router, rows: list[dict]) -> tuple[list, dict]:
    decisions, seconds = [], []
    for row in rows:
        start = time.perf_counter()
        decisions.append(router.decide(row["text"]))
        seconds.append(time.perf_counter() - start)
    truth = [r["domain"] for r in rows]
    report = {**classification(truth, [d.domain for d in decisions]), **latency_ms(seconds)}
    report["technical_recall"] = report["per_domain"]["technical"]["recall"] if "per_domain" in report else None
    report["embeddings_share"] = round(sum(getattr(d, "tier", "") == "embeddings" for d in decisions)
                                       / max(len(decisions), 1), 3)
    by_language: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_language.setdefault(_language(row), []).append(i)
    report["by_language"] = {lang: {k: v for k, v in classification(
        [truth[i] for i in idx], [decisions[i].domain for i in idx]).items() if k in ("n", "accuracy", "macro_f1")}
        for lang, idx in sorted(by_language.items())}
    return decisions, report


def balanced_sample(rows: list[dict], limit: int) -> list[int]:
    """Indices of up to `limit` rows, taking the domains in turn (file order within each)."""
    queues = {d: [i for i, r in enumerate(rows) if r["domain"] == d] for d in DOMAINS}
    picked: list[int] = []
    while len(picked) < limit and any(queues.values()):
        for d in DOMAINS:
            if queues[d] and len(picked) < limit:
                picked.append(queues[d].pop(0))
    return sorted(picked)


def run_llm(team, rows: list[dict], indices: list[int], cache: dict[int, str | None]) -> dict:
    from agents.roles.orchestrator import ask_model

    seconds = []
    for i in indices:
        if i not in cache:
            start = time.perf_counter()
            domain, _ = ask_model(team, rows[i]["text"])
            seconds.append(time.perf_counter() - start)
            cache[i] = domain
    report = classification([rows[i]["domain"] for i in indices], [cache[i] or "general" for i in indices])
    return {**report, **latency_ms(seconds), "unparsed": sum(cache[i] is None for i in indices)}


def run_combined(router, team, rows: list[dict], decisions: list, cache: dict[int, str | None]) -> dict:
    asks = [i for i, d in enumerate(decisions) if d.by != "feedback" and d.confidence < router.threshold]
    if team.profile.model_routing:
        run_llm(team, rows, asks, cache)
    else:
        asks = []
    # As in analyze: the model's domain where it was asked and named one, else the classifier's.
    predicted = [(cache[i] if i in asks else None) or d.domain for i, d in enumerate(decisions)]
    return {**classification([r["domain"] for r in rows], predicted),
            "llm_consulted": len(asks), "model_routing": team.profile.model_routing}


def learning_curve(router, rows: list[dict], corrections: list[dict] | None) -> dict:
    from agents.routing.classifier import correction

    if corrections is None:
        half = {r["id"] for r in rows if int(hashlib.sha1(str(r["id"]).encode()).hexdigest(), 16) % 2 == 0}
        pool, test, source = [r for r in rows if r["id"] in half], [r for r in rows if r["id"] not in half], \
            "half of --data; measured on the other half"
    else:
        seen = _ids(rows)
        pool, test, source = [r for r in corrections if not (_ids([r]) & seen)], rows, "--corrections"
    random.Random(0).shuffle(pool)
    curve = {}
    for n in CURVE:
        fed = [correction(r["text"], r["domain"], "feedback") for r in pool[:n]]
        learner = router.refit_on([*router.examples, *fed]) if fed else router
        truth = [r["domain"] for r in test]
        curve[str(n)] = classification(truth, [learner.decide(r["text"]).domain for r in test])["macro_f1"]
    return {"macro_f1": curve, "fed": {str(n): min(n, len(pool)) for n in CURVE}, "test_n": len(test),
            "source": source}


def _brief(report: dict) -> dict:
    keep = ("n", "accuracy", "macro_f1", "technical_recall", "p50_ms", "p99_ms", "embeddings_share")
    return {**{k: report.get(k) for k in keep}, "by_language": report.get("by_language"),
            "per_domain_f1": {d: v["f1"] for d, v in report.get("per_domain", {}).items()}}


def heldout(router, ngram_only, sets: dict[str, list[dict]]) -> dict:
    """Each held-out set through the router in use and through the n-gram alone. The embedder is loaded first
    (its load, once a process, is reported apart instead of landing in one question's latency)."""
    from agents.routing import semantic

    start = time.perf_counter()
    semantic.encode(["warm up"])
    out: dict = {"embedder_load_s": round(time.perf_counter() - start, 2)}
    for name, rows in sets.items():
        out[name] = {"router": _brief(run_classifier(router, rows)[1]),
                     "ngram_only": _brief(run_classifier(ngram_only, rows)[1])}
    everything = [r for rows in sets.values() for r in rows]
    out["note"] = "all: every row above once; routing_parallel's English rows are dev.jsonl rows (trained on): "\
                  "see `classifier` with --data evals/data/routing_parallel.jsonl for it refitted without them"
    out["all"] = {"router": _brief(run_classifier(router, everything)[1]),
                  "ngram_only": _brief(run_classifier(ngram_only, everything)[1])}
    return out


def corrected_kind(base, exam: list[dict], n_points=KIND_CURVE) -> dict:
    """Feed N academic technical questions (MMLU's technical subjects and the synthetic technical rows) as
    feedback to routers fitted without any of them (nor their translations); measure on the held-out exam set
    (questions of the same kind, written apart). The n-gram alone (the old mechanism) vs the router in use."""
    from agents.routing import store as router_store
    from agents.routing.classifier import Router, correction

    kind = [r for r in router_store.training_rows() if (r.get("source") == "mmlu" and any(
        s in r["id"] for s in TECHNICAL_EXAM)) or r["id"].startswith("syn-tech-")]
    ids = {r["id"] for r in kind}
    rest = router_store.training_examples(exclude=ids)
    random.Random(0).shuffle(kind)
    truth = [r["domain"] for r in exam]
    curves: dict[str, dict] = {}
    for name, semantic in (("router", True), ("ngram_only", False)):
        curve = {}
        for n in n_points:
            fed = [correction(r["text"], "technical", "feedback") for r in kind[:n]]
            learner = Router([*rest, *fed], threshold=base.threshold, c=base.c, stack=base.stack,
                             semantic=semantic)
            report = classification(truth, [learner.decide(r["text"]).domain for r in exam])
            curve[str(min(n, len(kind)))] = {"technical_recall": report["per_domain"]["technical"]["recall"],
                                             "macro_f1": report["macro_f1"]}
        curves[name] = curve
    return {"kind": "academic technical questions: MMLU " + ", ".join(TECHNICAL_EXAM) + " and synthetic_technical",
            "pool": len(kind),
            "left_out_of_training": len(router_store.training_rows()) - len(rest), "measured_on": "routing_exam.jsonl",
            "test_n": len(exam), "curves": curves}


def evaluate(rows: list[dict], *, profile="embedded", limit: int = 30, corrections: list[dict] | None = None,
             llm: bool = True, context: bool = True, replay_url: str | None = None,
             replay: bool = False) -> dict:
    from agents.roles.team import team_for

    router, training = router_for(rows)
    decisions, classifier = run_classifier(router, rows)
    report = {"data_n": len(rows), "training": training, "classifier": classifier}
    cache: dict[int, str | None] = {}
    if llm:
        team = team_for(profile)
        report["profile"] = team.profile.name
        report["llm"] = run_llm(team, rows, balanced_sample(rows, limit), cache)
        report["combined"] = run_combined(router, team, rows, decisions, cache)
        fast, slow = classifier["p50_ms"], report["llm"]["p50_ms"]
        report["llm_over_classifier_p50"] = round(slow / fast, 1) if fast and slow else None
    report["learning_curve"] = learning_curve(router, rows, corrections)
    if context:
        report.update(in_context(router_store_base()))
    if replay:
        from evals import routing_context

        report["replay"] = routing_context.replay(router, routing_context.ledger_rows(replay_url))
    return report


def router_store_base():
    from agents.routing import store as router_store

    return router_store.base()


def in_context(router) -> dict:
    """Held-out sets, the corrected-kind curve, follow-ups and the swap-aware stream, all through the router
    fitted on every training row (none of these rows is one); no chat model is loaded."""
    from agents.routing.classifier import Router
    from evals import routing_context

    sets = {name.removesuffix(".jsonl"): read_jsonl(EVAL_DATA / name) for name in HELDOUT}
    ngram_only = Router(router.examples, threshold=router.threshold, c=router.c, semantic=False)
    mt_bench = [r for r in read_jsonl(DEFAULT_DATA) if r.get("follow_up")] if DEFAULT_DATA.exists() else []
    mixed = sets["routing_exam"] + sets["routing_chat"]
    return {
        "heldout": heldout(router, ngram_only, sets),
        "corrected_kind": corrected_kind(router, sets["routing_exam"]),
        "follow_up": routing_context.follow_up(router, read_jsonl(EVAL_DATA / "routing_threads.jsonl"), mt_bench),
        "swap_aware": {"router": routing_context.swap_aware(router, mixed),
                       "ngram_only": routing_context.swap_aware(ngram_only, mixed)},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.routing", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a file in dev.jsonl's schema")
    p.add_argument("--corrections", type=Path, help="labelled rows fed as feedback for the learning curve")
    p.add_argument("--limit", type=int, default=30, help="rows sent to the orchestrator model for `llm`")
    p.add_argument("--profile", default="embedded")
    p.add_argument("--no-llm", action="store_true", help="skip the model paths (no model is loaded)")
    p.add_argument("--no-context", action="store_true", help="skip held-out sets, follow-ups, swap-aware stream")
    p.add_argument("--replay", action="store_true", help="also replay the ledger's logged questions")
    p.add_argument("--ledger", help="SQLAlchemy URL of the ledger to replay (default: the configured one)")
    p.add_argument("--json", action="store_true", help="one line of JSON (default: indented)")
    args = p.parse_args(argv)
    if not args.data.exists():
        print(f"no data file {args.data}; pass --data PATH (a file in dev.jsonl's schema)", file=sys.stderr)
        return 2
    rows = read_jsonl(args.data)
    corrections = read_jsonl(args.corrections) if args.corrections else None
    report = evaluate(rows, profile=args.profile, limit=args.limit, corrections=corrections, llm=not args.no_llm,
                      context=not args.no_context, replay=args.replay, replay_url=args.ledger)
    print(json.dumps(report, indent=None if args.json else 2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
