"""The house rules a newcomer relies on: modules small enough to read, and no import circle between modules."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import REPO

PACKAGES = ("agents", "graphs", "memory", "evals")
MAX_LINES = 420  # ≈400, with a little room for a docstring


def _modules() -> dict[str, object]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


@pytest.mark.parametrize("name", sorted(_modules()))
def test_no_module_is_too_long_to_read(name):
    lines = _modules()[name].read_text("utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it where its parts are"


def _top_level_imports(path, modules) -> set[str]:
    """Modules of this project imported when `path` is imported (not those imported inside functions)."""
    out = set()
    for node in ast.parse(path.read_text("utf-8")).body:
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules]
            names = subs if len(subs) == len(node.names) else [node.module, *subs]  # `from pkg import mod`
        out |= {n for n in names if n in modules}
    return out


def test_there_is_no_import_circle():
    modules = _modules()
    graph = {name: _top_level_imports(path, modules) - {name} for name, path in modules.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circle = trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt]
                raise AssertionError("import circle: " + " -> ".join(circle))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
