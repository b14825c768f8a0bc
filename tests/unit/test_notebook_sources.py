"""The notebooks' sources (notebooks/build.py), without running a model: each keeps its threads and ledger in a
scratch data folder before it imports concilio, and the quickstart draws the graph, not raw Mermaid text."""

from __future__ import annotations

import pytest

from notebooks import build


def code_cells(name: str) -> list[str]:
    return [src for kind, src in build.NOTEBOOKS[name] if kind == "code"]


@pytest.mark.parametrize("name", sorted(build.NOTEBOOKS))
def test_each_notebook_starts_in_a_scratch_data_folder(name, monkeypatch, tmp_path):
    first = code_cells(name)[0]
    setup = first.split("\nfrom ")[0]  # what runs before the first concilio import
    assert "CONCILIO_DATA_DIR" in setup and "USE_MY_DATA = False" in setup
    monkeypatch.setenv("CONCILIO_DATA_DIR", str(tmp_path / "real"))
    import os
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    exec(setup, {})  # noqa: S102 - the notebook's own setup code

    assert os.environ["CONCILIO_DATA_DIR"].startswith(str(tmp_path / "concilio-notebook-"))


def test_the_quickstart_draws_the_graph(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    exec(code_cells("01_quickstart.ipynb")[-1], {})  # noqa: S102
    (drawn,) = shown
    assert drawn["text/markdown"].startswith("```mermaid\n") and "analyze -.-> legal" in drawn["text/markdown"]
    assert "| analyze |" in drawn["text/plain"] and "-.->" not in drawn["text/plain"]  # ASCII, not Mermaid
