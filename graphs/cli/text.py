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


ANSWERING = ("legal", "technical", "general", "long_context", "integrate")  # nodes that write answer text


def replaced_note(streamed: str, answer: str, note: str = "") -> str | None:
    """Why the answer differs from the text streamed last (None when it doesn't). Pure."""
    streamed, answer = streamed.strip(), answer.strip()
    if not streamed or streamed == answer:
        return None
    if answer and streamed.startswith(answer):
        return "the model began repeating itself, so the answer ends where the repetition began"
    if "remembered facts" in note:
        return "the model copied what concilio remembers about you into its answer; that part is taken out"
    if "kept the draft" in note:
        return f"the orchestrator's rewrite was not used ({note}); the answer is the reviewed draft"
    if "the rewrite dropped or changed" in note:
        return f"the orchestrator's rewrite lost part of the draft ({note})"
    return "the answer stored is not the text streamed above"


def _verdict_words(e: dict) -> str:
    from agents.roles.reviewer import in_words

    return in_words(e["verdict"], e.get("by", ""), e["issues"])


class LiveProgress:
    """Shows progress events on stderr and streams the answer's tokens to stdout, from whichever node writes
    it: the specialist's draft, then (marked) a revision or the orchestrator's rewrite when one replaces it."""

    def __init__(self) -> None:
        self.streamed: list[str] = []
        self.writer: str | None = None

    def started(self) -> None:
        print("concilio: starting…", file=sys.stderr, flush=True)

    def _mark(self, text: str) -> None:
        sys.stdout.write(f"\n\n[{text}]\n")
        sys.stdout.flush()

    def __call__(self, e: dict) -> None:
        kind = e.get("event")
        if kind == "token":
            if e.get("node") in ANSWERING:
                self.streamed.append(e["text"])
                sys.stdout.write(terminal_safe(e["text"]))
                sys.stdout.flush()
            return
        if kind == "generating" and e.get("node") in ANSWERING:
            if self.streamed:
                self._mark("the orchestrator rewrites the draft above:" if e["node"] == "integrate" else
                           "a revised draft replaces the one above:")
            self.streamed, self.writer = [], e["node"]
        line = {
            "route": lambda: f"route: {e['domain']} (by {e['by']}, {e['confidence']:.2f}) · language {e['language']}",
            "waiting": lambda: (f"waiting for the GPU: process {e['holder_pid']} has a model loaded…"
                                if e.get("holder_pid") else
                                f"waiting for the GPU slot (resident: {', '.join(e['resident']) or '-'})…"),
            "loading": lambda: f"loading {e['model']}" + (f" ({e['size_mb']} MB)" if e.get("size_mb") else "") + "…",
            "loaded": lambda: f"loaded {e['model']} in {e['seconds']:.2f} s",
            "generating": lambda: f"{e['node']}: {e['model']} is answering…",
            "verdict": lambda: "review: " + _verdict_words(e),
            "skipped": lambda: f"{e['node']} skipped: {e['reason']}",
            "kept": lambda: f"{e['node']}: {e['reason']}",
            "router": lambda: e["message"],
            "language": lambda: "note: " + e["message"],
        }.get(kind)
        if line is not None:
            print(f"concilio: {terminal_safe(line())}", file=sys.stderr, flush=True)

    def finish(self, answer: str, trace: list[dict] | None = None) -> None:
        streamed = "".join(self.streamed)
        note = next((r.get("note") or "" for r in reversed(trace or []) if r.get("node") == "integrate"), "")
        if not streamed.strip():
            print(terminal_safe(answer))
            return
        why = replaced_note(streamed, answer, note)
        if why is None:
            print()
        else:
            self._mark(why + ":")
            print(terminal_safe(answer))
