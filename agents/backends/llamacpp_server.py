"""`python -m llama_cpp.server`, with llama.cpp's extra CPU buffer types off (see
agents.backends.llamacpp_backend.model_params): an OpenAI-compatible server for a role, on machines
whose CPUs have AMX. Same arguments as llama_cpp.server:

    python -m agents.backends.llamacpp_server --model FILE.gguf --port 8081 --n_ctx 4096
"""

from __future__ import annotations


def main() -> None:
    from llama_cpp.server.__main__ import main as serve

    from agents.backends.llamacpp_backend import model_params

    with model_params(extra_buffers=False):  # held for the life of this process: it only serves
        serve()


if __name__ == "__main__":
    main()
