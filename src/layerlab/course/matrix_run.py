"""One matrix leg, run inside its machine after the course's set-up: every lesson, every exercise twice.

`python -m layerlab.course.matrix_run LEG --setup-rc N --setup-seconds S --out /out/leg.json`
(scripts/matrix-leg.sh calls it). A lesson passes when every cell ran; it is stopped when its
first cell refused the engine (needs.LessonCannotRun), with the unmet needs and their fixes as the
reason; anything else is a failure, with the failing cell's line. An exercise's solution passes when
its grading passes, its starter when its grading fails on a check (the exercise is not already solved);
a grading that could not judge at all is a failure either way.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from layerlab import course as course_mod
from layerlab import engine
from layerlab.course import matrix, needs, notebooks
from layerlab.ground.settings import REPO
from layerlab.ground.text import last_line, printable

_MAKE_NOISE = re.compile(r"^(make(\[\d+\])?: |\[setup\] )")
# Below this much free disk in the machine, what one lesson built is removed before the next starts.
LOW_DISK_BYTES = 12 * 1024**3


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(printable(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def gate_cell(m: course_mod.Module) -> int:
    """The code cell (from 1) that checks the lesson's needs: `lesson.require()`; only imports come before it."""
    cells = [c for c in notebooks.read(m).cells if c.cell_type == "code"]
    return next((i for i, c in enumerate(cells, 1) if ".require()" in c.source), 1)


def lesson_outcome(
    m: course_mod.Module, facts: engine.EngineFacts, out: Path, cell_limit_s: int = matrix.CELL_LIMIT_S
) -> matrix.Outcome:
    r = notebooks.execute(m, out, timeout=cell_limit_s)
    if r.ok:
        return matrix.Outcome(kind="lesson", id=m.id, status="passed", seconds=r.seconds)
    f = r.failure
    if f is not None and f.error_type == needs.LessonCannotRun.__name__ and (f.cell or 0) <= gate_cell(m):
        ready = needs.gate(m, facts)
        reason = "; ".join(n.line() for n in ready.needs if n.blocks) or f.message
        return matrix.Outcome(kind="lesson", id=m.id, status="stopped", reason=_one_line(reason), seconds=r.seconds)
    why = f"{f.line()} ({f.todo()})" if f is not None else (r.error or "failed")
    return matrix.Outcome(kind="lesson", id=m.id, status="failed", reason=_one_line(why), seconds=r.seconds)


def grade_outcome(exercise: str, which: str, limit_s: int = matrix.GRADE_LIMIT_S) -> matrix.Outcome:
    """Grade solutions/ID or exercises/ID in its own process, as a student's CI would."""
    folder = REPO / ("solutions" if which == "solution" else "exercises") / exercise
    start = time.monotonic()
    # --ship: an exercise graded on a pushed image is first pushed, as its notebook does before it grades.
    cmd = [sys.executable, "-m", "layerlab", "grade", str(folder), "--exercise", exercise, "--format", "json", "--ship"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=limit_s, cwd=REPO)
    except subprocess.TimeoutExpired:
        return matrix.Outcome(
            kind=which,  # type: ignore[arg-type]
            id=exercise,
            status="failed",
            reason=f"grading did not finish within {limit_s} s",
            seconds=round(time.monotonic() - start, 1),
        )
    seconds = round(time.monotonic() - start, 1)
    try:
        report = json.loads(p.stdout)
    except json.JSONDecodeError:
        return matrix.Outcome(
            kind=which,  # type: ignore[arg-type]
            id=exercise,
            status="failed",
            reason=_one_line(f"no report (exit {p.returncode}): {last_line(p.stderr, 'no message')}"),
            seconds=seconds,
        )
    failed = [c for c in report.get("results", []) if c.get("required") and c.get("status") != "passed"]
    first = (
        report["problems"][0]
        if report.get("problems")
        else (
            f"{failed[0]['check']}: {failed[0].get('detail') or failed[0].get('why') or failed[0]['status']}"
            if failed
            else ""
        )
    )
    problems = report.get("problems") or []
    if problems and needs.CANNOT_GRADE in problems[0]:
        # The grader refused the engine before building, as the lesson does at its first cell.
        return matrix.Outcome(
            kind=which,  # type: ignore[arg-type]
            id=exercise,
            status="stopped",
            reason=_one_line(problems[0]),
            seconds=seconds,
        )
    if which == "solution":
        ok = bool(report.get("passed"))
        reason = "" if ok else f"the solution failed: {first}"
    else:
        # A starter builds and fails on a check of its own: a problem with the input, an engine error or a
        # build that failed is no verdict on it.
        unbuilt = any(c["check"] == "builds" for c in failed)
        ok = not report.get("passed") and not report.get("problems") and bool(failed) and not unbuilt
        reason = "" if ok else ("the starter passed" if report.get("passed") else f"no verdict: {first}")
    return matrix.Outcome(
        kind=which,  # type: ignore[arg-type]
        id=exercise,
        status="passed" if ok else "failed",
        reason=_one_line(reason),
        seconds=seconds,
    )


def setup_reason(rc: int, log: str) -> str:
    """The failing step's own last line, not make's "Error 1" or the set-up's timing line after it."""
    said = "\n".join(line for line in log.splitlines() if not _MAKE_NOISE.match(line))
    return _one_line(f"exit {rc}: {last_line(said, 'no output')}")


def _free_bytes(facts: engine.EngineFacts) -> int:
    try:
        return shutil.disk_usage(facts.root_dir or "/var/lib/docker").free
    except OSError:
        return LOW_DISK_BYTES + 1


def _commit() -> str:
    p = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO)
    return p.stdout.strip() or "?"


def run_leg(leg: matrix.Leg, setup: matrix.Outcome, out: Path) -> matrix.LegResult:
    started = datetime.now(UTC)
    t0 = time.monotonic()
    c = course_mod.load()
    facts = engine.probe()
    outcomes = [setup]
    if setup.status == "passed" or facts.reachable:
        for m in c.modules:
            if leg.lessons is None or m.id in leg.lessons:
                outcomes.append(lesson_outcome(m, facts, out, leg.cell_limit_s))
                if _free_bytes(facts) < LOW_DISK_BYTES:
                    subprocess.run([sys.executable, "-m", "layerlab", "clean"], cwd=REPO, check=False)
        for e in c.exercises:
            if leg.exercises is None or e.id in leg.exercises:
                outcomes += [grade_outcome(e.id, w, leg.grade_limit_s) for w in ("solution", "starter")]
    return matrix.LegResult(
        leg=leg.id,
        title=leg.title,
        engine=facts.label() if facts.reachable else f"no engine ({facts.error or 'no reply'})",
        native=facts.native,
        cgroup=facts.cgroup_version or "?",
        builder=facts.builder_driver or "none",
        commit=_commit(),
        ran_at=started.isoformat(timespec="seconds"),
        seconds=round(time.monotonic() - t0 + setup.seconds, 1),
        outcomes=outcomes,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m layerlab.course.matrix_run")
    p.add_argument("leg")
    p.add_argument("--setup-rc", type=int, required=True, help="make setup's exit status")
    p.add_argument("--setup-seconds", type=float, required=True)
    p.add_argument("--setup-log", type=Path, help="make setup's output: its last line is the reason it failed")
    p.add_argument("--out", type=Path, required=True, help="the leg's JSON result")
    a = p.parse_args(argv)
    leg = matrix.leg(a.leg)
    text = a.setup_log.read_text(errors="replace") if a.setup_log and a.setup_log.exists() else ""
    reason = "" if a.setup_rc == 0 else setup_reason(a.setup_rc, text)
    setup = matrix.Outcome(
        kind="setup",
        id="make setup",
        # A step that refused this engine with its fix stopped, as a lesson does; anything else failed.
        status="passed" if a.setup_rc == 0 else ("stopped" if matrix.FIX_MARK in reason else "failed"),
        reason=reason,
        seconds=round(a.setup_seconds, 1),
    )
    result = run_leg(leg, setup, a.out.parent / "run")
    a.out.write_text(json.dumps(result.model_dump(mode="json"), indent=1) + "\n")
    counts = result.counts()
    print(f"[matrix {leg.id}] {counts['passed']} passed, {counts['stopped']} stopped, {counts['failed']} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
