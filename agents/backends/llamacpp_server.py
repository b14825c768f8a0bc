"""`python -m llama_cpp.server`, with llama.cpp's extra CPU buffer types off (see
agents.backends.llamacpp_backend.model_params): an OpenAI-compatible server for a role, on machines
whose CPUs have AMX. Same arguments as llama_cpp.server:

    python -m agents.backends.llamacpp_server --model FILE.gguf --port 8081 --n_ctx 4096

`start()` runs it as a child process and returns once it answers (benchmarks, tests).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(model: Path, port: int, *args: str, wait: float = 90.0) -> subprocess.Popen:
    """Serve `model` on 127.0.0.1:`port` (more llama_cpp.server arguments in `args`) in a child process;
    return it once GET /v1/models answers. A server that exits or doesn't answer within `wait` s is an error."""
    proc = subprocess.Popen([sys.executable, "-m", __name__, "--model", str(model), "--host", "127.0.0.1",
                             "--port", str(port), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server for {model} exited with {proc.returncode} while starting")
            time.sleep(0.3)
    proc.kill()
    raise TimeoutError(f"llama_cpp.server for {model} did not answer in {wait:.0f} s")


def main() -> None:
    from llama_cpp.server.__main__ import main as serve

    from agents.backends.llamacpp_backend import model_params

    with model_params(extra_buffers=False):  # held for the life of this process: it only serves
        serve()


if __name__ == "__main__":
    main()
