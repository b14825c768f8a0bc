"""What a new user of `llm` or `ollama` expects from the command line: --version, the question from stdin,
bare `threads` / `memories`, slash commands in --help, no traceback on a closed pipe, plain words for the
review, the answer streamed from whichever node writes it, and chat history kept in the data folder."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from agents.backends.base import LoopGuard
from agents.models.profiles import ROLES
from agents.roles.reviewer import in_words
from graphs.cli import main
from graphs.cli.ask import question_from
from graphs.cli.text import LiveProgress, replaced_note
from tests.conftest import REPO, fake_config_toml


def fake(tmp_path, reviewer="OK") -> str:
    replies = {r: reviewer if r == "reviewer" else f"The {r} answers: a list reverses with reversed()." for r in ROLES}
    return fake_config_toml(tmp_path / "fake.toml", replies)


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("concilio ")


class Stdin(io.StringIO):
    def __init__(self, text: str, tty: bool = False) -> None:
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("arg, stdin, expected", [
    ("What is a lease?", Stdin("ignored"), "What is a lease?"),
    ("-", Stdin("¿Qué es un contrato?\n"), "¿Qué es un contrato?\n"),
    (None, Stdin("How do I reverse a list?\n"), "How do I reverse a list?\n"),
])
def test_the_question_comes_from_the_argument_or_stdin(arg, stdin, expected):
    assert question_from(arg, stdin) == expected


def test_no_question_on_a_terminal_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", Stdin("", tty=True))
    assert main(["ask"]) == 2
    assert "The question is empty" in capsys.readouterr().err


def test_ask_reads_the_question_from_stdin(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", Stdin("How do I reverse a list in Python?\n"))
    assert main(["ask", "-", "--profile", fake(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["route"]["domain"] == "technical" and "reversed()" in out["answer"]


@pytest.mark.parametrize("command, expected", [
    (["threads"], "no threads yet"),
    (["memories"], "no memories yet"),
])
def test_bare_threads_and_memories_list(command, expected, capsys):
    assert main(command) == 0
    assert expected in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["chat", "--help"], ["--help"]])
def test_help_lists_the_chat_slash_commands(argv, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    out = capsys.readouterr().out
    assert all(c in out for c in ("/route", "/feedback", "/thread", "/quit"))


def test_a_closed_pipe_is_not_a_traceback(tmp_path):
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-m", "graphs.cli", "threads", "list", "--json"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # `| head` that has already gone
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and b"Traceback" not in err and b"BrokenPipe" not in err, err


@pytest.mark.parametrize("verdict, by, issues, words", [
    ("ok", "model", [], "the reviewer found nothing to fix"),
    ("ok", "model-unclear", [], "the reviewer's reply was unclear, so the draft stands as written"),
    ("ok", "checks", [], "the draft passed the checks"),
    ("revise", "checks", ["draft is in Spanish"], "the draft failed a check: draft is in Spanish"),
    ("revise", "model", ["too short"], "the reviewer asked for changes: too short"),
])
def test_the_verdict_in_plain_words(verdict, by, issues, words):
    assert in_words(verdict, by, issues) == words


@pytest.mark.parametrize("streamed, answer, note, expected", [
    ("Use reversed().", "Use reversed().", "", None),
    ("", "Use reversed().", "", None),
    ("Use x. Use x. Use x.", "Use x.", "", "the model began repeating itself"),
    ("Usa reversed().", "Use reversed().", "rewrite came out in es; kept the draft",
     "the orchestrator's rewrite was not used (rewrite came out in es; kept the draft)"),
    ("Known about the user: name: Ana\nHi.", "Hi.", "took out the remembered facts the model copied from its prompt",
     "the model copied what concilio remembers about you into its answer"),
])
def test_why_the_answer_differs_from_what_was_streamed(streamed, answer, note, expected):
    got = replaced_note(streamed, answer, note)
    assert got == expected if expected is None else got.startswith(expected)


@pytest.mark.parametrize("text, cut, expected", [
    ("Steps:\n1. open\n2. read\nagain again", 3, "Steps:\n1. open"),
    ("```python\nx = [1, 2]\nx.reverse()\nx.reverse()", 6, "```python\nx = [1, 2]\nx.reverse()\n```"),
    ("```\ncode\n```\nthen text text", 3, "```\ncode\n```"),
])
def test_a_trimmed_loop_keeps_line_breaks_and_code_blocks(text, cut, expected):
    guard = LoopGuard()
    guard._cut = cut  # where feed() decided the repetition starts
    assert guard.trimmed(text) == expected


def test_a_trimmed_code_loop_from_feed_keeps_its_lines():
    code = "Here:\n```python\n" + "print('hi')\nx = 1\n" * 8
    guard = LoopGuard(n=3, times=2)
    assert guard.feed(code)
    kept = guard.trimmed(code)
    assert kept.startswith("Here:\n```python\nprint('hi')\nx = 1\n") and kept.endswith("\n```")


def test_the_specialists_answer_streams_when_integration_is_skipped(tmp_path, monkeypatch, capsys):
    from graphs.api import ask

    live = LiveProgress()
    result = ask("What is the tallest mountain?", profile=fake(tmp_path), on_event=live)
    live.finish(result["answer"], result["trace"])
    out = capsys.readouterr().out
    assert any(r["node"] == "integrate" and r.get("skipped") for r in result["trace"])
    assert out == result["answer"] + "\n" and result["answer"].startswith("The orchestrator answers")


def test_a_replaced_draft_is_marked(capsys):
    live = LiveProgress()
    for e in [{"event": "generating", "node": "legal", "model": "m"},
              {"event": "token", "node": "legal", "text": "Draft."},
              {"event": "token", "node": "review", "text": "OK"},
              {"event": "generating", "node": "integrate", "model": "m"},
              {"event": "token", "node": "integrate", "text": "Final."}]:
        live(e)
    live.finish("Final.")
    assert capsys.readouterr().out == "Draft.\n\n[the orchestrator rewrites the draft above:]\nFinal.\n"


def test_chat_keeps_its_history_in_the_data_folder(tmp_path):
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-m", "graphs.cli", "chat", "--profile", fake(tmp_path)],
                         input="How do I reverse a list?\n/quit\n", capture_output=True, text=True, cwd=REPO,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    from agents import paths

    lines = (paths.data_dir() / "chat_history").read_text("utf-8").splitlines()
    assert lines[-2:] == ["How do I reverse a list?", "/quit"]


def test_every_package_is_in_the_installed_list():
    """A non-editable `pip install .` ships only the listed packages: `concilio` needs graphs.cli among them."""
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["packages"])
    found = {str(p.parent.relative_to(REPO)).replace("/", ".") for top in ("graphs", "agents", "memory", "evals")
             for p in (REPO / top).rglob("__init__.py")}
    assert found <= listed, f"add to pyproject's packages: {sorted(found - listed)}"


def test_the_cli_starts_without_its_heavy_imports():
    """What stands between Enter and the first progress line: none of the slow libraries are imported yet."""
    heavy = ["sqlalchemy", "langgraph", "langchain_core", "sklearn", "gguf", "numpy", "gpt4all"]
    code = "import sys, graphs.cli; print(sorted(m for m in %r if m in sys.modules))" % heavy
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=dict(os.environ), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_ctrl_c_between_tokens_stops_a_model_called_through_ctypes():
    """gpt4all calls the token callback from C through ctypes, which swallows exceptions: Ctrl-C (a
    KeyboardInterrupt raised between tokens) must still stop the generation and reach the caller."""
    import ctypes

    from agents.backends.base import GenParams, timed_completion

    seen = []
    CALLBACK = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_char_p)

    def generate(callback) -> int:
        c_callback = CALLBACK(lambda piece: callback(piece.decode()))
        for piece in (b"one ", b"two ", b"three ", b"four "):
            if not c_callback(piece):
                break
        return 3

    def on_token(piece):
        seen.append(piece)
        if len(seen) == 2:
            raise KeyboardInterrupt  # the signal, delivered while this token is handled

    with pytest.raises(KeyboardInterrupt):
        timed_completion(generate, GenParams(), on_token)
    assert seen == ["one ", "two "]  # stopped at once, not after the whole answer


def test_ctrl_c_landing_in_a_c_librarys_wrapper_still_stops_the_answer():
    """The real signal, arriving while gpt4all's own Python wrapper around the callback runs (where ctypes
    would swallow a KeyboardInterrupt): the model stops at the next token and the caller gets the interrupt."""
    import ctypes
    import signal

    from agents.backends.base import GenParams, timed_completion

    seen = []
    CALLBACK = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_char_p)

    def generate(callback) -> int:
        def wrapper(piece: bytes) -> bool:  # like gpt4all's _raw_callback: decodes, then calls ours
            if piece == b"two ":
                signal.raise_signal(signal.SIGINT)
            return callback(piece.decode())

        c_callback = CALLBACK(wrapper)
        for piece in (b"one ", b"two ", b"three ", b"four ", b"five "):
            if not c_callback(piece):
                break
        return 3

    with pytest.raises(KeyboardInterrupt):
        timed_completion(generate, GenParams(), seen.append)
    assert seen == ["one ", "two "]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C handling as it was
