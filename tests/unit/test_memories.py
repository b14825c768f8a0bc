"""Cross-thread memory: what the integrator proposes to remember (by table, es/en), how it reaches other
threads' prompts, a remembered language preference, and listing/deleting memories."""

from __future__ import annotations

import pytest

from agents.backends.fake import FakeChatModel
from agents.roles.orchestrator import known_facts, propose_memories
from agents.roles.team import Team
from agents.slot.slot import GpuSlot
from graphs.api import ask
from graphs.cli import main
from memory import store as memories
from memory.checkpoints import default_db_path
from tests.conftest import fake_profile


@pytest.mark.parametrize(
    "text, facts",
    [
        ("Me llamo Ana y vivo en Madrid. ¿Puedo romper mi contrato?", {"name": "Ana", "jurisdiction": "Madrid"}),
        ("Hi, my name is John Smith and I live in New York.", {"name": "John Smith", "jurisdiction": "New York"}),
        ("I use Python and Django at work; how do I profile a view?", {"stack": "Python and Django"}),
        ("Trabajo con Java, Spring y Kotlin.", {"stack": "Java, Spring y Kotlin"}),
        ("Respóndeme siempre en inglés, por favor.", {"language": "en"}),
        ("Please answer in Spanish from now on.", {"language": "es"}),
        ("What is a lease?", {}),
        ("me llamo ana", {}),  # names must be capitalised: 'me llamo la atención' isn't a name
        ("I use a lot of salt when I cook.", {}),
    ],
)
def test_propose_memories(text, facts):
    assert propose_memories(text) == facts


def test_known_facts_line():
    assert known_facts({}, "en") == ""
    assert known_facts({"name": "Ana", "jurisdiction": "Madrid"}, "es") == (
        "Datos conocidos del usuario: jurisdiction: Madrid; name: Ana")


def team() -> Team:
    return Team(fake_profile(), GpuSlot())


def test_a_fact_from_one_thread_reaches_another_and_can_be_forgotten(tmp_path):
    db = tmp_path / "t.sqlite"
    FakeChatModel.enqueue("Hola Ana.", "OK", "Hola Ana, ¿en qué te ayudo con el contrato?")
    first = ask("Me llamo Ana y vivo en Madrid. ¿Puedo romper mi contrato?", profile=team(), db=db, thread_id="a")
    assert "remembered name=Ana, jurisdiction=Madrid" in first["trace"][-1]["note"]
    FakeChatModel.calls.clear()
    FakeChatModel.enqueue("Depende del contrato.", "OK", "Depende del contrato de alquiler.")
    ask("¿Qué plazo de preaviso tiene un contrato de alquiler?", profile=team(), db=db, thread_id="b")
    specialist_system = FakeChatModel.calls[0][1][0]["content"]
    assert "Datos conocidos del usuario: jurisdiction: Madrid; name: Ana" in specialist_system
    with memories.sqlite_store(db) as store:
        listed = memories.list_memories(store)
        assert [(m.key, m.value, m.source) for m in listed] == [
            ("jurisdiction", "Madrid", "thread a, turn 1"), ("name", "Ana", "thread a, turn 1")]
        memories.forget(store, "name")
        assert memories.recall(store) == {"jurisdiction": "Madrid"}
        with pytest.raises(memories.UnknownMemoryError, match="no memory 'name'"):
            memories.forget(store, "name")


def test_a_remembered_language_preference_sets_the_answer_language(tmp_path):
    db = tmp_path / "t.sqlite"
    FakeChatModel.enqueue("Of course.", "OK", "Of course, I will answer in English.")
    ask("Please answer in English from now on. What is a lease?", profile=team(), db=db, thread_id="a")
    FakeChatModel.enqueue("A lease lets a tenant use a home.", "OK", "A lease lets a tenant use a home for rent.")
    result = ask("¿Qué es un contrato de arrendamiento?", profile=team(), db=db, thread_id="b")
    assert result["language"] == "en"
    assert "answer language en (user preference)" in result["trace"][0]["note"]


def test_cli_lists_and_deletes_memories(capsys):
    FakeChatModel.enqueue("Hi John.", "OK", "Hi John, here is how to profile.")
    ask("My name is John and I use Python. How do I profile code?", profile=team(), db=default_db_path())
    assert main(["memories", "list"]) == 0
    out = capsys.readouterr().out
    assert "name" in out and "John" in out and "stack" in out and "Python" in out
    assert main(["memories", "delete", "stack"]) == 0
    assert main(["memories", "list", "--json"]) == 0
    import json

    capsys.readouterr()
    main(["memories", "list", "--json"])
    assert [m["key"] for m in json.loads(capsys.readouterr().out)] == ["name"]
    assert main(["memories", "delete", "nope"]) == 1
    assert "no memory 'nope'" in capsys.readouterr().err
