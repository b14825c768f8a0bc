"""python -m evals.standins --out DIR [--full] [--only KEY ...] [--ends-turn]"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def build(out: Path, *, full: bool = False, only: list[str] | None = None, ends_turn: bool = False,
          seed: int = 0) -> list[dict]:
    """Write the chosen stand-ins under `out`; one result row per file (name, sizes, seconds)."""
    from evals.standins import specs, write

    rows = []
    for key, arch in specs.SEED.items():
        if only and key not in only:
            continue
        shaped = arch if full else specs.few_layer(arch)
        start = time.perf_counter()
        path = write.write(shaped, out / arch.file_name, seed=seed, ends_turn=ends_turn)
        size = path.stat().st_size
        rows.append({"model": key, "file": str(path), "bytes": size, "real_bytes": arch.real_size,
                     "size_ratio": round(size / arch.real_size, 4), "seconds": round(time.perf_counter() - start, 2),
                     "full": full})
    return rows


def main(argv: list[str] | None = None) -> int:
    from evals.standins import specs

    parser = argparse.ArgumentParser(prog="python -m evals.standins", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="folder to write the four GGUF files into")
    parser.add_argument("--full", action="store_true", help="real sizes (2.2–9 GB each) instead of two layers")
    parser.add_argument("--only", nargs="+", choices=sorted(specs.SEED), help="just these models")
    parser.add_argument("--ends-turn", action="store_true",
                        help="weights that always answer with the end-of-turn marker (for stop tests)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rows = build(args.out, full=args.full, only=args.only, ends_turn=args.ends_turn, seed=args.seed)
    json.dump(rows, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
