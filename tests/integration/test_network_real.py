"""A model server on another host, across a real network: the test makes that host (a network namespace joined
to this one by a veth pair on a private /30), runs llama-cpp-python's server on the embedded model there, points
the legal role at it, and cuts the link mid-answer. The README's rules must hold: the legal role falls back to
the orchestrator's model, the turn completes, the next turn after the link is back uses the server again, and
no turn is lost. The local roles are on the fake backend: this is about the network, not the answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from agents.models import embedded
from graphs.api import ask
from graphs.cooperation import build_graph
from memory import threads
from memory.checkpoints import checkpointer

pytestmark = pytest.mark.model
pytest.importorskip("llama_cpp.server", reason="needs the 'server' extra (llama-cpp-python[server])")

ALIAS = "smollm2-remote"
PORT = 8081


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=check)


class ModelHost:
    """A network namespace with its end of a veth pair at 10.231.N.2/30; this host's end is 10.231.N.1."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.ns, self.here, self.there = f"cnc-{tag}", f"cnch{tag}", f"cncn{tag}"
        net = int(tag, 16) % 250
        self.local, self.remote = f"10.231.{net}.1", f"10.231.{net}.2"
        self.url = f"http://{self.remote}:{PORT}/v1"
        self.server: subprocess.Popen | None = None

    def build(self) -> None:
        ip("netns", "add", self.ns)
        ip("link", "add", self.here, "type", "veth", "peer", "name", self.there)
        ip("link", "set", self.there, "netns", self.ns)
        ip("addr", "add", f"{self.local}/30", "dev", self.here)
        ip("link", "set", self.here, "up")
        ip("netns", "exec", self.ns, "ip", "addr", "add", f"{self.remote}/30", "dev", self.there)
        ip("netns", "exec", self.ns, "ip", "link", "set", self.there, "up")
        ip("netns", "exec", self.ns, "ip", "link", "set", "lo", "up")

    def serve(self, wait: float = 120.0) -> None:
        model = embedded.ensure().original
        self.server = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, sys.executable, "-m", "agents.backends.llamacpp_server", "--model",
             str(model), "--host", self.remote, "--port", str(PORT), "--n_ctx", "2048", "--model_alias", ALIAS],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/models", timeout=2)
                return
            except OSError:
                assert self.server.poll() is None, "the model server in the namespace exited while starting"
                time.sleep(0.5)
        raise TimeoutError("the model server in the namespace did not answer")

    def answers(self, wait: float = 120.0) -> None:
        """Block until the server answers a short completion (it finishes an orphaned stream first)."""
        import json

        body = json.dumps({"model": ALIAS, "max_tokens": 4,
                           "messages": [{"role": "user", "content": "Hola"}]}).encode()
        deadline = time.monotonic() + wait
        while True:
            try:
                request = urllib.request.Request(f"{self.url}/chat/completions", body,
                                                 {"Content-Type": "application/json"})
                urllib.request.urlopen(request, timeout=30).read()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def cut(self) -> None:
        ip("link", "set", self.here, "down")

    def restore(self) -> None:
        ip("link", "set", self.here, "up")

    def remove(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.kill()
            self.server.wait(10)
        try:
            ip("link", "del", self.here, check=False)  # also removes its peer
            ip("netns", "del", self.ns, check=False)
        except FileNotFoundError:  # no `ip` here: nothing was made
            pass


@pytest.fixture
def model_host():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (ip netns add)")
    host = ModelHost()
    try:
        try:
            host.build()
        except (subprocess.CalledProcessError, FileNotFoundError) as exc:
            pytest.skip(f"can't make a network namespace here: {getattr(exc, 'stderr', exc)}")
        host.serve()
        host.answers()  # loaded and warm: the first turn's timeout measures the network, not a cold start
        yield host
    finally:
        host.remove()
    assert host.ns not in ip("netns", "list", check=False).stdout  # nothing left behind


def profile(path, url: str) -> str:
    lines = []
    for role, reply in (("orchestrator", "Respuesta final. Final answer."), ("technical", "Use reversed(xs)."),
                        ("reviewer", "OK")):
        lines += [f"[roles.{role}]", 'backend = "fake"', f'path = "fake-{role}.gguf"',
                  f'options = {{ reply = "{reply}" }}']
    lines += ["[roles.legal]", 'backend = "openai"', f'name = "{ALIAS}"', "max_tokens = 120",
              f'options = {{ base_url = "{url}", timeout = 20, retries = 0, cooldown = 1 }}']
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return str(path)


def legal_row(result: dict) -> dict:
    return next(r for r in result["trace"] if r["node"] == "legal")


def test_a_model_host_cut_off_mid_answer_falls_back_and_no_turn_is_lost(model_host, tmp_path):
    toml = profile(tmp_path / "remote.toml", model_host.url)
    question = "¿Puede mi casero echarme del piso sin previo aviso?"
    first = ask(question, profile=toml, thread_id="net", local=True)
    assert legal_row(first)["backend"] == "openai" and legal_row(first)["model"] == ALIAS, legal_row(first)
    events: list[dict] = []
    link = {"up": True}

    def on_event(event: dict) -> None:
        events.append(event)
        if event["event"] == "token" and event.get("node") == "legal" and link["up"]:
            link["up"] = False
            model_host.cut()  # mid-answer: tokens have come, the rest never will

    started = time.monotonic()
    try:
        second = ask("Can my landlord evict me without notice?", profile=toml, thread_id="net", local=True,
                     on_event=on_event)
    finally:
        model_host.restore()
    cut_seconds = time.monotonic() - started
    print(f"turn 2 with the link cut mid-answer: {cut_seconds:.1f} s, legal fell back")
    assert not link["up"], "the cut never happened: no legal token streamed"
    assert any(e["event"] == "fallback" for e in events)
    row = legal_row(second)
    assert "unavailable" in row["note"] and "orchestrator's model answered" in row["note"], row
    assert second["answer"].strip() and cut_seconds < 90
    model_host.answers()  # the link is back and the host has finished the stream nobody reads
    time.sleep(1.5)  # past the endpoint's cooldown: it is probed and used again
    third = ask("¿Y si no tengo contrato escrito?", profile=toml, thread_id="net", local=True)
    row = legal_row(third)
    assert row["backend"] == "openai" and "unavailable" not in row.get("note", ""), row
    with checkpointer() as saver:
        turns = threads.show(build_graph(checkpointer=saver), "net")
    assert [t.turn for t in turns if t.answer is not None] == [1, 2, 3] and all(t.answer for t in turns)
