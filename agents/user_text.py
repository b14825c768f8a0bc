"""What concilio accepts from a user, checked in one place for the CLI, the API and the graph.

- `clean_question()`: undecodable bytes (lone surrogates, as Python hands over non-UTF-8 argv) become U+FFFD,
  control characters go, and a question with nothing visible in it (spaces, zero-width characters) is empty.
- `check_question_fits()`: a question that can't fit a model that must read it whole is refused with its
  size in tokens against that model's window, before anything is stored.
- `validate_thread_id()`: a thread id that can't be stored or printed is a clear error.

Pure functions, except that the limits come from settings and the windows from the team's profile.
"""

from __future__ import annotations

import re
import unicodedata

from agents.errors import EmptyQuestionError, QuestionExceedsWindowError, QuestionTooLongError, ThreadIdError
from agents.roles.context import CHARS_PER_TOKEN
from agents.settings import settings

# C0 controls other than tab and newline, DEL, and C1 controls (U+0080-U+009F: U+009B is a terminal's CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BLANK = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}  # fillers that render as nothing (category Lo/So)
THREAD_ID_MAX = 200
# What a model that reads the question must also hold: its instructions, a draft, and its own answer.
RESERVE_TOKENS = 256 + 320 + 320
READERS = ("orchestrator", "reviewer")  # the roles that read every question whole (routing/integrating, review)


def repair(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (a valid surrogate pair becomes its character)."""
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def visible(text: str) -> bool:
    """Whether `text` has a character that shows: not whitespace, not a format character (U+200B...)."""
    return any(not (ch.isspace() or ch in _BLANK or unicodedata.category(ch) in ("Cf", "Cc", "Zs"))
               for ch in text)


def clean_question(question: object) -> str:
    """The question as concilio stores it; EmptyQuestionError or QuestionTooLongError when it can't be."""
    text = repair(question) if isinstance(question, str) else ""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not visible(text):
        raise EmptyQuestionError()
    limit = settings().max_question_chars
    if len(text) > limit:
        raise QuestionTooLongError(len(text), limit)
    return text


def question_tokens(question: str) -> int:
    """The question's size in tokens, estimated as the context fitting does (conservatively)."""
    return int(len(question) / CHARS_PER_TOKEN) + 1


def room_for_question(window: int, reserve: int = RESERVE_TOKENS) -> int:
    """Tokens a question may take in a model of `window` tokens. Pure."""
    return max(window - reserve, 0)


def check_question_fits(team, question: str) -> None:
    """Refuse a question larger than the room in the window of a role that reads it whole."""
    tokens = question_tokens(question)
    for role in READERS:
        model = team.role(role).model
        room = room_for_question(model.context_window)
        if tokens > room:
            raise QuestionExceedsWindowError(tokens, model.context_window, room, model.name, role)


def thread_id_problem(thread_id: object) -> str | None:
    """What makes `thread_id` unusable, or None. Pure."""
    if not isinstance(thread_id, str) or not thread_id.strip():
        return "it is empty"
    if len(thread_id) > THREAD_ID_MAX:
        return f"it is {len(thread_id):,} characters long (at most {THREAD_ID_MAX})"
    if any("\ud800" <= ch <= "\udfff" for ch in thread_id):
        return "it holds bytes that are not UTF-8"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in thread_id):
        return "it holds control or invisible characters"
    return None


USER_ID_MAX = 128


def user_id_problem(user: object) -> str | None:
    """What makes `user` unusable as a user id, or None. Pure."""
    problem = thread_id_problem(user)
    if problem is None and len(user) > USER_ID_MAX:  # type: ignore[arg-type]
        problem = f"it is {len(user):,} characters long (at most {USER_ID_MAX})"  # type: ignore[arg-type]
    return problem


def _checked(value: object, problem: str | None, what: str, advice: str) -> object:
    """`value` when `problem` is None; else a ThreadIdError naming `what` was refused, why, and `advice`."""
    if problem:
        shown = ascii(value) if isinstance(value, str) else repr(value)
        raise ThreadIdError(f"{what} {shown[:80]} can't be used: {problem}. {advice}")
    return value


def validate_user_id(user: object) -> str | None:
    """`user` when it can key a user's memories and threads (None: the one local user); else a ThreadIdError."""
    if user is None:
        return None
    return _checked(user, user_id_problem(user), "user id",  # type: ignore[return-value]
                    "Use a name, an email or any id without control characters, e.g. --user ana@example.org")


def validate_request_id(request_id: object) -> str | None:
    """`request_id` (an Idempotency-Key) when it can be stored with a turn (None: none); else a ThreadIdError."""
    if request_id is None:
        return None
    return _checked(request_id, thread_id_problem(request_id), "request id",  # type: ignore[return-value]
                    "Send one id per question, e.g. a UUID, the same on every retry")


def validate_thread_id(thread_id: object) -> str:
    """`thread_id` when it can be stored and printed; otherwise a ThreadIdError saying why."""
    return _checked(thread_id, thread_id_problem(thread_id), "thread id",  # type: ignore[return-value]
                    "Use letters, digits, '-' or '_', e.g. --thread lease-2026")
