"""`layerlab grade` and `layerlab record`: check a folder against its exercise's fixture.

Bad input (no Dockerfile, a typo in it, a missing or non-UTF-8 file, a path
outside the exercise, an unknown exercise) becomes one report line, never a
traceback, and no build is attempted.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from layerlab import course as C
from layerlab import engine
from layerlab.course import checkspec
from layerlab.engine import bootstrap, catalogue, replay
from layerlab.engine.build import Show
from layerlab.measure import leaks
from . import files
from . import fixture as fx_mod
from . import regrade
from .checks import RECORDERS, Context, RecordError, run_check
from .checks.builds import Builds
from .checks.runs import RunsAndPrints
from .checks.serve import ServeCheck
from .checks.ship import PushedImage
from .dockerfile import Dockerfile, parse
from .measure import NotBuilt, Subject
from .report import CheckResult, Report
from .sandbox import Ran, Session

TEXT_SUFFIXES = {"", ".py", ".txt", ".toml", ".cfg", ".ini", ".yml", ".yaml", ".json", ".sh", ".md", ".in", ".lock"}


def _not_run_all(ex: C.Exercise, why: str) -> list[CheckResult]:
    return [CheckResult(check=checkspec.kind_of(type(c)) or "?", status="not run", points=0, max_points=c.points,
                        required=c.required, why=why) for c in ex.checks]


def _resolve(exercise_id: str | None, path: Path, course_file: Path) -> tuple[C.Exercise | None, str]:
    try:
        course = C.load(course_file)
    except C.CourseFileError as e:
        return None, f"course.yml is invalid: {str(e).splitlines()[0]}"
    key = exercise_id or path.name
    try:
        return course.exercise(key), ""
    except KeyError as e:
        if exercise_id is None:
            known = ", ".join(x.id for x in course.exercises) or "none"
            return None, f"cannot tell which exercise {path} is: pass --exercise ID (known: {known})"
        return None, f"unknown exercise {key!r}: {str(e).strip(chr(34)).strip(chr(39)).split('; ', 1)[-1]}"


def check_input(ex: C.Exercise, folder: Path) -> tuple[list[str], Dockerfile | None]:
    """Problems that make grading pointless, each as one line that says what to do."""
    if not folder.exists():
        return [f"{folder} does not exist: pass the folder that holds your {ex.dockerfile}"], None
    if not folder.is_dir():
        return [f"{folder} is not a folder: pass the folder that holds your {ex.dockerfile}"], None
    problems: list[str] = []
    root = folder.resolve()
    for p in sorted(folder.rglob("*")):
        if p.is_symlink() and not _inside(p.resolve(), root):
            problems.append(f"{p.relative_to(folder)} links to {p.resolve()}, a path outside the exercise folder: copy the file in instead")
    for rel in ex.paths:
        if not _inside(Path(os.path.normpath(root / rel)), root):  # the name, not where a link points
            problems.append(f"course.yml names {rel}, a path outside the exercise folder")
            continue
        p = folder / rel
        if p.is_symlink():
            continue  # reported above when it leaves the folder
        if not p.exists():
            problems.append(f"no {rel} in {folder}: the exercise hands in {', '.join(ex.paths)}")
            continue
        if p.is_file() and (p.suffix in TEXT_SUFFIXES or p.name.startswith(".")):
            bad = _not_utf8(p)
            if bad:
                problems.append(f"{rel} is not UTF-8 text ({bad}): save it as UTF-8")
    dockerfile_path = folder / ex.dockerfile
    if not dockerfile_path.is_file():
        if not any(ex.dockerfile in line for line in problems):
            problems.append(f"no {ex.dockerfile} in {folder}: the exercise is graded by building it")
        return problems, None
    if (bad := _not_utf8(dockerfile_path)) and not any(line.startswith(f"{ex.dockerfile} is not UTF-8") for line in problems):
        problems.append(f"{ex.dockerfile} is not UTF-8 text ({bad}): save it as UTF-8")
    if problems:
        return problems, None
    df = parse(dockerfile_path.read_text(encoding="utf-8"))
    for ins in df.unknown:
        problems.append(f"{ex.dockerfile} line {ins.line}: unknown instruction {ins.keyword} (a typo? instructions are FROM, RUN, COPY, ...)")
    if not any(i.keyword == "FROM" for i in df.instructions):
        problems.append(f"{ex.dockerfile} has no FROM line: an image starts from a base image")
    for ins in df.instructions:
        if ins.keyword not in ("COPY", "ADD") or "from" in ins.flags or "<<" in ins.args:
            continue
        for src in ins.sources():
            if "://" in src or src.startswith("git@"):
                continue
            target = (folder / src).resolve()
            if not _inside(target, root):
                problems.append(f"{ex.dockerfile} line {ins.line}: {ins.keyword} {src} reaches outside the exercise folder; copy files from inside it")
            elif not any(ch in src for ch in "*?[") and "$" not in src and not target.exists():
                problems.append(f"{ex.dockerfile} line {ins.line}: {ins.keyword} {src}: no such file in the exercise folder")
    return problems, df


def _inside(p: Path, root: Path) -> bool:
    return p == root or root in p.parents


def _not_utf8(p: Path) -> str:
    data = p.read_bytes()
    try:
        data.decode("utf-8")
        return ""
    except UnicodeDecodeError as e:
        return f"byte 0x{data[e.start]:02x} at offset {e.start}"


def _copy_submission(folder: Path, dst: Path) -> None:
    """Grade a copy: checks edit files (code-edit rebuilds) and must never touch the student's."""
    files.copy(folder, dst, fx_mod.FIXTURE_NAME)


def _engine_line() -> str:
    return f"{replay.engine_label()} on {engine.host_platform()}"


@regrade.once_more  # an engine error, not the submission's, is graded again once (grade/regrade.py)
def grade(path: str | Path, exercise_id: str | None = None, *, course_file: Path = C.COURSE_FILE,
          fixture: fx_mod.Fixture | None = None, show: Show = None) -> Report:
    """Build and check the folder `path` as a submission of `exercise_id`. Never raises on bad input.

    `show` is passed to every build (see `build.build`); None builds silently.
    """
    start = time.perf_counter()
    folder = Path(path)
    ex, problem = _resolve(exercise_id, folder.resolve(), course_file)
    if ex is None:
        return Report(exercise=exercise_id or folder.name, path=str(folder), run_id="-", problems=[problem])
    report = Report(exercise=ex.id, path=str(folder), run_id="-")
    problems, df = check_input(ex, folder)
    if problems or df is None:
        report.problems = problems
        report.results = _not_run_all(ex, "the submission has a problem (see PROBLEM above)")
        return report
    if replay.mode() == "replay":
        report.results = _not_run_all(ex, "LAYERLAB_REPLAY=1: grading needs a real engine, not recorded runs")
        return report
    no_engine = ""
    try:
        engine.require()
        report.engine = _engine_line()
    except engine.EngineUnavailable as e:
        no_engine = f"no container engine answers ({str(e).splitlines()[0].split(': ', 1)[-1]}); start one (`make setup`) and grade again"
    if not no_engine and (missing := _ensure_extra_images(ex, course_file)):
        report.problems = [missing]
    no_fixture = ""
    if fixture is None:
        try:
            fixture = fx_mod.load(ex.id)
            report.fixture = fixture.describe()
        except fx_mod.NoFixture as e:
            no_fixture = str(e)
    with tempfile.TemporaryDirectory(prefix="layerlab-grade-") as tmp, Session(
        ex.id, ex.module, memory=ex.limits.memory, pids=ex.limits.pids, max_output=ex.limits.max_output_chars,
        show=show,
    ) as session:
        report.run_id = session.run_id
        work = Path(tmp) / "submission"
        _copy_submission(folder, work)
        handed_in = None
        if any(isinstance(c, PushedImage) for c in ex.checks):
            # plant() rewrites the scratch copy; the pushed image was built from the folder as it came
            handed_in = Path(tmp) / "handed-in"
            _copy_submission(folder, handed_in)
        try:
            planted, original = plant(ex, work, session)
        except leaks.Replant as e:
            report.problems = [str(e)]
            report.results = _not_run_all(ex, "the submission has a problem (see PROBLEM above)")
            return report
        subject = None if no_engine else Subject(ex, work, session)
        ctx = Context(ex, work, df, subject, no_engine=no_engine, fixture=fixture, no_fixture=no_fixture,
                      planted=planted, original=original, handed_in=handed_in)
        # `builds` first: every image check starts from its result.
        ordered = sorted(ex.checks, key=lambda c: not isinstance(c, Builds))
        results = {id(c): run_check(ctx, c) for c in ordered}
        report.results = [results[id(c)] for c in ex.checks]
    report.seconds = round(time.perf_counter() - start, 1)
    return report


def _ensure_extra_images(ex: C.Exercise, course_file: Path) -> str:
    """Base images only some modules need (course.yml `needs`: the CUDA images) are made the first
    time one of their exercises is graded, as the lesson's first cell makes them. Returns a problem, or ''."""
    needs = tuple(n for n in C.load(course_file).module(ex.module).needs if n in catalogue.EXTRA_IMAGES)
    if not needs:
        return ""
    platforms = tuple(sorted({pl for n in needs for b in catalogue.EXTRA_IMAGES[n] for pl in (b.platforms or catalogue.PLATFORMS)}))
    try:
        p = bootstrap.current_plan(platforms=platforms, needs=needs, only_extras=True)
        if p.work:
            # stderr: `layerlab grade --json` keeps stdout for the report
            bootstrap.run(p, say=lambda line: print(line, file=sys.stderr), needs=needs, only_extras=True)
    except Exception as e:  # the builds then fail on the missing base; say why first
        return (f"the base images module {ex.module} needs ({', '.join(needs)}) could not be made: "
                f"{str(e).splitlines()[0] if str(e) else type(e).__name__}; run `layerlab bootstrap {ex.module}`")
    return ""


def plant(ex: C.Exercise, work: Path, session: Session) -> tuple[str, str]:
    """Give the scratch copy a fresh token (exercise.secret) and every build of the session the means to use it.

    Returns (the planted token, the one the submission came with). A token made for this run
    appears nowhere unless the build put it there, so finding it proves a leak.
    """
    sec = ex.secret
    if sec is None:
        return "", ""
    token_file = work / sec.file
    if not token_file.is_file():
        raise leaks.Replant(f"no {sec.file} in the submission: keep the token file the exercise gave you")
    original = token_file.read_text(encoding="utf-8").strip()
    planted = leaks.new_token()
    leaks.replant(work, sec.file, sec.locked, planted)
    session.secrets = [f"id={sec.id},src={token_file}"]
    if sec.build_arg:
        session.build_args = {sec.build_arg: planted}
    return planted, original


def ship(ex: C.Exercise, folder: Path, dest: Path, name: str) -> str:
    """What a student does before grading an exercise with a `pushed_image` check, done on a copy of `folder`:
    build it with its own token as the build secret, push it to the local registry as `name`, and write
    the pushed reference (`localhost:PORT/NAME@sha256:...`) to the check's file. Returns that reference."""
    from layerlab.engine import build as build_mod
    from layerlab.engine import registry

    _copy_submission(folder, dest)
    check = next(c for c in ex.checks if isinstance(c, PushedImage))
    secrets = [f"id={ex.secret.id},src={dest / ex.secret.file}"] if ex.secret else None
    tag = f"layerlab-ship-{ex.id}:{uuid.uuid4().hex[:8]}"
    built = build_mod.build(dest, tag, dockerfile=dest / ex.dockerfile, secrets=secrets, module=ex.module, show=None)
    pushed_tag = f"{registry.address()}/{name}"
    try:
        registry.up_live(say=lambda line: None)
        pushed = registry.push_live(built.tag, name)
    finally:
        for t in (built.tag, pushed_tag):  # the registry keeps the image; the engine needs neither name
            if engine.require().image.exists(t):
                engine.require().image.remove(t, force=True)
    ref = f"{registry.address()}/{registry.split(pushed.ref)[0]}@{pushed.digest}"
    (dest / check.file).write_text(ref + "\n", encoding="utf-8")
    return ref


def record(exercise_id: str, *, course_file: Path = C.COURSE_FILE) -> tuple[fx_mod.Fixture, Report]:
    """Build and run the reference solution, measure it, write its fixture, then grade it against that."""
    try:
        ex = C.load(course_file).exercise(exercise_id)
    except (C.CourseFileError, KeyError) as e:
        raise RecordError(str(e).strip("'\"")) from None
    folder = fx_mod.solution_dir(ex.id)
    f = measure_fixture(ex, folder)
    fx_mod.save(f)
    if any(isinstance(c, PushedImage) for c in ex.checks):
        # The solution is graded the way a student's is: after shipping it.
        with tempfile.TemporaryDirectory(prefix="layerlab-record-ship-") as tmp:
            shipped = Path(tmp) / ex.id
            ship(ex, folder, shipped, f"{ex.id}-record:{uuid.uuid4().hex[:8]}")
            return f, grade(shipped, ex.id, course_file=course_file, fixture=f)
    return f, grade(folder, ex.id, course_file=course_file, fixture=f)


def measure_fixture(ex: C.Exercise, folder: Path) -> fx_mod.Fixture:
    """Build, run and measure a reference folder the way grading measures a submission."""
    problems, df = check_input(ex, folder)
    if problems:
        raise RecordError("the solution has problems:\n" + "\n".join(f"  {p}" for p in problems))
    engine.require()
    notebook = f"{ex.id}.py"
    with tempfile.TemporaryDirectory(prefix="layerlab-record-") as tmp, Session(
        ex.id, ex.module, memory=ex.limits.memory, pids=ex.limits.pids, max_output=ex.limits.max_output_chars
    ) as session:
        work = Path(tmp) / "solution"
        _copy_submission(folder, work)
        plant(ex, work, session)
        s = Subject(ex, work, session)
        try:
            built = s.build()
        except NotBuilt as e:
            raise RecordError(f"the solution does not build: {e}") from None
        image = s.image
        printing = next((c for c in ex.checks if isinstance(c, RunsAndPrints)), None)
        server = any(isinstance(c, ServeCheck) for c in ex.checks)
        if server and printing is None:
            # A server runs until stopped: measured by `served` below, not run to completion.
            ran = Ran(exit_code=0, output="", seconds=0.0)
        else:
            ran = s.run(tuple(printing.command) if printing and printing.command else None)
        if ran.error or ran.timed_out:
            raise RecordError(f"the solution's container did not run: {ran.error or 'timed out'}")
        f = fx_mod.Fixture(
            exercise=ex.id,
            recorded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            engine=_engine_line(),
            host_platform=engine.host_platform(),
            solution_digest=fx_mod.digest(folder, notebook),
            size_bytes=image.size_bytes,
            compressed_bytes=image.compressed_bytes,
            layers=len(image.layers),
            layer_sizes=[layer.size_bytes for layer in image.layers],
            wasted_bytes=image.wasted_bytes,
            user=image.user,
            entrypoint=image.entrypoint,
            cmd=image.cmd,
            output=ran.output,
            exit_code=ran.exit_code,
            context_bytes=built.context_bytes,
        )
        if (above := s.above_base) is not None:
            f.base_ref, f.base_image_id, f.base_standin = above.base_ref, above.base_image_id, above.base_standin
            f.base_bytes, f.added_bytes, f.added_wasted_bytes = above.base_bytes, above.added_bytes, above.added_wasted_bytes
            f.base_wasted_bytes = above.base_wasted_bytes
        for c in ex.checks:
            # What each check compares with, in course.yml's order (see its unit's @records).
            if (measure := RECORDERS.get(checkspec.kind_of(type(c)) or "")) is not None:
                measure(s, c, f)
    return f
