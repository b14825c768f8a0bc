"""LangGraph Studio's server: `langgraph dev` serves langgraph.json's graph on loopback, and a run
through `langgraph-sdk` answers (one waited run, one streamed run that gets message chunks and custom
progress events). Real embedded model; the server is stopped at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, free_port

pytestmark = pytest.mark.model


@pytest.fixture
def server(tmp_path):
    port = free_port()
    cli = Path(sys.executable).with_name("langgraph")
    log = open(tmp_path / "langgraph-dev.log", "w")
    proc = subprocess.Popen([str(cli), "dev", "--host", "127.0.0.1", "--port", str(port), "--no-browser",
                             "--no-reload"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"langgraph dev exited: {(tmp_path / 'langgraph-dev.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("langgraph dev did not answer on /ok within 90 s")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_studio_server_runs_the_graph_and_streams_tokens_and_progress(server):
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=server)
    assert [a["graph_id"] for a in client.assistants.search()] == ["concilio"]
    out = client.runs.wait(None, "concilio", input={"question": "¿Qué es un contrato de arrendamiento?"})
    assert out["language"] == "es" and out["route"]["domain"] == "legal" and len(out["answer"].split()) >= 3
    tokens: dict[str, str] = {}
    events = []
    for part in client.runs.stream(None, "concilio", input={"question": "How do I reverse a list in Python?"},
                                   stream_mode=["messages-tuple", "custom"]):
        if part.event == "messages":
            chunk, meta = part.data
            tokens[meta["langgraph_node"]] = tokens.get(meta["langgraph_node"], "") + chunk["content"]
        elif part.event == "custom":
            events.append(part.data["event"])
    assert tokens.get("technical") and tokens.get("integrate")
    assert {"route", "generating", "token", "verdict"} <= set(events)
