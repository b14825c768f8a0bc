"""Routing that learns from use: feedback (CLI and Python), explicit overrides and reviewer confirmations are
stored and change later routes; and the long-context rule in the graph. Fake models answer; the router is the
real one fitted on the shipped data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.backends.fake import FakeChatModel
from agents.errors import ConcilioError
from agents.models.profiles import ROLES, ModelSpec
from agents.roles.team import Team
from agents.routing import store as router_store
from agents.slot.slot import GpuSlot
from graphs.api import ask, feedback
from graphs.cli import main
from tests.conftest import fake_config_toml, fake_profile

QUESTION = "How much notice must my employer give before changing my shift schedule?"


def team() -> Team:
    return Team(fake_profile(), GpuSlot())


@pytest.mark.parametrize(
    "sources, fitted",
    [
        ([], 0),
        (["review"] * 9, 0),  # confirmations wait for a batch
        (["review"] * 10, 10),
        (["review"] * 12, 10),
        (["review", "feedback", "review"], 2),  # a person's correction is always fitted
        (["override"] + ["review"] * 11, 10),
        (["review"] * 11 + ["good"], 12),
    ],
)
def test_refit_point(sources, fitted):
    assert router_store.refit_point(sources) == fitted


def test_bad_feedback_with_a_domain_reroutes_the_same_and_similar_questions(tmp_path):
    db = tmp_path / "t.sqlite"
    first = ask(QUESTION, profile=team(), db=db)
    assert first["route"]["domain"] == "legal"
    done = feedback(first["thread_id"], "bad", domain="general", db=db)
    assert done == {"thread_id": first["thread_id"], "turn": 1, "verdict": "bad", "routed": "legal",
                    "domain": "general", "learned": "similar questions now go to general (was legal)"}
    again = ask(QUESTION, profile=team(), db=db)  # a new thread, the same words
    assert again["route"]["domain"] == "general" and again["route"]["by"] == "feedback"
    similar = ask("How much notice must my employer give me before changing my shift schedule?", profile=team(),
                  db=db)
    assert similar["route"]["domain"] == "general"
    assert ask("Can my landlord evict me without notice?", profile=team(), db=db)["route"]["domain"] == "legal"


def test_bad_feedback_alone_makes_the_question_avoid_its_route(tmp_path):
    db = tmp_path / "t.sqlite"
    first = ask(QUESTION, profile=team(), db=db)
    assert feedback(first["thread_id"], "bad", db=db)["learned"] == "similar questions now avoid legal"
    again = ask(QUESTION, profile=team(), db=db)
    assert again["route"]["domain"] != "legal" and again["route"]["by"] == "feedback"


def test_good_feedback_is_a_confirmation_and_is_kept_with_the_thread(tmp_path):
    from memory import store as memories

    db = tmp_path / "t.sqlite"
    first = ask("¿Puede mi casero echarme del piso sin previo aviso?", profile=team(), db=db)
    feedback(first["thread_id"], "good", db=db)
    (stored,) = router_store.read_corrections()
    assert (stored.domain, stored.source) == ("legal", "good")
    with memories.sqlite_store(db) as store:
        (kept,) = [item.value for item in store.search(memories.FEEDBACK)]
    assert kept["thread"] == first["thread_id"] and kept["verdict"] == "good" and kept["domain"] == "legal"


def test_feedback_errors_are_clear(tmp_path):
    db = tmp_path / "t.sqlite"
    with pytest.raises(ConcilioError, match="no thread"):
        feedback("nope", "good", db=db)
    first = ask(QUESTION, profile=team(), db=db)
    with pytest.raises(ConcilioError, match="'good' or 'bad'"):
        feedback(first["thread_id"], "meh", db=db)
    with pytest.raises(ConcilioError, match="domain is one of"):
        feedback(first["thread_id"], "bad", domain="medical", db=db)
    with pytest.raises(ConcilioError, match="no completed turn 7"):
        feedback(first["thread_id"], "bad", turn=7, db=db)
    assert router_store.read_corrections() == []


def test_feedback_from_the_command_line(tmp_path, capsys):
    replies = {r: "OK" if r == "reviewer" else f"The {r} answer." for r in ROLES}
    cfg = fake_config_toml(tmp_path / "fake.toml", replies)
    assert main(["ask", "¿Cómo invierto una lista en Python?", "--profile", cfg, "--json", "--thread", "t1"]) == 0
    assert json.loads(capsys.readouterr().out)["route"]["domain"] == "technical"
    assert main(["feedback", "t1", "bad", "--domain", "general"]) == 0
    assert "similar questions now go to general (was technical)" in capsys.readouterr().out
    assert main(["ask", "¿Cómo invierto una lista en Python?", "--profile", cfg, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["route"] | {"confidence": 0} == {
        "domain": "general", "by": "feedback", "node": "general", "confidence": 0}
    assert main(["feedback", "nope", "good"]) == 1
    assert "no thread" in capsys.readouterr().err


def test_an_override_is_learned_as_a_correction(tmp_path):
    db = tmp_path / "t.sqlite"
    forced = ask("What is the tallest mountain in the world?", profile=team(), db=db, force_domain="technical")
    assert forced["route"]["by"] == "override"
    assert [(c.domain, c.source) for c in router_store.read_corrections()] == [("technical", "override")]
    later = ask("What is the tallest mountain in the world?", profile=team(), db=db)
    assert later["route"]["domain"] == "technical" and later["route"]["by"] == "feedback"


def test_a_reviewer_that_passes_the_answer_confirms_the_route(tmp_path):
    FakeChatModel.enqueue("A lease needs written notice.", "OK", "Leases need written notice.")
    result = ask("What does a lease need?", profile=team(), db=tmp_path / "t.sqlite")
    review = [r for r in result["trace"] if r["node"] == "review"][0]
    assert "route confirmed to the router" in review["note"]
    assert [(c.text, c.domain, c.source) for c in router_store.read_corrections()] == [
        ("What does a lease need?", "legal", "review")]


def test_a_thread_that_outgrows_the_specialist_goes_to_the_long_context_model(tmp_path):
    small = {r: ModelSpec(name=f"fake-{r}", path=Path(f"/nonexistent/{r}.gguf"), backend="fake",
                          context_window=1024) for r in ("orchestrator", "legal", "technical")}
    small["reviewer"] = ModelSpec(name="fake-long", path=Path("/nonexistent/long.gguf"), backend="fake",
                                  context_window=16384)
    long_team = Team(fake_profile(small), GpuSlot())
    db = tmp_path / "t.sqlite"
    long_answer = " ".join(f"Point {i}: the landlord must respect clause {i} of the lease." for i in range(40))
    FakeChatModel.enqueue("Notice is required.", "OK", long_answer)
    first = ask("Can my landlord evict me without notice?", profile=long_team, db=db, thread_id="long")
    assert first["route"]["node"] == "legal"
    second = ask("And what about the deposit?", profile=long_team, db=db, thread_id="long")
    route, rows = second["route"], {r["node"]: r for r in second["trace"]}
    assert route["node"] == "long_context"  # whatever the domain, its model's window is too small now
    assert "long-context model answers" in rows["analyze"]["note"]
    assert rows["long_context"]["model"] == "fake-long"
    assert [r["node"] for r in second["trace"]] == ["analyze", "long_context", "review", "integrate"]
