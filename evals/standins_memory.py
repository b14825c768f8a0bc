"""Memory truth at real sizes: agents/slot/memory_need.py's estimate against measured RSS, per full-size stand-in
and context window, on the CPU, one model at a time; with each file's cold and warm load seconds.

    python -m evals.standins_memory --dir DIR [--models orca2 phi3 starcoder llama31]
        [--contexts llama31=16384,32768 ...] [--backend gpt4all] [--write] [--delete] [--out results.json]

`--write` writes a missing full-size stand-in first (python -m evals.standins --full), `--delete` removes it
after its measurements (disk), and each row is appended to `--out` as it comes, so a run cut short keeps what
it measured. Each measurement is its own process: RSS after loading and generating 4 tokens, minus RSS before
(the backend's library and the GGUF reader already imported), so the figure is the model's own.
Defaults are the gpt4all-seed profile's windows (Llama 3.1 at 16k, and 32k beside it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

MEASURE = r"""
import json, sys, time
from pathlib import Path

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024

path, backend, context, template = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
from agents.backends import GenParams, load_model
from agents.models.gguf_file import inspect
from agents.models.profiles import ModelSpec

if backend == "gpt4all":
    from agents.backends.gpt4all_backend import _gpt4all_class
    _gpt4all_class()
else:
    import llama_cpp  # noqa: F401
inspect(path)
spec = ModelSpec(name=path.name, path=path, backend=backend, chat_template=template, context_window=context,
                 device="cpu")
before = rss_mb()
start = time.perf_counter()
model = load_model(spec)
loaded = time.perf_counter() - start
out = model.complete([{"role": "user", "content": "Hola, ¿qué tal? Hello!"}], GenParams(max_tokens=4))
print(json.dumps({"measured_mb": rss_mb() - before, "load_s": loaded, "tokens_in": out.tokens_in,
                  "generate_s": out.seconds}))
"""


def measure(path: Path, backend: str, context: int, template: str, timeout: float) -> dict:
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(path), backend, str(context), template],
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit {proc.returncode}"]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def default_contexts() -> dict[str, list[int]]:
    from agents.models.profiles import SEED
    from evals.standins import specs

    out = {}
    for key, role in specs.ROLE_OF.items():
        window = SEED[role][3]
        out[key] = [window, 2 * window] if key == "llama31" else [window]
    return out


def parse_contexts(items: list[str]) -> dict[str, list[int]]:
    """`llama31=16384,32768` → {"llama31": [16384, 32768]}. Pure."""
    out = {}
    for item in items:
        key, _, values = item.partition("=")
        out[key] = [int(v) for v in values.split(",") if v]
    return out


def ratio(estimate_mb: float, measured_mb: float) -> float | None:
    """estimate ÷ measured (1.0: exact; the goal is within 10%). Pure."""
    return round(estimate_mb / measured_mb, 3) if measured_mb > 0 else None


def run(args: argparse.Namespace) -> list[dict]:
    from dataclasses import replace

    from agents.models.profiles import SEED, ModelSpec
    from agents.slot import prefetch
    from agents.slot.memory_need import estimate
    from evals.standins import specs, write

    contexts = {**default_contexts(), **parse_contexts(args.contexts or [])}
    rows = []
    for key in args.models:
        arch = specs.SEED[key]
        path = args.dir / arch.file_name
        written_s = None
        if not path.exists():
            if not args.write:
                rows.append({"model": key, "error": f"{path} not found (pass --write)"})
                continue
            start = time.perf_counter()
            write.write(arch, path)
            written_s = round(time.perf_counter() - start, 1)
        template = SEED[specs.ROLE_OF[key]][2]
        for context in contexts[key]:
            spec = ModelSpec(name=key, path=path, backend=args.backend, chat_template=template,
                             context_window=context)
            need = estimate(spec)
            prefetch.drop(path)
            cold = measure(path, args.backend, context, template, args.timeout)
            warm = measure(path, args.backend, context, template, args.timeout)
            row = {"model": key, "backend": args.backend, "context": context, "file_bytes": path.stat().st_size,
                   "real_bytes": arch.real_size, "size_ratio": round(path.stat().st_size / arch.real_size, 4),
                   "written_s": written_s, "estimate_mb": round(need.total_mb, 1),
                   "estimate": {"weights_mb": need.weights_mb, "kv_mb": need.kv_mb, "overhead_mb": need.overhead_mb},
                   "cold_load_s": cold.get("load_s"), "warm_load_s": warm.get("load_s"),
                   "measured_mb": warm.get("measured_mb"), "measured_cold_mb": cold.get("measured_mb"),
                   "generate_s": warm.get("generate_s"), "error": cold.get("error") or warm.get("error")}
            if row["measured_mb"]:
                row["estimate_over_measured"] = ratio(need.total_mb, row["measured_mb"])
            rows.append(row)
            if args.out:
                with args.out.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
            spec = replace(spec)
        if args.delete and path.exists():
            path.unlink()
    return rows


def main(argv: list[str] | None = None) -> int:
    from evals.standins import specs

    parser = argparse.ArgumentParser(prog="python -m evals.standins_memory", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, required=True, help="folder of the full-size stand-ins")
    parser.add_argument("--models", nargs="+", default=list(specs.SEED), choices=list(specs.SEED))
    parser.add_argument("--contexts", nargs="*", help="KEY=N,M,... (default: the profile's windows)")
    parser.add_argument("--backend", default="gpt4all", choices=["gpt4all", "llamacpp"])
    parser.add_argument("--write", action="store_true", help="write a missing stand-in first")
    parser.add_argument("--delete", action="store_true", help="delete each stand-in after measuring it")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per measurement")
    parser.add_argument("--out", type=Path, help="JSON lines file the rows are appended to")
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
