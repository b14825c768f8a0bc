"""`concilio ask` and `concilio chat`: one question, or a conversation, with live progress."""

from __future__ import annotations

import argparse
import json
import os
import sys

from agents.errors import ConcilioError
from graphs.cli.text import LiveProgress, terminal_safe, trace_table


def _stay_local(args: argparse.Namespace) -> None:
    if args.local:  # no model call of this process goes to a server, not even through default_slot()
        os.environ["CONCILIO_SERVER"] = "off"


def cmd_ask(args: argparse.Namespace) -> int:
    from graphs.api import ask

    _stay_local(args)
    live = LiveProgress() if not (args.json or args.quiet) else None
    result = ask(args.question, thread_id=args.thread, profile=args.profile, force_domain=args.domain,
                 on_event=live, local=args.local)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    if live is None:
        print(terminal_safe(result["answer"]))
        return 0
    live.finish(result["answer"])
    route = result["route"]
    print()
    print(f"route: {route['domain']} (by {route['by']}, confidence {route['confidence']:.2f}) · "
          f"language: {result['language']} · profile: {result['profile']} · "
          f"thread: {result['thread_id']} (turn {result['turn']}"
          + (", resumed from its checkpoint)" if result.get("resumed") else ")")
          + (f" · served by concilio serve (pid {result['served_by']})" if result.get("served_by") else ""))
    print(trace_table(result["trace"]))
    return 0


CHAT_HELP = ("commands: /route legal|technical|general (next question only), /feedback good|bad [domain], "
             "/thread, /quit; Ctrl-C stops an answer")


def cmd_chat(args: argparse.Namespace) -> int:
    import uuid

    from agents.user_text import validate_thread_id
    from graphs.api import ask, feedback

    _stay_local(args)
    thread = validate_thread_id(args.thread) if args.thread is not None else uuid.uuid4().hex[:12]
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
            result = ask(line, thread_id=thread, profile=args.profile, force_domain=forced, on_event=live,
                         local=args.local)
        except KeyboardInterrupt:
            print("\n(stopped: nothing was stored for this question; ask it again to resume)", file=sys.stderr)
            continue
        except ConcilioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            continue
        forced = None
        live.finish(result["answer"])
        last_turn = result["turn"]
