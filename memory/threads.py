"""Conversation threads in the checkpoint database: list, show turn by turn, fork, delete.

Each completed turn is a HumanMessage and an AIMessage in the thread's `messages`; the answer's
`response_metadata` holds its route, language and models, so a thread can be shown without the trace.

A thread of a user (a user id given) is stored under `thread_key(thread_id, user)`, so two users' threads
never meet, even with the same id; threads without a user are the local user's, stored under their own id.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from agents.errors import ConcilioError
from agents.user_text import validate_thread_id

SEPARATOR = "\x1f"  # between a user id and a thread id; neither may hold a control character


class UnknownThreadError(ConcilioError):
    def __init__(self, thread_id: str) -> None:
        super().__init__(f"no thread {thread_id!r} in the conversation database; `concilio threads list` shows them")


@dataclass
class Turn:
    turn: int
    question: str
    answer: str | None  # None: the turn stopped part-way (ask the same question again to resume it)
    route: dict[str, Any] = field(default_factory=dict)
    language: str | None = None
    models: list[str] = field(default_factory=list)


@dataclass
class ThreadSummary:
    thread_id: str
    turns: int
    last_question: str
    updated: str
    pending: bool  # the last turn is unfinished (a question without an answer), as `show` lists it


def thread_key(thread_id: str, user: str | None = None) -> str:
    """The id a thread is stored under: its own for the local user, else prefixed by the user id. Pure."""
    return thread_id if user is None else f"{user}{SEPARATOR}{thread_id}"


def owner(key: str) -> tuple[str | None, str]:
    """(user, thread id) of a storage key; user None for the local user's threads. Pure."""
    user, sep, thread = key.partition(SEPARATOR)
    return (user, thread) if sep else (None, key)


def _config(thread_id: str, checkpoint_id: str | None = None) -> dict:
    configurable = {"thread_id": thread_id}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def turns_of(messages: list) -> list[Turn]:
    """Pair questions with answers; a trailing question without an answer is an unfinished turn."""
    turns: list[Turn] = []
    for message in messages:
        if isinstance(message, HumanMessage):
            turns.append(Turn(len(turns) + 1, str(message.content), None))
        elif isinstance(message, AIMessage) and turns and turns[-1].answer is None:
            meta = message.response_metadata or {}
            turns[-1].answer = str(message.content)
            turns[-1].route = dict(meta.get("route") or {})
            turns[-1].language = meta.get("language")
            turns[-1].models = list(meta.get("models") or [])
    return turns


def answered_request(messages: list, request_id: str) -> Turn | None:
    """The completed turn whose answer was given to the request `request_id` (a client's Idempotency-Key), or
    None when no turn of these messages answered it. Pure."""
    question, number = None, 0
    for message in messages:
        if isinstance(message, HumanMessage):
            question, number = str(message.content), number + 1
        elif isinstance(message, AIMessage) and question is not None:
            meta = message.response_metadata or {}
            if meta.get("request_id") == request_id:
                return Turn(number, question, str(message.content), dict(meta.get("route") or {}),
                            meta.get("language"), list(meta.get("models") or []))
            question = None
    return None


def _state(graph, thread_id: str, user: str | None = None):
    validate_thread_id(thread_id)  # an id typed by the user (show, delete, fork, feedback)
    snapshot = graph.get_state(_config(thread_key(thread_id, user)))
    if not snapshot.values:
        raise UnknownThreadError(thread_id)
    return snapshot


def show(graph, thread_id: str, user: str | None = None) -> list[Turn]:
    return turns_of(_state(graph, thread_id, user).values.get("messages", []))


def thread_ids(saver, user: str | None = None) -> list[str]:
    """The threads of `user` (None: the local user's) in the database, most recently updated first."""
    seen: dict[str, None] = {}
    for item in saver.list(None):  # newest checkpoints first
        whose, thread = owner(item.config["configurable"]["thread_id"])
        if whose == user:
            seen.setdefault(thread, None)
    return list(seen)


def list_threads(graph, saver, user: str | None = None) -> list[ThreadSummary]:
    out = []
    for thread_id in thread_ids(saver, user):
        snapshot = graph.get_state(_config(thread_key(thread_id, user)))
        turns = turns_of(snapshot.values.get("messages", []))
        out.append(ThreadSummary(thread_id, sum(t.answer is not None for t in turns),
                                 turns[-1].question if turns else "", snapshot.created_at or "",
                                 bool(turns) and turns[-1].answer is None))
    return out


def delete(saver, graph, thread_id: str, user: str | None = None) -> None:
    _state(graph, thread_id, user)  # unknown id: a clear error, not a silent no-op
    saver.delete_thread(thread_key(thread_id, user))


def fork(graph, thread_id: str, new_thread_id: str, *, turn: int | None = None, user: str | None = None) -> int:
    """Copy `thread_id` as it was after completed turn `turn` (default: the latest) into `new_thread_id`.

    Returns the number of turns copied. The original thread is not touched.
    """
    if graph.get_state(_config(thread_key(validate_thread_id(new_thread_id), user))).values:
        raise ConcilioError(f"thread {new_thread_id!r} already exists; pick another name")
    latest = _state(graph, thread_id, user)
    done = [t for t in turns_of(latest.values.get("messages", [])) if t.answer is not None]
    turn = len(done) if turn is None else turn
    if not 0 <= turn <= len(done):
        raise ConcilioError(f"thread {thread_id!r} has {len(done)} completed turn(s); can't fork at turn {turn}")
    messages = []
    for message in latest.values.get("messages", []):
        messages.append(message)
        if isinstance(message, AIMessage) and sum(isinstance(m, AIMessage) for m in messages) == turn:
            break
    messages = messages if turn else []
    values = {"messages": messages, "language": latest.values.get("language"),
              "summaries": list(latest.values.get("summaries", []))[:turn]}
    graph.update_state(_config(thread_key(new_thread_id, user)), values, as_node="integrate")
    return turn


def as_dicts(items) -> list[dict]:
    return [asdict(i) for i in items]
