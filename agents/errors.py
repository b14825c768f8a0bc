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


class ModelFileError(ConcilioError):
    """A model file is missing, truncated or not GGUF. The message names the file and the fix."""

    def __init__(self, path: object, problem: str, fix: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"Model file {self.path}: {problem}. Fix: {fix}")


class ProfileError(ConcilioError):
    """A profile or config file that can't be used as asked."""


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


class BackendUnavailable(BackendError):
    """A model server that can't be reached, fails, hangs or answers nonsense. A specialist role falls back
    to the orchestrator's model when this happens (agents/roles/team.py)."""
