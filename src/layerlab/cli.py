"""The `layerlab` command: doctor, bootstrap, clean, run, sync, grade, grade-many, release, record, and the instructor's warm, timings, reset."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from layerlab import __version__
from layerlab.ground.errors import BadSetting, NotFound

if TYPE_CHECKING:
    from layerlab.course import Course, Module, doctor
    from layerlab.engine.clean import CleanReport


def _doctor(args: argparse.Namespace) -> int:
    from layerlab.course import doctor

    report = doctor.run()
    diffs = _standin_differences(report)
    if args.json:
        print(json.dumps({**report.model_dump(mode="json"), "standin_differences": diffs}, indent=2))
    else:
        print(report.table())
        for ref, lines in diffs.items():
            print(f"\n{ref} is a stand-in; measured, it differs from the official image in:")
            print("\n".join(f"  - {line}" for line in lines))
    return 0 if report.ok else 1


def _standin_differences(report: doctor.Report) -> dict[str, list[str]]:
    """Each stand-in's differences from the official image, measured from the stand-in (see standins.py)."""
    from layerlab.measure import standins

    out = {}
    for ref, img in report.images.items():
        if img and img.standin and not report.replayed:
            try:
                out[ref] = standins.differences(ref)
            except Exception as e:  # an image the doctor saw but cannot export: say so, do not fail the report
                out[ref] = [f"not measured: {e}"]
    return out


def _bootstrap(args: argparse.Namespace) -> int:
    from layerlab import engine
    from layerlab.engine import bootstrap, catalogue

    try:
        engine.require()
    except engine.EngineUnavailable as e:
        print(e, file=sys.stderr)
        return 2
    online = False if args.offline else None
    needs: tuple[str, ...] = ()
    if args.modules:
        from layerlab import course as course_mod

        try:
            c = course_mod.load()
            needs = tuple(sorted({n for k in args.modules for n in c.module(k).needs if n in catalogue.EXTRA_IMAGES}))
        except (course_mod.CourseFileError, NotFound) as e:
            print(e, file=sys.stderr)
            return 2
    p = bootstrap.current_plan(force=args.force, online=online, needs=needs)
    print(f"base images ({'online: pulling official images' if p.online else 'offline: building stand-ins'}):")
    for s in p.steps:
        print(f"  {s}")
    if args.plan:
        return 0
    if not p.work:
        print("all base images present for every platform; nothing to do")
        return 0
    if any(s.action == "build-standin" for s in p.work):
        from layerlab.course import needs as needs_mod

        buildx = needs_mod.judge("buildx", engine.probe())
        if not buildx.met:  # before minutes of debootstrap, not after
            sys.stdout.flush()  # the plan above first: the refusal is the last line a log shows
            print(
                f"bootstrap builds the offline stand-ins with buildx: {buildx.why}. Fix: {buildx.fix}", file=sys.stderr
            )
            return 1
    try:
        bootstrap.run(p, needs=needs)
    except Exception as e:  # noqa: BLE001 - one clear line, then the details
        print(f"bootstrap failed: {e}", file=sys.stderr)
        return 1
    return 0


def _clean(args: argparse.Namespace) -> int:
    from layerlab import engine
    from layerlab.engine import clean

    try:
        report = clean.clean(include_base=args.all, dry_run=args.dry_run)
    except engine.EngineUnavailable as e:
        print(e, file=sys.stderr)
        return 2
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        if args.dry_run:
            _print_dry_run(report, "would remove (dry run):")
        else:
            print(report.summary())
    return 1 if report.failed else 0


def _print_dry_run(report: CleanReport, title: str) -> None:
    print(title)
    for kind in ("containers", "networks", "volumes", "images"):
        for name in getattr(report, kind):
            print(f"  {kind[:-1]} {name}")


def _registry(args: argparse.Namespace) -> int:
    from layerlab.engine import registry

    try:
        if args.action == "up":
            st = registry.up_live()
        elif args.action == "down":
            print("registry removed" if registry.down() else "no registry was running")
            return 0
        else:
            st = registry.status_live()
    except (registry.RegistryError, RuntimeError) as e:
        print(str(e), file=sys.stderr)
        return 1
    print(st.line())
    if st.running:
        print(f"push to it: docker push {st.address}/NAME:TAG")
    return 0 if st.running or args.action == "status" else 1


def _run(args: argparse.Namespace) -> int:
    from layerlab import course as course_mod
    from layerlab.course import site

    try:
        c = course_mod.load()
        modules = [c.module(k) for k in args.modules] if args.modules else c.modules
    except (course_mod.CourseFileError, NotFound) as e:
        print(e, file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    # The kernels inherit the environment: that is how replay.py learns the mode.
    if args.record:
        os.environ["LAYERLAB_RECORD"] = "1"
    if args.replay:
        os.environ["LAYERLAB_REPLAY"] = "1"
    results = site.run(c, modules, out)
    failed = [r for r in results if not r.ok]
    print(f"\n{len(results) - len(failed)}/{len(results)} notebooks ran; HTML index: {out / 'index.html'}")
    for r in failed:
        print(f"  {r.module}: FAILED at {r.error} (see {out / r.html})")
        if r.failure:
            print(f"    {r.failure.todo()}")
    return 1 if failed else 0


def _matrix(args: argparse.Namespace) -> int:
    from layerlab import engine
    from layerlab.course import matrix, matrix_host
    from layerlab.ground.errors import NotFound

    if args.list:
        for leg in matrix.LEGS:
            env = " ".join(f"{k}={v}" for k, v in leg.env.items()) or (
                "(an engine in a VM with its own kernel)" if leg.machine == "vm" else "(the README's set-up)"
            )
            print(f"{leg.id:22} {leg.title}\n{'':22} {env}")
        return 0
    if not args.legs:
        print(matrix.markdown(matrix.load()), end="")
        return 0
    try:
        legs = [matrix.leg(k) for k in args.legs]
    except NotFound as e:
        print(e, file=sys.stderr)
        return 2
    rc = 0
    for leg in legs:
        try:
            r = matrix_host.run(leg, Path(args.keep))
        except (engine.EngineUnavailable, RuntimeError) as e:
            print(f"[matrix {leg.id}] {e}", file=sys.stderr)
            rc = 1
            continue
        n = r.counts()
        print(
            f"[matrix {leg.id}] {n['passed']} passed, {n['stopped']} stopped, {n['failed']} failed in {r.seconds:.0f} s"
        )
        rc = rc or (1 if n["failed"] else 0)
    print(f"recorded in {matrix.MATRIX_FILE}")
    return rc


def _inspect(args: argparse.Namespace) -> int:
    from layerlab import engine
    from layerlab.measure import inspector

    try:
        report = inspector.inspect(args.image, platform=args.platform, use_cache=not args.no_cache)
    except (inspector.ImageNotFound, engine.EngineUnavailable) as e:
        print(e, file=sys.stderr)
        return 2
    if args.json:
        d = report.model_dump(mode="json")
        if not args.files:
            d["files"] = f"{len(report.files)} paths (add --files to list them)"
        print(json.dumps(d, indent=2))
    else:
        print(report.table())
        if args.find:
            matches = report.find(args.find)
            print(f"\n{len(matches)} path(s) match {args.find}:")
            for path in matches[:50]:
                print(f"  {path}")
    return 0


def _sync(args: argparse.Namespace) -> int:
    from layerlab import course as course_mod
    from layerlab.course import notebooks

    written = notebooks.sync(course_mod.load())
    print(f"{len(written)} notebook(s) regenerated from their text sources" if written else "notebooks are up to date")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from layerlab.engine import progress
    from layerlab.grade import bundle, formats
    from layerlab.grade.report import Audience
    from layerlab.grade.runner import grade
    from layerlab.grade.student import NeedsAutograder

    if args.json and args.format not in (None, "json"):
        print(f"--json is --format json; it cannot go with --format {args.format}", file=sys.stderr)
        return 2
    args.format = args.format or "text"
    writes: list[tuple[str, Path]] = []
    for spec in args.write:
        name, _, path = spec.partition("=")
        if name not in formats.FORMATS or not path:
            print(f"--write {spec}: want FORMAT=PATH, FORMAT one of {', '.join(formats.names())}", file=sys.stderr)
            return 2
        writes.append((name, Path(path)))
    autograder: bundle.Bundle | None = None
    if args.autograder:
        try:
            autograder = bundle.open_bundle(args.autograder)
        except bundle.BundleError as e:
            print(e, file=sys.stderr)
            return 2
    # Who reads it: grading with the autograder is the student's CI (hidden checks show points only);
    # grading in the instructor's repository, the instructor.
    audience: Audience = args.audience or ("student" if autograder else "instructor")
    shipped = tempfile.TemporaryDirectory(prefix="layerlab-ship-") if args.ship else None
    try:
        # Build progress goes to stderr, so `--json` keeps stdout to the report.
        show = progress.auto(stream=sys.stderr)
        if shipped is not None:
            args.path = _shipped(args.path, args.exercise, Path(shipped.name))
        if autograder is None:
            report = grade(args.path, args.exercise, show=show)
        else:
            with autograder:
                report = bundle.grade_with(autograder, args.path, args.exercise, show=show)
    except NeedsAutograder as e:
        print(e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("grading interrupted; what this run created was removed", file=sys.stderr)
        return 130
    finally:
        if shipped is not None:
            shipped.cleanup()
    ctx = formats.Context(env=os.environ, audience=audience)
    for name, path in writes:  # one grading, every format the caller wants (CI keeps JUnit and JSON, say)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(formats.render(name, report, ctx), encoding="utf-8")
    name = "json" if args.json else args.format
    f = formats.FORMATS[name]
    text = f.render(report, ctx)
    target = ctx.env.get(f.env_file) if f.env_file else None
    if target:  # GitHub's job summary: appended to the file the runner names, as each step does
        with open(target, "a", encoding="utf-8") as out:
            out.write(text)
        print(
            f"{report.exercise}: {'PASSED' if report.passed else 'FAILED'}, {report.points}/{report.max_points} points;"
            f" {name} appended to ${f.env_file}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return 0 if report.passed else 1


def _shipped(path: str, exercise_id: str | None, scratch: Path) -> str:
    """The folder to grade: `path` itself, or for an exercise with a `pushed_image` check a shipped copy of it."""
    from layerlab.grade import exercise as exercise_mod
    from layerlab.grade.checks.ship import PushedImage, ship

    folder = Path(path)
    try:
        ex = exercise_mod.load(exercise_id or folder.resolve().name)
    except exercise_mod.UnknownExercise:
        return path  # the grading itself says so, in its report
    if not any(isinstance(c, PushedImage) for c in ex.checks):
        return path
    dest = scratch / ex.id
    try:
        ship(ex, folder, dest, f"{ex.id}-shipped-{uuid.uuid4().hex[:8]}:v1")
    except Exception as e:  # noqa: BLE001 - any failure to push leaves the folder as handed in, graded as it is
        print(
            f"--ship: could not push the image first ({str(e).splitlines()[0][:200]}); grading the folder as it is",
            file=sys.stderr,
        )
        return path
    return str(dest)


def _grade_many(args: argparse.Namespace) -> int:
    from layerlab.grade import batch, gradebook
    from layerlab.ground.errors import LayerlabError

    if args.jobs < 1 or args.timeout <= 0:
        print("--jobs wants 1 or more, --timeout a number of seconds above 0", file=sys.stderr)
        return 2
    out = Path(args.out or Path("build") / "grade-many" / args.exercise)
    try:
        b = batch.grade_many(
            Path(args.submissions),
            args.exercise,
            out,
            jobs=args.jobs,
            timeout=args.timeout,
            autograder=args.autograder,
            formats=tuple(args.format),
        )
    except LayerlabError as e:  # no submissions, an unknown exercise, a foreign gradebook in --out
        print(e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: every grading was stopped and what it made removed; the gradebook was not written",
            file=sys.stderr,
        )
        return 130
    counts = ", ".join(f"{n} {s}" for s in gradebook.STATUSES if (n := sum(r.status == s for r in b.rows)))
    print(f"{b.exercise}: {len(b.rows)} students graded in {b.seconds:.0f} s ({counts})")
    if b.regrade:
        print(
            f"{len(b.changes)} grade(s) changed since the previous grading"
            + "".join(f"\n  {c.student}: {c.before} -> {c.after}" for c in b.changes)
        )
    for line in b.skipped:
        print(f"skipped {line}")
    print(f"gradebook: {out / batch.GRADEBOOK}\nreports: {out / 'reports'}\nsummary: {out / batch.SUMMARY}")
    if b.left:
        print("left in the engine after the clean-up:\n" + "\n".join(f"  {x}" for x in b.left), file=sys.stderr)
        return 1
    return 0


def _release(args: argparse.Namespace) -> int:
    from layerlab import course as course_mod
    from layerlab.ground.settings import student_release

    from .grade import release

    if args.student:
        return _release_student(args)
    if args.autograder:
        return _release_autograder(args)
    if student_release():
        print("this copy of the course is a student release: its exercises come from your instructor", file=sys.stderr)
        return 2
    c = course_mod.load()
    ids = args.exercises or [e.id for e in c.exercises]
    failed = 0
    for ex_id in ids:
        try:
            c.exercise(ex_id)
            if args.check:
                d = release.drift(ex_id)
                print(d.describe() if d.stale else f"exercises/{ex_id}/ is up to date")
                failed += d.stale
                continue
            touched = release.release(ex_id)
        except (NotFound, release.ReleaseError) as e:
            print(e, file=sys.stderr)
            failed += 1
            continue
        print(f"exercises/{ex_id}/: {len(touched)} file(s) written" if touched else f"exercises/{ex_id}/ is up to date")
    for problem in release.unpaired(c):
        print(problem, file=sys.stderr)
        failed += 1
    return 1 if failed else 0


def _release_student(args: argparse.Namespace) -> int:
    from layerlab.grade import student

    if args.exercises or args.check:
        print("--student writes the whole student repository: it takes no exercise ids and no --check", file=sys.stderr)
        return 2
    try:
        result = student.write(args.student)
    except student.StudentReleaseError as e:
        print(e, file=sys.stderr)
        return 2
    print(result.summary())
    return 0


def _release_autograder(args: argparse.Namespace) -> int:
    from .grade import bundle

    if args.check:
        print("--check compares exercises/ with solutions/; it does not go with --autograder", file=sys.stderr)
        return 2
    try:
        w = bundle.write(Path(args.autograder), args.exercises or None)
    except bundle.BundleError as e:
        print(e, file=sys.stderr)
        return 1
    print(
        f"wrote {w.path}: {len(w.exercises)} exercise(s) ({', '.join(w.exercises)}), {w.hidden} hidden check(s); "
        f"pin it: layerlab grade PATH --autograder {w.path}@{w.digest}"
    )
    print(w.digest)
    return 0


def _record(args: argparse.Namespace) -> int:
    from layerlab import engine
    from layerlab.grade.checks import RecordError
    from layerlab.grade.record import record

    try:
        f, report = record(args.exercise)
    except (RecordError, engine.EngineUnavailable) as e:
        print(e, file=sys.stderr)
        return 2
    print(
        f"wrote solutions/{f.exercise}/fixture.json: {f.size_bytes / 1e6:.1f} MB, {f.layers} layers, "
        f"{f.wasted_bytes / 1e6:.1f} MB wasted, {f.engine}"
    )
    print(report.table())
    return 0 if report.passed else 1


def _activities(args: argparse.Namespace) -> int:
    """The instructor's view: each module's predictions, challenges and questions, answers included."""
    from layerlab import course

    c = course.load()
    modules = [c.module(m) for m in args.modules] if args.modules else c.modules
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "module": m.id,
                        "title": m.title,
                        "predictions": [p.model_dump() for p in m.predictions],
                        "challenges": [x.model_dump() for x in m.challenges],
                        "quiz": [q.model_dump() for q in m.quiz],
                    }
                    for m in modules
                ],
                indent=1,
            )
        )
        return 0
    for m in modules:
        print(f"{m.id} {m.title}")
        for p in m.predictions:
            print(f"  predict  {p.id}: {p.question} ({p.unit})")
        for x in m.challenges:
            print(f"  challenge {x.id}: {x.title} ({x.minutes} min; solution {x.solution})")
        for i, q in enumerate(m.quiz, 1):
            answer = q.answer if q.choices else f"{q.answer:g}" + (f" ± {q.tolerance:g}" if q.tolerance else "")
            print(f"  Q{i}. {q.prompt}\n      answer: {answer}\n      why: {q.explanation}")
    return 0


def _modules(args: argparse.Namespace) -> tuple[Course, list[Module]] | None:
    """course.yml and the modules named on the command line (all when none); None after saying why not."""
    from layerlab import course as course_mod

    try:
        c = course_mod.load()
        return c, [c.module(k) for k in args.modules] if args.modules else list(c.modules)
    except (course_mod.CourseFileError, NotFound) as e:
        print(e, file=sys.stderr)
        return None


def _warm(args: argparse.Namespace) -> int:
    from layerlab import engine
    from layerlab.course import instructor, lesson_times, site

    loaded = _modules(args)
    if loaded is None:
        return 2
    c, modules = loaded
    out = Path(args.out).resolve()
    if args.plan:
        extra = instructor.base_needs(modules)
        print(
            f"base images: layerlab bootstrap {' '.join(m.id for m in modules)}"
            + (f" (also: {', '.join(extra)})" if extra else "")
        )
        print(
            f"then each lesson runs twice, headless: first run into {out / 'warm' / 'first-run'}, the warm run into {out}"
        )
        for m in modules:
            print(f"  {m.id} {m.title}: {m.notebook}")
        return 0
    try:
        engine.require()
    except engine.EngineUnavailable as e:
        print(e, file=sys.stderr)
        return 2

    def say(line: str) -> None:  # with --json, progress goes to stderr and stdout stays the report
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    report = instructor.warm(c, modules, out, say=say, once=args.once)
    if report.recorded:  # the warm runs are what `layerlab run` would keep: runs.json, their machine, the pages
        site.record_runs(c, report.recorded, out)
    if args.record:
        written = instructor.record_times(c, report)
        say(f"recorded {len(written)} lesson time(s) in {lesson_times.RECORD_FILE} and in their instructor notes")
    if args.json:
        print(report.model_dump_json(indent=1))
    else:
        print(
            f"\nwarm-up of {len(modules)} module(s) took {report.total_s:.0f} s; base images checked in {report.base_images_s:.1f} s"
        )
        for r in report.runs:
            print("  " + r.line())
        print(f"timings: layerlab timings; pages: {out / 'index.html'}, {out / 'instructor.html'}")
    return 0 if report.ok else 1


def _timings(args: argparse.Namespace) -> int:
    from layerlab.course import instructor

    loaded = _modules(args)
    if loaded is None:
        return 2
    c, modules = loaded
    rows = instructor.timings(c, Path(args.out).resolve(), modules)
    if args.json:
        print(json.dumps([t.model_dump(mode="json") for t in rows], indent=1))
    else:
        print(instructor.timings_table(rows))
    return 0


def _reset(args: argparse.Namespace) -> int:
    from layerlab import course as course_mod
    from layerlab import engine
    from layerlab.course import instructor

    try:
        course_mod.load().module(args.module)
    except (course_mod.CourseFileError, NotFound) as e:
        print(e, file=sys.stderr)
        return 2
    try:
        report = instructor.reset(args.module, dry_run=args.dry_run)
    except engine.EngineUnavailable as e:
        print(e, file=sys.stderr)
        return 2
    if args.json:
        print(report.model_dump_json(indent=2))
    elif args.dry_run:
        _print_dry_run(report, f"would remove what module {args.module} built (dry run):")
    else:
        print(f"module {args.module}: " + report.summary())
    return 1 if report.failed else 0


def _instructor(args: argparse.Namespace) -> int:
    from layerlab import course as course_mod
    from layerlab.course import site

    index, page = site.write_pages(course_mod.load(), Path(args.out).resolve())
    print(f"wrote {page} and {index}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="layerlab", description="Build, measure and grade container images for the Containers for ML course."
    )
    parser.add_argument("--version", action="version", version=f"layerlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("doctor", help="what this machine can do for the course")
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.set_defaults(func=_doctor)

    p = sub.add_parser("bootstrap", help="make sure the base images exist for linux/amd64 and linux/arm64")
    p.add_argument("--plan", action="store_true", help="show what would be done, do nothing")
    p.add_argument("--force", action="store_true", help="rebuild or re-pull even when present")
    p.add_argument("--offline", action="store_true", help="build stand-ins even when a registry is reachable")
    p.add_argument(
        "modules",
        nargs="*",
        metavar="MODULE",
        help="also the images these modules need (course.yml `needs`: 06 needs the CUDA images)",
    )
    p.set_defaults(func=_bootstrap)

    p = sub.add_parser("clean", help="remove the containers, networks, volumes and images the course created")
    p.add_argument("--all", action="store_true", help="also remove the base images")
    p.add_argument("--dry-run", action="store_true", help="list what would be removed")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_clean)

    p = sub.add_parser("registry", help="a real registry at localhost:5000 (LAYERLAB_REGISTRY_PORT) for pushing images")
    p.add_argument("action", choices=["up", "down", "status"])
    p.set_defaults(func=_registry)

    p = sub.add_parser("run", help="execute lesson notebooks headless and render them to HTML")
    p.add_argument("modules", nargs="*", help="module ids or slugs (default: all, in course order)")
    p.add_argument("--out", default="build", help="output folder (default: build)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--record", action="store_true", help="store every measured result under replays/ (for Binder)")
    mode.add_argument("--replay", action="store_true", help="use the recorded results under replays/; no engine needed")
    p.set_defaults(func=_run)

    p = sub.add_parser("inspect", help="sizes, layers, waste, platforms and files of an image")
    p.add_argument("image")
    p.add_argument("--platform", help="which platform's layers to analyse (default: this machine's)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--files", action="store_true", help="with --json: list every path of the final image")
    p.add_argument("--find", metavar="GLOB", help="list the paths matching a glob, e.g. '/usr/bin/gcc*'")
    p.add_argument("--no-cache", action="store_true", help="analyse again even if this image id was analysed before")
    p.set_defaults(func=_inspect)

    p = sub.add_parser("sync", help="regenerate the .ipynb of each lesson from its text source")
    p.set_defaults(func=_sync)

    from layerlab.grade import formats

    p = sub.add_parser("grade", help="build and check an exercise folder against its recorded fixture")
    p.add_argument("path", help="the exercise folder (holds the Dockerfile)")
    p.add_argument("--exercise", help="exercise id (default: the folder's name)")
    p.add_argument(
        "--format",
        choices=formats.names(),
        default=None,
        help="report format: " + "; ".join(f"{f}: {formats.FORMATS[f].help}" for f in formats.names()),
    )
    p.add_argument("--json", action="store_true", help="the same as --format json")
    p.add_argument(
        "--write",
        action="append",
        default=[],
        metavar="FORMAT=PATH",
        help="also write the report in FORMAT to PATH, from the same grading (repeatable)",
    )
    p.add_argument(
        "--autograder",
        metavar="FILE[@sha256:HEX]",
        help="grade with this autograder bundle's checks, fixtures and hidden checks only (pin it by its digest); "
        "what the submission's repository holds of them is ignored and flagged",
    )
    p.add_argument(
        "--audience",
        choices=["student", "instructor"],
        default=None,
        help="who reads the report: a student sees a hidden check's points only "
        "(default: student with --autograder, else instructor)",
    )
    p.add_argument(
        "--ship",
        action="store_true",
        help="first do what the exercise's notebook does before grading a pushed image (build, push to the local "
        "registry, write the digest file), on a copy of the folder; no effect on other exercises",
    )
    p.set_defaults(func=_grade)

    p = sub.add_parser(
        "grade-many",
        help="grade a folder of submissions, one per student: a gradebook CSV, a JSON report each, an HTML summary",
    )
    p.add_argument("submissions", help="a folder with one folder, git repository or NAME.bundle per student")
    p.add_argument("--exercise", required=True, help="exercise id, e.g. 02-slim")
    p.add_argument(
        "--autograder", metavar="FILE[@DIGEST]", help="grade with this autograder bundle's checks and fixtures"
    )
    p.add_argument("--jobs", type=int, default=1, help="students graded at the same time (default: 1)")
    p.add_argument(
        "--timeout",
        type=float,
        default=900,
        help="seconds one student's grading may take, then it is stopped (default: 900)",
    )
    p.add_argument(
        "--format",
        action="append",
        default=[],
        choices=[f for f in formats.names() if f != "json"],
        help="also write each student's report in this format, beside the JSON one (repeatable)",
    )
    p.add_argument(
        "--out",
        help="where the gradebook, reports/ and summary.html go (default: build/grade-many/ID); "
        "a gradebook already there is the previous grading, and what changed since is reported",
    )
    p.set_defaults(func=_grade_many)

    p = sub.add_parser("release", help="generate exercises/<id>/ from solutions/<id>/, or the autograder bundle")
    p.add_argument("exercises", nargs="*", help="exercise ids (default: all)")
    p.add_argument("--check", action="store_true", help="only say whether exercises/ is stale; exit 1 if it is")
    p.add_argument(
        "--student",
        metavar="DIR",
        help="write the repository a student gets into DIR (new or empty): no solutions, fixtures or answers",
    )
    p.add_argument(
        "--autograder",
        metavar="FILE",
        help="write the autograder bundle (checks, fixtures, hidden checks; a deterministic tar.gz) to FILE "
        "and print its digest",
    )
    p.set_defaults(func=_release)

    p = sub.add_parser("record", help="build and run a solution and write its measured fixture.json")
    p.add_argument("exercise")
    p.set_defaults(func=_record)

    p = sub.add_parser(
        "activities", help="each module's predictions, challenges and quiz, with the answers (for instructors)"
    )
    p.add_argument("modules", nargs="*", help="module ids (default: all)")
    p.add_argument("--json", action="store_true", help="a quiz export, machine-readable")
    p.set_defaults(func=_activities)

    p = sub.add_parser("warm", help="before class: build what each module's demo builds and time it cold and warm")
    p.add_argument("modules", nargs="*", metavar="MODULE", help="module ids (default: all)")
    p.add_argument("--out", default="build", help="output folder (default: build)")
    p.add_argument(
        "--once", action="store_true", help="run each lesson once (build only); the warm time is not measured"
    )
    p.add_argument("--plan", action="store_true", help="say what would run, run nothing")
    p.add_argument(
        "--record",
        action="store_true",
        help="keep the times in docs/lesson-times.json and write them into each lesson's instructor note",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_warm)

    p = sub.add_parser(
        "timings", help="each lesson's measured run time next to its teaching minutes; cells over 30 s warm"
    )
    p.add_argument("modules", nargs="*", metavar="MODULE", help="module ids (default: all)")
    p.add_argument("--out", default="build", help="where `layerlab run` wrote (default: build)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_timings)

    p = sub.add_parser(
        "reset", help="remove what one module built (its labelled containers, networks, volumes, images)"
    )
    p.add_argument("module", help="module id, e.g. 03")
    p.add_argument("--dry-run", action="store_true", help="list what would be removed")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_reset)

    p = sub.add_parser(
        "matrix", help="run the course on other engines, each in a throw-away machine (docs/matrix.json)"
    )
    p.add_argument("legs", nargs="*", help="legs to run (see --list); none: show the recorded matrix")
    p.add_argument("--list", action="store_true", help="the legs and the set-up each one asks for")
    p.add_argument("--keep", default="build/matrix", help="where each leg's console and pages stay")
    p.set_defaults(func=_matrix)

    p = sub.add_parser("instructor", help="write build/instructor.html (and refresh the course page build/index.html)")
    p.add_argument("--out", default="build", help="output folder (default: build)")
    p.set_defaults(func=_instructor)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BadSetting as e:  # the environment, not the command, is wrong: say which variable, no traceback
        print(f"layerlab: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
