"""One error base: every exception the library raises on purpose is a LayerlabError, printed as written.

A caller (the CLI, a notebook) catches one type and prints `str(e)`; a lookup that fails is a
`NotFound`, which is a KeyError without KeyError's quotes, so nobody strips them off a message.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import layerlab
from layerlab import course
from layerlab.cli import main
from layerlab.ground.errors import LayerlabError, NotFound

SRC = Path(layerlab.__file__).parent
# grade/ is the grader's (issue 24, section 1 gives its errors the same base); add it here when it does.
LAYERS = ("ground", "engine", "measure", "course")


def _own_exceptions() -> dict[str, type[BaseException]]:
    found = {}
    for layer in LAYERS:
        pkg = importlib.import_module(f"layerlab.{layer}")
        names = [pkg.__name__] + [m.name for m in pkgutil.walk_packages(pkg.__path__, f"{pkg.__name__}.")]
        for name in names:
            mod = importlib.import_module(name)
            for cname, cls in vars(mod).items():
                if inspect.isclass(cls) and issubclass(cls, BaseException) and cls.__module__ == name:
                    found[f"{name}.{cname}"] = cls
    return found


def test_every_exception_the_library_defines_is_a_layerlab_error():
    classes = _own_exceptions()
    assert "layerlab.engine.EngineUnavailable" in classes and "layerlab.course.CourseFileError" in classes
    assert sorted(n for n, c in classes.items() if not issubclass(c, LayerlabError)) == []


def _python_files(*layers: str) -> list[Path]:
    return [p for layer in layers for p in sorted((SRC / layer).rglob("*.py"))] + [SRC / "cli.py"]


def test_no_bare_key_error_is_raised_and_no_quotes_are_stripped():
    """`raise KeyError(message)` prints as 'message' in quotes; `str(e).strip("'\\"")` was the cure, seven times."""
    raised, stripped = [], []
    for p in _python_files(*LAYERS):
        rel = str(p.relative_to(SRC))
        for node in ast.walk(ast.parse(p.read_text())):
            if (
                isinstance(node, ast.Raise)
                and isinstance(node.exc, ast.Call)
                and isinstance(node.exc.func, ast.Name)
                and node.exc.func.id == "KeyError"
            ):
                raised.append(f"{rel}:{node.lineno}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "strip"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and set(str(node.args[0].value)) == {"'", '"'}
            ):
                stripped.append(f"{rel}:{node.lineno}")
    assert (raised, stripped) == ([], [])


def test_a_failed_lookup_reads_as_written():
    with pytest.raises(KeyError) as caught:  # still a KeyError, for code that catches lookups
        course.load().module("99")
    assert isinstance(caught.value, NotFound)
    assert str(caught.value).startswith("no module '99' in course.yml; known: 00-")


def test_the_cli_prints_a_failed_lookup_without_quotes(capsys):
    assert main(["run", "99"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("no module '99' in course.yml") and not err.startswith('"')
