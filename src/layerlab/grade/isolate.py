"""One student graded in a process of its own, within a time limit, and what it left removed.

The grader runs as `python -m layerlab grade ... --format json` in a session of
its own, so it and every process it starts (docker clients) are one group: past
the time limit the group gets SIGINT (the grader then removes what it made, as
on Ctrl-C), then SIGKILL. Each grading gets a job id (LAYERLAB_GRADE_JOB), which
the sandbox puts on everything it makes (grade/sandbox.py), so what a killed
grading left is removed by that label. Nothing a submission does raises here: it
becomes the Outcome's status and reason.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from layerlab.ground import settings
from layerlab.ground.text import last_line, printable

from .collect import Submission, clone, exercise_folder
from .gradebook import Status
from .report import Report
from .sandbox import JOB_LABEL

GRACE_S = 30.0  # after SIGINT, how long a grader may take to remove what it made before its group is killed

# (the folder to grade, its job id) -> the command that grades it and prints a JSON report on stdout
Command = Callable[[Path, str], list[str]]


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


def grade_command(exercise_id: str, autograder: str | None = None) -> Command:
    """The real grader: this interpreter's `layerlab grade`, its JSON report on stdout."""

    def command(folder: Path, job: str) -> list[str]:
        cmd = [sys.executable, "-m", "layerlab", "grade", str(folder), "--exercise", exercise_id, "--format", "json"]
        # The gradebook is the instructor's: hidden checks with what they measured, not the student's view.
        return cmd + (["--autograder", autograder, "--audience", "instructor"] if autograder else [])

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
        if problem := clone(sub.entry, root):
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
