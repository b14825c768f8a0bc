"""Ctrl-C on the real embedded model (gpt4all calls the token callback from C through ctypes): the signal
stops the answer and reaches the caller as a KeyboardInterrupt, and the model answers again afterwards."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from agents.backends import GenParams, load_model
from agents.models.profiles import embedded

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "Explain in detail how a lease contract works in Spain."}]


def test_ctrl_c_stops_a_gpt4all_answer_and_the_model_goes_on():
    model = load_model(embedded().role("legal").model)
    try:
        seen: list[str] = []

        def on_token(piece: str) -> None:
            seen.append(piece)
            if len(seen) == 3:  # Ctrl-C from the terminal, a moment into the answer
                threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()

        with pytest.raises(KeyboardInterrupt):
            model.complete(QUESTION, GenParams(max_tokens=400, stop_on_loop=False), on_token)
        assert len(seen) < 400  # stopped part-way, not at the end
        again = model.complete(QUESTION, GenParams(max_tokens=8))
        assert again.tokens_out > 0 and again.text
    finally:
        model.close()
