"""The shape of the house: no import cycle between falbot's modules, and none too big."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "adapters", "bot")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path, known: set[str]) -> set[str]:
    """Every falbot module `path` imports, at any level (TYPE_CHECKING and function bodies
    included: a cycle hidden in either is still a cycle of meaning)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found.update(n for n in names if n in known)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycle_between_falbots_modules() -> None:
    modules = _modules()
    known = set(modules)
    graph = {
        name: {m for m in _imports(path, known) if m != name and not name.startswith(m + ".")}
        for name, path in modules.items()
    }
    assert _cycles(graph) == []


MAX_LINES = 400


def test_every_module_is_under_400_lines() -> None:
    too_long = {
        name: lines
        for name, path in _modules().items()
        if (lines := len(path.read_text().splitlines())) >= MAX_LINES
    }
    assert too_long == {}


def _outer_imports(path: Path) -> set[str]:
    """The top-level packages `path` imports from, at any level."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_arrows_point_inward() -> None:
    """Adapters never import `bot` (the composition root hands them plain values); core imports
    neither."""
    upward = {
        name: sorted(found)
        for name, path in _modules().items()
        if (found := _outer_imports(path) & ({"bot"} if name.startswith("adapters") else set()))
        or (name.startswith("core") and (found := _outer_imports(path) & {"adapters", "bot"}))
    }
    assert upward == {}


def test_the_cycle_finder_finds_a_cycle_through_a_hidden_import(tmp_path: Path) -> None:
    """The cycle check can fail: an import inside a function or under TYPE_CHECKING counts."""
    (tmp_path / "a.py").write_text("def f():\n    from pkg import b\n")
    (tmp_path / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n"
    )
    known = {"pkg", "pkg.a", "pkg.b"}
    graph = {
        "pkg.a": _imports(tmp_path / "a.py", known),
        "pkg.b": _imports(tmp_path / "b.py", known),
    }
    graph = {name: found - {"pkg"} for name, found in graph.items()}
    assert graph == {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    assert _cycles(graph) == [["pkg.a", "pkg.b"]]
