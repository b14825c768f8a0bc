"""Errors keep their real message when they are copied or pickled, as a LangGraph server does when a node
fails: the type, the message naming the thing and the fix, and the attributes survive."""

from __future__ import annotations

import copy
import pickle

import pytest

from agents import errors
from memory.threads import UnknownThreadError


@pytest.mark.parametrize("error", [
    errors.EmptyQuestionError(),
    errors.QuestionTooLongError(30_000, 20_000),
    errors.ModelFileError("/models/x.gguf", "is truncated", "download it again"),
    errors.ModelRunError("phi-3", "legal", RuntimeError("CUDA out of memory")),
    errors.SlotTimeoutError("phi-3", 600),
    errors.ProfileError("no profile 'x': pick embedded, gpt4all-seed or a .toml"),
    UnknownThreadError("t1"),
], ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("copied", [pickle.loads.__name__, copy.deepcopy.__name__])
def test_a_copied_error_keeps_its_type_message_and_attributes(error, copied):
    again = pickle.loads(pickle.dumps(error)) if copied == "loads" else copy.deepcopy(error)
    assert type(again) is type(error) and str(again) == str(error) and vars(again) == vars(error)
    assert again.exit_code == error.exit_code
