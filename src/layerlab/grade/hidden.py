"""Hidden checks: declared for the autograder only, in solutions/<id>/hidden.yml.

    checks:                 # a list in exactly course.yml's check schema
      - check: size_at_most
        factor: 1.0
        points: 2
        required: false

They live under solutions/, so a student release never carries them. The grader
runs them when it grades from the instructor's repository (solutions/ beside
course.yml) and from an autograder bundle (which carries them as hidden/<id>.yml);
a student's report shows their points and a neutral line (report.HIDDEN_MESSAGE).
Like every check, one compares with what `layerlab record` measured on the
solution, never with a number typed here: recording measures hidden checks too.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from layerlab.course import CheckEntry
from layerlab.ground.errors import LayerlabError

from .checks.spec import CheckBase
from .exercise import typed_checks
from .fixture import HIDDEN_NAME

__all__ = ["HIDDEN_NAME", "HiddenChecksError", "load", "parse", "path_for"]


class HiddenChecksError(LayerlabError):
    """A hidden.yml the grader cannot read; `problems` holds one line each."""

    def __init__(self, where: str, problems: list[str]):
        self.where, self.problems = where, problems
        super().__init__(f"{where}: {len(problems)} problem(s)\n" + "\n".join(f"  {p}" for p in problems))


def path_for(course_file: Path, exercise_id: str) -> Path:
    """Where the hidden checks of `exercise_id` live in the repository whose course.yml is `course_file`."""
    return course_file.parent / "solutions" / exercise_id / HIDDEN_NAME


def parse(text: str, where: str) -> list[CheckBase]:
    """The checks of one hidden.yml, typed as course.yml's are. Raises HiddenChecksError."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise HiddenChecksError(where, [f"not valid YAML: {str(e).splitlines()[0]}"]) from None
    if not isinstance(data, dict) or set(data) != {"checks"} or not isinstance(data["checks"], list):
        raise HiddenChecksError(where, ["want one key, `checks:`, holding a list of checks as in course.yml"])
    entries: list[CheckEntry] = []
    problems: list[str] = []
    for i, raw in enumerate(data["checks"]):
        try:
            entries.append(CheckEntry.model_validate(raw))
        except ValidationError as e:
            problems += [f"checks[{i}]: {err['msg']}" for err in e.errors()]
    if problems:  # before typing: its lines number the checks as the file does
        raise HiddenChecksError(where, problems)
    checks, problems = typed_checks(entries)
    if problems:
        raise HiddenChecksError(where, problems)
    return checks


def load(course_file: Path, exercise_id: str) -> list[CheckBase]:
    """The hidden checks beside `course_file` for `exercise_id`; none when it has no hidden.yml."""
    p = path_for(course_file, exercise_id)
    if not p.is_file():
        return []
    return parse(p.read_text(encoding="utf-8"), str(p))
