"""The Python API the CLI uses: ask a question on a thread, with persistence.

    from graphs.api import ask
    result = ask("¿Qué es un contrato de arrendamiento?", thread_id="demo")
    print(result["answer"], result["route"], result["trace"])

Everything that can be checked before the run is checked before the database is touched: the question,
the profile, and every model file the profile names. So bad input writes nothing.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agents.backends import loads_local_file
from agents.errors import RequestIdReusedError
from agents.models.gguf_file import inspect
from agents.models.profiles import Profile
from agents.paths import data_dir
from agents.roles.orchestrator import clean_question
from agents.roles.team import Team, team_for, trace_row
from agents.settings import settings
from agents.user_text import check_question_fits, validate_request_id, validate_thread_id, validate_user_id
from graphs.cooperation import build_graph
from graphs.state import Context
from memory import ledger
from memory.checkpoints import checkpointer, on_database
from memory.store import open_store
from memory.threads import thread_key
from memory.turns import turn_checkpointer


def preflight(team: Team) -> None:
    """Refuse missing, truncated or non-GGUF model files before anything runs (names file and fix)."""
    for model in team.profile.models():
        if loads_local_file(model.backend):
            inspect(model.path, fix=model.fix)


def ask(question: str, *, thread_id: str | None = None, profile: str | Profile | Team | None = None,
        db: str | Path | None = None, force_domain: str | None = None,
        on_event: Callable[[dict], None] | None = None, learn: bool = True, local: bool = False,
        cache: bool | None = None, user: str | None = None, request_id: str | None = None) -> dict[str, Any]:
    """Run one turn through the cooperation graph and return answer, route, language, thread_id, trace.

    `request_id`: the client's id for this question (an Idempotency-Key), the same on every retry: a thread
    whose turn already answered it returns that answer (`replayed`), with no model run and no new turn.

    `user`: whose threads and memories these are (a shared deployment's user id); None is the one local user.
    `db`: a SQLite file or a postgresql:// URL (default: CONCILIO_DATABASE_URL, else the data folder's SQLite).

    When a resident server runs (`concilio serve`; found as agents/slot/remote.py says) the turn runs there, on its
    loaded models, and streams back the same events; `local=True` (or CONCILIO_SERVER=off) runs in this process.
    A profile other than the server's, a Team/Profile object, `db` or `learn=False` also run in process.

    `learn=False` keeps the router as it is (an override or a passed review teaches it nothing): evaluations.
    `cache=False` runs the models even when the response cache has the answer (default: CONCILIO_CACHE).

    `on_event` receives progress as it happens (see agents/progress.py): route, waiting, loading, loaded,
    generating, token, verdict, skipped; the same events a LangGraph client gets with stream_mode="custom".
    """
    text = clean_question(question)
    thread_id = validate_thread_id(thread_id) if thread_id is not None else None
    user = validate_user_id(user)
    request_id = validate_request_id(request_id)
    if not local and db is None and learn and not isinstance(profile, (Profile, Team)):
        from agents.slot import remote
        from graphs.server import client

        server = remote.find()
        if server is not None and client.serves(server, profile):
            return client.ask(server, text, thread_id=thread_id, force_domain=force_domain, on_event=on_event,
                              cache=cache, user=user, request_id=request_id)
    team = team_for(profile)
    if local and hasattr(team.slot, "local"):  # a RemoteSlot: this process's own slot instead
        team = Team(team.profile, team.slot.local())
    check_question_fits(team, text)
    preflight(team)
    return run_turn(text, team=team, thread_id=thread_id or uuid.uuid4().hex[:12], db=db,
                    force_domain=force_domain, on_event=on_event, learn=learn, cache=cache, user=user,
                    request_id=request_id)


def run_turn(text: str, *, team: Team, thread_id: str, db: str | Path | None = None,
             force_domain: str | None = None, on_event: Callable[[dict], None] | None = None, learn: bool = True,
             history: Sequence[tuple[str, str]] = (), cancel: threading.Event | None = None,
             saver=None, cache: bool | None = None, user: str | None = None,
             request_id: str | None = None) -> dict[str, Any]:
    """One turn in this process, on `team`: the in-process `ask` and the server both run turns here.

    `history`: (question, answer) pairs that a new thread starts from (an OpenAI client's earlier messages);
    ignored when the thread already has turns. `saver`: another checkpointer (the server's in-memory one for
    requests without a thread id). `cancel`: set it to stop the run at its next token. `user`: see `ask`.
    `cache`: use the response cache (memory/cache/, beside the threads database); None: as CONCILIO_CACHE says.
    `request_id`: see `ask`; checked under the thread's turn lock, so a retry racing the first attempt on another
    worker waits for it and then gets its answer.
    """
    config = {"configurable": {"thread_id": thread_key(thread_id, user)}}
    with contextlib.ExitStack() as stack:
        if saver is None:  # a stored thread: one turn at a time (memory/turns.py); another worker waits
            saver = stack.enter_context(turn_checkpointer(db, thread_key(thread_id, user)))
        store = stack.enter_context(open_store(db))
        answers = stack.enter_context(open_cache(db)) if (settings().cache if cache is None else cache) else None
        graph = build_graph(checkpointer=saver, store=store)
        pending = graph.get_state(config)
        if history and not pending.values.get("messages"):
            seed(graph, config, history)
            pending = graph.get_state(config)
        if request_id:
            done = replayed(pending.values.get("messages", []), request_id, text, thread_id, team)
            if done is not None:
                return done
        # The same question on a turn that stopped part-way (a crash, a model error): carry on from the
        # last checkpoint, keeping the nodes that completed. A different question starts a new turn.
        resumed = bool(pending.next) and pending.values.get("question") == text and not force_domain
        # durability="sync": each node's checkpoint is on disk before the next node starts, so a process
        # killed between nodes loses nothing (the default writes checkpoints in the background).
        payload = None if resumed else {"question": text, "force_domain": force_domain}
        out: dict[str, Any] = {}
        context = Context(profile=team, learn=learn, cancel=cancel, cache=answers, user=user, request_id=request_id)
        for mode, chunk in graph.stream(payload, config, context=context, durability="sync",
                                        stream_mode=["custom", "values"]):
            if mode == "values":
                out = chunk
            elif on_event is not None:
                on_event(chunk)
    return {
        "answer": out["answer"],
        "route": out["route"],
        "language": out["language"],
        "thread_id": thread_id,
        "turn": out["turn"],
        "profile": team.profile.name,
        "trace": out["trace"],
        "resumed": resumed,
        "cached": any(row.get("node") == "cache" for row in out["trace"]),
    }


def replayed(messages: list, request_id: str, question: str, thread_id: str, team: Team) -> dict[str, Any] | None:
    """The result of the turn that already answered `request_id` in this thread (None: none did); the same id
    for another question is refused (RequestIdReusedError), as an Idempotency-Key with another body is."""
    from memory.threads import answered_request

    turn = answered_request(messages, request_id)
    if turn is None:
        return None
    if turn.question != question:
        raise RequestIdReusedError(request_id, turn.turn)
    row = trace_row("request", turn=turn.turn, note=f"request {request_id} was answered by turn {turn.turn} of "
                                                    "this thread: its answer again, no model ran, no new turn")
    return {"answer": turn.answer, "route": turn.route, "language": turn.language, "thread_id": thread_id,
            "turn": turn.turn, "profile": team.profile.name, "trace": [row], "resumed": False, "cached": False,
            "replayed": True}


def open_cache(db: str | Path | None = None):
    """The response cache beside the threads database (a context manager giving None when it can't open): in
    the same PostgreSQL database when the threads are there (every worker shares it), else a SQLite file."""
    from memory import cache as responses
    from memory.cache import sql

    s = settings()
    options = {"near_threshold": s.cache_near, "embed": responses.embed if s.cache_near > 0 else None}

    def beside(where: str | Path):  # beside the threads' SQLite file; with a file: URI in the data folder
        folder = where.parent if isinstance(where, Path) else data_dir()
        return responses.opened(responses.cache_path(folder), s.cache_ttl, **options)

    return on_database(db, lambda url: sql.opened(url, s.cache_ttl, **options), beside)


def seed(graph, config: dict, history: Sequence[tuple[str, str]]) -> None:
    """Start a thread from turns that happened elsewhere (as if each had run here), so the next turn sees them."""
    from langchain_core.messages import AIMessage, HumanMessage

    from agents.roles.context import summarize_turn

    messages = []
    for n, (question, answer) in enumerate(history, start=1):
        messages += [HumanMessage(question, id=f"turn-{n}-question"),
                     AIMessage(answer, id=f"turn-{n}-answer", response_metadata={"turn": n, "seeded": True})]
    graph.update_state(config, {"messages": messages, "summaries": [summarize_turn(q, a) for q, a in history],
                                "turn": len(history)}, as_node="integrate")


def feedback(thread_id: str, verdict: str, *, domain: str | None = None, turn: int | None = None,
             db: str | Path | None = None, background: bool = False, user: str | None = None) -> dict[str, Any]:
    """Rate a completed turn (default: the last) and teach the router from it.

    good                the route was right: a confirmation
    bad, domain=D       the question belonged to D: similar questions go to D from now on
    bad                 the route was wrong, D unknown: similar questions avoid that route
    The rating is kept with the thread (memory.store FEEDBACK); the router is refitted before this returns,
    or with `background=True` (the CLI) in a separate process: a near-duplicate follows the correction at once
    either way, and a question asked before the refit is done waits for it.
    """
    from agents.errors import ConcilioError
    from agents.routing import store as router_store
    from agents.routing.classifier import DOMAINS
    from memory import store as memories
    from memory import threads

    validate_thread_id(thread_id)
    user = validate_user_id(user)
    if verdict not in ("good", "bad"):
        raise ConcilioError(f"feedback is 'good' or 'bad', not {verdict!r}")
    if domain is not None and domain not in DOMAINS:
        raise ConcilioError(f"domain is one of {', '.join(DOMAINS)}, not {domain!r}")
    with checkpointer(db) as saver, open_store(db) as store:
        completed = [t for t in threads.show(build_graph(checkpointer=saver), thread_id, user)
                     if t.answer is not None]
        chosen = [t for t in completed if turn is None or t.turn == turn][-1:]
        if not chosen:
            raise ConcilioError(f"thread {thread_id} has no completed turn {turn if turn else ''}".rstrip())
        target = chosen[0]
        routed = target.route.get("domain", "general")
        memories.record_feedback(store, thread_id, target.turn, verdict, domain or routed, user=user)
    ledger.record_safely(ledger.feedback_record, thread_id, target.turn, verdict, domain or routed, user)
    if verdict == "good":
        router_store.learn(target.question, domain or routed, "good", note=f"{thread_id}:{target.turn}")
        learned = f"route {domain or routed} confirmed"
    elif domain:
        router_store.learn(target.question, domain, "feedback", note=f"{thread_id}:{target.turn}")
        learned = f"similar questions now go to {domain} (was {routed})"
    else:
        router_store.learn(target.question, routed, "feedback", avoid=True, note=f"{thread_id}:{target.turn}")
        learned = f"similar questions now avoid {routed}"
    if background:
        router_store.refit_in_background()
    else:
        router_store.current()  # refit now, not on the next question
    return {"thread_id": thread_id, "turn": target.turn, "verdict": verdict, "routed": routed,
            "domain": domain or routed, "learned": learned}
