"""The backends side by side, in one run, on the same model and prompts.

    python -m evals.bench_backends [--model FILE.gguf] [--tokens N] [--repeats N] --json

  gpt4all    the embedded model's gpt4all-compatible copy (or --gpt4all-model)
  llamacpp   llama-cpp-python in process, on the original file
  openai     llama-cpp-python's OpenAI-compatible server on loopback, started here, same file
For each: load seconds (through the GPU slot, as a run pays them), tokens/s and seconds to the first token
over --repeats answers to an English and a Spanish question, and the ratios to gpt4all.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from agents.backends.llamacpp_server import free_port, start

QUESTIONS = ("How do I reverse a list in Python?", "¿Qué es un contrato de arrendamiento?")


def measure(spec, tokens: int, repeats: int) -> dict:
    from agents.backends import GenParams
    from agents.slot.slot import GpuSlot

    slot = GpuSlot()
    rates, firsts, loads = [], [], []
    for _ in range(repeats):
        with slot.hold(spec) as lease:
            loads.append(lease.load_seconds)
            for question in QUESTIONS:
                start, first = time.perf_counter(), []
                done = lease.model.complete([{"role": "user", "content": question}],
                                            GenParams(max_tokens=tokens, stop_on_loop=False),
                                            lambda _piece: first.append(time.perf_counter()) if not first else None)
                if done.tokens_out:
                    rates.append(done.tokens_out / done.seconds)
                    firsts.append(first[0] - start)
        slot.clear()  # the next repeat loads again
    return {"load_s": round(statistics.median(loads), 3), "tokens_per_s": round(statistics.median(rates), 1),
            "first_token_s": round(statistics.median(firsts), 3), "answers": len(rates)}


def main(argv: list[str] | None = None) -> int:
    from agents.models import embedded
    from agents.models.profiles import ModelSpec

    p = argparse.ArgumentParser(prog="python -m evals.bench_backends", description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, help="GGUF for llamacpp and the server (default: SmolLM2's original)")
    p.add_argument("--gpt4all-model", type=Path, help="GGUF for gpt4all (default: the embedded converted copy)")
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--server-threads", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                   help="the server's compute threads (default: half the cores, llama_cpp.server's own default)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    files = embedded.ensure() if not (args.model and args.gpt4all_model) else None
    model = args.model or files.original
    specs = {"gpt4all": ModelSpec("gpt4all", args.gpt4all_model or files.converted, context_window=2048),
             "llamacpp": ModelSpec("llamacpp", model, backend="llamacpp", context_window=2048)}
    port = free_port()
    server = start(model, port, "--n_ctx", "2048", "--model_alias", "bench", "--n_threads", str(args.server_threads))
    try:
        specs["openai"] = ModelSpec("bench", model, backend="openai", options=(
            ("base_url", f"http://127.0.0.1:{port}/v1"), ("timeout", 120)))
        report = {name: measure(spec, args.tokens, args.repeats) for name, spec in specs.items()}
    finally:
        server.kill()
    base = report["gpt4all"]
    report["ratios_to_gpt4all"] = {name: {k: round(r[k] / base[k], 2) for k in ("load_s", "tokens_per_s",
                                                                               "first_token_s") if base[k]}
                                   for name, r in report.items() if name != "gpt4all"}
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
