"""A class's gradebook: one row per student (points per check, total, time, flags, status), as CSV, and what
changed since the gradebook a previous grading left (a regrade after a check or fixture change).

A row comes from the student's grading report, or, when no report came back (the
grading timed out, crashed, or the submission could not be unpacked), from the
reason alone, with zero points. Every text that reaches a row went through
`printable`, so a folder with a non-UTF-8 name still writes as UTF-8.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import Field

from layerlab.engine.result import Result
from layerlab.ground.errors import LayerlabError
from layerlab.ground.text import printable

from .report import CheckResult, Report

Status = Literal["passed", "failed", "broken", "timed out", "error"]
# What a row that could not be graded holds in every check's column, and the order of statuses in a summary.
STATUSES: tuple[Status, ...] = ("passed", "failed", "broken", "timed out", "error")
FIRST, LAST = ["student", "status"], ["total", "max", "seconds", "flags", "reason", "change"]


class GradebookError(LayerlabError):
    """A gradebook.csv that this module did not write (or cannot read back)."""


class Row(Result):
    student: str
    status: Status
    points: dict[str, int] = Field(default_factory=dict)  # per check column, in the exercise's order
    total: int = 0
    max: int = 0
    seconds: float = 0.0
    flags: list[str] = Field(default_factory=list)
    reason: str = ""  # why it is broken, timed out or an error: one line
    change: str = ""  # since the previous gradebook: "" (the same), "new", or "7/12 -> 12/12"


class Change(Result):
    student: str
    before: str  # "7/12 (failed)"
    after: str
    checks: list[str] = Field(default_factory=list)  # "size_at_most 0 -> 3"


def check_keys(results: Iterable[CheckResult]) -> list[str]:
    """One column name per check: its kind, and `kind#2` for a kind's second check in the same exercise."""
    seen: dict[str, int] = {}
    keys = []
    for r in results:
        seen[r.check] = seen.get(r.check, 0) + 1
        keys.append(r.check if seen[r.check] == 1 else f"{r.check}#{seen[r.check]}")
    return keys


def row_from(student: str, report: Report, seconds: float) -> Row:
    """A graded student's row. A report with problems is a broken submission: the grader judged nothing."""
    problems = [printable(p) for p in report.problems]
    status: Status = "broken" if problems else ("passed" if report.passed else "failed")
    return Row(
        student=printable(student),
        status=status,
        points=dict(zip(check_keys(report.results), (r.points for r in report.results), strict=True)),
        total=report.points,
        max=report.max_points,
        seconds=round(seconds, 1),
        # `flags` comes with the autograder bundle (grade/bundle.py); a report from before it has none.
        flags=[printable(f) for f in report.flags],
        reason="; ".join(problems),
    )


def not_graded(student: str, status: Status, reason: str, template: Report | None, seconds: float) -> Row:
    """A row for a student whose grading gave no report: zero points in every check the exercise has."""
    keys = check_keys(template.results) if template else []
    return Row(
        student=printable(student),
        status=status,
        points=dict.fromkeys(keys, 0),
        max=template.max_points if template else 0,
        seconds=round(seconds, 1),
        reason=printable(reason),
    )


# --- CSV ------------------------------------------------------------------------------------------


def to_csv(rows: list[Row]) -> str:
    checks = _check_columns(rows)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(FIRST + checks + LAST)
    for r in rows:
        w.writerow(
            [r.student, r.status]
            + [r.points.get(c, "") for c in checks]
            + [r.total, r.max, f"{r.seconds:.1f}", "; ".join(r.flags), r.reason, r.change]
        )
    return out.getvalue()


def write(rows: list[Row], path: Path) -> None:
    """Write the CSV whole or not at all: an interrupted write must not cost the previous gradebook."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(to_csv(rows), encoding="utf-8")
    os.replace(tmp, path)


def read(path: Path) -> list[Row]:
    """A gradebook this module wrote; [] when there is none. Raises GradebookError for any other file."""
    if not path.exists():
        return []
    try:
        reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8")))
        header = next(reader, [])
        if header[: len(FIRST)] != FIRST or header[-len(LAST) :] != LAST:
            raise ValueError("its columns are not a gradebook's")
        checks = header[len(FIRST) : -len(LAST)]
        rows = []
        for line in reader:
            if len(line) != len(header):
                raise ValueError(f"a line has {len(line)} fields, the header {len(header)}")
            cells = dict(zip(header, line, strict=True))
            rows.append(
                Row.model_validate(
                    {
                        **{k: cells[k] for k in ("student", "status", "total", "max", "seconds", "reason", "change")},
                        "points": {c: cells[c] for c in checks if cells[c] != ""},
                        "flags": [f for f in cells["flags"].split("; ") if f],
                    }
                )
            )
        return rows
    except (OSError, UnicodeDecodeError, ValueError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise GradebookError(
            f"{path} is not a gradebook layerlab can read back ({first}): move it away or pass another --out"
        ) from None


def _check_columns(rows: list[Row]) -> list[str]:
    """Every check column, in the order the rows name them (all graded rows share one exercise's checks)."""
    cols: dict[str, None] = {}
    for r in rows:
        cols.update(dict.fromkeys(r.points))
    return list(cols)


# --- a regrade: what changed ------------------------------------------------------------------------


def _grade(r: Row) -> str:
    return f"{r.total}/{r.max} ({r.status})"


def compare(before: list[Row], after: list[Row]) -> tuple[list[Change], list[str]]:
    """Set each new row's `change` against the previous gradebook; return the changes and the students
    the previous gradebook had and this one has not. A grade changed when its total, maximum or status did;
    the checks whose points moved say why."""
    old = {r.student: r for r in before}
    changes = []
    for r in after:
        prev = old.get(r.student)
        if prev is None:
            r.change = "new" if before else ""
            continue
        if (prev.total, prev.max, prev.status) == (r.total, r.max, r.status):
            continue
        r.change = f"{_grade(prev)} -> {_grade(r)}"
        moved = [
            f"{c} {prev.points.get(c, '-')} -> {r.points.get(c, '-')}"
            for c in dict.fromkeys([*prev.points, *r.points])
            if prev.points.get(c) != r.points.get(c)
        ]
        changes.append(Change(student=r.student, before=_grade(prev), after=_grade(r), checks=moved))
    gone = sorted(set(old) - {r.student for r in after})
    return changes, gone
