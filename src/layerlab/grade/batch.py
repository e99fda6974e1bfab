"""`layerlab grade-many`: grade a folder of submissions, one student each, and write the class's gradebook.

Each entry of SUBMISSIONS is one student: a folder, a git repository, or a git
bundle (`NAME.bundle`, cloned first). Where it holds the exercise's folder
(`exercises/<id>/` or `<id>/`, as a student's copy of the course repository does),
that folder is graded. Each student is graded in a process of its own
(`python -m layerlab grade ... --format json`), in a process group of its own, so
a grading past `--timeout` is stopped whole: SIGINT first, which lets the grader
remove what it made, then SIGKILL. Every grading gets a job id
(LAYERLAB_GRADE_JOB), which the sandbox puts on everything it makes
(grade/sandbox.py), so what a killed grading left is removed by that label, and
at the end one listing per kind of resource says whether any job left anything.

One broken submission never stops the batch: whatever happens to one student
(no Dockerfile, too big, a bad link, a build that never ends, a grader crash)
becomes that student's row, with the reason and zero points.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from layerlab.ground import settings
from layerlab.ground.errors import LayerlabError
from layerlab.ground.text import Printer, last_line, printable, say

from . import gradebook
from .gradebook import Change, Row, Status
from .report import CheckResult, Report
from .sandbox import JOB_LABEL

GRACE_S = 30.0  # after SIGINT, how long a grader may take to remove what it made before its group is killed
GIT_TIMEOUT_S = 120.0
GRADEBOOK, PREVIOUS, SUMMARY = "gradebook.csv", "gradebook.previous.csv", "summary.html"
# reports/<student>.<suffix> for each format asked for besides layerlab's own JSON (always written)
SUFFIXES = {
    "text": "txt",
    "junit": "junit.xml",
    "gradescope": "gradescope.json",
    "classroom50": "classroom50.json",
    "github-summary": "md",
}

# (the folder to grade, its job id) -> the command that grades it and prints a JSON report on stdout
Command = Callable[[Path, str], list[str]]


class BatchError(LayerlabError):
    """A batch that cannot start: no submissions, an unknown exercise, a foreign gradebook in --out."""


class Cleaner(Protocol):
    """What removes a grading's leftovers by its job label: the engine's, or a fake in unit tests."""

    def remove(self, job: str) -> list[str]:
        """Remove what carries this job's label; return what could not be removed."""
        ...

    def remaining(self, jobs: set[str]) -> list[str]:
        """What still carries one of these jobs' labels."""
        ...


class EngineCleaner:
    """The engine's resources, by the sandbox's job label; with no engine, a grading made nothing in one.
    An engine that fails to answer is reported as something left (what was not seen removed), never raised:
    the batch's rows stand either way."""

    def remove(self, job: str) -> list[str]:
        from layerlab import engine
        from layerlab.engine import clean

        try:
            return clean.clean(within=(JOB_LABEL, job), count_freed=False).failed
        except engine.EngineUnavailable:
            return []
        except Exception as e:  # noqa: BLE001 - said in the batch's "left" list
            return [f"job {job}: the engine did not answer its clean-up: {last_line(str(e), type(e).__name__)}"]

    def remaining(self, jobs: set[str]) -> list[str]:
        from layerlab import engine
        from layerlab.engine import clean

        try:
            return clean.remaining(JOB_LABEL, jobs)
        except engine.EngineUnavailable:
            return []
        except Exception as e:  # noqa: BLE001 - said in the batch's "left" list
            return [f"unknown: the engine did not list what carries {JOB_LABEL}: {last_line(str(e), type(e).__name__)}"]


@dataclass(frozen=True)
class Submission:
    student: str  # the entry's name (a bundle's without .bundle), printable
    entry: Path  # as found in SUBMISSIONS
    kind: Literal["folder", "repository", "bundle"]


@dataclass
class Outcome:
    """What grading one student gave: the grader's report, or why there is none."""

    submission: Submission
    job: str
    seconds: float
    report: Report | None = None
    status: Status | None = None  # set when there is no report
    reason: str = ""
    inside: str = ""  # the exercise's folder graded inside the entry (a copy of the course repository)
    left: list[str] = field(default_factory=list)  # what removing the job's resources could not remove


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


# --- the submissions ---------------------------------------------------------------------------------


def find(submissions: Path, out: Path) -> tuple[list[Submission], list[str]]:
    """One Submission per student entry (sorted by name), and a line for each entry that is none."""
    if not submissions.is_dir():
        raise BatchError(
            f"{printable(str(submissions))} is not a folder: pass the folder that holds one entry per student"
        )
    found: list[Submission] = []
    skipped: list[str] = []
    taken: set[str] = set()
    for entry in sorted(submissions.iterdir(), key=lambda p: os.fsencode(p.name)):
        name = printable(entry.name)
        if entry.name.startswith(".") or entry.resolve() == out.resolve():
            continue  # the collection's own .git, editors' files, the gradebook's folder
        kind: Literal["folder", "repository", "bundle"]
        if entry.is_dir():
            kind, student = ("repository" if (entry / ".git").exists() else "folder"), name
        elif entry.is_file() and entry.name.endswith(".bundle"):
            kind, student = "bundle", name.removesuffix(".bundle")
        else:
            skipped.append(f"{name}: not a folder, a git repository or a .bundle file")
            continue
        if student in taken:  # alice/ and alice.bundle: the second keeps its whole name
            student = name
        taken.add(student)
        found.append(Submission(student, entry, kind))
    if not found:
        raise BatchError(
            f"no submissions in {printable(str(submissions))}: want one folder, git repository or .bundle per student"
        )
    return found, skipped


def exercise_folder(root: Path, exercise_id: str) -> Path:
    """The exercise's folder inside a student's copy of the course (`exercises/<id>`, `<id>`), else `root`.
    A candidate that leads out of `root` through a link is not taken: the grader then reports the link."""
    real = root.resolve()
    for candidate in (root / "exercises" / exercise_id, root / exercise_id):
        if candidate.is_dir() and real in candidate.resolve().parents:
            return candidate
    return root


def _clone(bundle: Path, dest: Path) -> str:
    """Clone a git bundle into dest; return a problem, or ''."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1"}
    try:
        r = subprocess.run(
            ["git", "clone", "--quiet", "--", str(bundle), str(dest)],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=GIT_TIMEOUT_S,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        return "git is not installed here: install it to grade .bundle submissions"
    except subprocess.TimeoutExpired:
        return f"cloning the git bundle took longer than {GIT_TIMEOUT_S:.0f} s"
    if r.returncode:
        return f"the git bundle could not be cloned: {last_line(r.stderr, f'git exited with {r.returncode}')}"
    return ""


# --- one student -------------------------------------------------------------------------------------


def grade_command(exercise_id: str, autograder: str | None = None) -> Command:
    """The real grader: this interpreter's `layerlab grade`, its JSON report on stdout."""

    def command(folder: Path, job: str) -> list[str]:
        cmd = [sys.executable, "-m", "layerlab", "grade", str(folder), "--exercise", exercise_id, "--format", "json"]
        return cmd + (["--autograder", autograder] if autograder else [])

    return command


class Processes:
    """The gradings running now, so an interrupted batch can stop every one of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = threading.Event()

    def start(
        self, job: str, cmd: list[str], env: dict[str, str], stdout: Path, stderr: Path
    ) -> subprocess.Popen[bytes]:
        with self._lock, stdout.open("wb") as out, stderr.open("wb") as err:
            if self.stopping.is_set():
                raise KeyboardInterrupt
            # A session of its own: the grading and every process it starts (docker clients) are one group,
            # stopped together, and a Ctrl-C in the instructor's terminal reaches the batch, not them.
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, start_new_session=True
            )
            self._live[job] = proc
            return proc

    def done(self, job: str) -> None:
        with self._lock:
            self._live.pop(job, None)

    def stop_all(self) -> None:
        self.stopping.set()
        with self._lock:
            live = list(self._live.values())
        for proc in live:
            _signal(proc, signal.SIGINT)
        deadline = time.monotonic() + GRACE_S
        for proc in live:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal(proc, signal.SIGKILL)


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT the grading's group (the grader then removes what it made), SIGKILL whatever is left of it."""
    _signal(proc, signal.SIGINT)
    try:
        proc.wait(GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    _signal(proc, signal.SIGKILL)  # also the group's other members, when the grader itself has exited
    proc.wait()


def grade_safely(sub: Submission, exercise_id: str, **kw: Any) -> Outcome:
    """`grade_one`, with whatever goes wrong in the batch's own handling of one student made that student's
    row (a bundle git cannot read, a full disk), so it never stops the others."""
    start = time.monotonic()
    job = f"gm{uuid.uuid4().hex[:12]}"  # letters and digits: a label value, a folder name
    try:
        return grade_one(sub, exercise_id, job, **kw)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - one student's row says it; the batch goes on
        reason = f"grading could not run: {type(e).__name__}: {printable(str(e).splitlines()[0] if str(e) else '')}"
        return Outcome(sub, job, time.monotonic() - start, status="error", reason=reason)


def grade_one(
    sub: Submission,
    exercise_id: str,
    job: str,
    *,
    command: Command,
    timeout: float,
    scratch: Path,
    cleaner: Cleaner,
    procs: Processes,
) -> Outcome:
    """Grade one student in a process of their own, within `timeout` seconds, and remove what a grading
    that did not end on its own left behind. Never raises for anything the submission does."""
    work = scratch / job
    work.mkdir()
    start = time.monotonic()
    root = sub.entry
    if sub.kind == "bundle":
        root = work / "clone"
        if problem := _clone(sub.entry, root):
            return Outcome(sub, job, time.monotonic() - start, status="broken", reason=problem)
    folder = exercise_folder(root, exercise_id)
    inside = printable(str(folder.relative_to(root))) if folder != root else ""
    env = {**os.environ, settings.GRADE_JOB_ENV: job, settings.HEADLESS_ENV: "1"}
    stdout, stderr = work / "report.json", work / "stderr.txt"
    proc = procs.start(job, command(folder, job), env, stdout, stderr)
    timed_out = False
    try:
        proc.wait(max(1.0, timeout - (time.monotonic() - start)))
    except subprocess.TimeoutExpired:
        timed_out = True
        stop(proc)
    finally:
        procs.done(job)
    seconds = time.monotonic() - start
    outcome = Outcome(sub, job, seconds, inside=inside)
    if timed_out or proc.returncode not in (0, 1):
        outcome.left = cleaner.remove(job)  # a grading that did not end on its own did not clean up after itself
    err = printable(last_line(stderr.read_bytes().decode("utf-8", "replace"), "nothing on stderr"))
    if timed_out:
        outcome.status, outcome.reason = "timed out", f"grading took longer than --timeout {timeout:g} s: stopped"
        return outcome
    try:
        outcome.report = Report.model_validate_json(stdout.read_bytes())
    except (ValidationError, ValueError):
        outcome.status = "error"
        outcome.reason = f"the grader ended without a report (exit status {proc.returncode}): {err}"
    return outcome


# --- the class ---------------------------------------------------------------------------------------


def exercise_checks(exercise_id: str, course_file: Path) -> list[CheckResult]:
    """The exercise's checks, each not run: what a student whose grading gave no report is shown."""
    from . import exercise as exercise_mod
    from .checks.spec import kind

    try:
        ex = exercise_mod.load(exercise_id, course_file)
    except exercise_mod.UnknownExercise as e:
        raise BatchError(f"unknown exercise {exercise_id!r}: known: {', '.join(e.known) or 'none'}") from None
    return [
        CheckResult(check=kind(type(c)), status="not run", points=0, max_points=c.points, required=c.required)
        for c in ex.checks
    ]


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


def _line(i: int, n: int, row: Row) -> str:
    what = f"{row.total}/{row.max} points" if row.status in ("passed", "failed") else row.reason
    return f"[{i}/{n}] {row.student}: {row.status}, {what} ({row.seconds:.0f} s)"


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
    # With an autograder bundle its course.yml holds the checks; the reports say them.
    known = exercise_checks(exercise_id, course_file) if autograder is None else []
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
