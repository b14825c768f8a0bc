"""What the CLI prints: tables, sizes, the per-node trace and live progress."""

from __future__ import annotations

import re
import sys

from agents.user_text import repair

# Escape sequences a terminal acts on: CSI (colours, cursor, erase), OSC (title, hyperlinks, clipboard), DCS/
# SOS/PM/APC strings, and two-character ESC sequences; then any control character left (a lone ESC, a C1 CSI
# U+009B, BEL, backspace, carriage return) and the bidi overrides that reorder what is shown.
_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]"
                       r"|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x1b\x9c]*(?:\x07|\x9c)?")
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: object) -> str:
    """`text` as it can be printed to a terminal: no escape sequence or control character acts, no lone
    surrogate makes printing fail. Tabs and newlines stay; the rest of a sequence shows as U+FFFD."""
    return _UNSAFE.sub("\ufffd", _SEQUENCE.sub("\ufffd", repair(str(text))))


def size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def table(rows: list[list[str]]) -> str:
    rows = [[terminal_safe(cell) for cell in r] for r in rows]
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
                sys.stdout.write(terminal_safe(e["text"]))
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
            print(f"concilio: {terminal_safe(line())}", file=sys.stderr, flush=True)

    def finish(self, answer: str) -> None:
        streamed = "".join(self.streamed).strip()
        if not streamed:
            print(terminal_safe(answer))
        elif streamed != answer.strip():
            print("\n\n(the rewrite was discarded; the answer is:)\n" + terminal_safe(answer))
        else:
            print()
