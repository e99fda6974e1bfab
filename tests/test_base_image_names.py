"""A base or service image's name is written in one place, engine/catalogue.py; code elsewhere in src/ refers
to the catalogue's records, so moving the course to Python 3.14 or another registry tag is one edit."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from layerlab.engine import catalogue

SRC = Path(__file__).resolve().parent.parent / "src" / "layerlab"
HOME = SRC / "engine" / "catalogue.py"
NAMES = sorted({b.ref for b in catalogue.family(tuple(catalogue.EXTRA_IMAGES)) + catalogue.SERVICE_IMAGES}, key=len)


def _pattern(names: list[str]) -> re.Pattern[str]:
    # Whole names only: "python:3.13" must not match inside "python:3.13-slim", nor "python:3.13.5".
    return re.compile("|".join(rf"(?<![\w.:/-]){re.escape(n)}(?![\w.:/-])" for n in reversed(names)))


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: prose may name an image, as a comment may."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def spelled_out(source: str, names: list[str]) -> list[tuple[int, str]]:
    """(line, text) of every string literal in `source`, docstrings aside, that holds one of `names`."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    pattern = _pattern(names)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skip
        and pattern.search(node.value)
    ]


def test_the_checker_sees_a_name_in_code_and_in_an_f_string_but_not_in_prose():
    source = '"""Runs on python:3.13-slim."""\n# python:3.13-slim\nA = "python:3.13-slim"\nB = f"{x} on redis:8 now"\n'
    found = spelled_out(source, ["python:3.13-slim", "python:3.13", "redis:8"])
    assert [line for line, _ in found] == [3, 4]
    assert spelled_out('C = "python:3.13-slim"\n', ["python:3.13"]) == []


def test_the_catalogue_names_the_images():
    assert {"python:3.13-slim", "python:3.13", "debian:trixie-slim", "registry:2", "redis:8"} <= set(NAMES)


def test_no_image_name_is_spelled_out_outside_the_catalogue():
    found = {
        str(p.relative_to(SRC)): spelled_out(p.read_text(encoding="utf-8"), NAMES)
        for p in sorted(SRC.rglob("*.py"))
        if p != HOME
    }
    found = {k: v for k, v in found.items() if v}
    assert not found, f"image names written outside engine/catalogue.py (use its records): {found}"
