"""User input, checked in one place (agents/user_text.py) for the CLI, the API and the graph: undecodable
bytes, control and invisible characters, thread ids, questions too long for the models, and what is printed
to a terminal (graphs/cli/text.py terminal_safe)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from agents.backends.fake import FakeChatModel
from agents.errors import ContextWindowError, EmptyQuestionError, QuestionExceedsWindowError, ThreadIdError
from agents.models.profiles import ROLES
from agents.roles.team import Team
from agents.slot.slot import GpuSlot
from agents.user_text import clean_question, repair, room_for_question, thread_id_problem, validate_thread_id
from graphs.api import ask, feedback
from graphs.cli import main
from graphs.cli.text import terminal_safe
from graphs.cooperation import build_graph
from memory import threads
from memory.checkpoints import default_db_path, sqlite_checkpointer
from tests.conftest import REPO, fake_config_toml, fake_profile


@pytest.mark.parametrize("raw, expected", [
    ("caf\udce9 lease?", "caf\ufffd lease?"),  # a Latin-1 byte from argv
    ("\ud83d\ude00 ok", "\U0001f600 ok"),  # a valid surrogate pair is its character
    ("a\ud800b\udfffc", "a\ufffdb\ufffdc"),
    ("  ¿Qué es\r\nun contrato?\x00\x07 ", "¿Qué es\nun contrato?"),
    ("tab\tand\nnewline stay", "tab\tand\nnewline stay"),
    ("red \x1b[31mtext\x9b", "red [31mtext"),  # ESC and C1 controls go
    ("\u200bhola\u200b", "\u200bhola\u200b"),  # visible text: kept as typed
])
def test_clean_question(raw, expected):
    assert clean_question(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "\u200b\u200c\u200d\u2060\ufeff", "\u200b \u3164 \u2800", "\x00\x1b",
                                 None, 42, "\n\t\u00a0\u2003"])
def test_nothing_visible_is_an_empty_question(raw):
    with pytest.raises(EmptyQuestionError):
        clean_question(raw)


@pytest.mark.parametrize("thread_id, problem", [
    ("lease-2026", None), ("hilo_ñ", None), ("a b", None),
    ("", "empty"), ("  ", "empty"), (None, "empty"),
    ("caf\udce9", "not UTF-8"), ("a\x1b[2J", "control"), ("a\nb", "control"), ("a\u200bb", "invisible"),
    ("x" * 201, "201 characters"),
])
def test_thread_id_problem(thread_id, problem):
    found = thread_id_problem(thread_id)
    assert (found is None) if problem is None else (problem in found)


def test_a_thread_id_error_prints_without_failing():
    with pytest.raises(ThreadIdError) as err:
        validate_thread_id("caf\udce9\x1b")
    str(err.value).encode("utf-8")  # no lone surrogate in the message
    assert "\\udce9" in str(err.value) and "--thread" in str(err.value)


@pytest.mark.parametrize("text, expected", [
    ("plain ¿texto? ✓", "plain ¿texto? ✓"),
    ("a\x1b[31mred\x1b[0m", "a\ufffdred\ufffd"),
    ("x\x1b]0;title\x07y", "x\ufffdy"),
    ("x\x1b]8;;http://e\x1b\\link\x1b]8;;\x1b\\", "x\ufffdlink\ufffd"),
    ("lone \x1b and \x9b2J", "lone \ufffd and \ufffd"),
    ("back\bspace\rcr", "back\ufffdspace\ufffdcr"),
    ("bidi \u202eevil\u202c", "bidi \ufffdevil\ufffd"),
    ("caf\udce9", "caf\ufffd"),
    ("keeps\ttabs\nand lines", "keeps\ttabs\nand lines"),
])
def test_terminal_safe(text, expected):
    assert terminal_safe(text) == expected


@pytest.mark.parametrize("window, room", [(4096, 3200), (896, 0), (100, 0), (32768, 31872)])
def test_room_for_question(window, room):
    assert room_for_question(window) == room


def test_repair_is_identity_on_valid_text():
    assert repair("¿Qué? 😀") == "¿Qué? 😀"


def stored(db, thread):
    with sqlite_checkpointer(db) as saver:
        return build_graph(checkpointer=saver).get_state({"configurable": {"thread_id": thread}}).values


def test_a_question_too_long_for_the_window_is_refused_before_anything_is_stored(tmp_path):
    db = tmp_path / "c.sqlite"
    team = Team(fake_profile(), GpuSlot())
    with pytest.raises(QuestionExceedsWindowError, match=r"about 9,091 tokens; the orchestrator model "
                                                         r"fake-orchestrator has a 4,096-token context window"):
        ask("x" * 20_000, profile=team, db=db, thread_id="long")
    assert stored(db, "long") == {} and FakeChatModel.calls == []


def test_a_backend_error_text_is_never_stored_as_the_answer(tmp_path):
    db = tmp_path / "c.sqlite"
    team = Team(fake_profile(), GpuSlot())
    FakeChatModel.enqueue("ERROR: The prompt size exceeds the context window size and cannot be processed.")
    with pytest.raises(ContextWindowError):
        ask("What is a lease?", profile=team, db=db, thread_id="t", force_domain="legal")
    assert "answer" not in [type(m).__name__ for m in stored(db, "t").get("messages", [])]
    assert not stored(db, "t").get("answer")


def test_a_question_with_lone_surrogates_is_answered_and_stored_with_u_fffd(tmp_path):
    db = tmp_path / "c.sqlite"
    team = Team(fake_profile(), GpuSlot())
    out = ask("caf\udce9 lease?", profile=team, db=db, thread_id="s")
    assert out["answer"]
    with sqlite_checkpointer(db) as saver:
        (turn,) = threads.show(build_graph(checkpointer=saver), "s")
    assert turn.question == "caf\ufffd lease?"


@pytest.mark.parametrize("argv", [
    ["ask", "hola", "--thread", "caf\udce9"], ["ask", "hola", "--thread", "a\x1b[2J"],
    ["threads", "show", "caf\udce9"], ["threads", "delete", "a\x07"], ["threads", "fork", "x", "--to", "a\nb"],
    ["feedback", "caf\udce9", "good"],
])
def test_bad_thread_ids_in_the_cli_are_a_clear_error(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert any(line.startswith("error: thread id") for line in err.splitlines()) and "Traceback" not in err
    err.encode("utf-8")


def test_the_api_refuses_bad_thread_ids_before_storing(tmp_path):
    for call in (lambda: ask("hola", thread_id="a\x00b", profile=Team(fake_profile(), GpuSlot()), db=tmp_path / "x"),
                 lambda: feedback("a\x1b", "good", db=tmp_path / "x")):
        with pytest.raises(ThreadIdError):
            call()
    assert FakeChatModel.calls == []


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "graphs.cli", *args], capture_output=True, cwd=REPO,
                          env=dict(os.environ), timeout=120)


def test_non_utf8_argv_and_escapes_never_reach_the_terminal_raw(tmp_path):
    """Real bytes on the command line: the question is stored with U+FFFD, and escape sequences in what is
    stored (an answer here) are not printed raw by ask, threads show or threads list."""
    replies = {r: "OK" if r == "reviewer" else "Clear\\u001b[2J screen \\u001b]0;pwned\\u0007 done" for r in ROLES}
    toml = fake_config_toml(tmp_path / "esc.toml", replies)
    out = run_cli("ask", b"caf\xe9 lease? \xe2\x80\xae", "--thread", "t1", "--profile", toml)
    assert out.returncode == 0, out.stderr.decode()
    assert b"\x1b" not in out.stdout + out.stderr and b"Traceback" not in out.stderr
    assert b"failed as orchestrator" not in out.stderr
    with sqlite_checkpointer(default_db_path()) as saver:
        (turn,) = threads.show(build_graph(checkpointer=saver), "t1")
    assert turn.question == "caf\ufffd lease? \u202e" and "\x1b[2J" in turn.answer
    for args in (["threads", "show", "t1"], ["threads", "list"], ["ask", "again?", "--thread", "t1", "--quiet",
                                                                  "--profile", toml]):
        shown = run_cli(*args)
        assert shown.returncode == 0, shown.stderr.decode()
        assert b"\x1b" not in shown.stdout and "\u202e".encode() not in shown.stdout, shown.stdout
    assert "caf\ufffd lease?" in run_cli("threads", "show", "t1").stdout.decode()
