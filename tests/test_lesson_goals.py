"""A lesson that prints a "goal" asserts it: on the same figure, with the same number.

A printed goal that no assert checks is a claim the course never verifies
(issue 17: lesson 03 printed a 5% goal and asserted 25%, lesson 04 printed
25% and asserted nothing).
"""

import ast
import re

import pytest

from layerlab import course

GOAL = re.compile(r"\bgoal\b", re.I)
PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")


def _cells(path):
    cell = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            yield "\n".join(cell)
            cell = []
        else:
            cell.append(line)
    yield "\n".join(cell)


def _text(node) -> str:
    """The literal text of a string or f-string argument."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    return ""


def goals(source: str):
    """(names in the printed figure, numbers in the goal) for each print() that states a goal."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
            text = " ".join(_text(a) for a in node.args)
            if GOAL.search(text):
                names = {n.id for a in node.args for n in ast.walk(a) if isinstance(n, ast.Name)}
                numbers = {float(x) for x in PERCENT.findall(text)}
                yield names, numbers


def asserts(source: str):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assert):
            names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
            consts = {
                n.value
                for n in ast.walk(node.test)
                if isinstance(n, ast.Constant) and isinstance(n.value, (int, float))
            }
            yield names, consts


def test_the_checker_catches_an_unasserted_goal():
    cell = 'share = 0.03\nprint(f"{share:.0%}: the course\'s goal is at most 5%")\nassert share < 0.25\n'
    ((names, numbers),) = goals(cell)
    assert not any(names & a and (numbers <= {c * 100 for c in k} | k) for a, k in asserts(cell))


@pytest.mark.parametrize("module", [m.id for m in course.load().modules])
def test_every_printed_goal_is_asserted(module):
    path = course.REPO / course.load().module(module).notebook
    for cell in _cells(path):
        if "goal" not in cell:
            continue
        try:
            stated = list(goals(cell))
        except SyntaxError:
            continue  # a cell that is not plain Python (a magic): nothing to check
        checks = list(asserts(cell))
        for names, numbers in stated:
            ok = any(names & a_names and numbers <= ({c * 100 for c in consts} | consts) for a_names, consts in checks)
            assert ok, (
                f"{path.name}: a printed goal on {sorted(names)} ({sorted(numbers)}%) has no assert with that number in its cell:\n{cell}"
            )
