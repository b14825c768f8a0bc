"""The cooperation flow, as one LangGraph:

    START → analyze ─(route)→ legal | technical | general | long_context → review ─(revise, once)→ back
               │                                                                 └──────────→ integrate → END
               └─(the same question in the same context was answered before)→ cached → END

analyze     orchestrator: language, complexity, domain (a learned classifier; the model only when it is unsure);
            then the response cache (memory/cache/) is asked, before any model is loaded
cached      the stored answer, with where it came from: no model, no swap
legal       legal specialist answers            technical   technical specialist answers
general     the orchestrator answers itself
long_context  the long-context model answers, with the domain's prompt, when the thread outgrows the specialist
review      long-context reviewer: the draft against the whole thread; verdict ok | revise
integrate   orchestrator: the final answer in the user's language (skipped when it has nothing to add); a
            rewrite that dropped the draft's code, option or numbers gives way to the draft

Which of review, revision and integration run is the step policy's call (agents/roles/steps.py), made in
analyze from what `concilio calibrate` measured on this profile (memory/step_policy.py); with no evidence,
all of them. A skipped step's trace row names the evidence.

Every node that calls a model goes through the GPU slot (agents/slot/slot.py): the budget decides what stays
loaded, a model that is already resident costs no load, and as soon as the next step is known its model's
file is read into the page cache while the current model works. Nodes are thin: the work is in agents/.
"""

from __future__ import annotations

import datetime as dt
import functools
import time

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, RemoveMessage
from langgraph.config import get_config
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from agents import progress
from agents.backends import Message
from agents.roles import final, orchestrator, reviewer, specialist, steps, substance
from agents.roles.context import estimated_tokens, needs_long_context, summarize_turn
from agents.roles.team import join_notes, team_for, trace_row
from agents.routing import language
from agents.routing import store as router_store
from agents.user_text import check_question_fits
from graphs import routing
from graphs.state import Context, InputState, OutputState, State
from graphs.streaming import StreamingTeam
from memory import cache as responses
from memory import ledger, step_policy
from memory import store as memories
from memory.threads import owner


def _team(runtime: Runtime[Context] | None) -> StreamingTeam:
    """The run's team, its model calls streamed as chat-model runs (stream_mode="messages")."""
    team = team_for(runtime.context.profile if runtime is not None and runtime.context else None)
    return StreamingTeam(team, get_config())


def _history(state: State) -> list[Message]:
    """Completed turns before the current question, as backend messages."""
    messages: list[AnyMessage] = list(state.get("messages", []))
    if messages and isinstance(messages[-1], HumanMessage):
        messages = messages[:-1]  # the current question
    return [{"role": "user" if isinstance(m, HumanMessage) else "assistant", "content": str(m.content)}
            for m in messages]


def _reporting(node):
    """Run a node with agents' progress events going to LangGraph's custom stream; a node that fails is
    recorded in the ledger as a failed run (with the nodes that completed) before the error goes on."""

    @functools.wraps(node)
    def wrapper(state: State, runtime: Runtime[Context]) -> dict:
        cancel = runtime.context.cancel if runtime is not None and runtime.context else None
        with progress.reporting(runtime.stream_writer if runtime is not None else None), progress.cancelling(cancel):
            try:
                return node(state, runtime)
            except GraphBubbleUp:  # an interrupt, not a failure
                raise
            except Exception as exc:
                failed = trace_row(node.__name__, note="failed", error=f"{type(exc).__name__}: {exc}"[:500])
                _record_run(state, runtime, [*state.get("trace", []), failed], error=failed["error"])
                raise

    return wrapper


def _record_run(state: State, runtime: Runtime[Context] | None, trace: list, *, error: str | None = None) -> None:
    """Queue this run for the effectiveness ledger (memory/ledger.py); never blocks, never raises."""
    started = state.get("started_at") or time.time()
    ledger.record_safely(
        ledger.run_record, thread_id=_thread(), user=_user(runtime),
        turn=state.get("turn"), question=state.get("question", ""), language=state.get("language"),
        route=state.get("route"), trace=trace, profile=_team(runtime).profile.name if error is None else "",
        started_at=dt.datetime.fromtimestamp(started, dt.timezone.utc).replace(tzinfo=None),
        seconds=time.time() - started, verdict=(state.get("review") or {}).get("verdict"),
        revisions=state.get("revisions", 0), error=error,
        cache=(state.get("cache") or {}).get("outcome"))


def _learning(runtime: Runtime[Context] | None) -> bool:
    return runtime is None or runtime.context is None or runtime.context.learn


def _user(runtime: Runtime[Context] | None) -> str | None:
    return runtime.context.user if runtime is not None and runtime.context is not None else None


def _request(runtime: Runtime[Context] | None) -> dict:
    """The client's request id, kept in the answer's metadata so a retry is answered from the thread."""
    request_id = runtime.context.request_id if runtime is not None and runtime.context is not None else None
    return {"request_id": request_id} if request_id else {}


def _thread() -> str:
    """The thread id as its user knows it (a user's thread is stored under a key with the user id in it)."""
    return owner(str(get_config().get("configurable", {}).get("thread_id", "-")))[1]


def _memories(runtime: Runtime[Context] | None) -> dict[str, str]:
    return memories.recall(runtime.store if runtime is not None else None, _user(runtime))


def _completed_turns(state: State) -> int:
    return sum(isinstance(m, AIMessage) for m in state.get("messages", []))


def _answering_node(team, domain: str, history: list[Message], question: str) -> tuple[str, str]:
    """The domain's node, or long_context when the thread won't fit its model (and a note saying why)."""
    window = team.role(specialist.role_for(domain)).model.context_window
    long_window = team.role("reviewer").model.context_window
    tokens = estimated_tokens(history, question)
    if needs_long_context(tokens, window, long_window):
        return "long_context", f"thread ≈{tokens} tokens > {domain} window {window}: long-context model answers"
    return domain, ""


def _is_ours(message: AnyMessage) -> bool:
    return str(message.id or "").startswith("turn-")  # analyze and integrate name their messages turn-N-...


def incoming_question(state: State) -> tuple[object, list[RemoveMessage]]:
    """This turn's question: a user message a chat client appended to `messages` (then removed, to be stored
    under this turn's id), else the `question` field."""
    messages = list(state.get("messages", []))
    if messages and isinstance(messages[-1], HumanMessage) and not _is_ours(messages[-1]):
        latest = messages[-1]
        return latest.text, [RemoveMessage(id=latest.id)]
    return state.get("question"), []


def thread_domain(state: State) -> str | None:
    """The domain the thread's last completed turn was answered in (None on a thread's first turn)."""
    for message in reversed(list(state.get("messages", []))):
        if isinstance(message, AIMessage):
            route = (message.response_metadata or {}).get("route") or {}
            if route.get("domain"):
                return route["domain"]
    return None


def analyze(state: State, runtime: Runtime[Context]) -> dict:
    incoming, removed = incoming_question(state)
    question = orchestrator.clean_question(incoming)
    turn = _completed_turns(state) + 1
    team = _team(runtime)
    check_question_fits(team, question)  # the API checked it already; a LangGraph client's question too
    forced = state.get("force_domain")
    result = orchestrator.analyze(team, question, previous_language=state.get("language"), force_domain=forced,
                                  thread_domain=thread_domain(state))
    if forced and _learning(runtime):  # an explicit override is a correction the router learns from
        router_store.learn(question, forced, "override")
    # A language preference stated now, or remembered from any thread, decides the answer's language.
    preference = orchestrator.propose_memories(question).get("language") or _memories(runtime).get("language")
    if preference:
        result.language = preference
        result.trace["note"] += f"; answer language {preference} (user preference)"
    node, why = _answering_node(team, result.domain, _history(state), question)
    plan = steps.plan(step_policy.load(team.profile.name), result.domain, result.language)
    result.trace["note"] = join_notes(result.trace["note"], why, f"steps: {plan.note}")
    progress.emit("route", domain=result.domain, by=result.by, confidence=round(result.confidence, 3),
                  language=result.language, node=node)
    route = {"domain": result.domain, "confidence": round(result.confidence, 3), "by": result.by, "node": node}
    route.update({k: v for k, v in (("thread", result.thread), ("swap", result.swap)) if v})
    cached = _look_up(runtime, team, question, result.language, route, state, plan.as_dict())
    if cached is not None:
        result.trace["note"] = join_notes(result.trace["note"], cached.pop("note"))
    if not (cached or {}).get("hit"):
        team.prefetch(*routing.roles_ahead("analyze", {"route": route}))  # the answering model's file, now
    return {
        # A fixed id per turn: a turn that failed and is asked again replaces its question, not duplicates it.
        "messages": [*removed, HumanMessage(question, id=f"turn-{turn}-question")],
        "question": question,
        "turn": turn,
        "language": result.language,
        "complexity": result.complexity,
        "route": route,
        "force_domain": None,
        "draft": "",
        "plan": plan.as_dict(),
        "review": None,
        "revisions": 0,
        "answer": "",
        "trace": Overwrite([{**result.trace, "turn": turn}]),
        "started_at": time.time(),
        "cache": cached,
    }


def _look_up(runtime: Runtime[Context] | None, team, question: str, lang: str, route: dict, state: State,
             plan: dict) -> dict | None:
    """The response cache's entry for this turn (memory/cache/), before any model loads; None without a cache."""
    cache = runtime.context.cache if runtime is not None and runtime.context else None
    if cache is None:
        return None
    key = responses.key_for(team.profile, question, language=lang, route=route, history=_history(state),
                            summaries=state.get("summaries", []), steps=plan,
                            facts=orchestrator.known_facts(_memories(runtime), lang))
    hit, note = responses.look_up(cache, key)
    info = {"key": key.value, "scope": key.scope, "question": key.question, "first": key.first_turn,
            "outcome": f"hit-{hit.how}" if hit else "miss", "note": note}
    if hit is not None:
        info["hit"] = {"answer": hit.answer, "how": hit.how, "similarity": round(hit.similarity, 4),
                       "entry": {k: v for k, v in hit.entry.items() if k != "answer"}}
    return info


def cached(state: State, runtime: Runtime[Context]) -> dict:
    """A cache hit: the stored answer, and a trace row saying where it came from. No model runs."""
    hit, turn = state["cache"]["hit"], state["turn"]
    entry = hit["entry"]
    where = (f"cache hit ({hit['how']}, similarity {hit['similarity']:.3f})" if hit["how"] == "near"
             else "cache hit (exact)")
    origin = f"stored from thread {entry.get('thread', '?')} turn {entry.get('turn', '?')}"
    if entry.get("user") != _user(runtime):  # another user's: say so, never name their thread
        origin = "stored from another user's first turn"
    if hit["how"] == "near":
        origin += f", asked as {entry.get('question', '')[:80]!r}"
    row = trace_row("cache", note=f"{where}: {origin}", turn=turn)
    progress.emit("cached", how=hit["how"], similarity=hit["similarity"], thread=entry.get("thread"),
                  turn=entry.get("turn"))
    answer = hit["answer"]
    row = _remember(state, runtime, row)
    meta = {"turn": turn, "route": state["route"], "language": state["language"], "models": [], "cached": True,
            **_request(runtime)}
    _record_run(state, runtime, [*state.get("trace", []), row])
    return {"answer": answer, "messages": [AIMessage(answer, id=f"turn-{turn}-answer", response_metadata=meta)],
            "summaries": [summarize_turn(state["question"], answer)], "trace": [row]}


def _remember(state: State, runtime: Runtime[Context] | None, row: dict) -> dict:
    """What the question says about the user (agents/roles/orchestrator.py) goes to memory; the row says so."""
    proposed = orchestrator.propose_memories(state["question"])
    if proposed and runtime is not None and runtime.store is not None:
        memories.remember(runtime.store, proposed, source=f"thread {_thread()}, turn {state['turn']}",
                          user=_user(runtime))
        remembered = ", ".join(f"{k}={v}" for k, v in proposed.items())
        row = {**row, "note": join_notes(row.get("note", ""), f"remembered {remembered}")}
    return row


def _keep(state: State, runtime: Runtime[Context] | None, answer: str, language_ok: bool, row: dict) -> dict:
    """Store the finished answer in the response cache when the turn earned it; the row says what happened."""
    cache = runtime.context.cache if runtime is not None and runtime.context else None
    info = state.get("cache")
    if cache is None or not info:
        return row
    verdict = (state.get("review") or {}).get("verdict")
    ok, why = responses.cacheable(verdict=verdict, finish=state.get("draft_finish"),
                                  revisions=state.get("revisions", 0), language_ok=language_ok, answer=answer)
    if ok:
        models = sorted({r["model"] for r in [*state.get("trace", []), row] if r.get("model")})
        why = responses.keep(cache, info, {"answer": answer, "question": state["question"], "thread": _thread(),
                                           "user": _user(runtime),
                                           "turn": state["turn"], "route": state["route"],
                                           "language": state["language"], "models": models})
    return {**row, "note": join_notes(row.get("note", ""), why)}


def _specialist(name: str, role: str | None = None):
    """The node for a domain (its own role's model), or long_context (the reviewer's model, any domain)."""

    def node(state: State, runtime: Runtime[Context]) -> dict:
        domain = state["route"]["domain"]
        team = _team(runtime)
        team.prefetch(*routing.roles_ahead(name, state))  # read the reviewer's file while this one answers
        review = state.get("review")
        revision = None
        if review and review["verdict"] == "revise":
            revision = (state["draft"], "; ".join(review["issues"]))
        reply = specialist.answer(team, domain, state["language"], state["question"],
                                  _history(state), revision=revision, summaries=state.get("summaries", []),
                                  facts=orchestrator.known_facts(_memories(runtime), state["language"]),
                                  role=role, node=name)
        if revision:
            reply.trace["note"] = join_notes("revision", reply.trace.get("note", ""))
        return {
            "draft": reply.text,
            "draft_role": role or specialist.role_for(domain),
            "draft_finish": reply.finish,
            "revisions": state.get("revisions", 0) + (1 if revision else 0),
            "review": None,
            "trace": [{**reply.trace, "turn": state["turn"]}],
        }

    node.__name__ = name
    return node


def _plan(state: State) -> steps.Plan:
    return steps.Plan(**state["plan"]) if state.get("plan") else steps.Plan()


def review(state: State, runtime: Runtime[Context]) -> dict:
    if state.get("complexity") == "trivial":
        row = trace_row("review", skipped=True, note="trivial question: nothing to review", turn=state["turn"],
                        verdict="ok", verdict_by="checks", issues=[])
        return {"review": {"verdict": "ok", "issues": [], "by": "checks"}, "trace": [row]}
    team = _team(runtime)
    team.prefetch(*routing.roles_ahead("review", state))
    plan = _plan(state)
    verdict, row, _ = reviewer.review(team, state["language"], state["question"], state["draft"],
                                      state.get("draft_finish", "stop"), _history(state),
                                      state.get("summaries", []), use_model=plan.review == "model")
    if plan.review != "model":
        row = {**row, "note": join_notes(row.get("note", ""), plan.note)}
    progress.emit("verdict", verdict=verdict["verdict"], issues=verdict["issues"], by=verdict["by"])
    row = {**row, "verdict": verdict["verdict"], "verdict_by": verdict["by"], "issues": verdict["issues"]}
    route = state["route"]
    if (verdict["by"] == "model" and verdict["verdict"] == "ok" and route.get("by") in ("classifier", "llm")
            and _learning(runtime)):
        router_store.learn(state["question"], route["domain"], "review")  # a weak confirmation of the route
        row["note"] = join_notes(row.get("note", ""), "route confirmed to the router")
    return {"review": verdict, "trace": [{**row, "turn": state["turn"]}]}


def integrate(state: State, runtime: Runtime[Context]) -> dict:
    lang, draft, turn = state["language"], state["draft"], state["turn"]
    verdict = state.get("review") or {"verdict": "ok", "issues": []}
    draft_lang = language.detect(draft, fallback=lang)[0] if draft else None
    reason = orchestrator.can_skip_integration(draft_role=state.get("draft_role", ""), verdict=verdict["verdict"],
                                               draft_language=draft_lang, lang=lang)
    plan = _plan(state)
    if not reason and not plan.integrate and draft_lang == lang:
        reason = f"the step policy skips integration: {plan.note}"
    if reason:
        answer, row = draft, trace_row("integrate", skipped=True, note=reason, turn=turn)
        progress.emit("skipped", node="integrate", reason=reason)
    else:
        answer, row = orchestrator.integrate(_team(runtime), question=state["question"], draft=draft,
                                             notes="; ".join(verdict["issues"]), lang=lang,
                                             facts=orchestrator.known_facts(_memories(runtime), lang))
        answer, kept = final.keep_substance(draft, answer, draft_language=draft_lang, lang=lang,
                                            choices=substance.options_in(state["question"]))
        row = {**row, "turn": turn, "note": join_notes(row.get("note", ""), kept)}
        if kept:
            progress.emit("kept", node="integrate", reason=kept)
    cleaned = final.without_facts(answer, _memories(runtime), lang)
    if cleaned != answer:
        answer, row = cleaned, {**row, "note": join_notes(row.get("note", ""), final.FACTS_TAKEN_OUT)}
    mismatch = final.language_note(answer, lang)
    if mismatch:  # said, not passed off as "in the user's language"
        row = {**row, "note": join_notes(row.get("note", ""), mismatch)}
        progress.emit("language", message=mismatch)
    row = _remember(state, runtime, row)
    row = _keep(state, runtime, answer, not mismatch, row)
    models = [r["model"] for r in [*state.get("trace", []), row] if r.get("model")]
    meta = {"turn": turn, "route": state["route"], "language": lang, "models": sorted(set(models)), **_request(runtime)}
    _record_run(state, runtime, [*state.get("trace", []), row])
    return {"answer": answer, "messages": [AIMessage(answer, id=f"turn-{turn}-answer", response_metadata=meta)],
            "summaries": [summarize_turn(state["question"], answer)], "trace": [row]}


def build_graph(*, checkpointer=None, store=None, cache=None):
    """The compiled cooperation graph. Pass a checkpointer (memory.checkpoints) to keep threads."""
    builder = StateGraph(State, context_schema=Context, input_schema=InputState, output_schema=OutputState)
    builder.add_node("analyze", _reporting(analyze))
    for domain in ("legal", "technical", "general"):
        builder.add_node(domain, _reporting(_specialist(domain)))
    builder.add_node("long_context", _reporting(_specialist("long_context", role="reviewer")))
    builder.add_node("review", _reporting(review))
    builder.add_node("integrate", _reporting(integrate))
    builder.add_node("cached", _reporting(cached))

    builder.add_edge(START, "analyze")
    answering = ["legal", "technical", "general", "long_context"]
    builder.add_conditional_edges("analyze", routing.after_analyze, [*answering, "cached"])
    for name in answering:
        builder.add_conditional_edges(name, routing.after_draft, ["review", "integrate"])
    builder.add_conditional_edges("review", routing.after_review, [*answering, "integrate"])
    builder.add_edge("integrate", END)
    builder.add_edge("cached", END)
    return builder.compile(checkpointer=checkpointer, store=store, cache=cache, name="concilio")


# For langgraph.json / `langgraph dev`: no checkpointer (the server brings its own); builds no models.
graph = build_graph()
