"""README.md holds exactly two set-up commands, and .ci/run runs the second one verbatim."""

from __future__ import annotations

import re

from tests.conftest import REPO


def setup_commands() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.DOTALL)


def test_exactly_two_setup_commands_one_runs_the_app_one_the_tests():
    run, test = setup_commands()
    assert "concilio ask" in run and "pytest" not in run
    assert "pytest" in test


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert setup_commands()[1] in ci
