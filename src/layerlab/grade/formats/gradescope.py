"""Gradescope's `results.json`, as its autograder specification describes it.

Source: "Autograder Specifications", https://gradescope-autograders.readthedocs.io/en/latest/specs/
(the "Output format", "Controlling Test Case Visibility" and "Test case status"
sections). Top level: `score`, `execution_time` (seconds), `output`,
`output_format`, `test_output_format`, `visibility`, `stdout_visibility`,
`extra_data`, `tests[]`; each test: `name`, `number`, `score`, `max_score`,
`status` (only "passed" or "failed"), `output`, `output_format`, `tags`,
`visibility`, `extra_data`. tests/data/gradescope-results.schema.json is that
list as a JSON Schema; tests/test_grade_formats.py validates against it.

Gradescope's `status` has no third value, so a check that did not run is
"failed" with 0 points (a required one keeps the exercise from passing), and
says so three ways: its `output` starts with "NOT RUN", its `tags` hold
"not run", and `extra_data.layerlab_status` is "not run". Gradescope's own
autograder container has no Docker daemon (DESIGN.md): this file is written
where the grading ran and uploaded, or produced by a Gradescope autograder that
reaches an engine elsewhere.

A hidden check: for a student (the default audience) its test is visible with
its points and the neutral line; in the instructor's file it carries its full
output and `visibility: "hidden"`, which Gradescope never shows a student, so
uploading the instructor's file reveals nothing either. Flags go in the top-level
`output` and `extra_data.flags`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from . import MARK, Context, explain, fmt, verdict

if TYPE_CHECKING:
    from layerlab.grade.report import Report


@fmt("gradescope", "Gradescope results.json: status passed/failed, not run tagged and said in output", order=3)
def render(report: Report, ctx: Context) -> str:
    tests: list[dict[str, object]] = []
    for i, problem in enumerate(report.problems, 1):
        tests.append(
            {
                "name": f"submission problem {i}",
                "number": f"0.{i}",
                "score": 0,
                "max_score": 0,
                "status": "failed",
                "output": problem,
                "output_format": "text",
                "tags": ["problem"],
                "visibility": "visible",
                "extra_data": {"layerlab_status": "problem"},
            }
        )
    for i, r in enumerate(report.results, 1):
        text = explain(r)
        head = MARK[r.status] if r.status != "passed" else "passed"
        tests.append(
            {
                "name": r.title,
                "number": str(i),
                "score": r.points,
                "max_score": r.max_points,
                "status": "passed" if r.status == "passed" else "failed",
                "output": f"{head}\n{text}" if text else head,
                "output_format": "text",
                "tags": [r.status] + (["required"] if r.required else ["optional"]) + (["hidden"] if r.hidden else []),
                # The instructor's file keeps a hidden check's text; Gradescope then keeps it from students.
                "visibility": "hidden" if r.hidden and ctx.audience == "instructor" else "visible",
                "extra_data": {"layerlab_status": r.status, "required": r.required, "hidden": r.hidden},
            }
        )
    lines = [verdict(report)]
    lines += [f"problem: {p}" for p in report.problems]
    lines += [f"note: {n}" for n in report.notes]
    lines += [f"flag: {f}" for f in report.flags]
    if report.not_run:
        lines.append(
            f"{len(report.not_run)} check(s) did not run, so they were not checked: "
            + ", ".join(r.check for r in report.not_run)
        )
    doc = {
        "score": report.points,
        "execution_time": round(report.seconds),
        "output": "\n".join(lines),
        "output_format": "text",
        "test_output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {
            "exercise": report.exercise,
            "passed": report.passed,
            "max_points": report.max_points,
            "run_id": report.run_id,
            "engine": report.engine,
            "fixture": report.fixture,
            "autograder": report.autograder,
            "flags": report.flags,
        },
        "tests": tests,
    }
    return json.dumps(doc, indent=2) + "\n"
