"""A port is one Protocol in one place: a second declaration drifts from the first unseen."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _protocols() -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for package in ("core", "adapters", "bot"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef) and any(
                    (isinstance(base, ast.Name) and base.id == "Protocol")
                    or (isinstance(base, ast.Attribute) and base.attr == "Protocol")
                    for base in node.bases
                ):
                    found[node.name].append(str(path.relative_to(ROOT)))
    return found


def test_the_ports_are_found() -> None:
    assert {"Store", "Claims", "AdmissionUnit", "Clock", "Reply"} <= set(_protocols())


def test_no_protocol_is_declared_twice() -> None:
    twice = {name: paths for name, paths in _protocols().items() if len(paths) > 1}
    assert twice == {}
