"""The package's layers import only downwards: ground <- engine <- measure <- course <- grade.

A newcomer finds each concern in one place only while this holds: the engine
layer never reaches up into what the course measures or shows, and nothing but
the grader imports the grader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "layerlab"
ALLOWED = {
    "ground": {"ground"},
    "engine": {"ground", "engine"},
    "measure": {"ground", "engine", "measure"},
    "course": {"ground", "engine", "measure", "course"},
    "grade": {"ground", "engine", "measure", "course", "grade"},
}


def _layer_imports(path: Path) -> set[str]:
    """The layers a module imports, absolute (`layerlab.engine.build`) or relative (`from ..measure import`)."""
    here = path.relative_to(SRC.parent).with_suffix("").parts  # ("layerlab", "engine", "build")
    package = here[:-1] if here[-1] != "__init__" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names = [mod] + [f"{mod}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "layerlab" and len(parts) > 1 and parts[1] in ALLOWED:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_the_layers_below_it(layer):
    wrong = {
        str(p.relative_to(SRC)): sorted(_layer_imports(p) - ALLOWED[layer])
        for p in sorted((SRC / layer).rglob("*.py"))
    }
    wrong = {k: v for k, v in wrong.items() if v}
    assert not wrong, f"{layer}/ imports layers above it: {wrong}"


def test_every_module_lives_in_a_layer():
    top = sorted(p.name for p in SRC.glob("*.py"))
    assert top == ["__init__.py", "cli.py"], f"modules outside ground/, engine/, measure/, course/, grade/: {top}"
