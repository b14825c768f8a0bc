"""Several graph workers on one PostgreSQL database, with failures: are turns lost, duplicated or interleaved?

    python -m evals.bench_workers --json [--workers 2] [--threads 20] [--turns 10] [--kills 5] [--restarts 1]
                                         [--url postgresql://...]   (default: a scratch server, evals/scratch_pg.py)

Each worker is a process (`python -m evals.bench_workers worker`) that takes turns as JSON lines on stdin and
runs each with `graphs.api.ask` on the deterministic fake backend (this is about races and failures, not
answers), several at once in threads. The driver asks `threads × turns` questions, each thread's in order,
`--concurrency` threads at a time, every turn on a worker picked at random. Meanwhile it SIGKILLs a worker
`--kills` times (mid-turn: it picks one with turns in flight) and starts a fresh one, and restarts the
database `--restarts` times. A turn that failed (its worker killed, its connection cut) is asked again, the
same question, on a random worker: it resumes from its last checkpoint.

Counted from the database after the run, not from what the driver saw:
  lost          questions asked that are not a completed turn of their thread
  duplicated    questions that are a completed turn more than once
  interleaved   checkpoints of one thread with the same parent (two writers on one thread at once), plus
                threads whose turns are out of order
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROLES = ("orchestrator", "legal", "technical", "reviewer")
REPLIES = {"orchestrator": "Una respuesta final. A final answer.", "legal": "El casero debe avisar. Notice is due.",
           "technical": "Use reversed(items).", "reviewer": "OK"}


def profile_toml(path: Path, tokens_per_second: int = 60) -> str:
    lines = []
    for role in ROLES:
        lines += [f"[roles.{role}]", 'backend = "fake"', f'path = "fake-{role}.gguf"',
                  f'options = {{ reply = "{REPLIES[role]}", tokens_per_second = {tokens_per_second} }}']
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return str(path)


def question(thread: int, turn: int) -> str:
    return (f"Hilo {thread} pregunta {turn}: ¿puede mi casero subir el alquiler?" if thread % 2 else
            f"Thread {thread} question {turn}: can my landlord raise the rent?")


# --- the worker -----------------------------------------------------------------------------------------------
def worker(profile: str) -> None:
    from graphs.api import ask

    out = threading.Lock()

    def reply(message: dict) -> None:
        with out:
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()

    def one(job: dict) -> None:
        try:
            result = ask(job["question"], thread_id=job["thread"], profile=profile, local=True)
            reply({"id": job["id"], "ok": True, "turn": result["turn"], "resumed": result["resumed"]})
        except BaseException as exc:  # reported to the driver, which asks again
            reply({"id": job["id"], "ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]})

    for line in sys.stdin:
        threading.Thread(target=one, args=(json.loads(line),), daemon=True).start()


class Worker:
    """A worker process and the turns in flight on it."""

    def __init__(self, name: str, profile: str, env: dict) -> None:
        self.name = name
        self.proc = subprocess.Popen([sys.executable, "-m", "evals.bench_workers", "worker", "--profile", profile],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env=env, cwd=Path(__file__).resolve().parents[1])
        self.waiting: dict[str, queue.Queue] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            message = json.loads(line)
            with self.lock:
                box = self.waiting.pop(message["id"], None)
            if box is not None:
                box.put(message)
        with self.lock:  # the process ended: every turn in flight on it failed
            boxes, self.waiting = list(self.waiting.values()), {}
        for box in boxes:
            box.put({"ok": False, "error": "worker died"})

    def send(self, job: dict) -> queue.Queue:
        box: queue.Queue = queue.Queue()
        with self.lock:
            alive = self.proc.poll() is None
            if alive:
                self.waiting[job["id"]] = box
        if not alive:
            box.put({"ok": False, "error": "worker died"})
            return box
        try:
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
        except OSError:
            with self.lock:
                self.waiting.pop(job["id"], None)
            box.put({"ok": False, "error": "worker died"})
        return box

    def in_flight(self) -> int:
        with self.lock:
            return len(self.waiting)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)


# --- counting from the database --------------------------------------------------------------------------------
def count(url: str, threads: int, turns: int) -> dict:
    """lost / duplicated / interleaved, read back from the checkpoints (see the module docstring)."""
    import psycopg

    from graphs.cooperation import build_graph
    from memory.checkpoints import checkpointer
    from memory.threads import turns_of

    lost = duplicated = out_of_order = completed = 0
    with checkpointer(url) as saver:
        graph = build_graph(checkpointer=saver)
        for t in range(threads):
            state = graph.get_state({"configurable": {"thread_id": f"w{t}"}})
            done = [x.question for x in turns_of(state.values.get("messages", [])) if x.answer is not None]
            expected = [question(t, n) for n in range(1, turns + 1)]
            completed += len(done)
            lost += sum(q not in done for q in expected)
            duplicated += sum(max(done.count(q) - 1, 0) for q in expected) + sum(q not in expected for q in done)
            out_of_order += [q for q in done if q in expected] != [q for q in expected if q in done]
    with psycopg.connect(url, autocommit=True) as conn:
        forks = conn.execute("SELECT count(*) FROM (SELECT thread_id, parent_checkpoint_id FROM checkpoints "
                             "WHERE checkpoint_ns = '' AND parent_checkpoint_id IS NOT NULL "
                             "GROUP BY 1, 2 HAVING count(*) > 1) f").fetchone()[0]
        ledger_runs = conn.execute("SELECT count(*) FROM runs WHERE error IS NULL").fetchone()[0]
    return {"completed": completed, "lost": lost, "duplicated": duplicated, "interleaved": forks + out_of_order,
            "checkpoint_forks": forks, "threads_out_of_order": out_of_order, "ledger_runs": ledger_runs}


# --- the driver ------------------------------------------------------------------------------------------------
def run(url: str, *, workers: int = 2, threads: int = 20, turns: int = 10, kills: int = 5, restarts: int = 1,
        concurrency: int = 4, restart=None, seed: int = 20, deadline: float = 900.0) -> dict:
    rng = random.Random(seed)
    scratch = Path(tempfile.mkdtemp(prefix="concilio-workers-"))
    env = {**os.environ, "CONCILIO_DATABASE_URL": url, "CONCILIO_SERVER": "off", "CONCILIO_PREFETCH": "0",
           "CONCILIO_DATA_DIR": str(scratch / "data"), "CONCILIO_RUNTIME_DIR": str(scratch / "run"),
           "CONCILIO_TURN_TIMEOUT": "120", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("CONCILIO_LEDGER_URL", None)
    profile = profile_toml(scratch / "fake.toml")
    pool = [Worker(f"w{n}", profile, env) for n in range(workers)]
    pool_lock = threading.Lock()
    todo: queue.Queue = queue.Queue()
    for t in range(threads):
        todo.put(t)
    stats = {"attempts": 0, "failed_attempts": 0, "resumed": 0, "kills": 0, "restarts": 0, "per_worker": {}}
    stats_lock = threading.Lock()
    started = time.monotonic()

    def one_thread(t: int) -> None:
        for n in range(1, turns + 1):
            job = {"thread": f"w{t}", "question": question(t, n)}
            for attempt in range(30):
                with pool_lock:
                    chosen = rng.choice(pool)
                box = chosen.send({**job, "id": f"{t}.{n}.{attempt}"})
                answer = box.get(timeout=300)
                with stats_lock:
                    stats["attempts"] += 1
                    stats["per_worker"][chosen.name] = stats["per_worker"].get(chosen.name, 0) + 1
                    if answer["ok"]:
                        stats["resumed"] += bool(answer.get("resumed"))
                    else:
                        stats["failed_attempts"] += 1
                if answer["ok"]:
                    break
                time.sleep(0.2 + 0.2 * attempt)  # the database may be restarting
            else:
                raise RuntimeError(f"turn {job} failed 30 times")

    def driver() -> None:
        while True:
            try:
                t = todo.get_nowait()
            except queue.Empty:
                return
            one_thread(t)

    drivers = [threading.Thread(target=driver) for _ in range(concurrency)]
    for d in drivers:
        d.start()
    total = threads * turns
    # failures spread over the run: kills at evenly spaced moments, the restart(s) between them
    events = ["kill"] * kills + ["restart"] * restarts
    rng.shuffle(events)
    for number, event in enumerate(events, start=1):
        while stats["attempts"] - stats["failed_attempts"] < total * number / (len(events) + 1):
            if not any(d.is_alive() for d in drivers):
                break
            time.sleep(0.05)
        if event == "kill":
            for _ in range(200):  # a worker with turns in flight, so the kill lands mid-turn
                busy = [w for w in pool if w.in_flight()]
                if busy:
                    break
                time.sleep(0.02)
            with pool_lock:
                victim = rng.choice(busy or pool)
                victim.kill()
                pool[pool.index(victim)] = Worker(victim.name + "'", profile, env)
            stats["kills"] += 1
        elif restart is not None:
            restart()
            stats["restarts"] += 1
    for d in drivers:
        d.join(max(1.0, deadline - (time.monotonic() - started)))
    seconds = time.monotonic() - started
    for w in pool:
        w.kill()
    result = count(url, threads, turns)
    return {"workers": workers, "threads": threads, "turns_asked": total, **result, **stats,
            "seconds": round(seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", nargs="?", default="bench", choices=["bench", "worker"])
    p.add_argument("--profile")
    p.add_argument("--url", help="a PostgreSQL database (default: a scratch server started and removed here)")
    for name, default in (("workers", 2), ("threads", 20), ("turns", 10), ("kills", 5), ("restarts", 1),
                          ("concurrency", 4)):
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.mode == "worker":
        worker(args.profile)
        return 0
    from evals import scratch_pg

    server = None
    if args.url is None:
        server = scratch_pg.Server().start()
    try:
        url = args.url or server.create_database("workers")
        restart = server.restart if server is not None else None
        result = run(url, workers=args.workers, threads=args.threads, turns=args.turns, kills=args.kills,
                     restarts=args.restarts if restart else 0, concurrency=args.concurrency, restart=restart)
    finally:
        if server is not None:
            server.stop()
    print(json.dumps(result, indent=None if args.json else 2))
    return 0 if result["lost"] == result["duplicated"] == result["interleaved"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
