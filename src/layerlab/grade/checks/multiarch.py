"""Multi-platform builds (exercise 05): every platform runs, nothing installs under qemu, less emulated work, sizes.

The engine says which platform is native and which is emulated (`platforms.current()`): on an Apple-silicon
engine amd64 is the emulated build. What ran under emulation is read from BuildKit's own step records:
RUN steps built for the foreign platform outside a cross stage, judged by their duration and by what their
log shows (an installer or a compiler), never by the words of the RUN. Measured builds open every stage that
can run under emulation with a per-grading ARG, so its RUNs run in this build and BuildKit cannot merge
them with another build's on a shared engine (native `--platform=$BUILDPLATFORM` stages stay cacheable);
a judged step longer than its build (a merge) is reported, never judged. The starter's emulated work, the comparison
baseline, is measured once per engine and starter content and kept in the cache folder.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from layerlab import engine
from layerlab.engine import platforms as platforms_mod
from layerlab.engine.build import BuildError, BuildResult
from layerlab.engine.buildlog import Step
from layerlab.engine.platforms import Platforms
from layerlab.ground import settings
from layerlab.measure.inspector import mb, short_instruction

from ..dockerfile import parse as parse_dockerfile
from ..fixture import Fixture, Section, solution_dir
from ..release import starter_text
from ..sandbox import Ran, TimedOut
from ..subject import Subject
from .base import Context, Failed, NotRun, check, excerpt, lines, records
from .builds import stages, undeclared_platform_arg
from .runs import Printed
from .spec import CheckBase

Platform = Literal["linux/amd64", "linux/arm64"]
TWO_PLATFORMS: list = ["linux/amd64", "linux/arm64"]


class MultiarchRuns(CheckBase):
    check: Literal["multiarch_runs"]
    platforms: list[Platform] = Field(
        default_factory=lambda: list(TWO_PLATFORMS),
        min_length=2,
        description="the index must hold exactly these (attestations aside); each must print the fixture's output",
    )


class NoEmulatedBuildSteps(CheckBase):
    check: Literal["no_emulated_build_steps"]
    platforms: list[Platform] = Field(default_factory=lambda: list(TWO_PLATFORMS), min_length=2)
    at_most_s: float = Field(
        default=10.0,
        gt=0,
        description=(
            "an emulated RUN step that took longer than this did real work under qemu (a `mkdir` took 3.9 s on a "
            "2-core engine at load 12, an emulated pip install of numpy minutes); a shorter one fails too when its "
            "log shows an installer or compiler at work"
        ),
    )


class CrossBuildSpeedup(CheckBase):
    check: Literal["cross_build_speedup"]
    platforms: list[Platform] = Field(default_factory=lambda: list(TWO_PLATFORMS), min_length=2)
    platform: Platform | None = Field(
        default=None, description="the emulated platform judged; default: the engine's foreign one"
    )
    at_least: float = Field(
        gt=1,
        description=(
            "the starter's seconds of RUN steps under emulation for `platform` over the submission's: "
            "emulated work only, so a slow mirror or a fast CPU does not move it"
        ),
    )


class PlatformSizesAtMost(CheckBase):
    check: Literal["platform_sizes_at_most"]
    platforms: list[Platform] = Field(default_factory=lambda: list(TWO_PLATFORMS), min_length=1)
    factor: float = Field(
        gt=0, description="the uncompressed bytes each platform adds above its base: at most factor x the fixture's"
    )
    allowance_mb: float = Field(ge=0, default=2.0, description="plus this many MB (stand-in vs official base files)")


class PlatformBuild(Section):
    """The solution's cold multi-platform build: step seconds and uncompressed bytes per platform."""

    name = "multiarch"
    seconds: dict[str, float] = Field(default_factory=dict)
    sizes: dict[str, int] = Field(default_factory=dict)
    added: dict[str, int] = Field(default_factory=dict)  # per platform, the bytes above the final stage's base


# --- what ran under emulation: pure readings of BuildKit's step records (unit-tested on recorded logs) --------


def judged(p: Platforms, platform: str | None = None) -> tuple[str, str]:
    """(native, emulated): the engine's own platform and the one this unit judges as emulated.

    On Debian's Docker on a PC that is (linux/amd64, linux/arm64); on Docker Desktop on Apple silicon
    (linux/arm64, linux/amd64): the grader never assumes an amd64 engine."""
    return p.native, platform or p.foreign


# A step longer than its whole build was not run by it: BuildKit merged it with the identical step of a
# concurrent build (even with --no-cache) and reports that vertex's own start and end.
MERGE_SLACK_S = 1.0


def merged_steps(r: BuildResult, native: str) -> list[Step]:
    """Judged (emulated RUN) steps whose reported time cannot be this build's: each lasted longer than the
    build itself. Native steps are never judged, so a merge there distorts nothing."""
    return [s for s in emulated_run_steps(r, native) if (s.seconds or 0.0) > r.seconds + MERGE_SLACK_S]


def emulated_run_steps(r: BuildResult, native: str, platform: str | None = None) -> list[Step]:
    """RUN steps that executed under qemu: built for a platform other than the engine's, outside a cross stage."""
    return r.emulated(platform=platform, host=native)


def emulated_seconds(r: BuildResult, native: str, platform: str) -> float:
    """Seconds of RUN steps for `platform` that ran under emulation: the work the exercise removes.

    Cross stages (`FROM --platform=$BUILDPLATFORM`) run natively and do not count, however long their
    downloads take; copies and metadata do not count either."""
    return round(sum(s.seconds or 0.0 for s in emulated_run_steps(r, native, platform)), 3)


# What an installer or compiler prints while it works (pip, apt/dpkg, setuptools, make and compilers).
_WORK = re.compile(
    r"^(Collecting |Downloading |Building wheels? |Building wheel for|Installing collected packages|Successfully installed"
    r"|Running setup\.py|Get:\d+ |Unpacking |Setting up |Selecting previously unselected"
    r"|(?:\S*-)?(?:gcc|g\+\+|cc|c\+\+|clang)(?:-\d+)? |make(?:\[\d+\])?: |go: downloading|\s*Compiling )"
)


def work_shown(step: Step) -> str | None:
    """The first log line that shows an installer or compiler at work in this step, or None."""
    return next((line.strip() for line in step.log if _WORK.match(line.strip())), None)


def emulated_work(r: BuildResult, native: str, at_most_s: float) -> list[tuple[Step, str]]:
    """Emulated RUN steps that did real work, each with why: its duration, or what its log shows."""
    found = []
    for s in emulated_run_steps(r, native):
        shown = work_shown(s)
        if (s.seconds or 0.0) > at_most_s:
            found.append((s, f"{s.seconds:.1f} s under qemu" + (f" ({short_instruction(shown, 50)})" if shown else "")))
        elif shown:
            found.append((s, f"its log shows `{short_instruction(shown, 50)}` under qemu"))
    return found


# --- measuring so that concurrent builds cannot distort it -----------------------------------


BUST_ARG = "LAYERLAB_GRADE_RUN"
_FROM = re.compile(r"^\s*FROM\s", re.IGNORECASE)
_NATIVE_STAGE = re.compile(r"--platform=(\$BUILDPLATFORM|\$\{BUILDPLATFORM\})(\s|$)")


def busted(text: str, token: str) -> str:
    """The Dockerfile with `ARG LAYERLAB_GRADE_RUN=<token>` opening every stage that can run under emulation.

    A declared ARG is in the environment of every later RUN of its stage, so each such RUN's cache key is
    this grading's own: it runs in this build (nothing cached to judge), and BuildKit cannot merge it with
    an identical step another build on the engine has in progress (it does, even with --no-cache), so the
    step times measured are this build's. A stage `FROM --platform=$BUILDPLATFORM` always runs natively,
    is never judged, and stays cacheable: a second grading of the same work reuses its downloads."""
    out: list[str] = []
    head: list[str] = []  # the FROM instruction being read (continued with backslashes)
    for line in text.splitlines():
        out.append(line)
        if _FROM.match(line) or head:
            head.append(line)
            if line.rstrip().endswith("\\"):
                continue
            if not _NATIVE_STAGE.search(" ".join(head)):
                out.append(f"ARG {BUST_ARG}={token}")
            head = []
    return "\n".join(out) + "\n"


def _measured_build(
    s: Subject, name: str, context: Path, text: str, platforms: tuple[str, ...], timeout_factor: float = 1.0
) -> BuildResult:
    """A multi-platform build of `text` in `context`: every RUN that can run under emulation runs, unique to
    this grading (`busted`); only the native stages (`--platform=$BUILDPLATFORM`) may come from the cache."""
    df = s.session.scratch / f"{name}.Dockerfile"
    df.write_text(busted(text, s.session.run_id), encoding="utf-8")
    return s.session.build(
        context,
        name,
        dockerfile=df,
        platforms=list(platforms),
        cache=True,
        timeout=s.limits.build_timeout_s * timeout_factor,
    )


# --- this unit's measurements of the subject, each taken once per grading run ------------------


def cold_platform_build(s: Subject, platforms: tuple[str, ...]) -> BuildResult:
    """The submission's measured multi-platform build (`_measured_build`): its emulated steps ran in it."""
    return s.once(
        ("multiarch", "cold", platforms),
        lambda: _measured_build(
            s, "cold-multi", s.context, s.dockerfile.read_text(encoding="utf-8", errors="replace"), platforms
        ),
    )


class Baseline(BaseModel):
    """The starter's emulated work on one engine: measured once per engine and starter content, then reused."""

    exercise: str
    engine: str
    native: str
    platform: str
    emulated_seconds: float
    build_seconds: float
    measured_at: str
    digest: str


def starter_digest(
    exercise_id: str, paths: Sequence[str], dockerfile: str, starter: str, folder: Path | None = None
) -> str:
    """The starter's content: its Dockerfile and the files it builds from (the solution folder's by default)."""
    h = hashlib.sha256(starter.encode())
    folder = folder or solution_dir(exercise_id)
    for name in sorted(set(paths) - {dockerfile}):
        f = folder / name
        if f.is_file():
            h.update(b"\0" + name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def baseline_path(exercise_id: str, engine_label: str, native: str, platform: str, digest: str) -> Path:
    key = hashlib.sha256(f"{engine_label}|{native}|{platform}|{digest}".encode()).hexdigest()[:16]
    return settings.cache_dir() / "grade" / "baselines" / f"{exercise_id}-{key}.json"


def load_baseline(path: Path) -> Baseline | None:
    try:
        return Baseline.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def save_baseline(path: Path, b: Baseline) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(b.model_dump_json(indent=1), encoding="utf-8")
    tmp.replace(path)


def starter_baseline(
    s: Subject, platforms: tuple[str, ...], native: str, platform: str, starter: Path | None = None
) -> tuple[Baseline, bool]:
    """The starter's emulated seconds for `platform` on this engine, and whether it was measured in this run.

    The starter is built cold once per engine and starter content; the result is kept under the cache
    folder and reused by every later grading. It is the folder `starter` (an autograder bundle carries
    it), else the solution's STARTER regions in the solution's own folder (the instructor's repository)."""

    def measure() -> tuple[Baseline, bool]:
        folder = starter or solution_dir(s.exercise.id)
        source = folder / s.exercise.dockerfile
        if not source.is_file():
            raise NotRun(
                f"no starter to measure the baseline from (no {source}): grade with the instructor's autograder"
            )
        text = source.read_text(encoding="utf-8")
        if starter is None:
            text = starter_text(text, str(source))
        digest = starter_digest(s.exercise.id, s.exercise.paths, s.exercise.dockerfile, text, folder)
        label = engine.probe().label()
        path = baseline_path(s.exercise.id, label, native, platform, digest)
        if (kept := load_baseline(path)) is not None:
            return kept, False
        mine = s.dockerfile.read_text(encoding="utf-8", errors="replace")
        if (
            mine == text
            and starter_digest(s.exercise.id, s.exercise.paths, s.exercise.dockerfile, mine, s.context) == digest
        ):
            r = cold_platform_build(s, platforms)  # the untouched starter: its own cold build is the baseline
        else:
            # Slow by design (everything emulated) and measured once per engine: twice the submission's limit.
            r = _measured_build(s, "starter-multi", folder, text, platforms, timeout_factor=2)
        if merged := merged_steps(r, native):
            raise NotRun(merged_note(merged, r, "the starter's"))
        b = Baseline(
            exercise=s.exercise.id,
            engine=label,
            native=native,
            platform=platform,
            emulated_seconds=emulated_seconds(r, native, platform),
            build_seconds=round(r.seconds, 1),
            measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
            digest=digest,
        )
        save_baseline(path, b)
        return b, True

    return s.once(("multiarch", "baseline", platforms, platform), measure)


def merged_note(merged: list[Step], r: BuildResult, whose: str) -> str:
    s = merged[0]
    return (
        f"{whose} build was distorted by a concurrent build on this engine: step [{s.tag}] "
        f"{short_instruction(s.name, 50)} reports {s.seconds:.1f} s inside a build of {r.seconds:.1f} s "
        "(BuildKit merged it with an identical step another build had in progress); grade again"
    )


def platform_run(s: Subject, image: str, platform: str) -> Ran:
    return s.once(
        ("multiarch", "run", image, platform),
        lambda: s.session.run(image, None, platform=platform, timeout=s.limits.run_timeout_s),
    )


_FOREIGN_CODE = ("wrong elf class", "invalid elf header", "exec format error", "cannot open shared object file",
                 "undefined symbol", "cannot execute binary file")  # fmt: skip


def _platform_cause(ctx: Context, emulated: str = "the foreign platform's") -> str | None:
    """A static reading of the usual multi-platform mistakes, for a hint; None when none shows."""
    found = stages(ctx)
    if undeclared := undeclared_platform_arg(ctx):
        return undeclared
    if not any("BUILDPLATFORM" in stage[0].flags.get("platform", "") for stage in found):
        return (
            "no stage starts `FROM --platform=$BUILDPLATFORM`: every stage is built for the target platform, "
            f"so {emulated} pip and gcc run under qemu"
        )
    return None


def foreign_code_hint(ctx: Context, platform: str) -> str:
    """The hint when an image holds machine code for another CPU: the missing `ARG TARGETARCH` when the
    Dockerfile shows one (then $TARGETARCH is empty and every platform gets the same code), else the general cause."""
    return undeclared_platform_arg(ctx) or (
        f"the {platform} image holds machine code built for another CPU: the builder compiles or fetches for one "
        "fixed architecture; choose the compiler and pip's --platform from $TARGETARCH"
    )


def _platforms() -> Platforms:
    return platforms_mod.current()


def _multi_build(ctx: Context, wanted: Sequence[str]) -> BuildResult:
    """The submission's cold multi-platform build, or Failed with a hint that names the likely cause."""
    s = ctx.need_subject()
    s.build()
    p = _platforms()
    cannot = [x for x in wanted if not p.can_run(x)]
    if cannot:
        raise NotRun(f"this engine cannot run {', '.join(cannot)} (no qemu emulator): run `layerlab doctor`")
    try:
        return cold_platform_build(s, tuple(wanted))
    except BuildError as e:
        lines = str(e).splitlines()
        raise Failed(
            f"the build for {', '.join(wanted)} failed: {lines[0]}\n" + "\n".join(lines[1:7]),
            _platform_cause(ctx, f"the {p.foreign} image's")
            or "a step works for one platform only; read its log above",
        ) from None


@check(MultiarchRuns)
def multiarch_runs(ctx: Context, spec: MultiarchRuns) -> str:
    from layerlab.measure import inspector

    printed = ctx.need_fixture().section(Printed)
    if printed is None:
        raise NotRun(
            f"the fixture holds no recorded output (course.yml declares no runs_and_prints for {ctx.exercise.id})"
        )
    r = _multi_build(ctx, spec.platforms)
    listed = sorted(p.platform for p in inspector.inspect(r.tag).platforms if p.platform != "unknown/unknown")
    if listed != sorted(spec.platforms):
        raise Failed(
            f"the image index lists {', '.join(listed) or 'nothing'} (attestations aside), expected {', '.join(spec.platforms)}",
            "build with --platform " + ",".join(spec.platforms) + " and pin no platform in the final stage's FROM",
        )
    native = _platforms().native
    runs = {p: platform_run(ctx.need_subject(), r.tag, p) for p in spec.platforms}
    good = {
        p
        for p, ran in runs.items()
        if not ran.error and ran.exit_code == 0 and lines(ran.output) == lines(printed.output)
    }
    for p, ran in runs.items():
        if p in good:
            continue
        how = "native" if p == native else "emulated"
        text = f"{ran.error or ''} {ran.output}".lower()
        # Code for another CPU either fails to load, or (another file name suffix) is not found at all
        # while the same image works on the other platform.
        foreign = any(w in text for w in _FOREIGN_CODE) or (
            good and ("no module named" in text or "c-extensions failed" in text)
        )
        hint = (
            foreign_code_hint(ctx, p)
            if foreign
            else (_platform_cause(ctx) or "the program fails on this platform: is every file it needs built for it?")
        )
        raise Failed(
            f"{p} ({how}): exit code {ran.exit_code}{', ' + ran.error if ran.error else ''}\n{excerpt(ran.output)}",
            hint,
        )
    return "; ".join(
        f"{p} prints the expected {len(lines(printed.output))} line(s) "
        f"({'native' if p == native else 'emulated'}, {runs[p].seconds:.1f} s)"
        for p in spec.platforms
    )


def judge_emulated_steps(r: BuildResult, native: str, at_most_s: float, cause: str | None) -> str:
    """Pass, or Failed naming each emulated RUN step that installed or compiled (by its time or its log)."""
    worked = emulated_work(r, native, at_most_s)
    if worked:
        shown = "\n".join(
            f"[{s.platform} {s.stage or ''} {s.index}] {short_instruction(s.name, 60)}: {why}" for s, why in worked[:4]
        )
        raise Failed(
            f"{len(worked)} RUN step(s) did real work under emulation (more than {at_most_s:g} s, "
            f"or an installer or compiler in its log):\n{shown}",
            cause
            or "move these steps into a stage that starts `FROM --platform=$BUILDPLATFORM`, "
            "fetch the target's wheels with pip --platform and compile with a cross compiler chosen by $TARGETARCH",
        )
    light = emulated_run_steps(r, native)
    cross = sorted({s.platform for s in r.ran if s.runs_on and s.platform})
    return (
        f"no install or compile step ran under emulation; {len(r.ran)} step(s) ran"
        + (
            f", {len(light)} light emulated RUN step(s) (at most {at_most_s:g} s, no installer in the log)"
            if light
            else ""
        )
        + (f", cross stages built {', '.join(cross)} on {native}" if cross else "")
    )


@check(NoEmulatedBuildSteps)
def no_emulated_build_steps(ctx: Context, spec: NoEmulatedBuildSteps) -> str:
    r = _multi_build(ctx, spec.platforms)
    p = _platforms()
    if merged := merged_steps(r, p.native):
        raise NotRun(merged_note(merged, r, "this"))
    return judge_emulated_steps(r, p.native, spec.at_most_s, _platform_cause(ctx, f"the {p.foreign} image's"))


def judge_speedup(
    r: BuildResult, baseline: Baseline, native: str, platform: str, at_least: float, cause: str | None
) -> str:
    """The starter's emulated seconds over the submission's, both of RUN steps that ran under qemu."""
    if merged := merged_steps(r, native):
        raise NotRun(merged_note(merged, r, "this"))
    mine, theirs = emulated_seconds(r, native, platform), baseline.emulated_seconds
    ratio = theirs / mine if mine > 0 else float("inf")
    shown = "no RUN step ran under emulation" if mine == 0 else f"{ratio:.1f} x less"
    detail = (
        f"{platform} (emulated on {native}): {mine:.1f} s of RUN steps under qemu, the starter's {theirs:.1f} s "
        f"(measured {baseline.measured_at} on {baseline.engine}): {shown}, at least {at_least:g} x required"
    )
    if ratio < at_least:
        slow = sorted(emulated_run_steps(r, native, platform), key=lambda s: -(s.seconds or 0.0))[:3]
        listed = "\n".join(f"[{s.tag}] {short_instruction(s.name, 60)}: {s.seconds or 0:.1f} s" for s in slow)
        raise Failed(
            detail + ("\n" + listed if listed else ""),
            cause
            or (
                "these steps still run under qemu: move them into a stage that starts `FROM --platform=$BUILDPLATFORM`"
            ),
        )
    return detail


@check(CrossBuildSpeedup)
def cross_build_speedup(ctx: Context, spec: CrossBuildSpeedup) -> str:
    s = ctx.need_subject()
    r = _multi_build(ctx, spec.platforms)
    native, platform = judged(_platforms(), spec.platform)
    try:
        baseline, now = starter_baseline(s, tuple(spec.platforms), native, platform, ctx.starter)
    except (BuildError, TimedOut) as e:
        raise NotRun(
            f"the starter did not build here, so there is nothing to compare with: {str(e).splitlines()[0]}"
        ) from None
    detail = judge_speedup(
        r, baseline, native, platform, spec.at_least, _platform_cause(ctx, f"the {platform} image's")
    )
    return detail + (
        "; the starter's baseline was measured in this run and is kept for later gradings"
        if now
        else "; the starter's baseline was reused"
    )


@check(PlatformSizesAtMost)
def platform_sizes_at_most(ctx: Context, spec: PlatformSizesAtMost) -> str:
    from layerlab.measure import inspector

    recorded = ctx.need_fixture().section(PlatformBuild) or PlatformBuild()
    missing = [p for p in spec.platforms if p not in recorded.added]
    if missing:
        raise NotRun(
            f"the fixture has no size above the base for {', '.join(missing)}: run `layerlab record {ctx.exercise.id}`"
        )
    r = _multi_build(ctx, spec.platforms)
    base = _final_base(ctx.need_subject())
    parts, too_big = [], []
    for p in spec.platforms:
        added = inspector.added_bytes(inspector.inspect(r.tag, platform=p), inspector.inspect(base, platform=p))
        allowed = recorded.added[p] * spec.factor + spec.allowance_mb * 1e6
        parts.append(f"{p} adds {mb(added)} above {base} (at most {mb(allowed)})")
        if added > allowed:
            too_big.append(p)
    detail = "; ".join(parts)
    if too_big:
        raise Failed(
            detail,
            "the final stage carries build tools or caches: keep it to the runtime base and COPY --from the builder",
        )
    return detail


@records(MultiarchRuns, NoEmulatedBuildSteps, CrossBuildSpeedup, PlatformSizesAtMost)
def record(s: Subject, spec: MultiarchRuns, f: Fixture) -> None:
    from layerlab.measure import inspector

    if f.section(PlatformBuild) is not None:
        return  # one cold build measured every check of this unit
    multi = cold_platform_build(s, tuple(spec.platforms))
    base = _final_base(s)
    mine = {p: inspector.inspect(multi.tag, platform=p) for p in spec.platforms}
    f.put(
        PlatformBuild(
            seconds=multi.platform_seconds(),
            sizes={p: r.size_bytes for p, r in mine.items()},
            added={p: inspector.added_bytes(r, inspector.inspect(base, platform=p)) for p, r in mine.items()},
        )
    )


def _final_base(s: Subject) -> str:
    """The image the final stage starts FROM, with the Dockerfile's ARG defaults filled in."""
    base = parse_dockerfile(s.dockerfile.read_text(encoding="utf-8", errors="replace")).final_base()
    if base is None:
        raise NotRun("the final stage's base could not be named (FROM scratch, or a variable without a default)")
    return base
