"""The router on a new user's path: its fit is announced (the first one takes a while), a refit replaces the
previous file instead of piling up ~5 MB per correction, and `concilio feedback` leaves the refit to a
background process, whose result the next question uses."""

from __future__ import annotations

import os
import subprocess
import sys

from agents import progress
from agents.routing import classifier
from agents.routing import store as router_store
from graphs.api import ask, feedback
from graphs.cli import main
from tests.conftest import REPO, fake_config_toml
from tests.unit.test_learning import QUESTION, team


def test_a_refit_replaces_the_previous_router_file():
    for text, domain in [("What is a tort?", "legal"), ("Is a verbal lease valid?", "legal"),
                         ("How do I reverse a list?", "technical")]:
        router_store.learn(text, domain, "good")
        router_store.current()
    files = sorted(p.name for p in router_store.routing_dir().glob("router-*.pkl*"))
    assert len(files) == 2 and files[0].endswith(".pkl") and files[1] == files[0] + ".lock"  # one router, its lock


def test_a_refit_is_announced_as_progress():
    router_store.learn("What is a tort?", "legal", "good")
    events = []
    with progress.reporting(events.append):
        router_store.current()
    assert events == [{"event": "router", "message": "refitting the router with 1 correction(s)…"}]


def test_building_the_router_reports_each_step():
    rows = [e for e in router_store.training_examples() if e.source == "data"]
    examples = [e for d in classifier.DOMAINS for e in [r for r in rows if r.domain == d][:12]]  # 12 a domain
    steps = []
    classifier.build(examples, on_step=lambda i, n: steps.append((i, n)))
    assert steps == [(1, 6), (2, 6), (3, 6), (4, 6), (5, 6), (6, 6)]


def test_cli_feedback_leaves_the_refit_to_a_background_process(tmp_path, monkeypatch, capsys):
    first = ask(QUESTION, profile=team())
    started = []
    monkeypatch.setattr(router_store, "refit_in_background", lambda: started.append(True))
    monkeypatch.setattr(router_store, "current", lambda: (_ for _ in ()).throw(AssertionError("refit in line")))
    assert main(["feedback", first["thread_id"], "bad", "--domain", "general"]) == 0
    assert started == [True] and "similar questions now go to general" in capsys.readouterr().out


def test_the_background_refit_writes_the_router_the_next_question_uses(tmp_path):
    router_store.learn(QUESTION, "general", "feedback")
    done = subprocess.run([sys.executable, "-m", "agents.routing.store", "refit"], cwd=REPO, env=dict(os.environ),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (fitted,) = router_store.routing_dir().glob("router-*.pkl")
    events = []
    with progress.reporting(events.append):
        router = router_store.current()
    assert events == []  # read from the file the background process wrote, not refitted here
    assert router.decide(QUESTION).domain == "general" and fitted.exists()


def test_python_feedback_still_refits_before_it_returns(tmp_path):
    cfg = fake_config_toml(tmp_path / "f.toml", {"orchestrator": "A.", "legal": "L.", "technical": "T.",
                                                 "reviewer": "OK"})
    first = ask(QUESTION, profile=cfg)
    feedback(first["thread_id"], "bad", domain="general")
    assert len(list(router_store.routing_dir().glob("router-*.pkl"))) == 1
