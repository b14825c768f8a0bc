"""Three backends in one conversation, on the real embedded model: the orchestrator and reviewer on gpt4all,
the technical role on llama.cpp in process (SmolLM2's original file, no conversion), the legal role on
llama-cpp-python's OpenAI-compatible server on loopback. Then the server is killed mid-answer."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from agents.backends import llamacpp_server
from agents.errors import BackendUnavailable
from agents.models import embedded
from graphs.api import ask
from memory import ledger

pytestmark = pytest.mark.model
pytest.importorskip("llama_cpp.server", reason="needs the 'server' extra (llama-cpp-python[server])")

ALIAS = "smollm2-served"


class Server:
    """llama-cpp-python's OpenAI-compatible server on the embedded model's original file."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/v1"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        self.proc = llamacpp_server.start(embedded.ensure().original, self.port, "--n_ctx", "4096",
                                          "--model_alias", ALIAS)
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def server():
    srv = Server(llamacpp_server.free_port()).start()
    yield srv
    srv.kill()


def profile(path: Path, url: str, *, orchestrator_on_server: bool = False) -> str:
    served = f'backend = "openai"\nname = "{ALIAS}"\noptions = {{ base_url = "{url}", timeout = 60, retries = 1 }}\n'
    text = ('profile = "embedded"\n[roles.technical]\nbackend = "llamacpp"\n'
            f"[roles.legal]\n{served}" + (f"[roles.orchestrator]\n{served}" if orchestrator_on_server else ""))
    path.write_text(text, "utf-8")
    return str(path)


def test_one_conversation_uses_gpt4all_llamacpp_and_a_server_and_the_trace_names_each(server, tmp_path):
    toml = profile(tmp_path / "mixed.toml", server.url)
    db = tmp_path / "threads.sqlite"
    tokens = []
    legal = ask("¿Puede mi casero echarme del piso sin previo aviso?", profile=toml, db=db, thread_id="mix",
                on_event=lambda e: tokens.append(e) if e["event"] == "token" and e["node"] == "legal" else None)
    technical = ask("How do I reverse a list in Python?", profile=toml, db=db, thread_id="mix")
    backends = {r["node"]: r["backend"] for r in legal["trace"] + technical["trace"] if r.get("backend")}
    assert backends["legal"] == "openai" and backends["technical"] == "llamacpp" and backends["review"] == "gpt4all"
    legal_row = next(r for r in legal["trace"] if r["node"] == "legal")
    assert legal_row["model"] == ALIAS and legal_row["tokens"] > 0 and len(tokens) == legal_row["tokens"]  # streamed
    assert technical["turn"] == 2 and legal["answer"].strip() and technical["answer"].strip()
    assert ledger.default().flush()
    with ledger.default().connect() as conn:
        recorded = {tuple(r) for r in conn.exec_driver_sql("SELECT DISTINCT node, backend FROM node_runs "
                                                            "WHERE backend IS NOT NULL")}
    assert {("legal", "openai"), ("technical", "llamacpp"), ("review", "gpt4all")} <= recorded


def test_a_server_killed_mid_answer_falls_back_and_the_thread_stays_whole(server, tmp_path):
    toml = profile(tmp_path / "p.toml", server.url)
    db = tmp_path / "threads.sqlite"
    first = ask("What is the capital of France?", profile=toml, db=db, thread_id="k")

    def kill_on_first_token(event):
        if event["event"] == "token" and event["node"] == "legal":
            server.kill()

    second = ask("¿Puede mi casero echarme del piso sin previo aviso?", profile=toml, db=db, thread_id="k",
                 on_event=kill_on_first_token)
    legal = [r for r in second["trace"] if r["node"] == "legal"][0]
    assert legal["backend"] == "gpt4all" and "unavailable" in legal["note"]
    assert "stopped mid-answer" in legal["note"], legal["note"]
    assert second["turn"] == 2 and second["answer"].strip() and first["turn"] == 1


def test_with_no_model_left_to_fall_back_to_the_error_is_clear_and_the_turn_resumes(server, tmp_path):
    toml = profile(tmp_path / "p.toml", server.url, orchestrator_on_server=True)
    db = tmp_path / "threads.sqlite"
    question = "¿Puede mi casero echarme del piso sin previo aviso?"
    server.kill()
    with pytest.raises(BackendUnavailable, match=rf"model {ALIAS}: no server answers.*{server.url}"):
        ask(question, profile=toml, db=db, thread_id="r")
    back = Server(server.port).start()  # the server is back on the same port
    try:
        again = ask(question, profile=toml, db=db, thread_id="r")
    finally:
        back.kill()
    assert again["resumed"] and again["turn"] == 1 and again["answer"].strip()


def test_llamacpp_loads_the_original_smollm2_file_and_answers_in_both_languages():
    from agents.backends import GenParams, load_model
    from agents.models.gguf_file import KEY_PRE_TOKENIZER, summary
    from agents.models.profiles import ModelSpec

    files = embedded.ensure()
    assert summary(files.original)[0][KEY_PRE_TOKENIZER] == "smollm"  # the file gpt4all can't load as it is
    model = load_model(ModelSpec(name="smollm2", path=files.original, backend="llamacpp", context_window=2048))
    try:
        for question in ("How do I reverse a list in Python?", "¿Qué es un contrato de arrendamiento?"):
            done = model.complete([{"role": "user", "content": question}], GenParams(max_tokens=24))
            assert done.tokens_out > 0 and done.tokens_in > 5 and done.text
    finally:
        model.close()
    with pytest.raises(RuntimeError, match="closed"):
        model.complete([{"role": "user", "content": "hi"}], GenParams(max_tokens=4))


def test_each_specialist_on_its_own_server_and_the_reviewer_on_both_in_turn(tmp_path):
    a, b = Server(llamacpp_server.free_port()).start(), Server(llamacpp_server.free_port()).start()
    try:
        def served(url_opts: str) -> str:
            return f'backend = "openai"\nname = "{ALIAS}"\noptions = {{ {url_opts}, timeout = 60 }}\n'

        toml = tmp_path / "scale-out.toml"
        toml.write_text('profile = "embedded"\n'
                        f'[roles.legal]\n{served(f"base_url = {a.url!r}")}'.replace("'", '"')
                        + f'[roles.technical]\n{served(f"base_url = {b.url!r}")}'.replace("'", '"')
                        + f'[roles.reviewer]\n{served(f"endpoints = [{a.url!r}, {b.url!r}]")}'.replace("'", '"'),
                        "utf-8")
        db = tmp_path / "threads.sqlite"
        legal = ask("¿Puede mi casero echarme del piso sin previo aviso?", profile=str(toml), db=db)
        technical = ask("How do I reverse a list in Python?", profile=str(toml), db=db)
    finally:
        a.kill()
        b.kill()
    for result, node in ((legal, "legal"), (technical, "technical")):
        rows = {r["node"]: r for r in result["trace"]}
        assert rows[node]["backend"] == "openai" and rows[node]["model"] == ALIAS
        assert result["answer"].strip()
