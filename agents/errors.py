"""The errors concilio raises on purpose: each says what went wrong and how to fix it."""

from __future__ import annotations


class ConcilioError(Exception):
    """Base class: a failure the user can act on. The CLI prints it without a traceback.

    Subclasses take their own arguments and build the message from them, so `args` holds the message only;
    `__reduce__` rebuilds an error from its message and attributes, so a copied or pickled error (a LangGraph
    server hands errors across processes and threads) keeps its type and real message instead of turning
    into a TypeError about __init__'s arguments."""

    exit_code = 1

    def __reduce__(self):
        return _rebuild, (type(self), str(self)), self.__dict__


def _rebuild(cls: type[ConcilioError], message: str) -> ConcilioError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    return error


class EmptyQuestionError(ConcilioError, ValueError):
    exit_code = 2

    def __init__(self) -> None:
        super().__init__("The question is empty: ask something, e.g. concilio ask \"What is a lease?\"")


class QuestionTooLongError(ConcilioError, ValueError):
    exit_code = 2

    def __init__(self, chars: int, limit: int) -> None:
        super().__init__(
            f"The question is {chars:,} characters long; the limit is {limit:,}. "
            "Shorten it, or raise CONCILIO_MAX_QUESTION_CHARS if your models have the context for it."
        )


class QuestionExceedsWindowError(ConcilioError, ValueError):
    """A question that can't fit a model that must read it whole; refused before anything is stored."""

    exit_code = 2

    def __init__(self, tokens: int, window: int, room: int, model: str, role: str) -> None:
        self.tokens, self.window, self.model, self.role = tokens, window, model, role
        super().__init__(
            f"The question is about {tokens:,} tokens; the {role} model {model} has a {window:,}-token context "
            f"window, which leaves room for {room:,} tokens of question once its instructions and answer fit. "
            "Shorten the question, or give that role a model with a larger context_window."
        )


class ContextWindowError(ConcilioError):
    """A backend said the prompt didn't fit the model's window: raised, never stored as an answer."""

    exit_code = 2

    def __init__(self, model: str, window: int | None, detail: str) -> None:
        where = f"its {window:,}-token context window" if window else "its context window"
        super().__init__(f"The prompt for {model} does not fit {where} ({detail.strip()}). "
                         "Shorten the question, or start a new thread.")


class RequestIdReusedError(ConcilioError):
    """A request id (Idempotency-Key) sent again with another question: a retry must repeat its request."""

    exit_code = 2

    def __init__(self, request_id: str, turn: int) -> None:
        super().__init__(f"request id {request_id[:80]!r} already answered another question (turn {turn} of this "
                         "thread); a retry repeats its question, a new question needs a new id")


class ThreadIdError(ConcilioError, ValueError):
    """A thread id that can't be stored or printed (control characters, undecodable bytes, too long)."""

    exit_code = 2


class ApiKeyRequiredError(ConcilioError):
    """A listener asked to serve beyond loopback without CONCILIO_API_KEY."""

    exit_code = 2

    def __init__(self, what: str, host: str) -> None:
        super().__init__(
            f"{what} on {host!r} would be reachable from other machines with no key. Set CONCILIO_API_KEY to a "
            "secret that clients send as 'Authorization: Bearer <key>', or listen on 127.0.0.1."
        )


class ModelFileError(ConcilioError):
    """A model file is missing, truncated or not GGUF. The message names the file and the fix."""

    def __init__(self, path: object, problem: str, fix: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"Model file {self.path}: {problem}. Fix: {fix}")


class ProfileError(ConcilioError):
    """A profile or config file that can't be used as asked."""


class UnknownProfileError(ProfileError):
    exit_code = 2


class ConfigFileError(ProfileError):
    """A config file that is missing, not TOML, or names an unknown role or base profile."""

    exit_code = 2


class RoleConfigError(ConfigFileError):
    """`[roles.<role>]` settings in a config file that can't be used; raised when the profile loads, before
    anything is written. The message names the role, the setting, the value, what it may be and the file."""

    exit_code = 2

    def __init__(self, source: object, problems: list[str]) -> None:
        self.source = str(source)
        self.problems = problems
        them = "it" if len(problems) == 1 else "them"
        super().__init__(f"config file {self.source}: {'; '.join(problems)}. Fix {them} in {self.source}")


class BackendError(ConcilioError):
    """A backend that can't be used (unknown name, missing optional package)."""


class ModelRunError(ConcilioError):
    """A model failed while loading or generating; the slot has been released."""

    def __init__(self, model: str, role: str, cause: BaseException) -> None:
        self.model = model
        self.role = role
        super().__init__(f"Model {model} failed as {role}: {cause}")


class SlotTimeoutError(ConcilioError, TimeoutError):
    def __init__(self, model: str, waited: float) -> None:
        super().__init__(
            f"Waited {waited:.0f} s for the GPU slot to load {model}; another run holds it. "
            "Try again, or raise CONCILIO_SLOT_TIMEOUT."
        )


class SettingsError(ConcilioError, ValueError):
    """A CONCILIO_* setting (or a config value) that can't be used; the message names it and what it must be."""

    exit_code = 2


class SlotConfigError(SettingsError):
    """GPU slot settings (CONCILIO_SLOT_*) that can't be used; raised when the slot is made, not mid-run."""


class RunCancelled(ConcilioError):
    """The run was stopped on purpose (its client left, the server is shutting down); nothing half-written is
    stored, and asking the same question again on the thread resumes it."""

    def __init__(self, why: str = "the run was cancelled") -> None:
        super().__init__(f"{why}; nothing half-written was stored: ask again to resume")


class BackendUnavailable(BackendError):
    """A model server that can't be reached, fails, hangs or answers nonsense. A specialist role falls back
    to the orchestrator's model when this happens (agents/roles/team.py)."""
