"""What the CLI prints: tables, sizes, the per-node trace and live progress."""

from __future__ import annotations

import sys


def size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)


def trace_table(trace: list[dict]) -> str:
    rows = [["node", "model", "seconds", "load s", "swapped", "tokens in/out", "note"]]
    for r in trace:
        rows.append([r["node"], r.get("model") or "-", f"{r.get('seconds', 0):.2f}",
                     f"{r.get('load_seconds', 0):.2f}", "yes" if r.get("swapped") else "no",
                     f"{r.get('tokens_in', 0)}/{r.get('tokens', 0)}",
                     ("skipped: " if r.get("skipped") else "") + (r.get("note") or "")])
    return table(rows)


class LiveProgress:
    """Shows progress events on stderr and streams the final answer's tokens to stdout."""

    def __init__(self) -> None:
        self.streamed: list[str] = []

    def __call__(self, e: dict) -> None:
        kind = e.get("event")
        if kind == "token":
            if e.get("node") == "integrate":
                self.streamed.append(e["text"])
                sys.stdout.write(e["text"])
                sys.stdout.flush()
            return
        line = {
            "route": lambda: f"route: {e['domain']} (by {e['by']}, {e['confidence']:.2f}) · language {e['language']}",
            "waiting": lambda: f"waiting for the GPU slot (resident: {', '.join(e['resident']) or '-'})…",
            "loading": lambda: f"loading {e['model']}" + (f" ({e['size_mb']} MB)" if e.get("size_mb") else "") + "…",
            "loaded": lambda: f"loaded {e['model']} in {e['seconds']:.2f} s",
            "generating": lambda: f"{e['node']}: {e['model']} is answering…",
            "verdict": lambda: f"review: {e['verdict']}" + (f" ({'; '.join(e['issues'])})" if e["issues"] else ""),
            "skipped": lambda: f"{e['node']} skipped: {e['reason']}",
        }.get(kind)
        if line is not None:
            print(f"concilio: {line()}", file=sys.stderr, flush=True)

    def finish(self, answer: str) -> None:
        streamed = "".join(self.streamed).strip()
        if not streamed:
            print(answer)
        elif streamed != answer.strip():
            print("\n\n(the rewrite was discarded; the answer is:)\n" + answer)
        else:
            print()
