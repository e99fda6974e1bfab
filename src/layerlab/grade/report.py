"""A grading report: each check passed, failed (with a hint) or not run (with why), and points.

"All tests passed" must never hide a check that did not run, so a not-run
check is shown as such and a required one keeps the exercise from passing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from layerlab.engine.result import Result

Status = Literal["passed", "failed", "not run"]


class CheckResult(Result):
    check: str
    status: Status
    points: int  # earned
    max_points: int
    required: bool
    detail: str = ""  # what was measured
    hint: str = ""  # the likely cause, when failed
    why: str = ""  # why it did not run

    @property
    def ok(self) -> bool:
        return self.status == "passed"


class Report(Result):
    dumped_properties = ("passed", "points", "max_points")

    exercise: str
    path: str
    run_id: str
    problems: list[str] = Field(default_factory=list)  # bad input: one clear line each
    results: list[CheckResult] = Field(default_factory=list)
    engine: str = ""
    seconds: float = 0.0
    fixture: str = ""  # which recorded fixture the measurements were compared with
    notes: list[str] = Field(default_factory=list)  # what happened that is no verdict (an engine error, graded again)

    @property
    def passed(self) -> bool:
        """Every required check passed; a required check that did not run is not a pass."""
        return not self.problems and bool(self.results) and all(r.ok for r in self.results if r.required)

    @property
    def points(self) -> int:
        return sum(r.points for r in self.results)

    @property
    def max_points(self) -> int:
        return sum(r.max_points for r in self.results)

    @property
    def not_run(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "not run"]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    def table(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"{self.exercise}: {verdict}, {self.points}/{self.max_points} points  ({self.path})"]
        for p in self.problems:
            lines.append(f"  PROBLEM  {p}")
        for n in self.notes:
            lines.append(f"  NOTE     {n}")
        for r in self.results:
            mark = {"passed": "pass", "failed": "FAIL", "not run": "NOT RUN"}[r.status]
            opt = "" if r.required else " (optional)"
            lines.append(f"  {mark:<8} {r.check}{opt}: {r.points}/{r.max_points}")
            if r.detail:
                lines.extend(f"           {line}" for line in r.detail.splitlines())
            if r.status == "failed" and r.hint:
                lines.extend(
                    f"           hint: {line}" if i == 0 else f"                 {line}"
                    for i, line in enumerate(r.hint.splitlines())
                )
            if r.status == "not run":
                lines.append(f"           not checked: {r.why}")
        if self.not_run:
            names = ", ".join(r.check for r in self.not_run)
            lines.append(f"  {len(self.not_run)} check(s) did not run, so they were not checked: {names}")
        tail = [x for x in (self.engine, f"{self.seconds:.0f} s" if self.seconds else "", self.fixture) if x]
        if tail:
            lines.append(f"  ({'; '.join(tail)})")
        return "\n".join(lines)
