"""`python -m evals.routing --replay`: the routing policies replayed on the ledger's logged questions, in their
order and threads, with the domains a person gave (override, feedback) as the truth where there is one."""

from __future__ import annotations

import datetime as dt

from agents.routing import store as router_store
from evals import routing_context
from memory.ledger import Ledger, feedback_record, run_record

TURNS = [  # thread, turn, question, logged route
    ("t1", 1, "How do I reverse a linked list in Python?", {"domain": "technical", "by": "classifier"}),
    ("t1", 2, "make it faster", {"domain": "general", "by": "classifier"}),
    ("t2", 1, "¿Puede mi casero echarme del piso sin previo aviso?", {"domain": "legal", "by": "override"}),
    ("t2", 2, "¿y en España?", {"domain": "general", "by": "classifier"}),
]


def test_replay_compares_the_policies_on_logged_questions(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    ledger = Ledger(url)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    for i, (thread, turn, question, route) in enumerate(TURNS):
        ledger.record(run_record(thread_id=thread, turn=turn, question=question, language=None, route=route,
                                 trace=[], started_at=start + dt.timedelta(minutes=i), seconds=1.0))
    ledger.record(feedback_record("t1", 2, "bad", "technical"))  # the person said: still technical
    assert ledger.flush()
    rows = routing_context.ledger_rows(url)
    assert [r["text"] for r in rows] == [t[2] for t in TURNS]
    assert [r["truth"] for r in rows] == [None, "technical", "legal", None]
    report = routing_context.replay(router_store.base(), rows)
    assert report["n"] == 4 and report["labelled"] == 2 and report["threads"] == 2
    policies = report["policies"]
    assert policies["with_thread"]["accuracy_where_labelled"] == 1.0  # the follow-up kept its thread
    assert policies["alone"]["accuracy_where_labelled"] < 1.0  # alone, "make it faster" went elsewhere
    assert all("swaps_per_100" in p for name, p in policies.items() if name != "with_thread")


def test_an_empty_ledger_replays_to_nothing(tmp_path):
    missing = tmp_path / "none.sqlite"
    assert routing_context.ledger_rows(f"sqlite:///{missing}") == [] and not missing.exists()
    assert routing_context.replay(router_store.base(), []) == {"n": 0, "note": "the ledger has no runs with a question"}
