"""llama.cpp in process, through llama-cpp-python (the optional extra `llama`; it compiles from source).

Maintained upstream, so it loads what gpt4all 2.8.2's 2024 llama.cpp can't: newer architectures, and
SmolLM2's original file without the pre-tokenizer conversion. The chat template is the one stored in the
GGUF (`tokenizer.chat_template`) unless the role names one. Layers go to the GPU when the role's device asks
for it and llama-cpp-python was built with GPU offload (CUDA, Metal, Vulkan); otherwise it runs on the CPU
and the trace says why.

    [roles.technical]
    backend = "llamacpp"
    path = "~/models/qwen2.5-coder-7b-instruct-q4_k_m.gguf"
    device = "gpu"            # all layers on the GPU; "cpu" (default) keeps them off
    options = { extra_buffers = true }   # llama.cpp's AMX/repacked CPU weights (off: see model_params)

llama-cpp-python is imported when a model loads, so its options can be checked where it isn't installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from agents.backends import kv_state
from agents.backends.base import (
    BackendOptions,
    ChatModel,
    Completion,
    GenParams,
    Message,
    TokenCallback,
    timed_completion,
)
from agents.models.gguf_file import inspect
from agents.settings import settings

if TYPE_CHECKING:
    from agents.models.profiles import ModelSpec

_params_lock = threading.Lock()


class LlamaCppOptions(BackendOptions):
    devices = ("auto", "cpu", "gpu", "cuda", "metal", "vulkan")  # any but cpu: every layer offloaded

    extra_buffers: bool = False  # llama.cpp's AMX/repacked CPU weights (off: see model_params)


@contextlib.contextmanager
def model_params(*, extra_buffers: bool) -> Iterator[None]:
    """Load with llama.cpp's extra CPU buffer types (AMX/repacked weights) on or off.

    Off by default: on CPUs with AMX (recent Xeons, like the machines concilio is tested on) llama.cpp's AMX
    matmul segfaults on the first evaluation (ggml-org/llama.cpp#20824, #11115). `Llama()` has no
    parameter for it and builds its parameters from `llama_model_default_params()`, so that function is
    wrapped while one model loads.
    """
    if extra_buffers:
        yield
        return
    import llama_cpp.llama_cpp as llama_lib

    with _params_lock:
        original = llama_lib.llama_model_default_params

        def without_extra_buffers():
            params = original()
            params.use_extra_bufts = False
            return params

        llama_lib.llama_model_default_params = without_extra_buffers
        try:
            yield
        finally:
            llama_lib.llama_model_default_params = original


def chat_handler(template: str, info, stops: tuple[str, ...]):
    """A llama-cpp-python chat handler rendering concilio's named template (agents/backends/templates.py), so
    both local backends send a model the same text (llama-cpp-python's own formats differ, and it has no
    "phi3"). The BOS is left to the tokenizer, as on gpt4all."""
    from llama_cpp import llama_chat_format

    from agents.backends import templates

    def formatter(*, messages, **_ignored):
        text = templates.prompt(template, messages, control_tokens=info.control_tokens, bos_token=info.bos_token,
                                eos_token=info.eos_token, adds_bos=info.add_bos)
        return llama_chat_format.ChatFormatterResponse(prompt=text, stop=list(stops) or None, added_special=False)

    return llama_chat_format.chat_formatter_to_chat_completion_handler(formatter)


def gpu_layers(device: str | None, offload_supported: bool) -> tuple[int, str]:
    """(n_gpu_layers, trace note) for a role's device; "auto" offloads when the build can, quietly. Pure."""
    if device in (None, "", "cpu"):
        return 0, ""
    if device == "auto":
        return (-1 if offload_supported else 0), ""
    if not offload_supported:
        return 0, f"device {device} asked, but llama-cpp-python was built without GPU offload; running on cpu"
    return -1, ""


def state_identity(spec: ModelSpec) -> tuple:
    """What a kept prompt state is valid for: this file as it is now, this window, template and options."""
    size, mtime = spec.file_stat() or (None, None)
    return kv_state.identity(str(spec.path), size, mtime, spec.context_window, spec.chat_template, spec.options)


def response_format(schema: str | None) -> dict | None:
    """llama-cpp-python's `response_format` for a JSON schema: it compiles the schema to a llama.cpp grammar
    (GBNF), so every token sampled keeps the reply valid. None: free text. Pure."""
    return {"type": "json_object", "schema": json.loads(schema)} if schema else None


class LlamaCppChatModel(ChatModel):
    backend = "llamacpp"
    supports_schema = True

    def __init__(self, spec: ModelSpec) -> None:
        import llama_cpp

        self.spec = spec
        options = LlamaCppOptions.of(spec)
        # a missing or broken file gets the same clear error as gpt4all's; its control tokens are removed from
        # message contents (ChatModel), since llama-cpp-python tokenises the rendered prompt with specials on
        info = inspect(spec.path, fix=spec.fix)
        self.control_tokens = info.control_tokens
        layers, self.note = gpu_layers(spec.device, bool(llama_cpp.llama_supports_gpu_offload()))
        handler = None  # "gguf": llama-cpp-python renders the file's own template
        if spec.chat_template != "gguf":
            from agents.backends import templates

            handler = chat_handler(templates.resolve(spec.chat_template, None, str(spec.path)), info,
                                   templates.STOPS.get(spec.chat_template, ()))
        with model_params(extra_buffers=options.extra_buffers):
            self._llm = llama_cpp.Llama(
                # llama-cpp-python's default is half the cores; gpt4all (the default backend) uses them all
                model_path=str(spec.path), n_ctx=spec.context_window, n_threads=spec.threads or os.cpu_count(),
                n_gpu_layers=layers, chat_handler=handler, verbose=False)
        # the states this model file evaluated before it was last swapped out (agents/backends/kv_state.py)
        self._llm.set_cache(kv_state.cache_for(state_identity(spec), settings().kv_cache_mb))

    def complete(self, messages: Sequence[Message], params: GenParams,
                 on_token: TokenCallback | None = None) -> Completion:
        llm = self._llm
        if llm is None:
            raise RuntimeError(f"{self.spec.name} is closed")

        def generate(callback) -> int:
            produced = 0
            stream = llm.create_chat_completion(
                messages=list(messages), max_tokens=params.max_tokens, temperature=params.temperature,
                top_k=params.top_k, top_p=params.top_p, repeat_penalty=params.repeat_penalty, stream=True,
                response_format=response_format(params.schema), stop=list(params.stop) or None)
            finished = False
            try:
                for chunk in stream:
                    piece = chunk["choices"][0].get("delta", {}).get("content")
                    if piece:
                        produced += 1
                        if not callback(piece):
                            break
                else:
                    finished = True  # llama-cpp-python saved the state itself (when a cache is set)
            finally:
                stream.close()
            if not finished and llm.cache is not None:  # stopped by us (length, loop, cancel): keep it too
                state = llm.save_state()
                llm.cache[state.input_ids.tolist()] = state
            return max(0, llm.n_tokens - produced)  # the context holds the prompt, then what was generated

        return timed_completion(generate, params, on_token)

    def close(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()


def load(spec: ModelSpec) -> LlamaCppChatModel:
    return LlamaCppChatModel(spec)
