"""The auto-grader: checks declared in course.yml, run against fixtures recorded from the solutions.

`layerlab.grade_exercise("02-slim")` in a notebook cell grades the exercise folder
and raises when it fails, so nbval fails on a failing exercise.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from layerlab.engine.build import Show

    from .report import CheckResult, Report


def __getattr__(name: str) -> object:
    # The report model (and with it the engine package, seconds to import) loads on first use, so the CLI
    # can list grade.formats in its --help without paying for it.
    if name in ("CheckResult", "Report"):
        from . import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["GradeFailed", "Report", "CheckResult", "grade_folder", "grade_exercise"]


class GradeFailed(AssertionError):
    """The exercise did not pass; the message is the report."""


def grade_folder(path: str | Path, exercise_id: str | None = None, show: Show = None) -> Report:
    from .runner import grade

    return grade(path, exercise_id, show=show)


def default_folder(exercise_id: str) -> Path:
    """The notebook's own folder when it is the exercise's (exercises/<id>/ or solutions/<id>/), else exercises/<id>/."""
    from layerlab.ground.settings import REPO

    here = Path.cwd()
    return here if here.name == exercise_id else REPO / "exercises" / exercise_id


def grade_exercise(exercise_id: str, path: str | Path | None = None) -> Report:
    """Grade, print the report, raise GradeFailed unless every required check passed."""
    from layerlab.ground.text import say

    # One progress line per build (the summary only when headless), then the report.
    report = grade_folder(path or default_folder(exercise_id), exercise_id, show=say)
    print(report.table(), flush=True)
    if not report.passed:
        raise GradeFailed(f"{exercise_id} did not pass: see the report above")
    return report
