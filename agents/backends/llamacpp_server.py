"""`python -m llama_cpp.server`, with llama.cpp's extra CPU buffer types off (see
agents.backends.llamacpp_backend.model_params): an OpenAI-compatible server for a role, on machines
whose CPUs have AMX. Same arguments as llama_cpp.server:

    python -m agents.backends.llamacpp_server --model FILE.gguf --port 8081 --n_ctx 4096
"""

from __future__ import annotations

import llama_cpp.llama_cpp as llama_lib


def main() -> None:
    from llama_cpp.server.__main__ import main as serve

    original = llama_lib.llama_model_default_params

    def without_extra_buffers():
        params = original()
        params.use_extra_bufts = False
        return params

    llama_lib.llama_model_default_params = without_extra_buffers  # this process only runs the server
    serve()


if __name__ == "__main__":
    main()
