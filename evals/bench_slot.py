"""What the GPU slot costs and saves, measured side by side in one run.

    python -m evals.bench_slot [--models A.gguf B.gguf C.gguf D.gguf] [--device cpu|gpu] [--quick] --json

Four distinct model files play orchestrator, legal, technical and reviewer. By default they are copies of the
embedded model under other names (a copy costs a real load and a real page-cache read, so swap costs are
honest); `--models` takes the user's own files (e.g. the seed's set, on a GPU).

  swap_over_raw       a swap through the slot (close the loaded model, load the next), ÷ the same close+load
                      done with gpt4all directly; medians over interleaved rounds. Goal ≤ 1.05.
  visible_swap_ratio  load time a question waits for, through the real graph with skips, keep-resident
                      (a budget of two models, the orchestrator pinned) and prefetch, ÷ the naive four loads
                      (orchestrator → specialist → reviewer → orchestrator, one model at a time); every file
                      dropped from the page cache before each question. Goal ≤ 0.5.
  prefetch            one cold load, without and with the file prefetched while another model generated.
  concurrency         16 users asking mixed questions at once (each question one to three calls, as the graph
                      makes them): FIFO hand-off vs swap-aware, one model at a time. Goals: swap_reduction ≥ 3,
                      throughput_gain ≥ 2, p95_ratio ≤ 1.5. Calls generate `--tokens` (4) tokens: the shortest
                      call the embedded model makes here (0.16 s, most of it the prompt) next to its load (0.1 s);
                      `concurrency_long_answers` repeats it with `--long-tokens` (32), where generation dominates;
                      `concurrency_emulated` on the fake backend with a load costing 0.5, 2 and 5 calls.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from agents.models.profiles import ROLES, ModelSpec, Profile, RoleSpec

QUESTIONS = [  # (question, domain): both languages, every domain
    ("¿Qué plazo de preaviso necesita un inquilino para dejar el piso?", "legal"),
    ("How do I read a CSV file in Python?", "technical"),
    ("What is the capital of Australia?", "general"),
    ("Can my employer change my contract without telling me?", "legal"),
    ("¿Cómo ordeno una lista de diccionarios por una clave en Python?", "technical"),
    ("¿Por qué el cielo es azul?", "general"),
]
ROLE_OF = {"legal": "legal", "technical": "technical", "general": "orchestrator"}


def model_files(given: list[Path] | None, workdir: Path) -> list[Path]:
    if given:
        if len(given) != 4:
            raise SystemExit("--models takes four files: orchestrator, legal, technical, reviewer")
        from agents.models.gguf_file import inspect

        for path in given:  # a missing or broken file: ModelFileError naming it, before anything is timed
            inspect(path, fix="pass four GGUF model files to --models")
        return given
    from agents.models import embedded

    source = embedded.ensure().converted
    files = []
    for role in ROLES:
        target = workdir / f"{role}.gguf"
        shutil.copyfile(source, target)  # a real copy: hard links would share one page cache entry
        files.append(target)
    return files


def template_for(path: Path) -> str:
    """The gpt4all-seed profile's chat template for one of its files (by GPT4All's file name), else the file's
    own: the seed's files don't all carry one (Orca 2's doesn't). Pure."""
    from agents.models.profiles import SEED

    return next((template for _, names, template, _ in SEED.values() if path.name in names), "gguf")


def make_profile(files: list[Path], device: str, context: int) -> Profile:
    specs = [ModelSpec(name=f"{role}:{f.name}", path=f, device=device, context_window=context,
                       chat_template=template_for(f)) for role, f in zip(ROLES, files)]
    return Profile("bench-slot", tuple(RoleSpec(r, s) for r, s in zip(ROLES, specs)), model_routing=False)


def drop_all(files, slot=None) -> None:
    from agents.slot import prefetch

    for f in files:
        prefetch.drop(f)
        if slot is not None and slot.prefetcher is not None:
            slot.prefetcher.forget(f)


def _loads(slot, since: int) -> float:
    return sum(e.seconds for e in slot.events[since:] if e.kind in ("load", "unload"))


# --- swap_over_raw ---

def swap_over_raw(profile: Profile, rounds: int) -> dict:
    from agents.backends.gpt4all_backend import _gpt4all_class, _quiet_stderr
    from agents.slot.slot import GpuSlot

    cls = _gpt4all_class()
    a, b = profile.role("legal").model, profile.role("technical").model
    slot = GpuSlot("single", prefetch=False)
    raw_model, raw_s, slot_s = None, [], []

    def raw_swap(spec: ModelSpec) -> float:
        nonlocal raw_model
        t0 = time.perf_counter()
        if raw_model is not None:
            raw_model.close()
        raw_model = cls(spec.path.name, model_path=str(spec.path.parent), allow_download=False,
                        n_ctx=spec.context_window, device=spec.device, verbose=False)
        return time.perf_counter() - t0

    def slot_swap(spec: ModelSpec) -> float:
        t0 = time.perf_counter()
        with slot.hold(spec):
            return time.perf_counter() - t0

    with _quiet_stderr():  # the first load in a process pays library start-up (and prints CUDA probes)
        raw_swap(a)
    slot_swap(a)
    for i in range(rounds):
        spec = b if i % 2 == 0 else a
        pair = [(raw_s, raw_swap), (slot_s, slot_swap)]
        for times, swap in (pair if i % 4 < 2 else pair[::-1]):  # interleaved, order alternating
            times.append(swap(spec))
    raw_model.close()
    slot.clear()
    raw, ours = statistics.median(raw_s), statistics.median(slot_s)
    return {"raw_median_s": round(raw, 4), "slot_median_s": round(ours, 4), "rounds": rounds,
            "ratio": round(ours / raw, 3)}


# --- visible load time per question ---

def naive_question(slot, profile: Profile, domain: str, tokens: int) -> float:
    from agents.backends import GenParams

    since = len(slot.events)
    for role in ("orchestrator", ROLE_OF[domain], "reviewer", "orchestrator"):
        slot.clear()  # naive: every node loads its model and lets it go
        with slot.hold(profile.role(role).model) as lease:
            lease.model.complete([{"role": "user", "content": "Hi"}], GenParams(max_tokens=tokens))
    slot.clear()
    return _loads(slot, since)


def graph_question(graph, team, question: str, thread: str) -> float:
    from graphs.state import Context

    since = len(team.slot.events)
    graph.invoke({"question": question}, {"configurable": {"thread_id": thread}},
                 context=Context(profile=team, learn=False))
    return _loads(team.slot, since)


def visible(profile: Profile, files: list[Path], questions: list, tokens: int) -> dict:
    from langgraph.checkpoint.memory import InMemorySaver

    from agents.roles.team import Team
    from agents.slot.slot import GpuSlot
    from evals.answers import scratch_data_dir
    from graphs.cooperation import build_graph

    graph = build_graph(checkpointer=InMemorySaver())
    two = 2.2 * max(GpuSlot().need_mb(s) for s in profile.models())
    setups = {"naive": GpuSlot("single", prefetch=False),
              "skip+prefetch": GpuSlot("single", prefetch=True),
              "skip+resident+prefetch": GpuSlot(f"{two:.0f}MB", prefetch=True)}
    setups["skip+resident+prefetch"].pin(profile.role("orchestrator").model)
    teams = {name: Team(profile, slot) for name, slot in setups.items()}
    waits: dict[str, list[float]] = {name: [] for name in setups}
    with scratch_data_dir():  # threads and the ledger of the benchmark stay out of the user's
        for i, (question, domain) in enumerate(questions):
            for name, team in teams.items():  # side by side, question by question
                drop_all(files, team.slot)
                if name == "naive":
                    waits[name].append(naive_question(team.slot, profile, domain, tokens))
                else:
                    waits[name].append(graph_question(graph, team, question, f"{name}-{i}"))
    for slot in setups.values():
        slot.clear()
    naive = sum(waits["naive"])
    per = {name: {"load_seconds_per_question": round(sum(w) / len(w), 4),
                  "loads": sum(e.kind == "load" for e in setups[name].events)} for name, w in waits.items()}
    return {"questions": len(questions), "budget": setups["skip+resident+prefetch"].budget.describe(),
            "setups": per,
            "ratio": round(sum(waits["skip+resident+prefetch"]) / naive, 3),
            "ratio_single": round(sum(waits["skip+prefetch"]) / naive, 3)}


def prefetch_gain(profile: Profile, files: list[Path], tokens: int, repeats: int) -> dict:
    """A cold load of the reviewer's file right after the legal model answered: without prefetch, and with
    the reviewer's file prefetched when the legal model started."""
    from agents.backends import GenParams
    from agents.slot.slot import GpuSlot

    slot = GpuSlot("single", prefetch=True)
    legal, reviewer = profile.role("legal").model, profile.role("reviewer").model
    cold, warmed = [], []
    for i in range(repeats):
        for prefetching in ([False, True] if i % 2 == 0 else [True, False]):
            slot.clear()
            drop_all(files, slot)
            with slot.hold(legal) as lease:
                if prefetching:
                    slot.prefetch(reviewer)
                lease.model.complete([{"role": "user", "content": "What is a lease?"}], GenParams(max_tokens=tokens))
            if prefetching:
                slot.prefetcher.wait()
            with slot.hold(reviewer) as lease:
                (warmed if prefetching else cold).append(lease.load_seconds)
    slot.clear()
    c, w = statistics.median(cold), statistics.median(warmed)
    return {"cold_load_s": round(c, 4), "prefetched_load_s": round(w, 4), "ratio": round(w / c, 3)}


# --- concurrency ---

FLOWS = [  # the models one question calls, as the graph does: (flow, weight)
    (("legal", "reviewer", "orchestrator"), 3),  # routed, reviewed, integrated
    (("technical", "reviewer", "orchestrator"), 3),
    (("orchestrator", "reviewer"), 2),  # general: the orchestrator answers; integrate skipped
    (("legal",), 1),  # trivial: no review, nothing to integrate
    (("technical",), 1),
]


def concurrency(profile: Profile, threads: int, per_thread: int, tokens: int, policy: str, seed: int) -> dict:
    """`threads` users, each asking `per_thread` questions one after another, starting at random moments in
    the first second; the same plan (flows, start times) for both policies."""
    from agents.backends import GenParams
    from agents.slot.slot import GpuSlot

    slot = GpuSlot("single", policy=policy, prefetch=False, timeout=3600)
    rng = random.Random(seed)
    flows, weights = zip(*FLOWS)
    plans = [(rng.random(), rng.choices(flows, weights, k=per_thread)) for _ in range(threads)]
    latencies: list[float] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(threads + 1)

    def worker(offset, plan):
        start_gate.wait()
        time.sleep(offset)
        for flow in plan:
            t0 = time.perf_counter()
            for role in flow:
                with slot.hold(profile.role(role).model) as lease:
                    lease.model.complete([{"role": "user", "content": "Say hello."}],
                                         GenParams(max_tokens=tokens, stop_on_loop=False))
            with lock:
                latencies.append(time.perf_counter() - t0)

    pool = [threading.Thread(target=worker, args=plan) for plan in plans]
    for t in pool:
        t.start()
    start_gate.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    wall = time.perf_counter() - t0
    swaps = sum(e.kind == "load" for e in slot.events)
    slot.clear()
    latencies.sort()
    return {"swaps": swaps, "calls": sum(len(f) for _, plan in plans for f in plan),
            "questions_per_s": round(len(latencies) / wall, 3),
            "p95_s": round(latencies[max(0, int(0.95 * len(latencies)) - 1)], 3), "wall_s": round(wall, 2)}


def compare(profile: Profile, threads: int, per_thread: int, tokens: int, seed: int) -> dict:
    fifo = concurrency(profile, threads, per_thread, tokens, "fifo", seed)
    aware = concurrency(profile, threads, per_thread, tokens, "aware", seed)
    return {"threads": threads, "questions_per_thread": per_thread, "tokens_per_call": tokens,
            **ratios(fifo, aware)}


def ratios(fifo: dict, aware: dict) -> dict:
    """FIFO vs swap-aware, as every benchmark of the slot reports it (bench_slot, bench_serve)."""
    return {"fifo": fifo, "aware": aware,
            "swap_reduction": round(fifo["swaps"] / max(aware["swaps"], 1), 2),
            "throughput_gain": round(aware["questions_per_s"] / fifo["questions_per_s"], 2),
            "p95_ratio": round(aware["p95_s"] / fifo["p95_s"], 2)}


def emulated(ratio: float, threads: int, per_thread: int, seed: int, call_s: float = 0.05) -> dict:
    """The same comparison on the scripted fake backend, whose load takes `ratio` × a call: how the gains
    depend on what a load costs next to a call, for hardware this machine doesn't have."""
    options = (("load_seconds", round(ratio * call_s, 4)), ("reply", "one two three four five"),
               ("tokens_per_second", 5 / call_s))
    specs = {role: ModelSpec(name=role, path=Path(f"/emulated/{role}.gguf"), backend="fake", options=options)
             for role in ROLES}
    profile = Profile("emulated", tuple(RoleSpec(r, s) for r, s in specs.items()))
    return {"load_over_call": ratio, **compare(profile, threads, per_thread, 5, seed)}


PARTS = ("swap", "visible", "prefetch", "concurrency")


def run(args) -> dict:
    parts = set(args.parts or PARTS)
    with tempfile.TemporaryDirectory(prefix="concilio-bench-slot-") as tmp:
        files = model_files(args.models, Path(tmp))
        profile = make_profile(files, args.device, args.context)
        questions = QUESTIONS[: 3 if args.quick else len(QUESTIONS)]
        out: dict = {"device": args.device, "files": [str(f) for f in files],
                     "file_mb": round(files[0].stat().st_size / 2**20, 1)}
        if "swap" in parts:
            swap = swap_over_raw(profile, args.rounds or (6 if args.quick else 30))
            out["swap"], out["swap_over_raw"] = swap, swap["ratio"]
        if "visible" in parts:
            vis = visible(profile, files, questions, args.tokens)
            out["visible"], out["visible_swap_ratio"] = vis, vis["ratio"]
        if "prefetch" in parts:
            out["prefetch"] = prefetch_gain(profile, files, args.tokens, 2 if args.quick else 6)
        if "concurrency" in parts:
            per_thread = 1 if args.quick else args.questions
            out["concurrency"] = compare(profile, args.threads, per_thread, args.tokens, args.seed)
            if not args.quick:
                out["concurrency_long_answers"] = compare(profile, args.threads, per_thread, args.long_tokens,
                                                          args.seed)
                out["concurrency_emulated"] = [emulated(r, args.threads, per_thread, args.seed) for r in (0.5, 2, 5)]
        return out


def run_json(parser: argparse.ArgumentParser, run, argv: list[str] | None) -> int:
    """Parse, run, print one JSON object; a ConcilioError (a missing model file...) is one line and exit 2.
    Shared by the benchmarks (bench_slot, bench_serve)."""
    args = parser.parse_args(argv)
    from agents.errors import ConcilioError

    try:
        out = run(args)
    except ConcilioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=None if args.json else 2, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.bench_slot", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=Path, nargs=4, metavar="GGUF",
                   help="orchestrator, legal, technical and reviewer files (default: copies of the embedded model)")
    p.add_argument("--device", default="cpu", help="cpu (default), gpu, cuda, kompute")
    p.add_argument("--context", type=int, default=2048)
    p.add_argument("--tokens", type=int, default=4,
                   help="tokens per call in the concurrency run (default 4: short calls, so loads weigh most)")
    p.add_argument("--long-tokens", type=int, default=32, help="tokens per call in the long-answer run")
    p.add_argument("--threads", type=int, default=16)
    p.add_argument("--questions", type=int, default=4, help="questions per thread in the concurrency run")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="a short run (tests)")
    p.add_argument("--parts", nargs="+", choices=PARTS,
                   help="only these measurements (default: all); full-size models on a CPU can't afford them all")
    p.add_argument("--rounds", type=int, help="swap rounds (default 30, 6 with --quick)")
    p.add_argument("--json", action="store_true")
    return run_json(p, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
