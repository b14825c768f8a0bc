"""Importing concilio has no side effects: no model backend, no database, no download."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_importing_the_graph_loads_no_backend_and_opens_no_database(tmp_path):
    code = (
        "import sys, graphs.cooperation, graphs.api, graphs.cli, agents.slot, memory.checkpoints\n"
        "assert graphs.cooperation.graph is not None\n"
        "assert 'gpt4all' not in sys.modules, 'gpt4all imported'\n"
        "assert 'py3langid' not in sys.modules, 'language model loaded'\n"
        "import agents.slot as s; assert s._default is None, 'slot created'\n"
    )
    env = {"CONCILIO_DATA_DIR": str(tmp_path / "data"), "CONCILIO_MODELS_DIR": str(tmp_path / "models"),
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert list(tmp_path.iterdir()) == []  # nothing created
