"""`concilio serve` on the real embedded model, driven by clients concilio did not write (the `openai` SDK and
LangChain's ChatOpenAI) and by concilio's own CLI and API in other processes, all on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.model
MODEL = "SmolLM2-135M-Instruct"


def start_server(base: Path, *extra: str) -> tuple[subprocess.Popen, dict, dict]:
    env = {**os.environ, "CONCILIO_DATA_DIR": str(base / "data"), "CONCILIO_RUNTIME_DIR": str(base / "run"),
           "CONCILIO_PROFILE": "embedded"}
    env.pop("CONCILIO_SERVER", None)
    proc = subprocess.Popen([sys.executable, "-m", "graphs.cli", "serve", "--port", "0", *extra], cwd=REPO,
                            env=env, stderr=subprocess.PIPE, text=True)
    runtime = base / "data" / "server.json"
    deadline = time.monotonic() + 300
    while not runtime.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)
    return proc, env, json.loads(runtime.read_text())


def cli(env: dict, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "graphs.cli", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=timeout)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, env, info = start_server(tmp_path_factory.mktemp("serve"))
    yield {"url": info["url"], "pid": info["pid"], "env": env,
           "sdk": openai.OpenAI(base_url=info["url"] + "/v1", api_key="unused", max_retries=0, timeout=300)}
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down cleanly
    assert "stopped; models unloaded" in proc.stderr.read()
    assert not (Path(env["CONCILIO_DATA_DIR"]) / "server.json").exists()  # removed on a clean stop


def test_the_openai_sdk_asks_plain_and_streamed_and_the_thread_is_stored(server):
    sdk = server["sdk"]
    listed = {m.id for m in sdk.models.list()}
    assert {"concilio", "concilio-legal", "concilio-technical", "concilio-general", MODEL} <= listed
    plain = sdk.chat.completions.create(model="concilio", messages=[
        {"role": "user", "content": "How do I reverse a list in Python?"}])
    assert plain.choices[0].message.content.strip() and plain.choices[0].finish_reason == "stop"
    assert plain.usage.total_tokens > 0

    chunks = list(sdk.chat.completions.create(
        model="concilio-legal", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "¿Qué es un contrato de arrendamiento?"}],
        extra_headers={"X-Concilio-Thread": "sdk-es"}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    thinking = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks
                       if c.choices)
    assert text.strip() and "route: legal" in thinking
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop" and chunks[-1].usage

    again = sdk.chat.completions.create(model="concilio-legal", extra_headers={"X-Concilio-Thread": "sdk-es"},
                                        messages=[{"role": "user", "content": "¿Y si no pago la renta?"}])
    assert again.model_extra["concilio"]["turn"] == 2
    shown = cli(server["env"], "threads", "show", "sdk-es", "--json")
    assert shown.returncode == 0, shown.stderr
    turns = json.loads(shown.stdout)
    assert [t["turn"] for t in turns] == [1, 2] and all(t["answer"] for t in turns)


def test_wrong_requests_are_openai_errors(server):
    sdk = server["sdk"]
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="messages"):
        sdk.chat.completions.create(model="concilio", messages=[])


def test_langchain_chat_openai_invokes_and_streams_one_model(server):
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(base_url=server["url"] + "/v1", api_key="unused", model=MODEL, max_tokens=12,
                      temperature=0, max_retries=0)
    assert chat.invoke("Say hello in Spanish.").content.strip()
    assert "".join(c.content for c in chat.stream("Say hello in English.")).strip()


def test_a_client_that_hangs_up_mid_stream_frees_the_slot(server):
    with httpx.stream("POST", server["url"] + "/v1/chat/completions", timeout=120, json={
            "model": MODEL, "stream": True, "max_tokens": 200,
            "messages": [{"role": "user", "content": "Write a long story about a dragon."}]}) as response:
        for line in response.iter_lines():
            if '"content"' in line and '"content": ""' not in line:
                break  # the first token: hang up
    deadline = time.monotonic() + 30
    while httpx.get(server["url"] + "/api/ps").json()["runs"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(server["url"] + "/api/ps").json()["runs"] == []
    done = server["sdk"].chat.completions.create(model=MODEL, max_tokens=4, messages=[
        {"role": "user", "content": "Hi"}])
    assert done.choices[0].message.content


def test_concilio_ask_and_a_graph_in_another_process_use_the_server(server):
    served = cli(server["env"], "ask", "What is the capital of France?", "--domain", "general", "--json")
    assert served.returncode == 0, served.stderr
    result = json.loads(served.stdout)
    assert result["served_by"] == server["pid"]
    assert {r["pid"] for r in result["trace"] if r.get("model") and r.get("tokens")} == {server["pid"]}

    local = cli(server["env"], "ask", "What is the capital of France?", "--domain", "general", "--json", "--local")
    assert local.returncode == 0, local.stderr
    assert server["pid"] not in {r.get("pid") for r in json.loads(local.stdout)["trace"] if r.get("model")}

    code = ("import json\nfrom graphs.cooperation import build_graph\n"
            "out = build_graph().invoke({'question': 'What is the capital of France?', 'force_domain': 'general'})\n"
            "print(json.dumps(out['trace']))")
    graph = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=server["env"],
                           cwd=REPO, timeout=900)
    assert graph.returncode == 0, graph.stderr
    rows = [r for r in json.loads(graph.stdout.strip().splitlines()[-1]) if r.get("model") and r.get("tokens")]
    assert rows and all(r["pid"] == server["pid"] for r in rows), rows  # each model call ran in the server
    assert all("served by concilio serve (pid " in r["note"] for r in rows if r["node"] != "review"), rows


def test_a_server_killed_mid_answer_loses_no_turn_and_the_next_ask_resumes(tmp_path):
    proc, env, info = start_server(tmp_path)
    try:
        first = cli(env, "ask", "¿Qué es una fianza?", "--thread", "k", "--json")
        assert first.returncode == 0 and json.loads(first.stdout)["served_by"] == info["pid"], first.stderr
        seen = threading.Event()

        def stream() -> None:
            try:
                with httpx.stream("POST", info["url"] + "/v1/chat/completions", timeout=300,
                                  headers={"X-Concilio-Thread": "k"}, json={
                                      "model": "concilio-legal", "stream": True,
                                      "messages": [{"role": "user", "content": "¿Y si no la devuelven?"}]}) as r:
                    for line in r.iter_lines():
                        if "is writing" in line:
                            seen.set()  # analyze is checkpointed; the specialist is generating
            except httpx.HTTPError:
                pass

        thread = threading.Thread(target=stream)
        thread.start()
        assert seen.wait(300)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        thread.join(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    resumed = cli(env, "ask", "¿Y si no la devuelven?", "--thread", "k", "--json")
    assert resumed.returncode == 0, resumed.stderr
    out = json.loads(resumed.stdout)
    assert "served_by" not in out and out["turn"] == 2  # the dead server's runtime file is ignored
    assert out["resumed"]  # from the checkpoint the killed server's run left (analyze done)
    shown = json.loads(cli(env, "threads", "show", "k", "--json").stdout)
    assert [t["turn"] for t in shown] == [1, 2] and shown[0]["answer"] == json.loads(first.stdout)["answer"]
