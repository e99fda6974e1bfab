"""`layerlab grade-many`: grade a folder of submissions, one student each, and write the class's gradebook.

The students come from grade/collect.py, each is graded alone by grade/isolate.py
(a process of its own, a time limit, its leftovers removed by its job label),
`jobs` at a time. Under `out` go gradebook.csv (grade/gradebook.py; the one
already there is the previous grading, and each row says what changed since),
reports/<student>.json (and each format asked for), logs/<student>.txt (the
grader's stderr) and summary.html (grade/summary.py). At the end, one listing
per kind of engine resource says whether any grading of the batch left anything.

One broken submission never stops the batch: whatever happens to one student
(no Dockerfile, too big, a bad link, a build that never ends, a grader crash)
becomes that student's row, with the reason and zero points.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from layerlab.ground import settings
from layerlab.ground.errors import LayerlabError
from layerlab.ground.text import Printer, printable, say

from . import gradebook
from .collect import Submission, find
from .gradebook import Change, Row
from .isolate import Cleaner, Command, EngineCleaner, Outcome, Processes, grade_command, grade_safely
from .report import CheckResult, Report

GRADEBOOK, PREVIOUS, SUMMARY = "gradebook.csv", "gradebook.previous.csv", "summary.html"
# reports/<student>.<suffix> for each format asked for besides layerlab's own JSON (always written)
SUFFIXES = {
    "text": "txt",
    "junit": "junit.xml",
    "gradescope": "gradescope.json",
    "classroom50": "classroom50.json",
    "github-summary": "md",
}


class BatchError(LayerlabError):
    """A batch that cannot start: an unknown exercise."""


@dataclass
class Graded:
    submission: Submission
    report: Report  # made up, with every check not run and 0 points, for a student whose grading gave none
    row: Row
    job: str


@dataclass
class Batch:
    exercise: str
    graded: list[Graded]
    changes: list[Change]
    gone: list[str]  # students of the previous gradebook who are not in this batch
    left: list[str]  # engine resources a grading left behind, after the clean-up
    skipped: list[str]  # entries of SUBMISSIONS that are no submission
    out: Path
    seconds: float
    jobs: int
    timeout: float
    autograder: str | None = None
    regrade: bool = False  # a previous gradebook was there
    formats: tuple[str, ...] = ()  # written per student besides the JSON report

    @property
    def rows(self) -> list[Row]:
        return [g.row for g in self.graded]


# --- the class ---------------------------------------------------------------------------------------


def exercise_checks(exercise_id: str, course_file: Path, autograder: str | None = None) -> list[CheckResult]:
    """The exercise's checks, each not run: what a student whose grading gave no report is shown. With an
    autograder bundle, its checks and hidden checks; a bundle that does not open (or is not the pinned one)
    stops the batch here, before any grading."""
    from . import bundle
    from . import exercise as exercise_mod
    from . import hidden as hidden_mod
    from .runner import not_run_all

    hidden = []
    try:
        if autograder:
            with bundle.open_bundle(autograder) as b:
                ex = exercise_mod.load(exercise_id, b.course_file)
                hidden = b.hidden_checks(exercise_id)
        else:
            ex = exercise_mod.load(exercise_id, course_file)
            hidden = hidden_mod.load(course_file, exercise_id)  # the instructor's repository grades them too
    except exercise_mod.UnknownExercise as e:
        raise BatchError(f"unknown exercise {exercise_id!r}: known: {', '.join(e.known) or 'none'}") from None
    except (bundle.BundleError, hidden_mod.HiddenChecksError) as e:
        raise BatchError(str(e).splitlines()[0]) from None
    return not_run_all(ex.with_hidden(hidden), "")


def stand_in(o: Outcome, exercise_id: str, checks: list[CheckResult]) -> Report:
    """The report of a student whose grading gave none: the reason as its problem, every check not run."""
    why = f"{o.status}: not graded (see PROBLEM above)"
    return Report(
        exercise=exercise_id,
        path=printable(str(o.submission.entry)),
        run_id="-",
        problems=[o.reason],
        results=[c.model_copy(update={"status": "not run", "points": 0, "why": why}) for c in checks],
        seconds=round(o.seconds, 1),
    )


def grade_many(
    submissions: Path,
    exercise_id: str,
    out: Path,
    *,
    jobs: int = 1,
    timeout: float = 900.0,
    autograder: str | None = None,
    course_file: Path = settings.COURSE_FILE,
    command: Command | None = None,
    cleaner: Cleaner | None = None,
    formats: tuple[str, ...] = (),
    show: Printer = say,
) -> Batch:
    """Grade every student in `submissions`, `jobs` at a time; write the gradebook, the reports (JSON, and
    each of `formats`) and the summary under `out`. Raises BatchError before grading anything when the batch cannot start, and
    KeyboardInterrupt (after stopping every grading and removing what it made) when interrupted."""
    from . import summary

    start = time.monotonic()
    before = gradebook.read(out / GRADEBOOK)  # a foreign file fails here, not after an hour of grading
    known = exercise_checks(exercise_id, course_file, autograder)
    subs, skipped = find(submissions, out)
    command = command or grade_command(exercise_id, autograder)
    cleaner = cleaner or EngineCleaner()
    procs = Processes()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="layerlab-grade-many-") as tmp, ThreadPoolExecutor(jobs) as pool:
        futures = [
            pool.submit(
                grade_safely,
                s,
                exercise_id,
                command=command,
                timeout=timeout,
                scratch=Path(tmp),
                cleaner=cleaner,
                procs=procs,
            )
            for s in subs
        ]
        try:
            for f in as_completed(futures):
                outcomes.append(f.result())
                o = outcomes[-1]
                show(f"[{len(outcomes)}/{len(subs)}] {o.submission.student}: {_progress(o)} ({o.seconds:.0f} s)")
        except KeyboardInterrupt:
            for f in futures:
                f.cancel()
            procs.stop_all()  # the workers see their gradings end and remove what each made
            raise
        _keep_logs(outcomes, Path(tmp), out)
    checks = next((o.report.results for o in outcomes if o.report and o.report.results), known)
    graded = []
    for o in sorted(outcomes, key=lambda o: o.submission.student):
        report = o.report or stand_in(o, exercise_id, checks)
        row = gradebook.row_from(o.submission.student, report, o.seconds)
        if o.status:
            row.status = o.status
        if o.inside and o.report:
            o.report.notes.append(
                f"graded {o.inside} inside the {o.submission.kind} {printable(o.submission.entry.name)}"
            )
        graded.append(Graded(o.submission, report, row, o.job))
    changes, gone = gradebook.compare(before, [g.row for g in graded])
    left = _left(cleaner, {o.job for o in outcomes}) + [x for o in outcomes for x in o.left]
    batch = Batch(
        exercise=exercise_id,
        graded=graded,
        changes=changes,
        gone=gone,
        left=sorted(set(left)),
        skipped=skipped,
        out=out,
        seconds=round(time.monotonic() - start, 1),
        jobs=jobs,
        timeout=timeout,
        autograder=autograder,
        regrade=bool(before),
        formats=formats,
    )
    write(batch)
    summary.write(batch, out / SUMMARY)
    return batch


def _progress(o: Outcome) -> str:
    if o.report is None:
        return f"{o.status}: {o.reason}"
    if o.report.problems:
        return f"broken: {printable(o.report.problems[0])}"
    return f"{'passed' if o.report.passed else 'failed'}, {o.report.points}/{o.report.max_points} points"


def _left(cleaner: Cleaner, jobs: set[str]) -> list[str]:
    """What any job left behind; once more removed before it is reported (a build the engine finished
    exporting just after its client was killed lands after the first clean-up)."""
    left = cleaner.remaining(jobs)
    if left:
        for job in jobs:
            cleaner.remove(job)
        left = cleaner.remaining(jobs)
    return left


def _keep_logs(outcomes: list[Outcome], scratch: Path, out: Path) -> None:
    """Each grader's stderr (its build summaries, a crash's traceback) to logs/<student>.txt."""
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for o in outcomes:
        src = scratch / o.job / "stderr.txt"
        if src.exists():
            shutil.copyfile(src, logs / f"{o.submission.student}.txt")


def write(batch: Batch) -> None:
    """reports/<student>.json for every student, then the gradebook (the previous one kept beside it)."""
    reports = batch.out / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    from . import formats

    for g in batch.graded:
        (reports / f"{g.row.student}.json").write_text(g.report.to_json() + "\n", encoding="utf-8")
        ctx = formats.Context(env={"USERNAME": g.row.student})  # Classroom 50's owner: the student
        for name in batch.formats:
            text = formats.render(name, g.report, ctx)
            (reports / f"{g.row.student}.{SUFFIXES.get(name, name + '.txt')}").write_text(text, encoding="utf-8")
    book = batch.out / GRADEBOOK
    if book.exists():
        shutil.copyfile(book, batch.out / PREVIOUS)
    gradebook.write(batch.rows, book)
