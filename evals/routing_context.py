"""Routing in context: follow-up turns with their thread, and swap-aware routing on a mixed stream; the same
policies replayed on the user's own logged questions (the ledger). Used by `python -m evals.routing`.

  follow_up    second turns routed alone vs with their thread (agents/routing/context.with_thread): the share
               routed to the thread's domain, on evals/data/routing_threads.jsonl (EN + ES, written for this; `dev`
               rows informed the rule, `test` rows were written after it was frozen) and
               MT-Bench's 80 second turns (shared/data/routing/dev.jsonl `follow_up`), and the share of real
               topic changes that still switch. `no_cues`: the same with the cue words off (the prior alone)
  swap_aware   a 200-question mixed stream (held-out rows, shuffled) through a one-model slot: swaps per 100
               questions and accuracy, with the rule off and at several margins
  replay       the ledger's runs in order: swaps per 100 and agreement with the logged routes for each policy,
               accuracy where a person said the domain (an override or feedback naming one)
"""

from __future__ import annotations

import random
from pathlib import Path

MARGINS = (0.0, 0.1, 0.2, 0.3, 0.5)
STREAM = 200


def _ratio(hit: int, n: int) -> float | None:
    return round(hit / n, 4) if n else None


def follow_up(router, threads: list[dict], mt_bench: list[dict]) -> dict:
    """Second turns alone vs with their thread. The thread's domain is the first turn's labelled domain (what
    the thread is about), so the number isolates the follow-up decision; `end_to_end` uses the first turn's
    routed domain instead."""
    from agents.routing.context import with_thread

    def judge(rows: list[tuple[str, str, str]], **options) -> dict:
        alone = kept = chained = 0
        for first, second, truth in rows:
            decision = router.decide(second)
            alone += decision.domain == truth
            thread = first[1]
            kept += with_thread(decision.scores, thread, second, **options).domain == truth
            routed_first = router.decide(first[0]).domain
            chained += with_thread(decision.scores, routed_first, second, **options).domain == truth
        return {"n": len(rows), "alone": _ratio(alone, len(rows)), "with_thread": _ratio(kept, len(rows)),
                "end_to_end": _ratio(chained, len(rows))}

    sets: dict[str, list] = {}
    for row in threads:
        key = f"{row['kind']}_{row['language']}_{row.get('split', 'dev')}"
        sets.setdefault(key, []).append(((row["turns"][0], row["domains"][0]), row["turns"][1], row["domains"][1]))
    sets["follow-up_mt-bench"] = [((r["text"], r["domain"]), r["follow_up"], r["domain"]) for r in mt_bench]
    report = {name: judge(rows) for name, rows in sorted(sets.items())}
    report["no_cues"] = {name: judge(rows, use_cues=False)["with_thread"] for name, rows in sorted(sets.items())}
    return report


def stream(rows: list[dict], n: int = STREAM, seed: int = 0) -> list[dict]:
    """`n` rows in a fixed shuffled order (a mixed stream: no locality to lean on)."""
    picked = list(rows)
    random.Random(seed).shuffle(picked)
    return picked[:n]


def simulate(decisions: list, truth: list[str] | None, margin: float, swap_seconds: float | None = None) -> dict:
    """A one-model slot serving the stream: the resident domain is the last one answered. Pure given the
    decisions: swaps, swaps per 100, how often the rule fired, accuracy (when `truth` is given)."""
    from agents.routing.context import effective_margin, prefer_resident

    resident: str | None = None
    swaps = fired = right = 0
    routed = []
    for decision in decisions:
        choice = prefer_resident(decision.scores, {resident} if resident else set(), decision.by,
                                 effective_margin(margin, swap_seconds))
        domain = choice.domain
        fired += choice.saved
        swaps += resident is not None and domain != resident
        resident = domain
        routed.append(domain)
    if truth is not None:
        right = sum(d == t for d, t in zip(routed, truth))
    n = len(decisions)
    out = {"margin": margin, "n": n, "swaps": swaps, "swaps_per_100": round(100 * swaps / n, 1) if n else None,
           "fired": fired}
    if truth is not None:
        out["accuracy"] = _ratio(right, n)
    return out, routed


def swap_aware(router, rows: list[dict], swap_seconds: float | None = None) -> dict:
    picked = stream(rows)
    decisions = [router.decide(r["text"]) for r in picked]
    truth = [r["domain"] for r in picked]
    runs = [simulate(decisions, truth, m, swap_seconds)[0] for m in MARGINS]
    off = runs[0]
    for run in runs:
        run["swaps_saved_per_100"] = round(off["swaps_per_100"] - run["swaps_per_100"], 1)
        run["accuracy_lost"] = round(off["accuracy"] - run["accuracy"], 4)
    return {"stream": f"{len(picked)} held-out rows, shuffled (seed 0)", "swap_seconds": swap_seconds,
            "runs": runs}


def ledger_rows(url: str | None = None) -> list[dict]:
    """The ledger's runs, oldest first, with the domain a person gave (override, or feedback naming one)."""
    import sqlalchemy as sa

    from memory import ledger

    url = url or ledger.default_url()
    if url == "off":
        return []
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
        return []  # nothing logged yet (and reading must not create the file)
    engine = ledger.make_engine(url)
    if not sa.inspect(engine).has_table("runs"):  # no run was ever logged here
        engine.dispose()
        return []
    with engine.connect() as conn:
        runs = conn.execute(sa.select(ledger.runs.c.thread_id, ledger.runs.c.turn, ledger.runs.c.question,
                                      ledger.runs.c.domain, ledger.runs.c.routed_by)
                            .where(ledger.runs.c.question.is_not(None))
                            .order_by(ledger.runs.c.started_at)).all()
        said = {(f.thread_id, f.turn): f.domain for f in conn.execute(
            sa.select(ledger.feedback.c.thread_id, ledger.feedback.c.turn, ledger.feedback.c.domain)
            .where(ledger.feedback.c.domain.is_not(None))).all()}
    engine.dispose()
    out = []
    for r in runs:
        truth = said.get((r.thread_id, r.turn)) or (r.domain if r.routed_by == "override" else None)
        out.append({"thread": r.thread_id, "turn": r.turn, "text": r.question, "logged": r.domain,
                    "truth": truth})
    return out


def replay(router, rows: list[dict], swap_seconds: float | None = None) -> dict:
    """Each policy over the logged questions in their order: thread-aware on/off, swap-aware margins."""
    from agents.routing.context import with_thread

    if not rows:
        return {"n": 0, "note": "the ledger has no runs with a question"}
    decisions = [router.decide(r["text"]) for r in rows]
    threaded, last = [], {}
    for row, decision in zip(rows, decisions):
        domain = with_thread(decision.scores, last.get(row["thread"]), row["text"]).domain
        last[row["thread"]] = domain
        threaded.append(domain)
    alone = [d.domain for d in decisions]
    labelled = [i for i, r in enumerate(rows) if r["truth"]]

    def score(routed: list[str]) -> dict:
        return {"agrees_with_log": _ratio(sum(a == r["logged"] for a, r in zip(routed, rows)), len(rows)),
                "accuracy_where_labelled": _ratio(sum(routed[i] == rows[i]["truth"] for i in labelled),
                                                  len(labelled))}

    policies = {"alone": score(alone), "with_thread": score(threaded)}
    for margin in MARGINS[1:]:
        run, routed = simulate(decisions, None, margin, swap_seconds)
        policies[f"swap_margin_{margin}"] = {**score(routed), "swaps_per_100": run["swaps_per_100"]}
    policies["alone"]["swaps_per_100"] = simulate(decisions, None, 0.0)[0]["swaps_per_100"]
    return {"n": len(rows), "labelled": len(labelled), "threads": len(last), "policies": policies}
