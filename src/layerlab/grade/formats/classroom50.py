"""Classroom 50's `result.json`, schema `classroom50/result/v1`.

Source: the published JSON Schema, schemas/result-v1.schema.json in
https://github.com/foundation50/classroom50 (read at commit 6e593c79), which
mirrors the runner's `validate_result` (cli/gh-teacher/skeleton/dotgithub/
scripts/runner.py) and the "Advanced Autograding" wiki page's result.json
contract. Required: `schema`, `classroom`, `assignment`, `assignment_type`
("individual"|"group"), `owner`, `submission` (a `submit/...` tag), `commit`,
`release`, `review`, `datetime` (YYYY-MM-DDTHH:MM:SSZ), `score`, `max-score`
(integers), `tests[]`; optional `graded_at`, `submitted_by`; no other field.
Each test: `test-name`, `passed` (boolean), `score`, `max-score` (integers),
and any extra fields, which the runner and collector keep as they are.
tests/data/classroom50-result-v1.schema.json is that list as a JSON Schema.

The identity fields come from the variables Classroom 50's runner hands an
autograder (CLASSROOM, ASSIGNMENT, SUBMISSION_TAG, USERNAME, COMMIT_URL,
RELEASE_URL, REVIEW_URL; the runner stamps `owner` and `assignment_type`
itself); outside that runner they fall back to local stand-ins, so the file
still validates. `passed` is a boolean, so a check that did not run is
`passed: false` with 0 points, and its extra `status` field says "not run"
(besides "passed"/"failed"), with `output` saying why.

A submission problem is a test of its own (0 of 0 points, status "problem"), and
so is each flag (what the submission changed that grading ignored: status
"flag", `passed: true`, since it costs nothing). A hidden check's test says
`hidden: true`; for a student its output is the neutral line only.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from . import Context, explain, fmt

if TYPE_CHECKING:
    from layerlab.grade.report import Report

SCHEMA = "classroom50/result/v1"


@fmt("classroom50", "Classroom 50 result.json (classroom50/result/v1): integer scores, a status per test", order=4)
def render(report: Report, ctx: Context) -> str:
    env = ctx.env
    stamp = ctx.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    local = f"file://{report.path}" if report.path.startswith("/") else f"file:{report.path or '.'}"
    commit = env.get("COMMIT_URL") or local
    tests: list[dict[str, object]] = []
    for i, problem in enumerate(report.problems, 1):
        tests.append(
            {
                "test-name": f"submission problem {i}",
                "passed": False,
                "score": 0,
                "max-score": 0,
                "status": "problem",
                "output": problem,
            }
        )
    for i, flag in enumerate(report.flags, 1):
        tests.append(
            {
                "test-name": f"submission flag {i}",
                "passed": True,
                "score": 0,
                "max-score": 0,
                "status": "flag",
                "output": flag,
            }
        )
    for r in report.results:
        tests.append(
            {
                "test-name": r.title,
                "passed": r.status == "passed",
                "score": r.points,
                "max-score": r.max_points,
                "status": r.status,
                "required": r.required,
                "hidden": r.hidden,
                "output": explain(r),
            }
        )
    doc = {
        "schema": SCHEMA,
        "classroom": env.get("CLASSROOM") or "local",
        "assignment": env.get("ASSIGNMENT") or report.exercise,
        "assignment_type": env.get("MODE") if env.get("MODE") in ("individual", "group") else "individual",
        "owner": env.get("USERNAME") or env.get("GITHUB_ACTOR") or "local",
        "submission": env.get("SUBMISSION_TAG") or f"submit/local-{report.run_id or 'run'}",
        "commit": commit,
        "release": env.get("RELEASE_URL") or commit,
        "review": env.get("REVIEW_URL") or commit,
        "datetime": stamp,
        "graded_at": stamp,
        "score": report.points,
        "max-score": report.max_points,
        "tests": tests,
    }
    return json.dumps(doc, indent=2) + "\n"
