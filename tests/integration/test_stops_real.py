"""Stop strings on the real embedded model, on both local backends: greedy decoding gives the same reply twice,
so a string taken from the middle of the first reply must end the second exactly before it."""

from __future__ import annotations

import dataclasses

import pytest

from agents.backends import GenParams
from agents.models import embedded
from agents.models.profiles import resolve
from agents.slot.slot import GpuSlot

pytestmark = pytest.mark.model
QUESTIONS = [[{"role": "user", "content": "Name three colours of the rainbow."}],
             [{"role": "user", "content": "Nombra tres colores del arcoíris."}]]


def _spec(backend: str):
    spec = resolve("embedded").role("orchestrator").model
    if backend == "llamacpp":
        pytest.importorskip("llama_cpp")
        spec = dataclasses.replace(spec, backend="llamacpp", path=embedded.ensure().original, name="smollm2-llamacpp")
    return spec


@pytest.mark.parametrize("backend", ["gpt4all", "llamacpp"])
def test_a_stop_string_from_the_reply_ends_the_same_reply_before_it(backend):
    slot = GpuSlot()
    try:
        with slot.hold(_spec(backend)) as lease:
            for messages in QUESTIONS:
                whole = lease.model.complete(messages, GenParams(max_tokens=40))
                words = whole.text.split()
                assert len(words) >= 4, whole.text
                stop = " " + words[len(words) // 2]
                at = whole.text.index(stop)
                shown: list[str] = []
                cut = lease.model.complete(messages, GenParams(max_tokens=40, stop=(stop,)), shown.append)
                assert cut.text == whole.text[:at].strip() and cut.finish == "stop"
                assert stop not in "".join(shown) and cut.tokens_out < whole.tokens_out
    finally:
        slot.clear()
