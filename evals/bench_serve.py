"""What the resident server costs and saves, measured side by side in one run.

    python -m evals.bench_serve [--profile P] [--questions 20] [--clients 16] [--quick] --json

The four roles are copies of the embedded model under their own names (so a role change is a real swap), unless
`--profile` names the user's own (e.g. the seed's set on a GPU). Every section starts its own `concilio serve`.

  overhead        per question (mixed es/en), client wall time ÷ the model-call seconds of that question:
                  `served` through the resident server (an HTTP client in this process; goal ≤ 1.05),
                  `in_process` today's `concilio ask` as a fresh process per question, `served_cli` a fresh
                  `concilio ask` process that finds the server.
  first_event_s   p50, from a client's request to its first progress event, through the server (goal ≤ 0.3).
  cross_process   4 clients at once (two `concilio ask`, one `graphs.api.ask` process, one graph in another
                  process calling the per-model endpoint), budget single: through the server, then with no
                  server and the machine-wide guard. `max_resident_seen` is machine-wide, from every process's
                  load/unload journal (CONCILIO_SLOT_JOURNAL); `over_budget` lists moments above 1 (goal: 1, []).
  concurrency     `--clients` OpenAI-SDK clients at once, each asking questions of mixed domains (the calls a
                  question makes, as in evals.bench_slot, on the per-model endpoint), server policy fifo vs
                  aware: swaps, questions/s, p95, and the ratios swap_reduction, throughput_gain, p95_ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from evals.bench_slot import FLOWS, QUESTIONS, ratios, run_json

REPO = Path(__file__).resolve().parents[1]
MORE = [
    ("¿Puedo recuperar la fianza si dejo el piso antes de tiempo?", "legal"),
    ("How do I merge two dictionaries in Python?", "technical"),
    ("¿Cuál es el río más largo de Europa?", "general"),
    ("What does a non-compete clause mean?", "legal"),
    ("¿Qué diferencia hay entre una lista y una tupla en Python?", "technical"),
    ("Why do leaves change colour in autumn?", "general"),
    ("¿Qué es el derecho de tanteo en un alquiler?", "legal"),
    ("How do I read a JSON file in Python?", "technical"),
    ("What is the tallest mountain in Africa?", "general"),
    ("¿Cuánto tiempo tiene el casero para devolver la fianza?", "legal"),
    ("¿Cómo cuento las palabras de un texto en Python?", "technical"),
    ("¿Por qué la luna cambia de forma?", "general"),
    ("Can a landlord enter my flat without permission?", "legal"),
    ("How do I remove duplicates from a list in Python?", "technical"),
]
ALL_QUESTIONS = QUESTIONS + MORE  # 20: both languages, every domain


def copies_profile(workdir: Path) -> Path:
    """A config where each role has its own copy of the embedded model (a copy costs a real load)."""
    from agents.models import embedded
    from agents.models.profiles import ROLES

    source = embedded.ensure().converted
    lines = ['profile = "embedded"']
    for role in ROLES:
        target = workdir / f"{role}.gguf"
        shutil.copyfile(source, target)
        lines += [f"[roles.{role}]", f'path = "{target}"', f'name = "{role}-smollm2"']
    path = workdir / "copies.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Server:
    def __init__(self, env: dict, policy: str = "aware") -> None:
        self.env = {**env, "CONCILIO_SLOT_POLICY": policy}
        runtime = Path(self.env["CONCILIO_DATA_DIR"]) / "server.json"
        runtime.unlink(missing_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-m", "graphs.cli", "serve", "--port", "0"], cwd=REPO,
                                     env=self.env, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 600
        while not runtime.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("error: concilio serve did not start")
            time.sleep(0.1)
        info = json.loads(runtime.read_text())
        self.url, self.pid = info["url"], info["pid"]

    def stop(self) -> None:
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(60)
        if self.proc.poll() is None:
            self.proc.kill()


def model_seconds(trace: list[dict]) -> float:
    return sum(float(r.get("seconds") or 0) for r in trace if r.get("model"))


def _served(url: str, question: str) -> tuple[float, float, float]:
    """(wall, model seconds, first event) of one question through the server, streamed as `concilio ask` does."""
    from agents.slot.remote import ServerInfo
    from graphs.server.client import ask

    first: list[float] = []
    t0 = time.perf_counter()
    result = ask(ServerInfo(url, None, ""), question, thread_id=None, force_domain=None,
                 on_event=lambda e: first or first.append(time.perf_counter() - t0))
    return time.perf_counter() - t0, model_seconds(result["trace"]), first[0] if first else float("nan")


def _cli(env: dict, question: str, *extra: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "graphs.cli", "ask", question, "--json", *extra], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"error: concilio ask failed: {out.stderr[-500:]}")
    return wall, model_seconds(json.loads(out.stdout)["trace"])


def overhead(env: dict, questions: list[tuple[str, str]]) -> tuple[dict, dict]:
    server = Server(env)
    try:
        _served(server.url, "Hello!")  # the server's first load, as a resident server has already done
        served = [_served(server.url, q) for q, _ in questions]
        served_cli = [_cli(server.env, q) for q, _ in questions[:4]]
    finally:
        server.stop()
    local = [_cli({**env, "CONCILIO_SERVER": "off"}, q) for q, _ in questions]

    def ratio(rows):
        return round(statistics.median(w / m for w, m, *_ in rows if m > 0), 3)

    firsts = [f for _, _, f in served]
    return ({"served": ratio(served), "in_process": ratio(local), "served_cli": ratio(served_cli),
             "questions": len(questions),
             "served_wall_s": round(statistics.median(w for w, *_ in served), 3),
             "in_process_wall_s": round(statistics.median(w for w, _ in local), 3)},
            {"p50": round(statistics.median(firsts), 3), "max": round(max(firsts), 3)})


def machine_resident(journal: Path) -> tuple[int, list]:
    """The most local models loaded at once across every process, and the moments above one."""
    events = []
    with contextlib.suppress(OSError):
        events = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    loaded: dict[tuple, int] = {}
    most, over = 0, []
    for e in sorted((e for e in events if e.get("local")), key=lambda e: e["t"]):
        if e["event"] == "exit":  # a process that ended holds nothing
            loaded = {k: v for k, v in loaded.items() if k[0] != e["pid"]}
            continue
        key = (e["pid"], e["model"])
        loaded[key] = loaded.get(key, 0) + (1 if e["event"] == "load" else -1)
        if loaded[key] <= 0:
            loaded.pop(key)
        most = max(most, len(loaded))
        if len(loaded) > 1:
            over.append(sorted(f"{pid}:{m}" for pid, m in loaded))
    return most, over


CROSS_CLIENTS = [
    ["-m", "graphs.cli", "ask", "¿Puede mi casero subirme el alquiler cuando quiera?", "--quiet"],
    ["-m", "graphs.cli", "ask", "How do I sort a list of tuples in Python?", "--quiet"],
    ["-c", "from graphs.api import ask; print(ask('What is the capital of Italy?')['answer'])"],
    ["-c", "from graphs.cooperation import build_graph; "
           "print(build_graph().invoke({'question': 'What is a tenancy deposit?'})['answer'])"],
]


def cross_process(env: dict, with_server: bool) -> dict:
    journal = Path(tempfile.mkdtemp(prefix="concilio-journal-")) / "slot.jsonl"
    env = {**env, "CONCILIO_SLOT_JOURNAL": str(journal), "CONCILIO_SLOT_BUDGET": "single"}
    server = Server(env) if with_server else None
    if server is None:
        env["CONCILIO_SERVER"] = "off"
    t0 = time.perf_counter()
    try:
        procs = [subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True) for args in CROSS_CLIENTS]
        codes = [p.wait(1800) for p in procs]
    finally:
        if server is not None:
            server.stop()
    most, over = machine_resident(journal)
    return {"clients": len(procs), "exit_codes": codes, "wall_s": round(time.perf_counter() - t0, 2),
            "max_resident_seen": most, "over_budget": over[:10]}


def concurrency(env: dict, policy: str, clients: int, per_client: int, tokens: int, seed: int) -> dict:
    import openai

    from agents.models.profiles import resolve

    journal = Path(tempfile.mkdtemp(prefix="concilio-journal-")) / "slot.jsonl"
    server = Server({**env, "CONCILIO_SLOT_JOURNAL": str(journal), "CONCILIO_PREFETCH": "0"}, policy)
    names = {r.role: r.model.name for r in resolve(env["CONCILIO_PROFILE"], fetch=False).roles}
    rng = random.Random(seed)
    flows, weights = zip(*FLOWS)
    plans = [(rng.random(), rng.choices(flows, weights, k=per_client)) for _ in range(clients)]
    latencies: list[float] = []
    lock, gate = threading.Lock(), threading.Barrier(clients + 1)

    def worker(offset, plan):
        sdk = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=3600)
        gate.wait()
        time.sleep(offset)
        for flow in plan:
            t0 = time.perf_counter()
            for role in flow:
                sdk.chat.completions.create(model=names[role], max_tokens=tokens, messages=[
                    {"role": "user", "content": "Say hello."}])
            with lock:
                latencies.append(time.perf_counter() - t0)

    try:
        pool = [threading.Thread(target=worker, args=plan) for plan in plans]
        for t in pool:
            t.start()
        gate.wait()
        t0 = time.perf_counter()
        for t in pool:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        server.stop()
    events = [json.loads(x) for x in journal.read_text().splitlines() if x.strip()] if journal.exists() else []
    latencies.sort()
    return {"swaps": sum(e["event"] == "load" for e in events), "questions": len(latencies),
            "questions_per_s": round(len(latencies) / wall, 3),
            "p95_s": round(latencies[max(0, int(0.95 * len(latencies)) - 1)], 3), "wall_s": round(wall, 2)}


def run(args) -> dict:
    base = Path(tempfile.mkdtemp(prefix="concilio-bench-serve-"))
    try:
        profile = args.profile or str(copies_profile(base))
        env = {**os.environ, "CONCILIO_DATA_DIR": str(base / "data"), "CONCILIO_RUNTIME_DIR": str(base / "run"),
               "CONCILIO_PROFILE": profile}
        env.pop("CONCILIO_SERVER", None)
        questions = ALL_QUESTIONS[: 4 if args.quick else args.questions]
        out: dict = {"profile": "copies of the embedded model" if not args.profile else args.profile}
        out["overhead"], out["first_event_s"] = overhead(env, questions)
        out["cross_process"] = {"server": cross_process(env, True), "guard": cross_process(env, False)}
        per = 1 if args.quick else args.per_client
        fifo = concurrency(env, "fifo", args.clients, per, args.tokens, args.seed)
        aware = concurrency(env, "aware", args.clients, per, args.tokens, args.seed)
        out["concurrency"] = {"clients": args.clients, "questions_per_client": per, "tokens_per_call": args.tokens,
                              **ratios(fifo, aware)}
        return out
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.bench_serve", description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", help="a profile (name or .toml) instead of four copies of the embedded model")
    p.add_argument("--questions", type=int, default=20, help="questions in the overhead run (at most 20)")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--per-client", type=int, default=4, help="questions per client in the concurrency run")
    p.add_argument("--tokens", type=int, default=4, help="tokens per call in the concurrency run")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="a short run (tests)")
    p.add_argument("--json", action="store_true")
    return run_json(p, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
