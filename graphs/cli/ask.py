"""`concilio ask` and `concilio chat`: one question, or a conversation, with live progress."""

from __future__ import annotations

import argparse
import json
import os
import sys

from agents.errors import ConcilioError, EmptyQuestionError
from graphs.cli.text import LiveProgress, terminal_safe, trace_table


def _stay_local(args: argparse.Namespace) -> None:
    if args.local:  # no model call of this process goes to a server, not even through default_slot()
        os.environ["CONCILIO_SERVER"] = "off"


def question_from(arg: str | None, stdin=None) -> str:
    """The question: the argument, or stdin when it is `-` or missing and stdin is not a terminal."""
    stdin = stdin if stdin is not None else sys.stdin
    if arg is not None and arg != "-":
        return arg
    if arg is None and stdin.isatty():
        raise EmptyQuestionError()
    return stdin.read()


def cmd_ask(args: argparse.Namespace) -> int:
    question = question_from(args.question)
    live = LiveProgress() if not (args.json or args.quiet) else None
    if live is not None:
        live.started()  # a line at once: the imports and checks below take a moment
    import uuid

    from agents.user_text import validate_thread_id
    from graphs.api import ask

    _stay_local(args)
    thread = validate_thread_id(args.thread) if args.thread is not None else uuid.uuid4().hex[:12]
    try:
        result = ask(question, thread_id=thread, profile=args.profile, force_domain=args.domain, on_event=live,
                     local=args.local, cache=args.cache, user=args.user)
    except KeyboardInterrupt:
        print(f"\ninterrupted {stopped_message(thread, question, args.user)} · thread {thread}", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    if live is None:
        print(terminal_safe(result["answer"]))
        return 0
    live.finish(result["answer"], result["trace"])
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


def stopped_message(thread: str, question: str, user: str | None = None) -> str:
    """What Ctrl-C in `chat` left on the thread, in the words `concilio threads show` uses for it."""
    from graphs.cooperation import build_graph
    from memory import threads
    from memory.checkpoints import checkpointer

    with checkpointer() as saver:
        try:
            turns = threads.show(build_graph(checkpointer=saver), thread, user)
        except threads.UnknownThreadError:
            turns = []
    try:  # the question as the graph stored it
        from agents.roles.orchestrator import clean_question

        question = clean_question(question)
    except ConcilioError:
        pass
    last = turns[-1] if turns else None
    if last is not None and last.answer is None and last.question.strip() == question.strip():
        return (f"(stopped: turn {last.turn} is kept unfinished, without an answer; ask the same question "
                "again to resume it, or ask another one)")
    return "(stopped: nothing was stored for this question)"


def cmd_chat(args: argparse.Namespace) -> int:
    import uuid

    from agents.user_text import validate_thread_id
    from graphs.api import ask, feedback
    from graphs.cli.history import LineHistory

    _stay_local(args)
    thread = validate_thread_id(args.thread) if args.thread is not None else uuid.uuid4().hex[:12]
    forced, last_turn = None, None
    history = LineHistory.open()
    print(f"concilio chat · thread {thread} · {CHAT_HELP}", file=sys.stderr)
    try:
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
            history.add(line)
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
                        done = feedback(thread, verdict, domain=domain.strip() or None, turn=last_turn,
                                        background=True, user=args.user)
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
                             local=args.local, cache=args.cache, user=args.user)
            except KeyboardInterrupt:
                print("\n" + stopped_message(thread, line, args.user), file=sys.stderr)
                continue
            except ConcilioError as exc:
                print(f"error: {exc}", file=sys.stderr)
                continue
            forced = None
            live.finish(result["answer"], result["trace"])
            last_turn = result["turn"]
    finally:
        history.save()
