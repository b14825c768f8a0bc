"""What caching saves, measured side by side in one run on the embedded model.

    python -m evals.bench_cache [--turns 10] [--quick] --json

  repeat_speedup  the same question asked a second time (in a new thread, so the same empty context), end to
                  end through `ask`: seconds of the first ÷ seconds of the second, with the repeat's model calls
                  and swaps (goal ≥ 100×, 0 and 0).
  false_hits      near-duplicate hits (memory/cache/near.py) on look-alike pairs whose meanings differ
                  (evals/data/cache_pairs.jsonl, en and es; goal 0), `true_hits` on paraphrases, at the threshold
                  in use and at similarity 1.0 (the rule alone: what no threshold can make worse).
  prefix_reuse    the reviewer's prompt processing (time to its first token) at the last turn of a `--turns`-turn
                  thread, every role on llamacpp, with prompt state kept (CONCILIO_KV_CACHE_MB) ÷ without
                  (goal ≤ 0.3). The earlier turns have fixed answers, so both runs' prompts are the same text.
  warm_swap       a model swapped out and back for the same thread: its time to first token with the restored
                  state ÷ without, and whether the answer is identical to the cold run at temperature 0
                  (goal ≤ 0.3, identical).

Runs unchanged on a user's own profile: `--profile P` for repeat_speedup (any backend); the llamacpp parts take
`--model FILE` (default: the embedded model's original file).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from evals.bench_slot import run_json

DATA = Path(__file__).with_name("data")
THREAD = [  # a conversation that keeps building on itself (en, es): what the reviewer re-reads each turn
    "I am writing a small Python web service that stores rental contracts. What database should I use?",
    "How should I model a tenant, a landlord and a lease in that database?",
    "¿Qué datos personales del inquilino puedo guardar según el RGPD?",
    "How do I encrypt the tenant's bank account number at rest?",
    "¿Cuánto tiempo puedo conservar los contratos después de que terminen?",
    "Write a function that checks whether a lease has expired.",
    "What happens legally if the landlord keeps the deposit without a reason?",
    "¿Cómo pruebo esa función con pytest?",
    "How do I back up the database every night?",
    "Summarise what we decided about the data model and the retention of contracts.",
]
REPEATED = ("What is a lease agreement and what must it contain?",
            "¿Qué es un contrato de arrendamiento y qué debe incluir?")


@contextlib.contextmanager
def scratch_env(**env: str):
    """A fresh data folder and machine guard (and the given CONCILIO_* values) for one measurement, so another
    concilio on the machine neither waits for it nor makes it wait; restored after."""
    old = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="concilio-bench-cache-") as tmp:
        os.environ.update({"CONCILIO_DATA_DIR": str(Path(tmp) / "data"), "CONCILIO_RUNTIME_DIR": str(Path(tmp) / "run"),
                           "CONCILIO_SERVER": "off", **env})
        try:
            yield Path(tmp)
        finally:
            os.environ.clear()
            os.environ.update(old)


def _calls(trace: list[dict]) -> tuple[int, int]:
    return sum(bool(r.get("model")) for r in trace), sum(bool(r.get("swapped")) for r in trace)


def repeat_speedup(profile: str | None) -> dict:
    from agents.roles.team import Team
    from agents.slot.slot import GpuSlot
    from graphs.api import ask

    rows = []
    with scratch_env(CONCILIO_CACHE="on"):
        from agents.models.profiles import resolve

        team = Team(resolve(profile), GpuSlot())
        for question in REPEATED:
            t0 = time.perf_counter()
            first = ask(question, profile=team, local=True)
            t1 = time.perf_counter()
            again = ask(question, profile=team, local=True)
            t2 = time.perf_counter()
            calls, swaps = _calls(again["trace"])
            rows.append({"question": question, "first_s": round(t1 - t0, 4), "repeat_s": round(t2 - t1, 5),
                         "speedup": round((t1 - t0) / (t2 - t1), 1), "repeat_model_calls": calls,
                         "repeat_swaps": swaps, "first_model_calls": _calls(first["trace"])[0],
                         "hit": again["cached"], "same_answer": again["answer"] == first["answer"]})
    return {"repeat_speedup": min(r["speedup"] for r in rows), "runs": rows}


def pairs(threshold: float | None) -> dict:
    from memory.cache.near import near_duplicate

    items = [json.loads(line) for line in (DATA / "cache_pairs.jsonl").read_text("utf-8").splitlines() if line]
    embed = _embedder()
    out: dict = {"pairs": len(items), "threshold": threshold, "embedder": embed is not None}
    sims = [float(embed(r["a"]) @ embed(r["b"])) if embed else None for r in items]

    def count(threshold: float, use_sim: bool) -> dict:
        tally = {"false_hits": 0, "true_hits": 0, "look_alikes": 0, "paraphrases": 0}
        by_lang: dict = {}
        for r, sim in zip(items, sims):
            hit = near_duplicate(r["a"], r["b"], sim if use_sim and sim is not None else 1.0, threshold)[0]
            kind = "paraphrases" if r["same_meaning"] else "look_alikes"
            tally[kind] += 1
            key = "true_hits" if r["same_meaning"] else "false_hits"
            tally[key] += hit
            lang = by_lang.setdefault(r["language"], {"false_hits": 0, "true_hits": 0})
            lang[key] += hit
        return {**tally, "by_language": by_lang}

    out["rule_alone"] = count(0.5, use_sim=False)  # similarity taken as 1.0: the guard is all that stands
    if embed is not None and threshold:
        out["at_threshold"] = count(threshold, use_sim=True)
        diff = [s for r, s in zip(items, sims) if not r["same_meaning"]]
        same = [s for r, s in zip(items, sims) if r["same_meaning"]]
        out["similarity"] = {"look_alikes_median": round(statistics.median(diff), 3),
                             "look_alikes_max": round(max(diff), 3),
                             "paraphrases_median": round(statistics.median(same), 3)}
    result = out.get("at_threshold") or out["rule_alone"]
    out["false_hits"], out["true_hits"] = result["false_hits"], result["true_hits"]
    return out


def _embedder():
    from agents.routing import semantic
    from memory.cache import embed

    return embed if semantic.available() else None


def _llamacpp_config(folder: Path, model: Path | None, window: int) -> Path:
    lines = ['profile = "embedded"']
    for role in ("orchestrator", "legal", "technical", "reviewer"):
        lines += [f"[roles.{role}]", 'backend = "llamacpp"', f"context_window = {window}"]
        if model is not None:
            lines.append(f'path = "{model}"')
    path = folder / "llamacpp.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def fixed_answers(turns: int) -> list[tuple[str, str]]:
    """The thread's earlier turns with fixed answers, so both runs' prompts are the same text."""
    return [(q, f"For turn {n + 1}: " + " ".join([q.rstrip("?.") + "."] * 3)) for n, q in enumerate(THREAD[:turns])]


def prefix_reuse(model: Path | None, turns: int, window: int) -> dict:
    """Turn k of the thread, for k = 1..turns, each on the same fixed earlier turns (a thread seeded with them,
    as `concilio serve` does for an OpenAI client): prompt state kept or not. The reviewer's time to first
    token at the last turn, where it would re-read turns 1..k-1."""
    from agents.backends import kv_state
    from agents.models.profiles import resolve
    from agents.roles.team import Team
    from agents.slot.slot import GpuSlot
    from graphs.api import run_turn

    earlier = fixed_answers(turns)
    runs = {}
    for label, mb in (("without", "0"), ("with", "2048")):
        kv_state.forget()
        with scratch_env(CONCILIO_CACHE="off", CONCILIO_KV_CACHE_MB=mb) as tmp:
            team = Team(resolve(str(_llamacpp_config(tmp, model, window))), GpuSlot())
            verdicts, last = [], None
            for k in range(1, turns + 1):
                result = run_turn(THREAD[k - 1], team=team, thread_id=f"turn{k}", history=earlier[:k - 1],
                                  learn=False)
                rows = [r for r in result["trace"] if r["node"] == "review" and r.get("model")]
                verdicts.append(rows[-1].get("verdict") if rows else None)
                last = rows[0] if rows else last
            team.slot.clear()
        runs[label] = {"first_token_s": last.get("first_token_s"), "tokens_in": last.get("tokens_in"),
                       "verdicts": verdicts}
    ratio = runs["with"]["first_token_s"] / runs["without"]["first_token_s"]
    same = sum(a == b for a, b in zip(runs["with"].pop("verdicts"), runs["without"].pop("verdicts")))
    return {"prefix_reuse": round(ratio, 3), "turn": turns, "same_verdicts": f"{same}/{turns}", **runs}


def warm_swap(model: Path | None, window: int, turns: int) -> dict:
    """A model with a long thread in its prompt, another model swapped in, then the first back for the same
    thread's next question: time to first token with its state restored ÷ loaded cold, and the answers."""
    from agents.backends import GenParams, kv_state
    from agents.models import embedded
    from agents.models.profiles import ModelSpec
    from agents.slot.slot import GpuSlot

    path = model or embedded.ensure().original
    spec_a = ModelSpec("thread-model", path, backend="llamacpp", context_window=window)
    spec_b = ModelSpec("other-model", path, backend="llamacpp", context_window=window // 2)
    history = []
    for n, q in enumerate(THREAD[:turns - 1]):
        history += [{"role": "user", "content": q},
                    {"role": "assistant", "content": f"(turn {n + 1}) " + " ".join([q] * 3)}]
    system = [{"role": "system", "content": "You are a careful assistant. Answer in the user's language."}]
    before = [*system, *history, {"role": "user", "content": THREAD[turns - 2]}]
    after = [*system, *history, {"role": "user", "content": THREAD[turns - 1]}]
    params = GenParams(max_tokens=24)
    out = {}
    for label, mb in (("cold", "0"), ("restored", "2048")):
        kv_state.forget()
        with scratch_env(CONCILIO_KV_CACHE_MB=mb):
            slot = GpuSlot(budget="single", prefetch=False)
            with slot.hold(spec_a) as lease:
                lease.model.complete(before, params)  # the thread, evaluated once
            with slot.hold(spec_b) as lease:  # another model takes the slot: the first is closed
                lease.model.complete([{"role": "user", "content": "Say hello."}], params)
            with slot.hold(spec_a) as lease:
                done = lease.model.complete(after, params)
            slot.clear()
        out[label] = {"first_token_s": done.first_token_seconds, "tokens_in": done.tokens_in, "text": done.text}
    kv_state.forget()
    return {"warm_swap": round(out["restored"]["first_token_s"] / out["cold"]["first_token_s"], 3),
            "identical": out["restored"]["text"] == out["cold"]["text"],
            "cold": {k: v for k, v in out["cold"].items() if k != "text"},
            "restored": {k: v for k, v in out["restored"].items() if k != "text"}}


def run(args: argparse.Namespace) -> dict:
    from agents.settings import settings

    out: dict = {"repeat": repeat_speedup(args.profile)}
    out["repeat_speedup"] = out["repeat"]["repeat_speedup"]
    out["near"] = pairs(args.near if args.near is not None else settings().cache_near)
    out["false_hits"], out["true_hits"] = out["near"]["false_hits"], out["near"]["true_hits"]
    turns = 4 if args.quick else args.turns
    out["prefix"] = prefix_reuse(args.model, turns, args.window)
    out["prefix_reuse"] = out["prefix"]["prefix_reuse"]
    out["swap"] = warm_swap(args.model, args.window, turns)
    out["warm_swap"] = out["swap"]["warm_swap"]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.bench_cache", description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", help="profile for repeat_speedup (default: as concilio picks)")
    p.add_argument("--model", type=Path, help="GGUF for the llamacpp parts (default: the embedded model)")
    p.add_argument("--turns", type=int, default=10)
    p.add_argument("--window", type=int, default=8192, help="context window of the llamacpp parts")
    p.add_argument("--near", type=float, help="near-duplicate threshold to report (default: CONCILIO_CACHE_NEAR)")
    p.add_argument("--quick", action="store_true", help="a short run (tests)")
    p.add_argument("--json", action="store_true")
    return run_json(p, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
