"""The notebooks run top to bottom on the embedded model, and the committed (executed) copies match
their source in notebooks/build.py."""

from __future__ import annotations

import nbformat
import pytest

from evals.answers import DEFAULT_DATA
from notebooks import build

pytestmark = pytest.mark.model


def outputs(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"{out.get('ename')}: {out.get('evalue')}"
            parts.append(out.get("text", "") or str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.parametrize("name", sorted(build.NOTEBOOKS))
def test_committed_notebooks_are_built_from_their_source_and_executed(name):
    committed = nbformat.read(build.HERE / name, 4)
    assert [c.source for c in committed.cells] == [c.source for c in build.build(name).cells]
    code = [c for c in committed.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), "commit them executed: python -m notebooks.build --execute"
    outputs(committed)  # and without errors


def test_quickstart_runs():
    text = outputs(build.execute(build.build("01_quickstart.ipynb")))
    assert "'domain': 'legal'" in text and " es\n" in text  # the Spanish question's route and language
    assert "analyze" in text and "integrate" in text  # the trace
    assert "saw 1 earlier turn" in text  # the second turn's reviewer saw the first
    assert "| analyze |" in text and "| integrate |" in text  # the graph drawn as ASCII (text/plain)


def test_step_through_runs():
    text = outputs(build.execute(build.build("02_step_through.ipynb")))
    assert "next: ('technical',)" in text  # the route changed with update_state
    assert "ran integrate" in text and "['analyze', 'technical', 'review', 'integrate']" in text


@pytest.mark.skipif(not DEFAULT_DATA.exists(), reason=f"needs {DEFAULT_DATA} (the shared data beside the repo)")
def test_effectiveness_runs():
    nb = build.execute(build.build("03_effectiveness.ipynb"))
    text = outputs(nb)
    assert "SmolLM2-135M-Instruct" in text and "0 failed writes" in text  # the stats table
    assert "concilio_runs_total" in text and "concilio_feedback_total" in text  # the metrics
    markdown = "".join(o.get("data", {}).get("text/markdown", "") for c in nb.cells for o in c.get("outputs", []))
    assert "| graph |" in markdown and "| oracle |" in markdown  # the answer-quality report


def test_gpu_slot_runs():
    text = outputs(build.execute(build.build("04_gpu_slot.ipynb")))
    assert "weights 92.1 MB + KV 90.0 MB + 28.0 MB = 210 MB" in text  # estimates before loading
    assert "{'event': 'prefetch', 'model': 'SmolLM2 (legal)'}" in text  # read as soon as the route is known
    assert "'evicted': ['SmolLM2 (legal)']" in text  # single: the reviewer's model swaps the legal one out
    assert "loads: 3 · states:" in text  # a roomy budget: three models, each loaded once, all still ready
    assert "['technical']\n1\n0" in text  # the pure decisions
