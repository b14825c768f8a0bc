"""`concilio` on the command line.

  concilio ask "QUESTION"|- [--thread ID] [--user U] [--profile NAME|FILE.toml] [--domain D] [--json | --quiet]
                                                                        (no QUESTION or -: read it from stdin)
  concilio models [--profile NAME|FILE.toml] [--json]
  concilio threads [list]|show T|delete T|fork T [--turn N] [--to NEW] [--json]
  concilio memories [list]|delete KEY [--json]
  concilio feedback THREAD good|bad [--domain D] [--turn N] [--json]
  concilio chat [--thread ID] [--profile NAME|FILE.toml]   (/route D, /feedback good|bad [D], /thread, /quit)
  concilio stats [--since 24h|7d|DATE] [--profile P] [--json]
  concilio calibrate [--profile P] [--limit N] [--data FILE] [--json]
  concilio metrics [--port 9464] [--host 127.0.0.1]
  concilio serve [--host 127.0.0.1] [--port 8765] [--profile P] [--api-key KEY] [--keep-alive S]
  concilio ps [--json]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from agents.errors import ConcilioError
from graphs.cli import ask, cache, manage, serve, stats, steps
from graphs.cli.text import LiveProgress, terminal_safe, trace_table  # noqa: F401 - the CLI's public helpers


class _OptionsAnywhere(argparse.ArgumentParser):
    """A command whose options may come after its arguments too (`threads show --json T`), as users of llm and
    ollama type them: argparse's intermixed parsing, for the sub-commands (which have no sub-commands)."""

    _inner = False

    def parse_known_args(self, args=None, namespace=None):
        if self._inner:
            return super().parse_known_args(args, namespace)
        self._inner = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inner = False


USER_HELP = "whose threads and memories (a shared deployment's user id; default: the one local user)"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="concilio", description="Several local LLMs answering as one.")
    p.add_argument("--version", action="version", version=f"concilio {version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_OptionsAnywhere)
    a = sub.add_parser("ask", help="ask a question (Spanish or English)")
    a.add_argument("question", nargs="?", help="the question; - or nothing reads it from stdin")
    a.add_argument("--thread", help="continue this conversation thread (default: a new one)")
    a.add_argument("--profile", help="embedded, gpt4all-seed, or a config .toml (default: auto)")
    a.add_argument("--domain", choices=["legal", "technical", "general"], help="skip routing: force this route")
    a.add_argument("--user", help=USER_HELP)
    a.add_argument("--local", action="store_true", help="run in this process even when a server runs")
    a.add_argument("--no-cache", dest="cache", action="store_false", default=None,
                   help="run the models even when the response cache has this answer")
    out = a.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object, no progress")
    out.add_argument("--quiet", action="store_true",
                     help="print only the answer on stdout: no progress, trace or notices (errors still go to stderr)")
    a.set_defaults(func=ask.cmd_ask)
    m = sub.add_parser("models", help="list roles, model files and the active profile")
    m.add_argument("--profile")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=manage.cmd_models)
    t = sub.add_parser("threads", help="list, show, fork or delete conversation threads")
    t.add_argument("action", nargs="?", default="list", choices=["list", "show", "delete", "fork"])
    t.add_argument("thread", nargs="?")
    t.add_argument("--turn", type=int, help="fork: keep the thread up to this completed turn")
    t.add_argument("--to", help="fork: the new thread's id (default: THREAD-fork)")
    t.add_argument("--user", help=USER_HELP)
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=manage.cmd_threads)
    mem = sub.add_parser("memories", help="list or delete what concilio remembers about you across threads")
    mem.add_argument("action", nargs="?", default="list", choices=["list", "delete"])
    mem.add_argument("key", nargs="?")
    mem.add_argument("--user", help=USER_HELP)
    mem.add_argument("--json", action="store_true")
    mem.set_defaults(func=manage.cmd_memories)
    f = sub.add_parser("feedback", help="rate an answer; the router learns from it")
    f.add_argument("thread")
    f.add_argument("verdict", choices=["good", "bad"])
    f.add_argument("--domain", choices=["legal", "technical", "general"], help="where the question belonged")
    f.add_argument("--turn", type=int, help="the turn to rate (default: the last completed one)")
    f.add_argument("--user", help=USER_HELP)
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=manage.cmd_feedback)
    c = sub.add_parser("chat", help="a conversation in the terminal, with streaming; /route D, /feedback good|bad "
                                    "[D], /thread, /quit",
                       description="A conversation in the terminal: answers stream as they are written; line "
                                   "editing and history (arrow keys) are kept in the data folder's chat_history.",
                       epilog=ask.CHAT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("--thread")
    c.add_argument("--profile")
    c.add_argument("--user", help=USER_HELP)
    c.add_argument("--local", action="store_true", help="run in this process even when a server runs")
    c.add_argument("--no-cache", dest="cache", action="store_false", default=None,
                   help="run the models even when the response cache has the answer")
    c.set_defaults(func=ask.cmd_chat)
    stats.add_commands(sub)  # stats, metrics
    cache.add_commands(sub)  # cache stats|clear
    steps.add_commands(sub)  # calibrate
    serve.add_commands(sub)  # serve, ps
    return p


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("concilio")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    quiet = getattr(args, "quiet", False)
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="concilio: %(message)s",
                        stream=sys.stderr)
    for noisy in ("httpx", "gguf", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        code = args.func(args)
        sys.stdout.flush()  # inside the try: a closed pipe shows here, not as a traceback at exit
        return code
    except ConcilioError as exc:
        print(f"error: {terminal_safe(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `concilio threads list --json | head`: the reader has gone, which is fine
        _quiet_stdout()
        return 0


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush into the closed pipe doesn't complain."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
