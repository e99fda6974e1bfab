"""The check library: one function per `check:` kind of course.yml.

A check returns passed, failed with a hint naming the likely cause, or not
run with the reason. Feedback describes the submission's own measurements
and the tolerance; it never shows the solution's files.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from layerlab import course as C
from layerlab import engine
from layerlab.engine.build import BuildError
from layerlab.measure.inspector import mb, short_instruction
from .dockerfile import Dockerfile
from .fixture import Fixture
from .measure import NotBuilt, Subject
from .report import CheckResult
from .sandbox import TimedOut


class NotRun(Exception):
    """The check could not run; the message says why."""


class Failed(Exception):
    def __init__(self, detail: str, hint: str):
        super().__init__(detail)
        self.detail, self.hint = detail, hint


@dataclass
class Context:
    exercise: C.Exercise
    folder: Path  # the scratch copy of the submission
    dockerfile: Dockerfile
    subject: Subject | None  # None: no engine
    no_engine: str = ""
    fixture: Fixture | None = None
    no_fixture: str = ""
    extras: dict = field(default_factory=dict)  # state that checks share within one grading run (the compose project)
    planted: str = ""  # the token grading planted (exercise.secret): the built image must hold it nowhere
    original: str = ""  # the token the submission came with: what the student's own pushed image was built with
    handed_in: Path | None = None  # an untouched copy of the submission (token not replanted), for `pushed_image`

    def need_subject(self) -> Subject:
        if self.subject is None:
            raise NotRun(self.no_engine)
        return self.subject

    def need_fixture(self) -> Fixture:
        if self.fixture is None:
            raise NotRun(self.no_fixture)
        return self.fixture


CheckFn = Callable[[Context, C.CheckBase], str]  # returns the detail of a pass; raises Failed / NotRun
REGISTRY: dict[str, CheckFn] = {}


def check(kind: str):
    def register(fn: CheckFn) -> CheckFn:
        REGISTRY[kind] = fn
        return fn

    return register


def _redact(ctx: Context, text: str) -> str:
    """A report never carries a token in full: what grading planted, nor what the submission came with."""
    from layerlab.measure.leaks import mask

    for token in (getattr(ctx, "planted", ""), getattr(ctx, "original", "")):
        if token and token in text:
            text = text.replace(token, mask(token))
    return text


def run_check(ctx: Context, spec: C.CheckBase) -> CheckResult:
    result = _run_check(ctx, spec)
    result.detail, result.hint, result.why = (_redact(ctx, t) for t in (result.detail, result.hint, result.why))
    return result


def _run_check(ctx: Context, spec: C.CheckBase) -> CheckResult:
    kind = spec.check  # type: ignore[attr-defined]
    base = dict(check=kind, max_points=spec.points, required=spec.required)
    try:
        detail = REGISTRY[kind](ctx, spec)
        return CheckResult(status="passed", points=spec.points, detail=detail, **base)
    except Failed as f:
        return CheckResult(status="failed", points=0, detail=f.detail, hint=f.hint, **base)
    except NotBuilt as e:
        why = "the image did not build (see `builds`)" if kind != "builds" else str(e)
        if kind == "builds":
            hint = _undeclared_platform_arg(ctx) or _build_hint(str(e))
            return CheckResult(status="failed", points=0, detail=str(e), hint=hint, **base)
        return CheckResult(status="not run", points=0, why=why, **base)
    except NotRun as e:
        return CheckResult(status="not run", points=0, why=str(e), **base)
    except TimedOut as e:
        return CheckResult(status="failed", points=0, detail=str(e), hint="a step waits or loops forever; make it finish", **base)
    except BuildError as e:
        return CheckResult(status="failed", points=0, detail=str(e).splitlines()[0],
                           hint="a rebuild for this check failed although the first build passed", **base)
    except engine.EngineUnavailable as e:
        return CheckResult(status="not run", points=0, why=str(e).splitlines()[0], **base)


def _build_hint(error: str) -> str:
    low = error.lower()
    if "timed out" in low:
        return "a step takes too long or waits for input (an apt prompt? add -y); make it finish within the limit"
    if "not found" in low and ("cache key" in low or "checksum" in low):
        return "a COPY or ADD names a file that is not in the exercise folder (or .dockerignore excludes it)"
    if "parse error" in low or "unknown instruction" in low:
        return "the Dockerfile has a syntax error on the line named above"
    if "exit code" in low:
        return "a RUN command failed: read its last lines above (a typo in a package name? a missing -y?)"
    return "read the failing step and the last lines of its log above"


# --- builds and runs -------------------------------------------------------


@check("builds")
def builds(ctx: Context, spec) -> str:
    r = ctx.need_subject().build()
    return f"built in {r.seconds:.0f} s, {len(r.ran)} step(s) ran"


@check("runs_and_prints")
def runs_and_prints(ctx: Context, spec: C.RunsAndPrints) -> str:
    s = ctx.need_subject()
    s.build()
    fx = ctx.need_fixture()
    ran = s.run(tuple(spec.command) if spec.command else None)
    if ran.error:
        raise Failed(f"the container did not start: {ran.error}",
                     ran.hint or "check ENTRYPOINT and CMD: do they name a program that exists in the image?")
    if ran.timed_out:
        raise Failed(f"timed out after {ctx.exercise.limits.run_timeout_s} s", "the program waits for input or loops; it should print and exit")
    if ran.oom_killed:
        raise Failed(f"stopped by the memory limit ({ctx.exercise.limits.memory})", "the program uses more memory than the exercise allows")
    if ran.exit_code != fx.exit_code:
        from layerlab.engine.containers import start_failure

        # runc reports some failures to exec the program (a CRLF script, a missing #! interpreter)
        # from inside the started container, as its only log line: `exec /run.sh: no such file or directory`.
        first = (_lines(ran.output) or [""])[0]
        exec_failed = len(_lines(ran.output)) == 1 and first.startswith("exec ") and first.endswith(
            ("no such file or directory", "exec format error", "permission denied"))
        raise Failed(f"exit code {ran.exit_code} (expected {fx.exit_code})\n{_excerpt(ran.output)}",
                     start_failure(first)[1] if exec_failed
                     else missing_library_hint(ran.output)
                     or "the program failed: is every file and package it needs in the image?")
    got, want = _lines(ran.output), _lines(fx.output)
    if got != want:
        n = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        yours = got[n] if n < len(got) else "(no more output)"
        raise Failed(
            f"output differs from the reference at line {n + 1} of {len(want)}: yours reads {yours!r}",
            "the image runs other code or data than the exercise's: keep the program, its input and CMD as given",
        )
    return f"prints the expected {len(want)} line(s)"


# --- a shared library the final stage lacks (issue 17) ----------------------

_MISSING_LIBRARY = re.compile(r"(\S+\.so(?:\.\d+)*): cannot open shared object file")


def missing_library_hint(output: str) -> str:
    """The hint for a program whose compiled module loads a library the image lacks, else "".

    The typical multi-stage miss: a builder stage got the library with the compiler
    (gcc brings libgomp1) and the slim final stage never had it."""
    m = _MISSING_LIBRARY.search(output)
    if not m:
        return ""
    return (f"a compiled module needs {m.group(1)}, which the final image lacks: find which package "
            f"holds it where the build worked (`dpkg -S {m.group(1)}` in the builder stage) and install "
            "that runtime package in the final stage, not the compiler")


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()]


def _excerpt(text: str, n: int = 6) -> str:
    lines = text.strip().splitlines()
    return "\n".join(f"| {line}" for line in lines[-n:])


# --- size and waste --------------------------------------------------------


def _largest_layers(ctx: Context, n: int = 3) -> str:
    layers = sorted(ctx.need_subject().image.layers, key=lambda l: -l["size_bytes"])
    return "\n".join(f"{mb(l['size_bytes']):>10}  {short_instruction(l['created_by'], 60)}" for l in layers[:n])


def base_name(ref: str) -> str:
    """`name:tag` of an image reference, without registry, namespace or digest."""
    last = ref.split("@", 1)[0].rsplit("/", 1)[-1]
    name, _, tag = last.partition(":")
    return f"{name}:{tag or 'latest'}"


def _on_reference_base(ctx: Context):
    """The submission's split at its base, and whether that base plays the reference's.

    The same `name:tag` from another registry or namespace (a mirror, the official image
    where the reference had a stand-in) is the same base in another build; another base
    (python:3.13 where the reference used python:3.13-slim) is the student's choice, and
    its bytes count as the student's.
    """
    above, fx = ctx.need_subject().above_base, ctx.need_fixture()
    if above is None or fx.added_bytes is None or fx.base_ref is None:
        return above, False
    return above, base_name(above.base_ref) == base_name(fx.base_ref)


def _base_note(ctx: Context) -> str:
    (above, same), fx = _on_reference_base(ctx), ctx.need_fixture()
    if above is None:
        return ""
    kind = "stand-in" if above.base_standin else "official image"
    if not same:
        return f"\nbase {above.base_ref} ({kind}, {mb(above.base_bytes)}): the exercise builds on {fx.base_ref}"
    built = "the same build as the reference's" if above.base_image_id == fx.base_image_id else \
        f"another build than the reference's ({'stand-in' if fx.base_standin else 'official'}, {mb(fx.base_bytes or 0)})"
    return f"\nbase {above.base_ref} ({kind}, {mb(above.base_bytes)}): {built}"


@check("size_at_most")
def size_at_most(ctx: Context, spec: C.SizeAtMost) -> str:
    s = ctx.need_subject()
    fx = ctx.need_fixture()
    above, same = _on_reference_base(ctx)
    total = s.image.size_bytes
    if above is None or fx.added_bytes is None:
        # No base to subtract (FROM scratch, a --build-arg base, an old fixture): compare totals.
        size, allowed = total, fx.size_bytes * spec.factor + spec.allowance_mb * 1e6
        detail = f"{mb(size)} uncompressed in all, at most {mb(allowed)} allowed (no base image to compare above)"
    else:
        allowed = fx.added_bytes * spec.factor + spec.allowance_mb * 1e6
        if same:
            size = above.added_bytes
            detail = f"adds {mb(size)} above its base, at most {mb(allowed)} allowed (the reference adds {mb(fx.added_bytes)}; {mb(total)} in all)"
        else:
            size = max(0, total - (fx.base_bytes or 0))
            detail = (f"{mb(total)} in all on {above.base_ref}: {mb(size)} more than the exercise's base {fx.base_ref} "
                      f"({mb(fx.base_bytes or 0)}), at most {mb(allowed)} allowed (the reference adds {mb(fx.added_bytes)})")
    if size > allowed:
        raise Failed(
            detail + "\nyour largest layers:\n" + _largest_layers(ctx) + _base_note(ctx),
            "the image carries what the tool does not need at run time: a bigger base than needed, packages "
            "it never uses (build tools, recommended extras), apt's package lists, pip's download cache",
        )
    return detail


@check("wasted_at_most")
def wasted_at_most(ctx: Context, spec: C.WastedAtMost) -> str:
    s = ctx.need_subject()
    fx = ctx.need_fixture()
    above, same = _on_reference_base(ctx)
    if above is None or fx.added_wasted_bytes is None:
        wasted, reference, where = s.image.wasted_bytes, fx.wasted_bytes, "in all"
    elif same:
        # The base's own waste is the same for every submission on it and none of the student's doing.
        wasted, reference, where = above.added_wasted_bytes, fx.added_wasted_bytes, "above the base"
    else:
        wasted = max(0, s.image.wasted_bytes - (fx.base_wasted_bytes or 0))
        reference, where = fx.added_wasted_bytes, f"more than the exercise's base {fx.base_ref} has"
    bound = reference + spec.allowance_mb * 1e6
    detail = f"{mb(wasted)} wasted {where} (dive's measure: bytes of paths in two or more layers), at most {mb(bound)} allowed"
    if wasted > bound:
        top = "\n".join(f"{mb(size):>10}  x{count}  {path}" for path, count, size in s.image.top_waste[:4])
        raise Failed(
            detail + "\nwhere:\n" + top,
            "files written in one layer and deleted or changed in a later one still ship in the first: "
            "remove them in the same RUN that created them",
        )
    return detail


# --- cache order -----------------------------------------------------------


@check("code_edit_reruns_at_most")
def code_edit_reruns_at_most(ctx: Context, spec: C.CodeEditRerunsAtMost) -> str:
    s = ctx.need_subject()
    fx = ctx.need_fixture()
    if spec.code_file not in fx.code_edit_reruns:
        raise NotRun(f"the fixture has no code-edit measurement for {spec.code_file}: run `layerlab record {ctx.exercise.id}`")
    allowed = len(fx.code_edit_reruns[spec.code_file]) + spec.allowance
    try:
        ran = s.code_edit_reruns(spec.code_file)
    except FileNotFoundError as e:
        raise Failed(str(e), f"keep {spec.code_file} where the exercise put it") from None
    detail = f"editing {spec.code_file} re-runs {len(ran)} step(s), at most {allowed} allowed"
    if len(ran) > allowed:
        raise Failed(
            detail + "\nre-ran: " + "; ".join(short_instruction(r, 50) for r in ran),
            f"a step that does not depend on {spec.code_file} comes after the COPY that brings it in: "
            "install dependencies first, copy the code last",
        )
    return detail


_INSTALL = ("pip install", "pip3 install", "uv pip install", "uv sync", "poetry install", "conda install",
            "mamba install", "npm install", "npm ci")  # fmt: skip


@check("dependency_install_before_source_copy")
def dependency_install_before_source_copy(ctx: Context, spec: C.DependencyInstallBeforeSourceCopy) -> str:
    stage = ctx.dockerfile.final_stage()
    installs = [i for i in stage if i.keyword == "RUN" and any(w in " ".join(i.args.split()) for w in _INSTALL)]
    if not installs:
        raise Failed("no RUN installs dependencies in the final stage", "install the dependencies with a RUN (pip install ...)")
    install = installs[0]
    for ins in stage:
        if ins.keyword not in ("COPY", "ADD") or "from" in ins.flags:
            continue
        hits = [src for src in ins.sources() for want in spec.source if _copies(src, want)]
        if hits and ins.line < install.line:
            raise Failed(
                f"line {ins.line} copies {', '.join(hits)} before the dependency install on line {install.line}",
                "every edit of the code then re-runs the install: copy the dependency list, install, then copy the code",
            )
    return f"the dependency install (line {install.line}) comes before the source is copied"


def _copies(src: str, want: str) -> bool:
    src = src.rstrip("/").removeprefix("./") or "."
    return src == "." or fnmatch.fnmatch(want, src) or want.startswith(src + "/")


@check("dockerignore_excludes")
def dockerignore_excludes(ctx: Context, spec: C.DockerignoreExcludes) -> str:
    s = ctx.need_subject()
    files, context_bytes = s.sent_files
    leaked = sorted({p for p in spec.paths for f in files if f == p.strip("/") or f.startswith(p.strip("/") + "/")})
    size = f"{context_bytes / 1e3:.1f} kB" if context_bytes is not None else "an unknown size"
    detail = f"the build context sends {len(files)} file(s), {size}"
    if leaked:
        raise Failed(detail + f"; it includes {', '.join(leaked)}",
                     "add these paths to .dockerignore at the root of the build context (or in <Dockerfile>.dockerignore "
                     "beside the Dockerfile) so they never reach the builder; `**/name` matches at any depth, "
                     "and .gitignore's syntax differs, so do not copy it")
    return detail + "; none of the excluded paths"


# --- the final image -------------------------------------------------------


@check("paths_absent")
def paths_absent(ctx: Context, spec: C.PathsAbsent) -> str:
    image = ctx.need_subject().image
    found = {g: image.find(g) for g in spec.paths}
    bad = {g: m for g, m in found.items() if m}
    if bad:
        shown = "; ".join(f"{g}: {', '.join(m[:3])}{' ...' if len(m) > 3 else ''}" for g, m in bad.items())
        raise Failed(f"found in the final image: {shown}",
                     "these are left over from a build step; remove them in the step that made them, or don't install them")
    return f"none of {len(spec.paths)} pattern(s) in the final image"


@check("paths_present")
def paths_present(ctx: Context, spec: C.PathsPresent) -> str:
    image = ctx.need_subject().image
    missing = [g for g in spec.paths if not image.find(g)]
    if missing:
        raise Failed(f"missing from the final image: {', '.join(missing)}",
                     "a COPY is missing or copies to another folder, or a clean-up removed too much")
    return f"all {len(spec.paths)} pattern(s) present"


@check("runs_as_non_root")
def runs_as_non_root(ctx: Context, spec) -> str:
    s = ctx.need_subject()
    user = s.image.user
    if user.split(":")[0] in ("", "root", "0"):
        raise Failed(f"the image's user is {user or 'not set (root)'}",
                     "add a USER instruction after the steps that need root (create the user with useradd first)")
    ran = s.session.run(s.tag, ["-u"], entrypoint="id", timeout=ctx.exercise.limits.run_timeout_s)
    if ran.error and "unable to find user" in ran.error:
        # A user the image lacks is no user at all: nothing would ever run.
        raise Failed(f"USER {user}: the container did not start: {ran.error}", ran.hint or "create the user first")
    if ran.error or ran.exit_code != 0:
        # No `id` in the image (distroless): the configured user is all we can see.
        return f"USER {user} (not started: {ran.error or 'no id command'})"
    uid = ran.output.strip()
    if uid == "0":
        raise Failed(f"USER {user} runs with uid 0", "that user is root under another name; create an ordinary user")
    return f"runs as {user} (uid {uid})"


@check("libraries_resolve")
def libraries_resolve(ctx: Context, spec: C.LibrariesResolve) -> str:
    from layerlab.measure.cuda import parse_ldd

    s = ctx.need_subject()
    # ldd as root: the question is what the loader finds, whoever the image's user is.
    ran = s.session.run(s.tag, [spec.program], entrypoint="ldd", timeout=ctx.exercise.limits.run_timeout_s)
    if ran.error:
        raise Failed(f"`ldd {spec.program}` did not start: {ran.error}",
                     "the final image needs the C library's loader tools (any Debian-based image has ldd)")
    libs = parse_ldd(ran.output)
    if ran.exit_code != 0 or not libs:
        raise Failed(f"`ldd {spec.program}` exit {ran.exit_code}\n{_excerpt(ran.output)}",
                     f"is {spec.program} in the final image, and a dynamically linked program? copy it from the builder stage")
    missing = sorted(k for k, v in libs.items() if v is None)
    if missing:
        raise Failed(f"{spec.program} needs {', '.join(missing)}: ldd says not found",
                     f"the program cannot start without {', '.join(missing)}: build the final stage FROM an image "
                     "that has it (the CUDA base image has libcudart.so.12) or copy the library from the builder")
    return f"ldd finds all {len(libs)} libraries {spec.program} needs"


@check("platforms")
def platforms(ctx: Context, spec: C.Platforms) -> str:
    s = ctx.need_subject()
    s.build()
    facts = engine.probe()
    cannot = [p for p in spec.platforms if not engine.can_run_platform(facts, p)]
    if cannot:
        raise NotRun(f"this engine cannot run {', '.join(cannot)} (no qemu emulator): run `layerlab doctor`")
    r = s.platform_build(tuple(spec.platforms))
    seen = {}
    for p in spec.platforms:
        ran = s.uname(r.tag, p)
        want = engine.UNAME_BY_PLATFORM[p]
        if ran.error:
            raise Failed(f"{p}: the container did not start: {ran.error}",
                         ran.hint or "the image does not start on this platform: check ENTRYPOINT, CMD and USER")
        got = ran.output.strip()
        seen[p] = got
        if got != want:
            raise Failed(f"{p}: uname -m says {got!r}, expected {want}",
                         "a step pins one architecture (a downloaded binary, a --platform in FROM); use the build's TARGETARCH")
    return ", ".join(f"{p} runs ({m})" for p, m in seen.items())


# --- multi-platform builds (exercise 05) ----------------------------------------


_FOREIGN_CODE = ("wrong elf class", "invalid elf header", "exec format error", "cannot open shared object file",
                 "undefined symbol", "cannot execute binary file")  # fmt: skip


def _stages(ctx: Context) -> list[list]:
    """The Dockerfile's stages, each a list of instructions starting with its FROM."""
    stages: list[list] = []
    for ins in ctx.dockerfile.instructions:
        if ins.keyword == "FROM":
            stages.append([ins])
        elif stages:
            stages[-1].append(ins)
    return stages


_AUTOMATIC_ARGS = ("TARGETARCH", "TARGETPLATFORM", "TARGETOS", "TARGETVARIANT", "BUILDPLATFORM", "BUILDARCH", "BUILDOS")


def _undeclared_platform_arg(ctx: Context) -> str | None:
    """A stage that uses $TARGETARCH (or another automatic platform ARG) without declaring it."""
    for stage in _stages(ctx):
        declared = {w.split("=")[0] for i in stage if i.keyword == "ARG" for w in i.args.split()}
        for i in stage[1:]:
            if i.keyword == "ARG":
                continue
            used = next((a for a in _AUTOMATIC_ARGS if f"${a}" in i.args or f"${{{a}}}" in i.args), None)
            if used and used not in declared:
                return (f"line {i.line} uses ${used} but its stage has no `ARG {used}`: BuildKit sets it for "
                        "every platform, yet a stage sees it only after declaring it, so here it is empty")
    return None


def _platform_cause(ctx: Context) -> str | None:
    """A static reading of the usual multi-platform mistakes, for a hint; None when none shows."""
    stages = _stages(ctx)
    if undeclared := _undeclared_platform_arg(ctx):
        return undeclared
    if not any("BUILDPLATFORM" in stage[0].flags.get("platform", "") for stage in stages):
        return ("no stage starts `FROM --platform=$BUILDPLATFORM`: every stage is built for the target platform, "
                "so the arm64 image's pip and gcc run under qemu")
    return None


def _multi_build(ctx: Context, platforms: list[str]):
    """The submission's cold multi-platform build, or Failed with a hint that names the likely cause."""
    s = ctx.need_subject()
    s.build()
    facts = engine.probe()
    cannot = [p for p in platforms if not engine.can_run_platform(facts, p)]
    if cannot:
        raise NotRun(f"this engine cannot run {', '.join(cannot)} (no qemu emulator): run `layerlab doctor`")
    try:
        return s.cold_platform_build(tuple(platforms))
    except BuildError as e:
        lines = str(e).splitlines()
        raise Failed(f"the build for {', '.join(platforms)} failed: {lines[0]}\n" + "\n".join(lines[1:7]),
                     _platform_cause(ctx) or "a step works for one platform only; read its log above") from None


@check("multiarch_runs")
def multiarch_runs(ctx: Context, spec: C.MultiarchRuns) -> str:
    from layerlab.measure import inspector

    fx = ctx.need_fixture()
    r = _multi_build(ctx, spec.platforms)
    listed = sorted(p.platform for p in inspector.inspect(r.tag).platforms if p.platform != "unknown/unknown")
    if listed != sorted(spec.platforms):
        raise Failed(f"the image index lists {', '.join(listed) or 'nothing'} (attestations aside), expected {', '.join(spec.platforms)}",
                     "build with --platform " + ",".join(spec.platforms) + " and pin no platform in the final stage's FROM")
    host = engine.host_platform()
    runs = {p: ctx.need_subject().platform_run(r.tag, p) for p in spec.platforms}
    good = {p for p, ran in runs.items() if not ran.error and ran.exit_code == 0 and _lines(ran.output) == _lines(fx.output)}
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
        raise Failed(f"{p} ({how}): exit code {ran.exit_code}{', ' + ran.error if ran.error else ''}\n{_excerpt(ran.output)}", hint)
    return "; ".join(f"{p} prints the expected {len(_lines(fx.output))} line(s) "
                     f"({'native' if p == host else 'emulated'}, {runs[p].seconds:.1f} s)" for p in spec.platforms)


def _install_steps(steps: list[dict], words: list[str]) -> list[dict]:
    return [s for s in steps if any(w in s["name"].removeprefix("RUN ").lower() for w in words)]


@check("no_emulated_build_steps")
def no_emulated_build_steps(ctx: Context, spec: C.NoEmulatedBuildSteps) -> str:
    r = _multi_build(ctx, spec.platforms)
    host = engine.host_platform()
    emulated = _install_steps(r.emulated(host=host), spec.words)
    if emulated:
        shown = "\n".join(f"[{s['platform']} {s['stage'] or ''} {s['index']}] {short_instruction(s['name'], 60)}: "
                          f"{s['seconds'] or 0:.1f} s under qemu" for s in emulated[:4])
        raise Failed(f"{len(emulated)} install or compile step(s) ran under emulation:\n{shown}",
                     _platform_cause(ctx) or "move these steps into a stage that starts `FROM --platform=$BUILDPLATFORM`, "
                     "fetch the target's wheels with pip --platform and compile with a cross compiler chosen by $TARGETARCH")
    cross = sorted({s["platform"] for s in r.ran if s.get("runs_on")})
    return (f"no install or compile step ran under emulation; {len(r.ran)} step(s) ran"
            + (f", cross stages built {', '.join(cross)} on {host}" if cross else ""))


@check("cross_build_speedup")
def cross_build_speedup(ctx: Context, spec: C.CrossBuildSpeedup) -> str:
    s = ctx.need_subject()
    r = _multi_build(ctx, spec.platforms)
    try:
        starter = s.starter_platform_build(tuple(spec.platforms))
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


@check("platform_sizes_at_most")
def platform_sizes_at_most(ctx: Context, spec: C.PlatformSizesAtMost) -> str:
    from layerlab.measure import inspector

    fx = ctx.need_fixture()
    missing = [p for p in spec.platforms if p not in fx.platform_sizes]
    if missing:
        raise NotRun(f"the fixture has no size for {', '.join(missing)}: run `layerlab record {ctx.exercise.id}`")
    r = _multi_build(ctx, spec.platforms)
    parts, too_big = [], []
    for p in spec.platforms:
        size = inspector.inspect(r.tag, platform=p).size_bytes
        allowed = fx.platform_sizes[p] * spec.factor + spec.allowance_mb * 1e6
        parts.append(f"{p} {mb(size)} (at most {mb(allowed)})")
        if size > allowed:
            too_big.append(p)
    detail = "; ".join(parts)
    if too_big:
        raise Failed(detail, "the final stage carries build tools or caches: keep it to the runtime base and COPY --from the builder")
    return detail


@check("http_endpoint")
def http_endpoint(ctx: Context, spec: C.HttpEndpoint) -> str:
    s = ctx.need_subject()
    status, body, log = s.session.http_get(s.tag, spec.port, spec.path, wait_s=spec.wait_s)
    if status is None:
        hint = "the server must listen on 0.0.0.0 (not 127.0.0.1) and on the port the exercise names"
        if log.startswith("the container did not start"):
            hint = log.rpartition("hint: ")[2] or hint
        raise Failed(f"nothing answered on port {spec.port} within {spec.wait_s:.0f} s\n{_excerpt(log)}", hint)
    if status != spec.status:
        raise Failed(f"GET {spec.path} answered {status}, expected {spec.status}", "the route or the app's start-up is wrong")
    return f"GET {spec.path} answered {status}"


# --- resource limits -------------------------------------------------------

# Read in the same container, before the image's own program starts: what the
# kernel enforces (cgroup v2, or v1 on older hosts), whatever the program says.
_CGROUP_PROBE = (
    'if [ -f /sys/fs/cgroup/memory.max ]; then echo "cgroup v2 $(cat /sys/fs/cgroup/memory.max) $(cat /sys/fs/cgroup/cpu.max)"; '
    'else echo "cgroup v1 $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes) '
    '$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"; fi; '
    'echo ---; exec "$@"'
)


def parse_cgroup_line(line: str) -> tuple[int | None, float | None]:
    """(memory limit in bytes, CPUs) from the probe's first line; None for unlimited."""
    parts = line.split()
    if parts[:2] == ["cgroup", "v2"]:
        mem, quota, period = parts[2], parts[3], parts[4]
        return (None if mem == "max" else int(mem)), (None if quota == "max" else int(quota) / int(period))
    mem, quota, period = int(parts[2]), int(parts[3]), int(parts[4])
    return (None if mem >= 2**60 else mem), (None if quota < 0 else quota / period)


def expected_limit_lines(memory: int | None, cpus: float | None) -> dict[str, str]:
    return {
        "memory limit": f"{memory // 2**20} MiB" if memory is not None else "unlimited",
        "cpu limit": f"{cpus:g} CPUs" if cpus is not None else "unlimited",
        "workers": str(max(1, int(cpus))) if cpus is not None else "",
    }


@check("cgroup_limits")
def cgroup_limits(ctx: Context, spec: C.CgroupLimits) -> str:
    s = ctx.need_subject()
    s.build()
    program = (s.image.entrypoint or []) + (s.image.cmd or [])
    if not program:
        raise Failed("the image has no ENTRYPOINT or CMD", "end the Dockerfile with CMD [\"python\", \"limits.py\"]")
    seen = []
    for run in spec.runs:
        ran = s.session.run(s.tag, ["-c", _CGROUP_PROBE, "sh", *program], entrypoint="sh", memory=run.memory, cpus=run.cpus,
                            timeout=ctx.exercise.limits.run_timeout_s)
        if ran.error:
            raise Failed(f"the container did not start: {ran.error}", ran.hint or "the image needs a shell (sh) and its CMD")
        if ran.timed_out or ran.exit_code != 0:
            raise Failed(f"under --memory {run.memory} --cpus {run.cpus:g}: exit code {ran.exit_code}\n{_excerpt(ran.output)}",
                         "the program failed or was stopped: read its last lines above")
        head, _, out = ran.output.partition("---")
        try:
            memory, cpus = parse_cgroup_line(head.strip().splitlines()[-1])
        except (IndexError, ValueError):
            raise NotRun(f"could not read the cgroup files in the container: {head.strip()[:200]!r}") from None
        want = expected_limit_lines(memory, cpus)
        got = dict(line.split(":", 1) for line in _lines(out) if ":" in line)
        got = {k.strip(): v.strip() for k, v in got.items()}
        wrong = [f"{k}: yours {got.get(k, '(missing)')!r}, from the cgroup {v!r}" for k, v in want.items() if v and got.get(k) != v]
        if wrong:
            raise Failed(
                f"under --memory {run.memory} --cpus {run.cpus:g} the cgroup says {want['memory limit']}, {want['cpu limit']}:\n  "
                + "\n  ".join(wrong),
                "inside a container /proc/meminfo and os.cpu_count() describe the host; read the limits from the cgroup "
                "files under /sys/fs/cgroup (memory.max and cpu.max, or cgroup v1's memory/ and cpu/ folders)",
            )
        seen.append(f"{run.memory}/{run.cpus:g} CPUs -> {want['memory limit']}, {want['cpu limit']}, {want['workers']} worker(s)")
    return "reports the kernel's limits: " + "; ".join(seen)


# --- lint ------------------------------------------------------------------


@check("hadolint")
def hadolint(ctx: Context, spec: C.Hadolint) -> str:
    from layerlab.measure import lint

    try:
        report = lint.hadolint([ctx.folder / ctx.exercise.dockerfile])
    except lint.LintUnavailable as e:
        raise NotRun(str(e)) from None
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
        raise NotRun(f"hadolint did not answer: {e}") from None
    bad = report.at_least(spec.fail_on)
    others = len(report.findings) - len(bad)
    if bad:
        lines = "\n".join(f"line {f.line}: {f.code} {f.message}" for f in bad[:5])
        raise Failed(f"{len(bad)} {spec.fail_on}-level finding(s):\n{lines}", "fix the lines hadolint names; each code is explained on hadolint's wiki")
    return f"no {spec.fail_on}-level findings ({others} lower-level)"


# --- a model server (exercise 07) ----------------------------------------------

_LISTEN_HINT = ("the server must listen on 0.0.0.0 (not 127.0.0.1, which is the container's own loopback) "
                "and on the port the exercise names, and keep running")


def _served(ctx: Context, hardened: bool = False):
    """The submission served once (shared by the serving checks), or Failed when it never answered."""
    s = ctx.need_subject()
    s.build()
    r = s.served(hardened)
    spec = next(c for c in ctx.exercise.checks if isinstance(c, C.ServeCheck))
    how = " under --read-only and --cap-drop ALL" if hardened else ""
    if r.error:
        raise Failed(f"the container did not start{how}: {r.error}", r.hint or "check USER, ENTRYPOINT and CMD")
    if not r.serving:
        if r.exited:
            detail = f"the container exited{how} with code {r.exit_code} before it answered {spec.health_path}"
            hint = ("under --read-only the app may write only to the tmpfs; read the last log lines for the path "
                    "it tried (`Read-only file system`)" if hardened else "the server crashed at start: read its last log lines")
        else:
            detail = f"nothing answered GET {spec.health_path} on port {spec.port}{how} within {spec.wait_s:.0f} s"
            hint = _LISTEN_HINT
        raise Failed(detail + (f"\nlast log lines:\n{_excerpt(r.logs)}" if r.logs.strip() else "\n(the container logged nothing)"), hint)
    return r


@check("becomes_healthy")
def becomes_healthy(ctx: Context, spec: C.BecomesHealthy) -> str:
    fx = ctx.need_fixture()
    if "healthy_s" not in fx.serving:
        raise NotRun(f"the fixture has no start-up measurement: run `layerlab record {ctx.exercise.id}`")
    s = ctx.need_subject()
    s.build()
    r = s.served()
    if r.started and not r.has_healthcheck:
        # Read from the image's configuration: no need to wait for a state that never comes.
        raise Failed("the image has no HEALTHCHECK, so the engine never reports it healthy",
                     "add a HEALTHCHECK that asks the app itself, in Python (the slim image has no curl): "
                     "HEALTHCHECK --interval=1s CMD [\"python\", \"-c\", \"import urllib.request; urllib.request.urlopen(...)\"]")
    r = _served(ctx)
    allowed = fx.serving["healthy_s"] * spec.factor + spec.allowance_s
    if r.healthy_s is None:
        raise Failed(f"it answered after {r.first_ok_s:.1f} s, but the engine's health state was still {r.health!r} "
                     f"after {spec.wait_s:.0f} s",
                     "the HEALTHCHECK command fails inside the container: run it by hand (docker exec) - "
                     "a curl check on a slim image fails forever, and a long --interval (Docker's default is 30 s) waits")
    detail = (f"answered after {r.first_ok_s:.1f} s, healthy after {r.healthy_s:.1f} s "
              f"(at most {allowed:.1f} s: the reference's {fx.serving['healthy_s']:.1f} s x {spec.factor:g} + {spec.allowance_s:g} s)")
    if r.healthy_s > allowed:
        raise Failed(detail, "the health check runs too rarely: shorten --interval (Docker's default is 30 s)")
    return detail


def _same(a, b, tol: float = 1e-6) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) <= tol
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], tol) for k in a)
    return a == b


@check("predicts")
def predicts(ctx: Context, spec: C.Predicts) -> str:
    fx = ctx.need_fixture()
    want = fx.serving.get("predictions", {})
    if spec.path not in want:
        raise NotRun(f"the fixture has no answer for POST {spec.path}: run `layerlab record {ctx.exercise.id}`")
    got = _served(ctx).responses.get(spec.path) or {}
    if got.get("status") != 200:
        raise Failed(f"POST {spec.path} answered {got.get('status')} {got.get('error') or str(got.get('body'))[:200]}",
                     "the route or its input changed: keep serve.py and model.json as given")
    if not _same(got["body"], want[spec.path]):
        raise Failed(f"POST {spec.path} answered {str(got['body'])[:200]}, not the reference's answer",
                     "the image serves another model or code: copy serve.py and model.json as given")
    n = len(spec.body.get("rows", [])) or 1
    return f"POST {spec.path} with {n} row(s) answers what the reference answers"


@check("graceful_stop")
def graceful_stop(ctx: Context, spec: C.GracefulStop) -> str:
    r = _served(ctx)
    grace = int(spec.within_s) + 1
    fate = r.inflight or {}
    killed = "9" in r.stop_signals or r.stop_exit_code == 137
    detail = (f"docker stop took {r.stop_s:.1f} s from SIGTERM to exit (at most {spec.within_s:g} s), "
              f"exit code {r.stop_exit_code}")
    if r.stop_s is None or r.stop_s > spec.within_s or killed:
        cmd = ctx.need_subject().image.cmd or []
        shell = cmd[:2] == ["/bin/sh", "-c"]
        raise Failed(detail + (f"; the engine killed it (SIGKILL) after a {grace} s grace period" if killed else ""),
                     ("CMD is in shell form, so /bin/sh is PID 1 and SIGTERM never reaches the server: "
                      "write CMD as a JSON list (exec form), or start the shell command with exec") if shell else
                     "PID 1 ignores SIGTERM: make the server itself PID 1 (exec-form CMD) or add an init that forwards signals")
    if fate.get("status") != 200:
        raise Failed(detail + f"; the request in flight (GET {spec.inflight_path}) was lost: {fate.get('error') or fate.get('status')}",
                     "the server was killed instead of shutting down: a shell between an init and the server dies at once "
                     "and takes it down; make the server PID 1 (exec form) so it finishes requests on SIGTERM")
    return detail + f"; the request in flight answered {fate['status']}"


@check("hardened_serves")
def hardened_serves(ctx: Context, spec: C.HardenedServes) -> str:
    s = ctx.need_subject()
    user = s.image.user
    if user.split(":")[0] in ("", "root", "0"):
        raise Failed(f"the image's user is {user or 'not set (root)'}",
                     "add USER with a numeric uid (USER 10001) after the steps that need root")
    r = _served(ctx, hardened=True)
    uid = (r.execs.get("uid") or {}).get("output", "").strip()
    if uid == "0":
        raise Failed(f"USER {user} runs with uid 0", "that user is root under another name; use an ordinary uid")
    bad = {k: v for k, v in r.responses.items() if v.get("status") != 200}
    if bad:
        path, v = next(iter(bad.items()))
        raise Failed(f"under --read-only POST {path} answered {v.get('status')} {v.get('error') or ''}\n{_excerpt(r.logs)}",
                     "a request writes to the read-only filesystem: write only under " + ", ".join(spec.tmpfs))
    return (f"uid {uid or '?'}; serves under --read-only (tmpfs {', '.join(spec.tmpfs)}) and --cap-drop ALL, "
            f"answered after {r.first_ok_s:.1f} s")


# --- compose ---------------------------------------------------------------


def _compose_run(ctx: Context, spec: C.ComposeCheck):
    from .composed import ComposeRun

    from layerlab.engine import compose

    s = ctx.need_subject()
    s.build()  # the services run this image; without it the check is not run
    key = ("compose", spec.file)
    if "compose_version" not in ctx.extras:
        ctx.extras["compose_version"] = compose.version()
    if ctx.extras["compose_version"] is None:
        raise NotRun("`docker compose` (v2) is not installed: `layerlab doctor` says how to add it")
    if key not in ctx.extras:
        ctx.extras[key] = ComposeRun(s, spec.file)
    return ctx.extras[key]


def _compose_failed(e) -> Failed:
    return Failed(e.detail, e.hint)


def _up_hint(error: str, trouble: str) -> str:
    low = (error + "\n" + trouble).lower()
    if "no model" in low:
        return ("the API started before the model existed, or cannot see it: make it wait for the training job "
                "(depends_on with condition: service_completed_successfully) and mount the volume the job writes the model to")
    if "unhealthy" in low:
        return ("a health check keeps failing: run its test command by hand in the running service "
                "(`docker compose exec api python health.py; echo $?`) and make it exit 0 once the API answers")
    if any(w in low for w in ("timeout", "timed out", "at the limit", "not healthy", "health check", "starting")):
        return "the stack did not become healthy in time: does the API's healthcheck pass? does a job wait forever?"
    if "no such image" in low or "pull access denied" in low:
        return "a service names an image that is not on this machine: build the Python services with `build: .`"
    return "a service exited or never became healthy: read its last log lines above"


def _compose_up(ctx: Context, spec) -> "object":
    from .composed import ComposeProblem

    cr = _compose_run(ctx, spec)
    try:
        cr.service(spec.service)
        if cr.started is None:
            cr.started = cr.up(spec.wait_s)
    except ComposeProblem as e:
        raise _compose_failed(e) from None
    if not cr.started.ok:
        trouble = cr.trouble()
        raise Failed(f"`compose up --wait` failed after {cr.started.seconds:.0f} s (limit {spec.wait_s} s): {cr.started.error}"
                     + (f"\n{trouble}" if trouble else ""), _up_hint(cr.started.error, trouble))
    return cr


def _answers_fixture(ctx: Context, cr, spec, when: str) -> str:
    from .composed import ComposeProblem

    fx = ctx.need_fixture()
    if fx.http_body is None:
        raise NotRun(f"the fixture of {ctx.exercise.id} holds no recorded answer: run `layerlab record {ctx.exercise.id}`")
    try:
        status, body = cr.get(spec.service, spec.port, spec.path)
    except ComposeProblem as e:
        raise _compose_failed(e) from None
    if status != 200:
        raise Failed(f"{when}: GET {spec.path} on {spec.service} answered {status or 'nothing'} {body[:200]}",
                     "the API runs but does not answer as the exercise's: keep serve.py and the model as given")
    if _json_or_text(body) != _json_or_text(fx.http_body):
        raise Failed(f"{when}: GET {spec.path} answered {body[:200]!r}, expected {fx.http_body[:200]!r}",
                     "the API serves another model than the exercise's pipeline trains: keep prep.py and train.py as given")
    return body


def _json_or_text(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text.strip()


@check("compose_up_predicts")
def compose_up_predicts(ctx: Context, spec: C.ComposeUpPredicts) -> str:
    cr = _compose_up(ctx, spec)
    body = _answers_fixture(ctx, cr, spec, "after up --wait")
    return f"up --wait in {cr.started.seconds:.1f} s; GET {spec.path} answered {body.strip()[:80]}"


@check("compose_persists")
def compose_persists(ctx: Context, spec: C.ComposePersists) -> str:
    from layerlab.engine import compose
    from .composed import ComposeProblem

    cr = _compose_up(ctx, spec)
    try:
        went = cr.down()
        again = cr.up(spec.wait_s)
    except (ComposeProblem, compose.ComposeError) as e:
        raise Failed(str(e), "the stack must survive `down` and `up`") from None
    if not again.ok:
        trouble = cr.trouble()
        raise Failed(f"after down, `up --wait` failed: {again.error}" + (f"\n{trouble}" if trouble else ""),
                     "the model or data were lost with the containers: keep them in named volumes that every job mounts")
    ran = cr.ps()
    for job in spec.jobs:
        for s in ran.of(job):
            if s.state == "exited" and s.exit_code == 0 and "reused" not in s.log:
                raise Failed(f"after down and up, {job} ran again instead of reusing its output:\n" + _excerpt(s.log, 3),
                             f"{job} writes into its container's own files, which `down` deletes: write into a named volume")
    _answers_fixture(ctx, cr, spec, "after down and up")
    return (f"down kept {len(went.left.volumes)} volume(s); up --wait again in {again.seconds:.1f} s; "
            f"{', '.join(spec.jobs)} reused their output")


@check("compose_ports_loopback")
def compose_ports_loopback(ctx: Context, spec: C.ComposePortsLoopback) -> str:
    from .composed import ComposeProblem

    cr = _compose_run(ctx, spec)
    try:
        services = cr.config().get("services") or {}
        cr.service(spec.service)
    except ComposeProblem as e:
        raise _compose_failed(e) from None
    wrong, api = [], []
    for name, svc in services.items():
        for p in svc.get("ports") or []:
            where = f"{p.get('host_ip') or '0.0.0.0'}:{p.get('published') or '(any)'}->{p.get('target')}"
            if name != spec.service:
                wrong.append(f"{name} publishes {where}: only {spec.service} needs to be reached from outside")
            elif p.get("host_ip") not in ("127.0.0.1", "::1"):
                wrong.append(f"{name} publishes {where} on every interface of the machine")
            else:
                api.append(where)
    if wrong:
        raise Failed("\n".join(wrong), f'publish only {spec.service}, on the loopback interface: `ports: ["127.0.0.1::{spec.port}"]`; '
                     "services reach each other by name without published ports")
    if not any(w.endswith(f"->{spec.port}") for w in api):
        raise Failed(f"{spec.service} publishes no port {spec.port}", f'add `ports: ["127.0.0.1::{spec.port}"]` to {spec.service}')
    return f"only {spec.service} publishes: {', '.join(api)}"


# --- shipping (exercise 09) ---------------------------------------------------


def _leak_hint(kinds: set[str]) -> str:
    parts = []
    if kinds & {"history", "config"}:
        parts.append("an ARG or ENV carries the token: ARG values show in the history of the RUNs that use them, "
                     "ENV values in the config (and in the history); do not declare the token as ARG or ENV at all")
    if "layer" in kinds:
        parts.append("a file with the token was copied into a layer: deleting it in a later RUN only hides it, the "
                     "earlier layer keeps it")
    parts.append("mount the token for the one RUN that needs it: RUN --mount=type=secret,id=<id> ... reads "
                 "/run/secrets/<id>, and nothing of it reaches the image")
    return ";\n".join(parts)


@check("token_absent")
def token_absent(ctx: Context, spec: C.TokenAbsent) -> str:
    from layerlab.measure import leaks

    s = ctx.need_subject()
    s.build()
    if not ctx.planted:
        raise NotRun("the exercise declares no `secret:` in course.yml, so no token was planted to look for")
    scan = leaks.scan_image_live(s.tag, ctx.planted)
    where = f"{scan.layers} layers ({scan.files} files), the history and the config"
    if scan.found:
        raise Failed(f"the build's token ({scan.token}) is in {len(scan.places)} place(s):\n"
                     + "\n".join(p.line() for p in scan.places[:8]), _leak_hint(scan.kinds()))
    return f"the build's token is nowhere in {where}"


def _pushed_ref(ctx: Context, spec: C.PushedImage) -> tuple[str, str, str]:
    """(the reference written in the file, its repository name, its digest), or Failed."""
    from layerlab.engine import registry

    path = ctx.folder / spec.file
    how = (f"push the image to {registry.address()} and write what the push printed as "
           f"{registry.address()}/NAME@sha256:<digest> in {spec.file}")
    if not path.is_file():
        raise Failed(f"no {spec.file} in the submission", how)
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    ref = text.splitlines()[0].strip() if text else ""
    host, _, rest = ref.partition("/")
    name, at, digest = rest.partition("@")
    if host != registry.address() or not at or not digest.startswith("sha256:") or len(digest) != 71:
        raise Failed(f"{spec.file} reads {ref[:90]!r}, not {registry.address()}/NAME@sha256:<64 hex digits>",
                     "a tag can move; a digest names one image. " + how)
    return ref, name, digest


def _build_as_handed_in(ctx: Context, s) -> str:
    """The tag of the submission built as the student built it: the folder as handed in, its own token.

    Grading's own build has a planted token (and files locked for it), so its layers differ by design.
    On the engine the student built and pushed from, BuildKit's cache serves every step: seconds.
    """
    sec = ctx.exercise.secret
    if ctx.handed_in is None or sec is None:
        return s.tag
    session = s.session
    saved = session.secrets, session.build_args
    session.secrets = [f"id={sec.id},src={ctx.handed_in / sec.file}"]
    session.build_args = {}  # as `ship` builds it: the token as a secret only
    try:
        return session.build(ctx.handed_in, "handed-in", dockerfile=ctx.handed_in / ctx.exercise.dockerfile,
                             timeout=s.limits.build_timeout_s).tag
    except Exception as e:  # noqa: BLE001 - the main build worked, so this one failing is worth saying
        raise Failed(f"the folder as handed in (with its own token) does not build: {str(e).splitlines()[0][:160]}",
                     "build and push from the folder you hand in") from None
    finally:
        session.secrets, session.build_args = saved


@check("pushed_image")
def pushed_image(ctx: Context, spec: C.PushedImage) -> str:
    from layerlab.engine import images, registry
    from layerlab.measure import leaks

    s = ctx.need_subject()
    s.build()
    ref, name, digest = _pushed_ref(ctx, spec)
    if not (st := registry.status_live()).running:
        raise NotRun(f"no registry answers at {registry.address()} ({st.detail}): `layerlab registry up`, push, grade again")
    try:
        served = registry.blobs_live(ref)
        config, _, _ = registry.fetch_blob(f"{registry.address()}/{name}", served.config)
    except registry.RegistryError as e:
        raise Failed(f"the registry does not serve {ref[:100]}: {str(e).splitlines()[0][:160]}",
                     "push again and write the digest that this push reports (docker push prints it last)") from None
    if ctx.original:
        scan = leaks.scan_pushed_live(ref, ctx.original)
        if scan.found:
            raise Failed(f"the pushed image holds your token ({scan.token}) in {len(scan.places)} place(s):\n"
                         + "\n".join(p.line() for p in scan.places[:8]),
                         "the registry serves the leaky build: fix the Dockerfile, push again, write the new digest; " +
                         _leak_hint(scan.kinds()))

    def same(step: str) -> str:  # the two builds had different tokens; that alone is no difference
        return _redact(ctx, step).replace(leaks.mask(ctx.planted), "<token>").replace(leaks.mask(ctx.original), "<token>") \
            if ctx.planted else step

    pushed_steps = [same(h.get("created_by", "")) for h in config.get("history", []) if not h.get("empty_layer")]
    built_steps = [same(layer["created_by"]) for layer in s.image.layers]
    pushed_labels = (config.get("config") or {}).get("Labels") or {}
    if pushed_steps != built_steps:
        n = next((i for i, (a, b) in enumerate(zip(pushed_steps, built_steps)) if a != b), min(len(pushed_steps), len(built_steps)))
        theirs = short_instruction(pushed_steps[n], 60) if n < len(pushed_steps) else "(no more layers)"
        mine = short_instruction(built_steps[n], 60) if n < len(built_steps) else "(no more layers)"
        raise Failed(f"{ref[:80]}… is not this Dockerfile's image: layer {n + 1} of the pushed one was made by "
                     f"`{theirs}`, of this build by `{mine}`",
                     "build from the Dockerfile you hand in, push that image, and write its digest")
    # Same steps can still hold other files (code edited after the push): compare the layers' content too.
    pushed_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    built_ids = images.diff_ids(_build_as_handed_in(ctx, s))
    if pushed_ids != built_ids:
        n = next((i for i, (a, b) in enumerate(zip(pushed_ids, built_ids)) if a != b), min(len(pushed_ids), len(built_ids)))
        step = short_instruction(built_steps[n], 60) if n < len(built_steps) else "(no more layers)"
        raise Failed(f"{ref[:80]}… has this Dockerfile's steps but other content: layer {n + 1} (`{step}`) differs "
                     f"({pushed_ids[n][:19] if n < len(pushed_ids) else 'none'}… pushed, "
                     f"{built_ids[n][:19] if n < len(built_ids) else 'none'}… built from the folder handed in)",
                     "build from the files you hand in, after their last change, on this engine (its build cache "
                     "makes the layers repeatable), push that image, and write its digest")
    missing = {k: v for k, v in s.image.labels.items() if k.startswith("org.opencontainers") and pushed_labels.get(k) != v}
    if missing:
        raise Failed(f"the pushed image's labels differ from this build's: {', '.join(sorted(missing))}",
                     "push the image built from the Dockerfile you hand in, after its last change")
    return (f"{registry.address()} serves {name}@{digest[:19]}…: {len(served.layers)} layers, "
            f"{served.total / 1e6:.1f} MB, the same layer content as this build" + (", without the token" if ctx.original else ""))


@check("oci_labels")
def oci_labels(ctx: Context, spec: C.OciLabels) -> str:
    image = ctx.need_subject().image
    unset = [k for k in spec.labels if not (image.labels.get(k) or "").strip()]
    if unset:
        raise Failed(f"not set: {', '.join(unset)}",
                     "add LABEL lines (or --label) that say where the image comes from: "
                     + ", ".join(f'{k}="..."' for k in unset))
    return "; ".join(f"{k}={image.labels[k]}" for k in spec.labels)
