"""The resident server seen from any other process: finding it, talking to it, and a slot whose models live there.

Finding it: its runtime file in the data folder, or CONCILIO_SERVER.

`concilio serve` writes `<data>/server.json` ({url, pid, profile, started}) once it listens and removes it when it
stops. A client (`concilio ask`, `graphs.api.ask`, a graph in another process) uses the server when the file names a
live process that answers `/health` within a fraction of a second; a file left by a killed server is ignored
and removed. `CONCILIO_SERVER=URL` names a server explicitly (it must answer); `CONCILIO_SERVER=off` never
uses one.

`RemoteSlot`: what `default_slot()` is in a process that finds a server (a graph under `langgraph dev`, a
notebook, a user's own `build_graph`): every model the server also has is called through the server's
per-model endpoint, so the one-model rule and swap-aware scheduling cover this process too; a model the
server doesn't have runs here, under the machine-wide guard.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from agents import progress
from agents.backends import loads_local_file
from agents.backends.base import ChatModel, Completion, GenParams, Message, TokenCallback
from agents.errors import ConcilioError
from agents.paths import data_dir
from agents.settings import settings
from agents.slot.guard import alive

FILE = "server.json"
PROBE_S = 0.5


@dataclass(frozen=True)
class ServerInfo:
    url: str
    pid: int | None
    profile: str
    key: str | None = None  # the API key a client sends (CONCILIO_API_KEY), if any


class ServerUnreachable(ConcilioError):
    exit_code = 2


def runtime_file() -> Path:
    return data_dir() / FILE


def write(url: str, profile: str) -> Path:
    path = runtime_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid(), "profile": profile, "started": time.time()}))
    os.replace(tmp, path)
    return path


def remove() -> None:
    path = runtime_file()
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


def _health(url: str, key: str | None) -> dict | None:
    import httpx

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.get(url.rstrip("/") + "/health", timeout=PROBE_S, headers=headers)
        return response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def find() -> ServerInfo | None:
    """The running server this process should use, or None (run in process)."""
    s = settings()
    key = s.api_key.get_secret_value() if s.api_key else None
    if s.server is not None:
        if s.server.strip().lower() == "off":
            return None
        health = _health(s.server, key)
        if health is None:
            raise ServerUnreachable(f"CONCILIO_SERVER={s.server} does not answer: start it (concilio serve), or "
                                    "unset CONCILIO_SERVER to run in process")
        return ServerInfo(s.server.rstrip("/"), health.get("pid"), health.get("profile", ""), key)
    path = runtime_file()
    try:
        info = json.loads(path.read_text())
        url, pid = str(info["url"]), int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid == os.getpid():
        return None  # the server itself
    health = _health(url, key) if alive(pid) else None
    if health is None or health.get("pid") != pid:
        with contextlib.suppress(OSError):
            if not alive(pid):
                path.unlink()  # left by a server that was killed
        return None
    return ServerInfo(url, pid, str(info.get("profile", "")), key)


class ServerRunError(ConcilioError):
    """The server refused or failed a request; the message is the server's own."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def headers(server: ServerInfo, **extra: str) -> dict[str, str]:
    out = {"X-Concilio-Events": "1", **extra}
    if server.key:
        out["Authorization"] = f"Bearer {server.key}"
    return out


def stream_chat(server: ServerInfo, body: dict, extra_headers: dict[str, str],
                on_chunk: Callable[[dict], bool | None]) -> dict | None:
    """POST a streamed chat completion to the server; `on_chunk` sees each chunk (False stops reading, which
    closes the connection: the server then stops the run). Returns the `concilio` result of the last chunk."""
    import httpx
    from httpx_sse import SSEError, connect_sse

    result = None
    try:
        with httpx.Client(timeout=httpx.Timeout(10.0, read=None)) as http, connect_sse(
                http, "POST", f"{server.url}/v1/chat/completions", json={**body, "stream": True},
                headers=headers(server, **extra_headers)) as source:
            if source.response.status_code != 200:
                source.response.read()
                raise ServerRunError(_message(source.response), 2 if source.response.status_code < 500 else 1)
            for event in source.iter_sse():
                if event.data.strip() == "[DONE]":
                    break
                data = json.loads(event.data)
                if "error" in data:
                    error = data["error"] or {}
                    raise ServerRunError(str(error.get("message", error)), int(error.get("exit_code") or 1))
                result = data.get("concilio", result)
                if on_chunk(data) is False:
                    break
    except (httpx.HTTPError, SSEError) as exc:
        raise ServerRunError(f"the server at {server.url} stopped answering ({type(exc).__name__}); nothing "
                             "half-written was stored: ask again to resume") from None
    return result


def _message(response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code} from the server"


class RemoteModel(ChatModel):
    """One of the server's models, called through its per-model endpoint."""

    def __init__(self, server: ServerInfo, name: str, lease) -> None:
        self.server, self.name, self.lease = server, name, lease
        self.note = f"served by concilio serve (pid {server.pid})"
        self.served_pid = server.pid  # the process that ran the call, for the trace

    def complete(self, messages: Sequence[Message], params: GenParams,
                 on_token: TokenCallback | None = None) -> Completion:
        text: list[str] = []
        start = time.perf_counter()

        def on_chunk(data: dict) -> bool | None:
            event = data.get("concilio_event")
            if event and event.get("event") != "token":
                progress.emit(event.pop("event"), **event)  # waiting/loading on the server, shown here
            for choice in data.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    text.append(piece)
                    if on_token is not None and on_token(piece) is False:
                        return False
            return None

        body = {"model": self.name, "messages": list(messages), "max_tokens": params.max_tokens,
                "temperature": params.temperature, **({"stop": list(params.stop)} if params.stop else {})}
        result = stream_chat(self.server, body, {}, on_chunk) or {}
        row = result.get("trace_row") or {}
        self.lease.load_seconds, self.lease.swapped = float(row.get("load_seconds", 0.0)), bool(row.get("swapped"))
        return Completion("".join(text), int(row.get("tokens_in", 0)), int(row.get("tokens", len(text))),
                          time.perf_counter() - start, result.get("finish", "stop"))

    def close(self) -> None:
        return None


class RemoteSlot:
    """A slot for a process that isn't the server: the server's models are leased through it (see the module)."""

    def __init__(self, server: ServerInfo, models: dict[str, str | None]) -> None:
        self.server, self.models = server, models  # model name -> its file on the server (None: not a file)
        self._local = None
        self.timeout = settings().slot_timeout

    def serves(self, spec) -> bool:
        return spec.name in self.models and (not loads_local_file(spec.backend)
                                             or self.models[spec.name] == str(spec.path))

    def local(self):
        from agents.slot.slot import GpuSlot

        if self._local is None:
            self._local = GpuSlot()
        return self._local

    @contextlib.contextmanager
    def hold(self, spec) -> Iterator:
        if not self.serves(spec):
            with self.local().hold(spec) as lease:
                yield lease
            return
        from agents.slot.slot import Lease

        lease = Lease(None, spec)  # type: ignore[arg-type]
        lease.model = RemoteModel(self.server, spec.name, lease)  # its note says who served it
        yield lease

    def prefetch(self, spec) -> bool:
        return False if self.serves(spec) else self.local().prefetch(spec)

    def pin(self, spec) -> None:
        if not self.serves(spec):
            self.local().pin(spec)

    def resident(self) -> list[str]:
        return self._local.resident() if self._local is not None else []

    def resident_mb(self) -> float:
        return self._local.resident_mb() if self._local is not None else 0.0

    @property
    def waiting(self) -> int:
        return self._local.waiting if self._local is not None else 0

    def clear(self) -> None:
        if self._local is not None:
            self._local.clear()


def remote_slot() -> RemoteSlot | None:
    """A RemoteSlot when a server runs (and this process isn't it), else None."""
    import httpx

    server = find()  # CONCILIO_SERVER that doesn't answer: ServerUnreachable, not a silent local run
    if server is None:
        return None
    try:
        listing = httpx.get(f"{server.url}/v1/models", headers=headers(server), timeout=PROBE_S * 4).json()
        models = {m["id"]: (m.get("concilio") or {}).get("path") for m in listing["data"]
                  if (m.get("concilio") or {}).get("kind") == "model"}
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
    return RemoteSlot(server, models)
