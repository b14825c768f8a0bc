"""The default backend: gpt4all 2.8.2 (llama.cpp inside), one GGUF file in process.

gpt4all is unmaintained upstream; everything concilio needs from it is in this one module.
Notes on 2.8.2 that shaped this code:
- `GPT4All.generate()` tokenises the prompt with special tokens off, so a rendered chat template
  (<|im_start|>...) would reach the model as plain text. We call the underlying `LLModel.prompt_model`
  with `special=True` on a prompt whose message contents were sanitized (agents/backends/templates.py).
- `prompt_model_streaming` runs the model in a thread that swallows exceptions, so we drive
  `prompt_model` ourselves and stream through `on_token`.
- Prompt tokens are reported through the instance's `_prompt_callback`, which we count.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import sys
import tempfile
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from agents.backends import templates
from agents.backends.base import (
    BackendOptions,
    ChatModel,
    Completion,
    GenParams,
    Message,
    TokenCallback,
    timed_completion,
)
from agents.backends.markers import END_OF_TURN
from agents.errors import ContextWindowError
from agents.models.gguf_file import inspect
from agents.settings import settings

if TYPE_CHECKING:
    from agents.models.profiles import ModelSpec

_import_lock = threading.Lock()


# Printed by gpt4all on the first load (or GPU listing) in a process on machines without CUDA: harmless,
# and alarming.
_NOISE = re.compile(r"^(Failed to load libllamamodel-.*|constructGlobalLlama: could not find Llama implementation "
                    r"for backend: .*)(cuda|kompute).*$")


@contextlib.contextmanager
def _quiet_stderr():
    """Capture fd 2 while gpt4all loads and pass everything on except its CUDA-probe lines.

    fd 2 is process-wide, so other threads' messages (e.g. progress lines) written meanwhile are only
    delayed, never lost. CONCILIO_DEBUG=1 leaves stderr alone.
    """
    if settings().debug:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True)
                    if not _NOISE.match(line.strip())]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


class Gpt4AllOptions(BackendOptions):
    """gpt4all takes no options. Devices: gpt4all's own names, "cuda:NAME"/"kompute:NAME" for one GPU, and
    "auto" (a GPU when gpt4all finds one, else the CPU)."""

    devices = ("auto", "cpu", "gpu", "cuda", "kompute", "amd", "nvidia", "intel")
    device_prefixes = ("cuda:", "kompute:")


def auto_device(gpus: list[str], *, apple_silicon: bool = False) -> str:
    """The device "auto" means, from gpt4all's GPU list ("cuda:NVIDIA H200", "kompute:..."); on Apple
    silicon gpt4all's "gpu" is Metal, its own default there. Pure."""
    if apple_silicon:
        return "gpu"
    if any(g.startswith("cuda:") for g in gpus):
        return "cuda"
    return "gpu" if gpus else "cpu"


def _gpt4all_class():
    with _import_lock, _quiet_stderr():
        from gpt4all import GPT4All
    return GPT4All


class Gpt4AllChatModel(ChatModel):
    backend = "gpt4all"

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.info = inspect(spec.path, fix=spec.fix)
        self.control_tokens = self.info.control_tokens
        # the model's end-of-turn tokens: gpt4all itself stops only at the file's EOS token
        self.end_of_turn = frozenset(t for t in self.control_tokens if t in END_OF_TURN) | (
            {self.info.eos_token} if self.info.eos_token else set())
        self.template = templates.resolve(spec.chat_template, self.info.chat_template, str(spec.path))
        Gpt4AllOptions.of(spec)
        self.note = ""
        cls = _gpt4all_class()
        self.device = _auto(cls) if spec.device == "auto" else spec.device
        kwargs = dict(model_path=str(spec.path.parent), allow_download=False, n_ctx=spec.context_window,
                      n_threads=spec.threads, verbose=False)
        try:
            with _quiet_stderr():
                self._model = cls(spec.path.name, device=self.device, **kwargs)
        except Exception as exc:
            if self.device in (None, "cpu"):
                raise
            # A GPU that is missing or too small: fall back to the CPU and say so in the trace.
            self.note = f"{self.device} load failed ({exc}); running on cpu"
            self.device = "cpu"
            with _quiet_stderr():
                self._model = cls(spec.path.name, device="cpu", **kwargs)

    def complete(self, messages: Sequence[Message], params: GenParams,
                 on_token: TokenCallback | None = None) -> Completion:
        model = getattr(self, "_model", None)
        if model is None:
            raise RuntimeError(f"{self.spec.name} is closed")
        prompt = templates.prompt(self.template, messages, control_tokens=self.info.control_tokens,
                                  bos_token=self.info.bos_token, eos_token=self.info.eos_token,
                                  adds_bos=self.info.add_bos)
        llmodel = model.model
        prompt_tokens = 0

        def count_prompt(_token_id: int) -> bool:
            nonlocal prompt_tokens
            prompt_tokens += 1
            return True

        refused: list[str] = []

        def generate(callback) -> int:
            def on_piece(token_id: int, piece: str) -> bool:
                if token_id < 0:  # llmodel reports an error (the prompt exceeds the window) as a piece, id -1
                    refused.append(piece)
                    return False
                if piece in self.end_of_turn:  # a control token's piece is its text
                    return False
                return callback(piece)

            llmodel._prompt_callback = count_prompt  # instance attribute shadows the no-op method
            llmodel.prompt_model(
                prompt, "%1", on_piece,
                n_predict=params.max_tokens, temp=params.temperature, top_k=params.top_k,
                top_p=params.top_p, repeat_penalty=params.repeat_penalty,
                repeat_last_n=params.repeat_last_n, n_batch=128, reset_context=True, special=True,
            )
            if refused:
                raise ContextWindowError(self.spec.name, self.spec.context_window, "".join(refused))
            return prompt_tokens

        return timed_completion(generate, params, on_token, model=self.spec.name, window=self.spec.context_window)

    def close(self) -> None:
        model, self._model = getattr(self, "_model", None), None
        if model is not None:
            model.close()


def _auto(cls) -> str:
    if sys.platform == "darwin":
        return auto_device([], apple_silicon=platform.machine() == "arm64")
    try:
        with _quiet_stderr():
            gpus = cls.list_gpus()
    except Exception:  # no GPU library at all: gpt4all raises ValueError
        gpus = []
    return auto_device(gpus)


def load(spec: ModelSpec) -> Gpt4AllChatModel:
    return Gpt4AllChatModel(spec)
