"""What a user waits for between Enter and the answer, before and after the start-up work, in one run.

    python -m evals.bench_startup [--profile NAME|FILE.toml] [--questions Q ...] [--repeats N] --json

Each measurement is one `concilio ask` in a fresh process (imports, checks and router load included, as a
user pays them), run in process by `graphs.cli.main`, threads and ledger in a scratch data folder:

  first_line_s     launch → the first progress line on stderr
  first_token_s    launch → the first answer token on stdout
  wall_s           launch → the answer and trace printed
  node_s           the seconds the graph's nodes report (model work); wall_per_node = wall_s / node_s

`before` is today's code with the start-up work turned off, the way it was: the GGUF metadata read in every
process (no cache folder entry), SQLAlchemy imported when the CLI starts, no line before the imports, and
only the integrate step streaming. `after` is the code as it is. One warm-up run per mode is not counted,
so both are measured warm (router fitted, page cache filled). Goals: first line ≤ 0.5 s warm,
wall ÷ node seconds ≤ 1.15.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTIONS = ("How do I reverse a list in Python?", "¿Puede mi casero echarme del piso sin previo aviso?")
MODES = ("before", "after")


class _Clock:
    """A stream that notes when it is first written to (and throws the text away)."""

    def __init__(self, real) -> None:
        self.real, self.first = real, None

    def write(self, text: str) -> int:
        if self.first is None and text.strip():
            self.first = time.time()
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.real.fileno()


def _turn_off_startup_work() -> None:
    """`before`: the start-up work undone, each piece the way it was."""
    import memory.ledger  # noqa: F401 - the CLI used to import SQLAlchemy at start
    from agents.models import gguf_file
    from graphs.cli import text

    gguf_file._from_disk = lambda path, key: None  # read every model file's metadata in every process
    gguf_file._to_disk = lambda path, key, info: None
    text.LiveProgress.started = lambda self: None  # no line before the imports and checks
    text.ANSWERING = ("integrate",)  # only the rewrite streamed


def child(mode: str, question: str, profile: str | None, launched: float, out: Path) -> int:
    """One measured `concilio ask` (runs in its own process)."""
    if mode == "before":
        _turn_off_startup_work()
    from graphs.cli import main, text  # light: graphs.api is imported by `ask` itself, as for a user

    traces = []
    real_finish = text.LiveProgress.finish
    text.LiveProgress.finish = lambda self, answer, trace=None: (traces.append(trace or []),
                                                                real_finish(self, answer, trace))[1]
    stdout, stderr = _Clock(sys.stdout), _Clock(sys.stderr)
    sys.stdout, sys.stderr = stdout, stderr
    try:
        code = main(["ask", question, *(["--profile", profile] if profile else [])])
    finally:
        sys.stdout, sys.stderr = stdout.real, stderr.real
    done = time.time()
    trace = traces[-1] if traces else []
    out.write_text(json.dumps({
        "code": code, "first_line_s": (stderr.first or done) - launched, "wall_s": done - launched,
        "first_token_s": (stdout.first or done) - launched,
        "node_s": sum(r.get("seconds", 0.0) for r in trace)}), "utf-8")
    return 0


def measure(mode: str, question: str, profile: str | None, data_dir: str) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "result.json"
        env = {**os.environ, "CONCILIO_DATA_DIR": data_dir}
        launched = time.time()
        proc = subprocess.run([sys.executable, "-m", "evals.bench_startup", "--child", mode, question,
                               str(launched), str(out), *(["--profile", profile] if profile else [])],
                              env=env, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"bench child ({mode}) failed: {proc.stderr[-2000:]}")
        return json.loads(out.read_text("utf-8"))


def run(questions: tuple[str, ...], profile: str | None, repeats: int) -> dict:
    report: dict = {"questions": list(questions), "profile": profile or "auto", "repeats": repeats, "modes": {}}
    with tempfile.TemporaryDirectory(prefix="concilio-bench-") as data_dir:
        for mode in MODES:
            measure(mode, questions[0], profile, data_dir)  # warm-up, not counted
            rows = [measure(mode, q, profile, data_dir) for _ in range(repeats) for q in questions]
            med = {k: round(statistics.median(r[k] for r in rows), 3)
                   for k in ("first_line_s", "first_token_s", "wall_s", "node_s")}
            med["wall_per_node"] = round(med["wall_s"] / med["node_s"], 3) if med["node_s"] else None
            report["modes"][mode] = {"median": med, "runs": rows}
    before, after = report["modes"]["before"]["median"], report["modes"]["after"]["median"]
    report["after_over_before"] = {k: round(after[k] / before[k], 3) if before[k] else None
                                   for k in ("first_line_s", "first_token_s", "wall_s", "wall_per_node")}
    report["goals"] = {"first_line_le_0.5_s": after["first_line_s"] <= 0.5,
                       "wall_per_node_le_1.15": after["wall_per_node"] is not None and after["wall_per_node"] <= 1.15}
    return report


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        c = argparse.ArgumentParser()
        c.add_argument("--child", nargs=4, metavar=("MODE", "QUESTION", "LAUNCHED", "OUT"))
        c.add_argument("--profile")
        a = c.parse_args(argv)
        mode, question, launched, out = a.child
        return child(mode, question, a.profile, float(launched), Path(out))
    p = argparse.ArgumentParser(prog="python -m evals.bench_startup", description=__doc__.split("\n")[0])
    p.add_argument("--profile", help="embedded (default: auto), gpt4all-seed or a config .toml")
    p.add_argument("--questions", nargs="+", default=list(QUESTIONS))
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    report = run(tuple(a.questions), a.profile, max(1, a.repeats))
    if a.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        for mode in MODES:
            print(mode, report["modes"][mode]["median"])
        print("after / before", report["after_over_before"], "goals", report["goals"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
