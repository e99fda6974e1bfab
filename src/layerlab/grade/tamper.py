"""What a submission's repository holds of what grades it, compared with the autograder's: flags, never grades.

Grading with an autograder bundle reads the checks, the fixture and the hidden
checks from the bundle alone. A copy of them in the submission's folder or
repository that differs from the bundle's (a student who loosened a tolerance or
edited a fixture to pass) changes nothing, and is flagged for the instructor:
the submission is graded normally and `Report.flags` says what was ignored.

course.yml is compared on what grades the exercise (its record: checks, limits,
paths, ...; its module's `needs`), not byte for byte: a student release may
rewrite the rest of the file, and a lesson's text grades nothing. Fixtures and
hidden checks are compared as data (JSON, YAML), so a re-indented copy is no flag.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .fixture import FIXTURE_NAME, HIDDEN_NAME

IGNORED = "ignored: graded with the autograder's"
# exercises/<id>/ sits two levels below its repository's root: look no higher unless a .git is met first.
LEVELS = 2


def searched(folder: Path) -> list[Path]:
    """The folder and the folders above it that may be its repository: up to the first that holds .git,
    at most LEVELS up."""
    out: list[Path] = []
    here = folder.resolve()
    for _ in range(LEVELS + 1):
        out.append(here)
        if (here / ".git").exists() or here.parent == here:
            break
        here = here.parent
    return out


def flags(
    folder: Path, exercise_id: str, *, course_text: str, fixture_bytes: bytes, hidden_text: str | None
) -> list[str]:
    """One line for each copy, in the submission's folder or repository, of the autograder's course.yml,
    fixture or hidden checks that differs from it (the bundle's texts are given)."""
    dirs = searched(folder)
    top = dirs[-1]

    def shown(p: Path) -> str:
        return str(p.relative_to(top))

    out: list[str] = []
    want_course = _grading_part(course_text, exercise_id)
    want_fixture = json.loads(fixture_bytes)
    want_hidden = yaml.safe_load(hidden_text) if hidden_text is not None else None
    seen: set[Path] = set()
    for d in dirs:
        if (p := d / "course.yml").is_file():
            out += _course_flag(p, shown(p), exercise_id, want_course)
        solution = d / "solutions" / exercise_id
        for p in (d / FIXTURE_NAME, solution / FIXTURE_NAME):
            if p.is_file() and p not in seen:
                seen.add(p)
                if _json(p) != want_fixture:
                    out.append(f"{shown(p)} differs from the autograder's fixture ({IGNORED})")
        p = solution / HIDDEN_NAME
        if p.is_file() and _yaml(p) != want_hidden:
            out.append(f"{shown(p)} differs from the autograder's hidden checks ({IGNORED})")
    return out


_UNREADABLE = object()  # a file that is not valid JSON/YAML: never equal to what the bundle holds


def _json(p: Path) -> Any:
    try:
        return json.loads(p.read_bytes())
    except ValueError:
        return _UNREADABLE


def _yaml(p: Path) -> Any:
    try:
        return yaml.safe_load(p.read_bytes())
    except yaml.YAMLError:
        return _UNREADABLE


def _grading_part(text: str | bytes, exercise_id: str) -> dict[str, Any] | None:
    """What of course.yml grades `exercise_id`: its record and its module's needs; None when it has none."""
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        return None
    record = next((e for e in data.get("exercises") or [] if isinstance(e, dict) and e.get("id") == exercise_id), None)
    if record is None:
        return None
    module = next(
        (m for m in data.get("modules") or [] if isinstance(m, dict) and m.get("id") == record.get("module")), {}
    )
    return {"exercise": record, "needs": module.get("needs", [])}


def _course_flag(p: Path, name: str, exercise_id: str, want: dict[str, Any] | None) -> list[str]:
    try:
        got = _grading_part(p.read_bytes(), exercise_id)
    except yaml.YAMLError:
        return [f"{name} is not valid YAML ({IGNORED})"]
    if got == want:
        return []
    if got is None or want is None:  # want: the bundle's course.yml holds every exercise it grades
        return [f"{name} has no exercise {exercise_id} ({IGNORED})"]
    keys = sorted(k for k in {*got["exercise"], *want["exercise"]} if got["exercise"].get(k) != want["exercise"].get(k))
    if got["needs"] != want["needs"]:
        keys.append(f"module {want['exercise'].get('module')}'s needs")
    return [f"{name}: exercise {exercise_id}'s {', '.join(keys)} differ from the autograder's ({IGNORED})"]
