"""`layerlab grade`: check a folder against its exercise's fixture.

The runner knows the checks' protocol (`checks.spec.CheckBase`: run order, a
prepare step), never the kinds. Bad input (see `submission`, or an unknown
exercise) becomes one report line, never a traceback, and no build is attempted.

What it grades against comes from the caller or from beside `course_file`: the
exercise's checks, its fixture (solutions/<id>/fixture.json) and its hidden
checks (solutions/<id>/hidden.yml). An autograder bundle (`bundle.grade_with`)
passes all three, so nothing of the submission's repository is read.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from layerlab import course as C
from layerlab import engine
from layerlab.course import needs
from layerlab.engine import bootstrap, catalogue, pyindex, replay
from layerlab.engine.build import Show
from layerlab.ground.text import printable
from layerlab.measure import leaks

from . import exercise as exercise_mod
from . import fixture as fx_mod
from . import hidden as hidden_mod
from . import regrade, student
from .checks import Context, run_check
from .checks.spec import CheckBase, kind
from .exercise import Exercise
from .report import CheckResult, Report
from .sandbox import Session
from .subject import Subject
from .submission import check_input, copy, plant


def not_run_all(ex: Exercise, why: str) -> list[CheckResult]:
    return _in_order(
        ex,
        lambda c: CheckResult(
            check=kind(type(c)), status="not run", points=0, max_points=c.points, required=c.required, why=why
        ),
    )


def _in_order(ex: Exercise, result: Callable[[CheckBase], CheckResult]) -> list[CheckResult]:
    """Each check's result in the order course.yml lists them, then the hidden ones, marked hidden."""
    out = [result(c) for c in ex.checks]
    for c in ex.hidden:
        r = result(c)
        r.hidden = True
        out.append(r)
    return out


def _resolve(exercise_id: str | None, path: Path, course_file: Path) -> tuple[Exercise | None, str]:
    key = exercise_id or path.name
    try:
        return exercise_mod.load(key, course_file), ""
    except C.CourseFileError as e:
        return None, f"course.yml is invalid: {str(e).splitlines()[0]}"
    except exercise_mod.ExerciseError as e:
        return None, f"course.yml is invalid: exercise {e.exercise}: {e.problems[0]}"
    except exercise_mod.UnknownExercise as e:
        known = ", ".join(e.known) or "none"
        if exercise_id is None:
            return None, f"cannot tell which exercise {path} is: pass --exercise ID (known: {known})"
        return None, f"unknown exercise {key!r}: known: {known}"


def engine_line() -> str:
    return f"{replay.engine_label()} on {engine.host_platform()}"


@regrade.once_more  # an engine error, not the submission's, is graded again once (grade/regrade.py)
def grade(
    path: str | Path,
    exercise_id: str | None = None,
    *,
    course_file: Path = C.COURSE_FILE,
    fixture: fx_mod.Fixture | None = None,
    show: Show = None,
    hidden: list[CheckBase] | None = None,
    starter: Path | None = None,
) -> Report:
    """Build and check the folder `path` as a submission of `exercise_id`. Never raises on bad input; in a
    student release, grading a course exercise without `fixture` raises student.NeedsAutograder before a build.

    `show` is passed to every build (see `build.build`); None builds silently. `fixture` and
    `hidden` (the hidden checks to run too), when None, are read from beside `course_file`;
    `starter` (the exercise folder as students get it) is made from the solution there.
    """
    start = time.perf_counter()
    folder = Path(path)
    ex, problem = _resolve(exercise_id, folder.resolve(), course_file)
    if ex is None:
        return Report(
            exercise=exercise_id or printable(folder.name),
            path=printable(str(folder)),
            run_id="-",
            problems=[printable(problem)],
        )
    if hidden is None:
        try:
            hidden = hidden_mod.load(course_file, ex.id)
        except hidden_mod.HiddenChecksError as e:
            return Report(
                exercise=ex.id,
                path=printable(str(folder)),
                run_id="-",
                problems=[f"{e.where} is invalid: {e.problems[0]}"],
            )
    ex = ex.with_hidden(hidden)
    report = Report(exercise=ex.id, path=printable(str(folder)), run_id="-")
    problems, df = check_input(ex, folder)
    if problems or df is None:
        report.problems = problems
        report.results = not_run_all(ex, "the submission has a problem (see PROBLEM above)")
        return report
    if fixture is None and Path(course_file) == C.COURSE_FILE:
        student.require_fixture(ex.id)  # a student release grades the course's exercises with the autograder only
    if replay.mode() == "replay":
        report.results = not_run_all(ex, "LAYERLAB_REPLAY=1: grading needs a real engine, not recorded runs")
        return report
    no_engine = ""
    try:
        engine.require()
        report.engine = engine_line()
    except engine.EngineUnavailable as e:
        no_engine = f"no container engine answers ({e.reason}); start one (`make setup`) and grade again"
    if not no_engine and (refused := cannot_grade_here(ex, course_file)):
        report.problems = [refused]
        report.results = not_run_all(ex, "this engine cannot build or run what the exercise needs (see PROBLEM)")
        return report
    if not no_engine and (missing := _ensure_extra_images(ex, course_file)):
        report.problems = [missing]
    no_fixture = ""
    if fixture is not None:
        report.fixture = fixture.describe()
    else:
        try:
            fixture = fx_mod.load(ex.id)
            report.fixture = fixture.describe()
        except fx_mod.NoFixture as e:
            no_fixture = str(e)
    with (
        tempfile.TemporaryDirectory(prefix="layerlab-grade-") as tmp,
        Session(
            ex.id,
            ex.module,
            memory=ex.limits.memory,
            pids=ex.limits.pids,
            max_output=ex.limits.max_output_chars,
            show=show,
        ) as session,
    ):
        report.run_id = session.run_id
        work = Path(tmp) / "submission"
        copy(folder, work)
        ctx = Context(
            ex,
            work,
            df,
            None,
            no_engine=no_engine,
            fixture=fixture,
            no_fixture=no_fixture,
            submitted=folder,
            scratch=Path(tmp),
            starter=starter,
        )
        for c in ex.ordered():
            c.prepare(ctx)
        try:
            ctx.planted, ctx.original = plant(ex, work, session, serve=not no_engine)
        except (leaks.Replant, pyindex.PyIndexError) as e:
            report.problems = [str(e)]
            report.results = not_run_all(ex, "the submission has a problem (see PROBLEM above)")
            return report
        ctx.subject = None if no_engine else Subject(ex, work, session)
        results = {id(c): run_check(ctx, c) for c in ex.ordered()}
        report.results = _in_order(ex, lambda c: results[id(c)])
    report.seconds = round(time.perf_counter() - start, 1)
    return report


def cannot_grade_here(ex: Exercise, course_file: Path) -> str:
    """One line, with the fix, when this engine lacks a need of the exercise's module that stops its lesson
    (Podman has no buildx; the classic image store keeps one platform per tag); '' when it can be graded."""
    m = C.load(course_file, check_files=False).module(ex.module)
    facts = engine.probe()
    if not facts.reachable:
        return ""  # no engine is the runner's own problem, reported with its fix
    # Every grading builds with buildx (engine/build.py), whatever the module's lesson needs.
    graded = m.model_copy(update={"needs": [*m.needs, *(["buildx"] if "buildx" not in m.needs else [])]})
    blocking = [n for n in needs.readiness(graded, facts).needs if n.blocks]
    if not blocking:
        return ""
    return f"{ex.id} {needs.CANNOT_GRADE} ({facts.label()}): " + "; ".join(n.line() for n in blocking)


def _ensure_extra_images(ex: Exercise, course_file: Path) -> str:
    """Base images only some modules need (course.yml `needs`: the CUDA images) are made the first
    time one of their exercises is graded, as the lesson's first cell makes them. Returns a problem, or ''."""
    needs = tuple(
        n for n in C.load(course_file, check_files=False).module(ex.module).needs if n in catalogue.EXTRA_IMAGES
    )
    if not needs:
        return ""
    platforms = tuple(
        sorted({pl for n in needs for b in catalogue.EXTRA_IMAGES[n] for pl in (b.platforms or catalogue.PLATFORMS)})
    )
    try:
        p = bootstrap.current_plan(platforms=platforms, needs=needs, only_extras=True)
        if p.work:
            # stderr: `layerlab grade --json` keeps stdout for the report
            bootstrap.run(p, say=lambda line: print(line, file=sys.stderr), needs=needs, only_extras=True)
    except Exception as e:  # the builds then fail on the missing base; say why first
        return (
            f"the base images module {ex.module} needs ({', '.join(needs)}) could not be made: "
            f"{str(e).splitlines()[0] if str(e) else type(e).__name__}; run `layerlab bootstrap {ex.module}`"
        )
    return ""
