"""The whole cooperation graph on the real embedded model, in Spanish and English, through the Python
API and through the CLI in separate processes (as a user runs it); threads on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from agents.routing.language import detect
from graphs.api import ask
from memory.checkpoints import checkpointer

pytestmark = pytest.mark.model

FLOW = ["analyze", "legal", "review", "integrate"]


@pytest.mark.parametrize(
    "question, lang, domain",
    [
        ("¿Puede mi casero echarme del piso sin previo aviso?", "es", "legal"),
        ("Can my landlord evict me without any notice?", "en", "legal"),
        ("How do I reverse a list in Python?", "en", "technical"),
        ("¿Cómo invierto una lista en Python?", "es", "technical"),
    ],
)
def test_full_graph_answers_in_the_question_language(question, lang, domain, tmp_path):
    result = ask(question, profile="embedded", db=tmp_path / "t.sqlite")
    assert result["language"] == lang
    assert result["route"]["domain"] == domain
    flow = [r["node"] for r in result["trace"]]
    # analyze → specialist → review, at most one revision round, then integrate
    assert flow in (["analyze", domain, "review", "integrate"],
                    ["analyze", domain, "review", domain, "review", "integrate"]), flow
    answer = result["answer"]
    assert len(answer.split()) >= 5
    assert detect(answer, fallback=lang)[0] == lang, answer
    model_rows = [r for r in result["trace"] if r["model"]]
    assert all(r["model"] == "SmolLM2-135M-Instruct" and r["tokens"] > 0 for r in model_rows)
    assert sum(r["swapped"] for r in model_rows) <= 1  # one file for every role: at most the first load


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "graphs.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_a_second_process_continues_the_thread_and_the_reviewer_sees_turn_one(storage):
    first = cli("ask", "¿Qué es un contrato de arrendamiento?", "--thread", "t1", "--json")
    assert first.returncode == 0, first.stderr
    one = json.loads(first.stdout)
    assert one["thread_id"] == "t1" and one["turn"] == 1 and one["language"] == "es"
    assert {"answer", "route", "language", "thread_id", "trace"} <= set(one)
    for row in one["trace"]:
        assert {"node", "model", "seconds", "load_seconds", "swapped", "tokens", "skipped"} <= set(row)
    second = cli("ask", "¿Y qué pasa si no pago la renta?", "--thread", "t1", "--json")
    assert second.returncode == 0, second.stderr
    two = json.loads(second.stdout)
    assert two["turn"] == 2
    review = [r for r in two["trace"] if r["node"] == "review"][0]
    assert "saw 1 earlier turn" in review["note"]
    with checkpointer() as saver:
        from graphs.cooperation import build_graph

        values = build_graph(checkpointer=saver).get_state({"configurable": {"thread_id": "t1"}}).values
    contents = [m.content for m in values["messages"]]
    assert contents[0] == "¿Qué es un contrato de arrendamiento?" and contents[1] == one["answer"]
    assert contents[2] == "¿Y qué pasa si no pago la renta?" and len(contents) == 4


def test_cli_prints_answer_and_trace_table():
    out = cli("ask", "What is a lease agreement?")
    assert out.returncode == 0, out.stderr
    import re

    assert re.search(r"concilio: loading SmolLM2-135M-Instruct \(\d+\.\d MB\)", out.stderr), out.stderr
    assert "libllamamodel" not in out.stderr  # gpt4all's CUDA-probe noise is filtered
    assert "route: legal" in out.stdout and "language: en" in out.stdout
    for node in FLOW:
        assert f"\n{node} " in out.stdout


@pytest.mark.parametrize("question", ["", "   "])
def test_cli_refuses_an_empty_question_and_writes_nothing(question, tmp_path):
    out = cli("ask", question, env={"CONCILIO_DATA_DIR": str(tmp_path / "data")})
    assert out.returncode == 2
    assert "error: The question is empty" in out.stderr
    assert not (tmp_path / "data").exists()


def test_a_truncated_model_file_is_named_and_the_thread_is_intact(tmp_path):
    first = cli("ask", "What is a lease agreement?", "--thread", "keep", "--json")
    assert first.returncode == 0, first.stderr
    from agents.models import embedded

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(embedded.paths().converted.read_bytes()[:5_000_000])
    cfg = tmp_path / "broken.toml"
    cfg.write_text(f'[roles.reviewer]\npath = "{broken}"\n', "utf-8")
    out = cli("ask", "Can my landlord evict me?", "--thread", "keep", "--profile", str(cfg))
    assert out.returncode == 1
    assert f"Model file {broken}: is truncated" in out.stderr and "Fix: check [roles.reviewer] path" in out.stderr
    with checkpointer() as saver:
        from graphs.cooperation import build_graph

        values = build_graph(checkpointer=saver).get_state({"configurable": {"thread_id": "keep"}}).values
    assert [m.content for m in values["messages"]] == ["What is a lease agreement?", json.loads(first.stdout)["answer"]]


def test_models_command_lists_roles_files_and_the_active_profile():
    out = cli("models", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["profile"] == "embedded"
    assert [r["role"] for r in data["roles"]] == ["orchestrator", "legal", "technical", "reviewer"]
    assert all(r["present"] and r["size_bytes"] > 90_000_000 for r in data["roles"])
