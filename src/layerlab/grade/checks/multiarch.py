"""Multi-platform builds (exercise 05): every platform runs, nothing installs under qemu, the cross build is faster, sizes."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal, Sequence

from pydantic import Field

from layerlab import engine
from layerlab.engine.build import BuildError, BuildResult
from layerlab.engine.buildlog import Step
from layerlab.measure.inspector import mb, short_instruction
from ..fixture import Fixture, Section, solution_dir
from ..release import starter_text
from ..sandbox import Ran
from ..subject import Subject
from .base import Context, Failed, NotRun, check, excerpt, lines, records
from .builds import stages, undeclared_platform_arg
from .runs import Printed
from .spec import CheckBase

Platform = Literal["linux/amd64", "linux/arm64"]
TWO_PLATFORMS: list = ["linux/amd64", "linux/arm64"]


class MultiarchRuns(CheckBase):
    check: Literal["multiarch_runs"]
    platforms: list[Platform] = Field(default_factory=lambda: list(TWO_PLATFORMS), min_length=2,
                                      description="the index must hold exactly these (attestations aside); each must print the fixture's output")


class NoEmulatedBuildSteps(CheckBase):
    check: Literal["no_emulated_build_steps"]
    platforms: list[Platform] = Field(default_factory=lambda: list(TWO_PLATFORMS), min_length=2)
    words: list[str] = Field(
        default_factory=lambda: ["pip", "uv", "apt-get", "apt ", "gcc", "cc ", "make", "setup.py", "install", "compile", "build"],
        min_length=1, description="a RUN that names one of these installs or compiles; none may run under emulation")


class CrossBuildSpeedup(CheckBase):
    check: Literal["cross_build_speedup"]
    platforms: list[Platform] = Field(default_factory=lambda: list(TWO_PLATFORMS), min_length=2)
    platform: Platform = Field(default="linux/arm64", description="the emulated platform whose step time is compared")
    at_least: float = Field(gt=1, description="the starter's step time for `platform` over the submission's, both cold in one grading run")


class PlatformSizesAtMost(CheckBase):
    check: Literal["platform_sizes_at_most"]
    platforms: list[Platform] = Field(default_factory=lambda: list(TWO_PLATFORMS), min_length=1)
    factor: float = Field(gt=0, description="each platform's uncompressed size at most factor x the fixture's")
    allowance_mb: float = Field(ge=0, default=2.0, description="plus this many MB (stand-in vs official base files)")


class PlatformBuild(Section):
    """The solution's cold multi-platform build: step seconds and uncompressed bytes per platform."""

    name = "multiarch"
    seconds: dict[str, float] = Field(default_factory=dict)
    sizes: dict[str, int] = Field(default_factory=dict)


# --- this unit's measurements of the subject, each taken once per grading run ------------------


def cold_platform_build(s: Subject, platforms: tuple[str, ...]) -> BuildResult:
    """A cold (--no-cache) multi-platform build: its per-platform step times compare with another cold build."""
    return s.once(("multiarch", "cold", platforms), lambda: s.session.build(
        s.context, "cold-multi", dockerfile=s.dockerfile, platforms=list(platforms), cache=False,
        timeout=s.limits.build_timeout_s))


def starter_platform_build(s: Subject, platforms: tuple[str, ...]) -> BuildResult:
    """The exercise's starter (from the solution's STARTER regions), built cold in the same context."""

    def measure() -> BuildResult:
        source = solution_dir(s.exercise.id) / s.exercise.dockerfile
        text = starter_text(source.read_text(encoding="utf-8"), str(source))
        if s.dockerfile.read_text(encoding="utf-8", errors="replace") == text:
            return cold_platform_build(s, platforms)  # the untouched starter: one cold build is enough
        with tempfile.TemporaryDirectory(prefix="layerlab-grade-starter-") as tmp:
            df = Path(tmp) / "Dockerfile"
            df.write_text(text, encoding="utf-8")
            return s.session.build(s.context, "starter-multi", dockerfile=df, platforms=list(platforms),
                                   cache=False, timeout=s.limits.build_timeout_s)

    return s.once(("multiarch", "starter", platforms), measure)


def platform_run(s: Subject, image: str, platform: str) -> Ran:
    return s.once(("multiarch", "run", image, platform), lambda: s.session.run(
        image, None, platform=platform, timeout=s.limits.run_timeout_s))


_FOREIGN_CODE = ("wrong elf class", "invalid elf header", "exec format error", "cannot open shared object file",
                 "undefined symbol", "cannot execute binary file")  # fmt: skip


def _platform_cause(ctx: Context) -> str | None:
    """A static reading of the usual multi-platform mistakes, for a hint; None when none shows."""
    found = stages(ctx)
    if undeclared := undeclared_platform_arg(ctx):
        return undeclared
    if not any("BUILDPLATFORM" in stage[0].flags.get("platform", "") for stage in found):
        return ("no stage starts `FROM --platform=$BUILDPLATFORM`: every stage is built for the target platform, "
                "so the arm64 image's pip and gcc run under qemu")
    return None


def _multi_build(ctx: Context, platforms: Sequence[str]) -> BuildResult:
    """The submission's cold multi-platform build, or Failed with a hint that names the likely cause."""
    s = ctx.need_subject()
    s.build()
    facts = engine.probe()
    cannot = [p for p in platforms if not engine.can_run_platform(facts, p)]
    if cannot:
        raise NotRun(f"this engine cannot run {', '.join(cannot)} (no qemu emulator): run `layerlab doctor`")
    try:
        return cold_platform_build(s, tuple(platforms))
    except BuildError as e:
        lines = str(e).splitlines()
        raise Failed(f"the build for {', '.join(platforms)} failed: {lines[0]}\n" + "\n".join(lines[1:7]),
                     _platform_cause(ctx) or "a step works for one platform only; read its log above") from None


@check(MultiarchRuns)
def multiarch_runs(ctx: Context, spec: MultiarchRuns) -> str:
    from layerlab.measure import inspector

    printed = ctx.need_fixture().section(Printed)
    if printed is None:
        raise NotRun(f"the fixture holds no recorded output (course.yml declares no runs_and_prints for {ctx.exercise.id})")
    r = _multi_build(ctx, spec.platforms)
    listed = sorted(p.platform for p in inspector.inspect(r.tag).platforms if p.platform != "unknown/unknown")
    if listed != sorted(spec.platforms):
        raise Failed(f"the image index lists {', '.join(listed) or 'nothing'} (attestations aside), expected {', '.join(spec.platforms)}",
                     "build with --platform " + ",".join(spec.platforms) + " and pin no platform in the final stage's FROM")
    host = engine.host_platform()
    runs = {p: platform_run(ctx.need_subject(), r.tag, p) for p in spec.platforms}
    good = {p for p, ran in runs.items() if not ran.error and ran.exit_code == 0 and lines(ran.output) == lines(printed.output)}
    for p, ran in runs.items():
        if p in good:
            continue
        how = "native" if p == host else "emulated"
        text = f"{ran.error or ''} {ran.output}".lower()
        # Code for another CPU either fails to load, or (another file name suffix) is not found at all
        # while the same image works on the other platform.
        foreign = any(w in text for w in _FOREIGN_CODE) or (good and ("no module named" in text or "c-extensions failed" in text))
        hint = ("the " + p + " image holds machine code built for another CPU: the builder compiles or fetches for one "
                "fixed architecture; choose the compiler and pip's --platform from $TARGETARCH") if foreign else (
                _platform_cause(ctx) or "the program fails on this platform: is every file it needs built for it?")
        raise Failed(f"{p} ({how}): exit code {ran.exit_code}{', ' + ran.error if ran.error else ''}\n{excerpt(ran.output)}", hint)
    return "; ".join(f"{p} prints the expected {len(lines(printed.output))} line(s) "
                     f"({'native' if p == host else 'emulated'}, {runs[p].seconds:.1f} s)" for p in spec.platforms)


def _install_steps(steps: list[Step], words: list[str]) -> list[Step]:
    return [s for s in steps if any(w in s.name.removeprefix("RUN ").lower() for w in words)]


@check(NoEmulatedBuildSteps)
def no_emulated_build_steps(ctx: Context, spec: NoEmulatedBuildSteps) -> str:
    r = _multi_build(ctx, spec.platforms)
    host = engine.host_platform()
    emulated = _install_steps(r.emulated(host=host), spec.words)
    if emulated:
        shown = "\n".join(f"[{s.platform} {s.stage or ''} {s.index}] {short_instruction(s.name, 60)}: "
                          f"{s.seconds or 0:.1f} s under qemu" for s in emulated[:4])
        raise Failed(f"{len(emulated)} install or compile step(s) ran under emulation:\n{shown}",
                     _platform_cause(ctx) or "move these steps into a stage that starts `FROM --platform=$BUILDPLATFORM`, "
                     "fetch the target's wheels with pip --platform and compile with a cross compiler chosen by $TARGETARCH")
    cross = sorted({s.platform for s in r.ran if s.runs_on and s.platform})
    return (f"no install or compile step ran under emulation; {len(r.ran)} step(s) ran"
            + (f", cross stages built {', '.join(cross)} on {host}" if cross else ""))


@check(CrossBuildSpeedup)
def cross_build_speedup(ctx: Context, spec: CrossBuildSpeedup) -> str:
    s = ctx.need_subject()
    r = _multi_build(ctx, spec.platforms)
    try:
        starter = starter_platform_build(s, tuple(spec.platforms))
    except BuildError as e:
        raise NotRun(f"the starter did not build here, so there is nothing to compare with: {str(e).splitlines()[0]}") from None
    mine, theirs = r.platform_seconds().get(spec.platform, 0.0), starter.platform_seconds().get(spec.platform, 0.0)
    ratio = theirs / mine if mine > 0 else float("inf")
    detail = (f"{spec.platform}: {mine:.1f} s of build steps, the starter {theirs:.1f} s in this run: "
              f"{ratio:.1f} x faster, at least {spec.at_least:g} x required (both cold)")
    if ratio < spec.at_least:
        raise Failed(detail, _platform_cause(ctx) or "most of the time still goes to slow steps for this platform: "
                     "read which steps take longest in the build log, and run them natively ($BUILDPLATFORM)")
    return detail


@check(PlatformSizesAtMost)
def platform_sizes_at_most(ctx: Context, spec: PlatformSizesAtMost) -> str:
    from layerlab.measure import inspector

    recorded = ctx.need_fixture().section(PlatformBuild) or PlatformBuild()
    missing = [p for p in spec.platforms if p not in recorded.sizes]
    if missing:
        raise NotRun(f"the fixture has no size for {', '.join(missing)}: run `layerlab record {ctx.exercise.id}`")
    r = _multi_build(ctx, spec.platforms)
    parts, too_big = [], []
    for p in spec.platforms:
        size = inspector.inspect(r.tag, platform=p).size_bytes
        allowed = recorded.sizes[p] * spec.factor + spec.allowance_mb * 1e6
        parts.append(f"{p} {mb(size)} (at most {mb(allowed)})")
        if size > allowed:
            too_big.append(p)
    detail = "; ".join(parts)
    if too_big:
        raise Failed(detail, "the final stage carries build tools or caches: keep it to the runtime base and COPY --from the builder")
    return detail


@records(MultiarchRuns, NoEmulatedBuildSteps, CrossBuildSpeedup, PlatformSizesAtMost)
def record(s: Subject, spec: MultiarchRuns, f: Fixture) -> None:
    from layerlab.measure import inspector

    if f.section(PlatformBuild) is not None:
        return  # one cold build measured every check of this unit
    multi = cold_platform_build(s, tuple(spec.platforms))
    f.put(PlatformBuild(seconds=multi.platform_seconds(),
                        sizes={p: inspector.inspect(multi.tag, platform=p).size_bytes for p in spec.platforms}))
