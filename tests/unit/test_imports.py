"""Importing concilio has no side effects: no model backend, no database, no download."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_importing_the_graph_loads_no_backend_and_opens_no_database(tmp_path):
    code = (
        "import sys, graphs.cooperation, graphs.api, graphs.cli, graphs.monitor, agents.slot.slot, memory.checkpoints\n"
        "assert graphs.cooperation.graph is not None\n"
        "assert 'gpt4all' not in sys.modules, 'gpt4all imported'\n"
        "assert 'py3langid' not in sys.modules, 'language model loaded'\n"
        "import agents.slot.slot as s; assert s._default is None, 'slot created'\n"
    )
    env = {"CONCILIO_DATA_DIR": str(tmp_path / "data"), "CONCILIO_MODELS_DIR": str(tmp_path / "models"),
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_studio_can_build_the_graph_schemas():
    """`langgraph dev` renders input, output and context schemas; pydantic must be able to build them."""
    from graphs.cooperation import graph

    assert "question" in graph.get_input_jsonschema()["properties"]
    assert {"answer", "route", "language", "trace"} <= set(graph.get_output_jsonschema()["properties"])
    assert "profile" in graph.get_context_jsonschema()["properties"]


def test_the_graph_has_the_cooperation_shape():
    from graphs.cooperation import graph

    g = graph.get_graph()
    edges = {(e.source, e.target) for e in g.edges}
    assert {("__start__", "analyze"), ("analyze", "legal"), ("analyze", "technical"), ("analyze", "general"),
            ("legal", "review"), ("review", "integrate"), ("review", "legal"), ("integrate", "__end__")} <= edges
