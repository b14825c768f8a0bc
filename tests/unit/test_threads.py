"""Threads: list, show turn by turn, fork at a turn, delete; unknown ids get a clear error."""

from __future__ import annotations

import pytest

from agents.backends.fake import FakeChatModel
from agents.errors import ConcilioError
from agents.roles.team import Team
from agents.slot.slot import GpuSlot
from graphs.api import ask
from graphs.cli import main
from graphs.cooperation import build_graph
from memory import threads
from memory.checkpoints import checkpointer, default_db_path
from tests.conftest import fake_profile


def two_turns(db, thread="t") -> Team:
    team = Team(fake_profile(), GpuSlot())
    FakeChatModel.enqueue("Un arrendamiento cede el uso de una vivienda.", "OK", "Es un contrato de alquiler.")
    ask("¿Qué es un contrato de arrendamiento?", profile=team, db=db, thread_id=thread)
    FakeChatModel.enqueue("Hace falta un preaviso.", "OK", "El casero debe avisar antes.")
    ask("¿Y el casero puede echarme?", profile=team, db=db, thread_id=thread)
    return team


def _db(tmp_path, storage):
    """A SQLite file, or None: the PostgreSQL database CONCILIO_DATABASE_URL names (the `storage` fixture)."""
    return tmp_path / "t.sqlite" if storage == "sqlite" else None


def test_show_lists_every_turn_with_route_language_and_models(tmp_path, storage):
    db = _db(tmp_path, storage)
    two_turns(db)
    with checkpointer(db) as saver:
        turns = threads.show(build_graph(checkpointer=saver), "t")
    assert [(t.turn, t.question, t.answer) for t in turns] == [
        (1, "¿Qué es un contrato de arrendamiento?", "Es un contrato de alquiler."),
        (2, "¿Y el casero puede echarme?", "El casero debe avisar antes.")]
    assert turns[0].route["domain"] == "legal" and turns[0].language == "es"
    assert turns[0].models == ["fake-legal", "fake-orchestrator", "fake-reviewer"]


def test_list_fork_and_delete(tmp_path, storage):
    db = _db(tmp_path, storage)
    team = two_turns(db, "a")
    FakeChatModel.enqueue("Python reverses with [::-1].", "OK", "Use slicing: items[::-1].")
    ask("How do I reverse a list in Python?", profile=team, db=db, thread_id="b")
    with checkpointer(db) as saver:
        graph = build_graph(checkpointer=saver)
        listed = {t.thread_id: t for t in threads.list_threads(graph, saver)}
        assert list(listed) == ["b", "a"]  # most recent first
        assert listed["a"].turns == 2 and listed["b"].last_question == "How do I reverse a list in Python?"
        assert threads.fork(graph, "a", "a1", turn=1) == 1
        assert [t.question for t in threads.show(graph, "a1")] == ["¿Qué es un contrato de arrendamiento?"]
        assert len(threads.show(graph, "a")) == 2  # the original is untouched
        with pytest.raises(ConcilioError, match="already exists"):
            threads.fork(graph, "a", "a1")
        with pytest.raises(ConcilioError, match="has 2 completed turn"):
            threads.fork(graph, "a", "a9", turn=5)
        threads.delete(saver, graph, "b")
        assert [t.thread_id for t in threads.list_threads(graph, saver)] == ["a1", "a"]
        for call in (lambda: threads.show(graph, "b"), lambda: threads.delete(saver, graph, "zzz")):
            with pytest.raises(threads.UnknownThreadError, match="no thread .* `concilio threads list`"):
                call()
    FakeChatModel.enqueue("Hace falta un preaviso.", "OK", "Sí, con preaviso.")
    continued = ask("¿Y el casero puede echarme?", profile=team, db=db, thread_id="a1")
    assert continued["turn"] == 2  # the fork continues from its own turn 1


def test_cli_threads_show_after_a_restart_and_unknown_ids(capsys):
    two_turns(default_db_path(), "hilo")
    assert main(["threads", "show", "hilo"]) == 0
    out = capsys.readouterr().out
    assert "turn 1 · legal · es" in out and "Q: ¿Y el casero puede echarme?" in out
    assert "A: El casero debe avisar antes." in out
    assert main(["threads", "list"]) == 0 and "hilo" in capsys.readouterr().out
    assert main(["threads", "show", "nope"]) == 1
    assert "no thread 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["threads", "show", "--json", "nothere"], ["threads", "show", "nothere", "--json"]])
def test_options_go_before_or_after_the_thread_id(argv, capsys):
    assert main(argv) == 1
    assert "no thread 'nothere'" in capsys.readouterr().err  # parsed, not refused as an unrecognized argument
