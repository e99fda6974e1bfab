"""Running a class in CI: the files a student repository carries to be graded, and what grading costs in minutes.

`classroom/` holds the CI side of a class: a GitHub Actions workflow and the
composite action it calls, a GitLab CI template, and the scripts both run
(fetch the autograder by its pinned digest, grade one exercise, give a hosted
runner's engine the containerd store). `STUDENT_FILES` says where each lands in
the student repository that `layerlab release --student` writes.

What a class costs is measured, never estimated: `measure` times `layerlab
grade` on an exercise's reference solution in a process of its own, with the
build cache as the engine has it (`warm`) or with every RUN step made to run
again (`cold`, as on a fresh runner, whose set-up has pulled the base images
but built nothing). The times live in classroom/grading-times.json with the
engine, the CPUs and the load they were measured under; the README's table and
the instructor page are rendered from that file, and a test holds the README
to it. A hosted runner adds its own set-up (engine, .venv, base images), which
the action measures on each run and writes in the job summary.

    python -m layerlab.course.classroom measure [--cold] ID...   time grading, update the file and the README
    python -m layerlab.course.classroom table                    print the table
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from layerlab.engine.result import Result
from layerlab.ground.errors import LayerlabError
from layerlab.ground.settings import REPO

CLASSROOM = REPO / "classroom"
TIMES_FILE = CLASSROOM / "grading-times.json"
README = REPO / "README.md"

# Where each file of classroom/ lands in the student repository. The workflow calls the action as `./classroom`,
# so the folder keeps its name there; the CI systems read their own files at fixed places.
STUDENT_FILES: dict[str, str] = {
    ".github/workflows/grade.yml": "classroom/grade.yml",
    ".gitlab-ci.yml": "classroom/gitlab-ci.yml",
    "classroom/action.yml": "classroom/action.yml",
    "classroom/fetch-autograder.sh": "classroom/fetch-autograder.sh",
    "classroom/grade.sh": "classroom/grade.sh",
    "classroom/runner-engine.sh": "classroom/runner-engine.sh",
}


class ClassroomError(LayerlabError, ValueError):
    pass


# GitHub bills a private repository's jobs on its hosted runners in whole minutes, each rounded up ("Viewing job
# execution time", docs.github.com); public repositories and self-hosted runners bill none.
BILLING_MINUTE_S = 60

Cache = Literal["warm", "cold"]


class GradingTime(Result):
    exercise: str
    cache: Cache  # warm: the engine's build cache as it was; cold: every RUN step of the solution ran again
    seconds: float  # wall time of the `layerlab grade` process, start to exit
    graded_seconds: float  # what the report says the grading took (without the process's start-up)
    passed: bool
    engine: str
    cpus: int
    load: float  # the 1-minute load average when it started: on a shared machine, what else was running
    measured_at: str


class GradingTimes(Result):
    times: list[GradingTime] = Field(default_factory=list)

    def put(self, t: GradingTime) -> None:
        """Keep the newest measurement per exercise and cache state."""
        self.times = [x for x in self.times if (x.exercise, x.cache) != (t.exercise, t.cache)] + [t]
        self.times.sort(key=lambda x: (x.exercise, x.cache != "cold"))


def load(path: Path = TIMES_FILE) -> GradingTimes:
    if not path.exists():
        return GradingTimes()
    return GradingTimes.model_validate_json(path.read_text(encoding="utf-8"))


def save(times: GradingTimes, path: Path = TIMES_FILE) -> None:
    path.write_text(times.model_dump_json(indent=2) + "\n", encoding="utf-8")


def billed_minutes(seconds: float) -> int:
    """The minutes a hosted runner bills for a job of this many seconds."""
    return max(1, math.ceil(seconds / BILLING_MINUTE_S))


# --- measuring ------------------------------------------------------------------------------------

FROM_LINE = re.compile(r"^(\s*FROM\s[^\n]*)$", re.M | re.I)


def bust_run_cache(folder: Path, token: str) -> int:
    """Declare a build arg of a fresh value after every FROM of every Dockerfile in `folder`.

    A RUN step sees every declared build arg in its environment, so its cache key changes with the value and
    each RUN runs again, as on a runner that has built nothing; COPY steps stay content-addressed. Returns the
    number of stages changed."""
    changed = 0
    for df in sorted(folder.rglob("*Dockerfile*")):
        text = df.read_text(encoding="utf-8")
        new, n = FROM_LINE.subn(lambda m: f"{m.group(1)}\nARG LAYERLAB_COLD_CACHE={token}", text)
        if n:
            df.write_text(new, encoding="utf-8")
            changed += n
    return changed


CLI = "import sys; from layerlab.cli import main; sys.exit(main(sys.argv[1:]))"  # `layerlab`, whichever venv runs this


def measure(exercise: str, cache: Cache = "warm", repo: Path = REPO) -> GradingTime:
    """Time `layerlab grade` on the exercise's reference solution, in a process of its own."""
    solution = repo / "solutions" / exercise
    if not solution.is_dir():
        raise ClassroomError(f"no reference solution at {solution}: give an exercise id from course.yml")
    with tempfile.TemporaryDirectory(prefix=f"layerlab-minutes-{exercise}-") as tmp:
        # A copy, as a student's folder would be, so that whatever a grading writes (a hand-in step's file) stays out
        # of solutions/; the same content is the same build cache.
        folder = Path(tmp) / exercise
        shutil.copytree(solution, folder, symlinks=True)
        if cache == "cold" and not bust_run_cache(folder, uuid.uuid4().hex):
            raise ClassroomError(f"{exercise}: no FROM line in any Dockerfile, so nothing to make cold")
        load_1m = os.getloadavg()[0]
        start = time.monotonic()
        out = subprocess.run(
            # --ship: 09-ship's hand-in is a pushed image, which a student's CI job pushes before it grades.
            [sys.executable, "-c", CLI, "grade", str(folder), "--exercise", exercise, "--format", "json", "--ship"],
            capture_output=True,
            text=True,
            cwd=repo,
        )
        seconds = time.monotonic() - start
    try:
        report = json.loads(out.stdout)
    except ValueError:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise ClassroomError(f"{exercise}: grading gave no report (exit status {out.returncode}): {tail}") from None
    if not report.get("passed"):
        failing = [r for r in report.get("results", []) if r.get("required") and r.get("status") != "passed"]
        first: dict[str, Any] = failing[0] if failing else {}
        why = "; ".join(report.get("problems") or []) or (
            f"{first['check']}: {first.get('why') or first.get('hint') or first['status']}" if first else "no check ran"
        )
        raise ClassroomError(
            f"{exercise}: the reference solution did not pass here ({why}), so this was no grading's time; not recorded"
        )
    return GradingTime(
        exercise=exercise,
        cache=cache,
        seconds=round(seconds, 1),
        graded_seconds=round(float(report.get("seconds", 0.0)), 1),
        passed=bool(report.get("passed")),
        engine=str(report.get("engine", "")),
        cpus=os.cpu_count() or 1,
        load=round(load_1m, 2),
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


# --- the table ------------------------------------------------------------------------------------

BEGIN, END = "<!-- grading-times:begin -->", "<!-- grading-times:end -->"


def table(times: GradingTimes) -> str:
    """Markdown: per exercise and cache state, the grading's wall time and the minutes it bills on its own."""
    if not times.times:
        return "No grading time measured yet: `python -m layerlab.course.classroom measure --cold ID`."
    lines = [
        "| exercise | build cache | `layerlab grade` wall time | billed minutes (grading alone) | passed | measured on |",
        "|---|---|---:|---:|---|---|",
    ]
    for t in times.times:
        on = f"{t.engine}, {t.cpus} CPUs, load {t.load:g}, {t.measured_at[:10]}"
        lines.append(
            f"| `{t.exercise}` | {t.cache} | {t.seconds:.0f} s | {billed_minutes(t.seconds)} | "
            f"{'yes' if t.passed else 'NO'} | {on} |"
        )
    return "\n".join(lines)


def readme_block(readme: str, text: str) -> str:
    """The README with the text between its grading-times markers replaced."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ClassroomError(f"the README has no {BEGIN} ... {END} block")
    return readme[: start + len(BEGIN)] + "\n" + text + "\n" + readme[end:]


def readme_table(readme: str) -> str:
    """What the README's grading-times block holds now."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ClassroomError(f"the README has no {BEGIN} ... {END} block")
    return readme[start + len(BEGIN) : end].strip("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m layerlab.course.classroom", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("measure", help="time `layerlab grade` on reference solutions; update the file and the README")
    p.add_argument("exercises", nargs="+", metavar="ID")
    p.add_argument("--cold", action="store_true", help="make every RUN step run again, as on a fresh runner")
    sub.add_parser("table", help="print the table of measured grading times")
    args = parser.parse_args(argv)
    times = load()
    if args.command == "measure":
        try:
            for ex in args.exercises:
                t = measure(ex, "cold" if args.cold else "warm")
                print(f"{t.exercise} ({t.cache}): {t.seconds:.1f} s, {'passed' if t.passed else 'FAILED'}; {t.engine}")
                times.put(t)
                save(times)
            README.write_text(readme_block(README.read_text(encoding="utf-8"), table(times)), encoding="utf-8")
        except ClassroomError as e:
            print(e, file=sys.stderr)
            return 2
        print(f"wrote {TIMES_FILE.relative_to(REPO)} and the README's table")
        return 0
    print(table(times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
