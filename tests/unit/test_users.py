"""Users: one deployment, several people. A user id (the API's `user`, the CLI's `--user`, an OpenAI request's
`user`) keys that person's threads, memories and feedback; two users never see each other's, on SQLite and on
PostgreSQL; no user id is today's single local user."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from agents.backends.fake import FakeChatModel
from agents.errors import ThreadIdError
from agents.roles.team import Team
from agents.slot.slot import GpuSlot
from agents.user_text import validate_user_id
from graphs.api import ask, feedback
from graphs.cli import main
from graphs.cooperation import build_graph
from memory import ledger, threads
from memory import store as memories
from memory.checkpoints import checkpointer
from tests.conftest import fake_profile

ANA, BOB = "ana@example.org", "bob"


@pytest.mark.parametrize("thread, user, key", [
    ("t", None, "t"), ("t", "bob", "bob\x1ft"), ("a/b", "ana@example.org", "ana@example.org\x1fa/b"),
])
def test_thread_keys_round_trip(thread, user, key):
    assert threads.thread_key(thread, user) == key
    assert threads.owner(key) == (user, thread)


@pytest.mark.parametrize("user, ok", [(None, True), ("ana@example.org", True), ("Ana María", True),
                                      ("", False), ("a\x1fb", False), ("x" * 129, False)])
def test_user_ids_are_checked(user, ok):
    if ok:
        assert validate_user_id(user) == user
    else:
        with pytest.raises(ThreadIdError, match="user id"):
            validate_user_id(user)


@pytest.mark.parametrize("user, namespace", [(None, ("user", "facts")), ("bob", ("users", "bob", "facts")),
                                              ("a.b%c", ("users", "a%2Eb%25c", "facts"))])
def test_memory_namespaces(user, namespace):
    assert memories.facts_namespace(user) == namespace


def _turn(team, question: str, user: str | None, thread: str = "t") -> dict:
    FakeChatModel.enqueue("Un borrador. A draft.", "OK", "La respuesta. The answer.")
    return ask(question, profile=team, thread_id=thread, user=user)


def test_two_users_never_see_each_others_memories_or_threads(storage, capsys):
    team = Team(fake_profile(), GpuSlot())
    _turn(team, "Me llamo Ana y vivo en Madrid. ¿Puedo romper mi contrato?", ANA)
    _turn(team, "My name is Bob and I live in Leeds. Can I break my lease?", BOB)
    _turn(team, "What is a lease?", None)  # the local user, same thread id
    _turn(team, "I use Python and Django at work; how do I profile a view?", BOB, thread="code")
    with checkpointer() as saver, memories.open_store() as store:
        graph = build_graph(checkpointer=saver)
        assert [t.question for t in threads.show(graph, "t", ANA)] == [
            "Me llamo Ana y vivo en Madrid. ¿Puedo romper mi contrato?"]
        assert [t.question for t in threads.show(graph, "t", BOB)] == [
            "My name is Bob and I live in Leeds. Can I break my lease?"]
        assert [t.question for t in threads.show(graph, "t")] == ["What is a lease?"]
        assert [t.thread_id for t in threads.list_threads(graph, saver, ANA)] == ["t"]
        assert [t.thread_id for t in threads.list_threads(graph, saver, BOB)] == ["code", "t"]
        assert [t.thread_id for t in threads.list_threads(graph, saver)] == ["t"]
        with pytest.raises(threads.UnknownThreadError):
            threads.show(graph, "code", ANA)
        assert memories.recall(store, ANA) == {"name": "Ana", "jurisdiction": "Madrid"}
        assert memories.recall(store, BOB) == {"name": "Bob", "jurisdiction": "Leeds", "stack": "Python and Django"}
        assert memories.recall(store) == {}
    feedback("t", "good", user=BOB)
    with memories.open_store() as store:
        assert [i.key for i in store.search(memories.feedback_namespace(BOB))] == ["t:1"]
        assert store.search(memories.feedback_namespace(ANA)) == []
    capsys.readouterr()
    assert main(["memories", "--user", ANA, "--json"]) == 0
    assert {m["key"] for m in json.loads(capsys.readouterr().out)} == {"name", "jurisdiction"}
    assert main(["threads", "list", "--user", BOB, "--json"]) == 0
    assert [t["thread_id"] for t in json.loads(capsys.readouterr().out)] == ["code", "t"]
    assert main(["memories", "delete", "stack", "--user", ANA]) == 1  # not Ana's: she can't delete Bob's
    assert main(["memories", "delete", "stack", "--user", BOB]) == 0


def test_the_ledger_says_whose_run_and_feedback_it_was_even_with_the_longest_thread_id(storage):
    """PostgreSQL enforces the column's length: a 200-character thread id (the most concilio accepts) once
    failed there and its run was quarantined instead of counted."""
    team, thread = Team(fake_profile(), GpuSlot()), "t" * 200
    _turn(team, "¿Qué necesita un contrato de arrendamiento?", ANA, thread=thread)
    _turn(team, "What does a lease need?", None, thread="local")
    feedback(thread, "good", user=ANA)
    book = ledger.default()
    assert book.flush()
    with book.connect() as conn:
        runs = conn.execute(sa.select(ledger.runs.c.thread_id, ledger.runs.c.user_id)).all()
        given = conn.execute(sa.select(ledger.feedback.c.thread_id, ledger.feedback.c.user_id)).all()
    assert sorted(runs, key=str) == sorted([(thread, ANA), ("local", None)], key=str)
    assert given == [(thread, ANA)]
    assert ledger.failures()["quarantined"] == 0
