"""Each lesson states its objectives and key points from course.yml, the one place they are written
(the course page and the instructor page read the same lists), and writes no list of its own."""

from __future__ import annotations

import jupytext
import pytest

from layerlab import course
from layerlab.course import REPO
from layerlab.course.lesson import Lesson

MODULES = course.load().modules


@pytest.mark.parametrize("module", MODULES, ids=[m.id for m in MODULES])
def test_the_lesson_shows_its_objectives_first_and_key_points_from_course_yml(module):
    nb = jupytext.read(REPO / module.notebook)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    shown = [i for i, src in enumerate(code) if "lesson.objectives()" in src]
    assert shown == [0], "the first code cell shows the objectives, before anything runs"
    assert f'lesson = Lesson("{module.id}")' in code[0], "the first code cell makes the lesson's own object"
    assert any("lesson.key_points()" in src for src in code)
    assert module.objectives and module.key_points
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            assert "## Key points" not in cell.source and "## Objectives" not in cell.source, (
                "a hand-written list drifts from course.yml; call lesson.key_points instead"
            )


def test_the_lists_print_as_course_yml_states_them(capsys):
    m = course.load().module("04")
    lesson = Lesson("04")
    lesson.objectives()
    lesson.key_points()
    out = capsys.readouterr().out
    assert all(f"- {item}" in out for item in m.objectives + m.key_points)
