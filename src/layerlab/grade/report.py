"""A grading report: each check passed, failed (with a hint) or not run (with why), and points.

"All tests passed" must never hide a check that did not run, so a not-run
check is shown as such and a required one keeps the exercise from passing.

A hidden check (solutions/<id>/hidden.yml, carried by the autograder bundle)
is graded like any other; what a student is shown of it is its points and a
neutral line (`for_audience("student")`), never what it measured or why, so
it cannot be passed by reading its feedback. Flags say what the submission
changed that grading ignored (its own course.yml or fixture): graded anyway,
but an instructor wants to know.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from layerlab.engine.result import Result

Status = Literal["passed", "failed", "not run"]
# Who reads a rendering: the student sees a hidden check's points only; the instructor everything.
Audience = Literal["student", "instructor"]
AUDIENCES: tuple[Audience, ...] = ("student", "instructor")
HIDDEN_MESSAGE = "hidden check: graded by the instructor's autograder"


class CheckResult(Result):
    check: str
    status: Status
    points: int  # earned
    max_points: int
    required: bool
    detail: str = ""  # what was measured
    hint: str = ""  # the likely cause, when failed
    why: str = ""  # why it did not run
    hidden: bool = False  # declared for the autograder only: a student sees its points, not its text

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    @property
    def title(self) -> str:
        """The check's name as every format shows it; "(hidden)" also keeps it apart from a public check
        of the same kind (a stricter size_at_most), since CI reporters key test cases by name."""
        return self.check + ("" if self.required else " (optional)") + (" (hidden)" if self.hidden else "")


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
    flags: list[str] = Field(default_factory=list)  # what the submission changed that grading ignored
    autograder: str = ""  # the digest of the autograder bundle whose checks and fixture graded it, if one did

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

    @property
    def circumstances(self) -> list[str]:
        """Where and against what it was graded: the engine, the time taken, the fixture, the autograder."""
        return [
            x
            for x in (
                self.engine,
                f"{self.seconds:.0f} s" if self.seconds else "",
                self.fixture,
                f"autograder {self.autograder}" if self.autograder else "",
            )
            if x
        ]

    def for_audience(self, audience: Audience) -> Report:
        """The report as `audience` may read it: for a student, each hidden check keeps its status and
        points and says only HIDDEN_MESSAGE (a copy; this report keeps the instructor's detail)."""
        if audience == "instructor" or not any(r.hidden for r in self.results):
            return self
        shown = self.model_copy(deep=True)
        for r in shown.results:
            if r.hidden:
                r.detail, r.hint, r.why = HIDDEN_MESSAGE, "", ""
        return shown

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    def table(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"{self.exercise}: {verdict}, {self.points}/{self.max_points} points  ({self.path})"]
        for p in self.problems:
            lines.append(f"  PROBLEM  {p}")
        for n in self.notes:
            lines.append(f"  NOTE     {n}")
        for f in self.flags:
            lines.append(f"  FLAG     {f}")
        for r in self.results:
            mark = {"passed": "pass", "failed": "FAIL", "not run": "NOT RUN"}[r.status]
            lines.append(f"  {mark:<8} {r.title}: {r.points}/{r.max_points}")
            if r.detail:
                lines.extend(f"           {line}" for line in r.detail.splitlines())
            if r.status == "failed" and r.hint:
                lines.extend(
                    f"           hint: {line}" if i == 0 else f"                 {line}"
                    for i, line in enumerate(r.hint.splitlines())
                )
            if r.status == "not run" and r.why:
                lines.append(f"           not checked: {r.why}")
        if self.not_run:
            names = ", ".join(r.check for r in self.not_run)
            lines.append(f"  {len(self.not_run)} check(s) did not run, so they were not checked: {names}")
        if self.circumstances:
            lines.append(f"  ({'; '.join(self.circumstances)})")
        return "\n".join(lines)
