"""The final image: paths absent and present, a non-root user, libraries that resolve."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..fixture import Fixture, Section
from ..subject import Subject
from .base import Context, Failed, check, excerpt, non_root_user, records
from .spec import CheckBase


class PathsAbsent(CheckBase):
    check: Literal["paths_absent"]
    paths: list[str] = Field(min_length=1, description="globs that must match nothing in the final image")


class PathsPresent(CheckBase):
    check: Literal["paths_present"]
    paths: list[str] = Field(min_length=1, description="globs that must each match in the final image")


class RunsAsNonRoot(CheckBase):
    check: Literal["runs_as_non_root"]


class LibrariesResolve(CheckBase):
    check: Literal["libraries_resolve"]
    program: str = Field(
        description="absolute path of the program in the final image; `ldd` there must find every library it needs"
    )


class Paths(Section):
    """What the solution's image holds for each glob of the paths checks (its first matches)."""

    name = "paths"
    present: dict[str, list[str]] = Field(default_factory=dict)
    absent: dict[str, list[str]] = Field(default_factory=dict)


@check(PathsAbsent)
def paths_absent(ctx: Context, spec: PathsAbsent) -> str:
    image = ctx.need_subject().image
    found = {g: image.find(g) for g in spec.paths}
    bad = {g: m for g, m in found.items() if m}
    if bad:
        shown = "; ".join(f"{g}: {', '.join(m[:3])}{' ...' if len(m) > 3 else ''}" for g, m in bad.items())
        raise Failed(
            f"found in the final image: {shown}",
            "these are left over from a build step; remove them in the step that made them, or don't install them",
        )
    return f"none of {len(spec.paths)} pattern(s) in the final image"


@check(PathsPresent)
def paths_present(ctx: Context, spec: PathsPresent) -> str:
    image = ctx.need_subject().image
    missing = [g for g in spec.paths if not image.find(g)]
    if missing:
        raise Failed(
            f"missing from the final image: {', '.join(missing)}",
            "a COPY is missing or copies to another folder, or a clean-up removed too much",
        )
    return f"all {len(spec.paths)} pattern(s) present"


@check(RunsAsNonRoot)
def runs_as_non_root(ctx: Context, spec: RunsAsNonRoot) -> str:
    s = ctx.need_subject()
    user = non_root_user(
        s, "add a USER instruction after the steps that need root (create the user with useradd first)"
    )
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


@check(LibrariesResolve)
def libraries_resolve(ctx: Context, spec: LibrariesResolve) -> str:
    from layerlab.measure.cuda import parse_ldd

    s = ctx.need_subject()
    # ldd as root: the question is what the loader finds, whoever the image's user is.
    ran = s.session.run(s.tag, [spec.program], entrypoint="ldd", timeout=ctx.exercise.limits.run_timeout_s)
    if ran.error:
        raise Failed(
            f"`ldd {spec.program}` did not start: {ran.error}",
            "the final image needs the C library's loader tools (any Debian-based image has ldd)",
        )
    libs = parse_ldd(ran.output)
    if ran.exit_code != 0 or not libs:
        raise Failed(
            f"`ldd {spec.program}` exit {ran.exit_code}\n{excerpt(ran.output)}",
            f"is {spec.program} in the final image, and a dynamically linked program? copy it from the builder stage",
        )
    missing = sorted(k for k, v in libs.items() if v is None)
    if missing:
        raise Failed(
            f"{spec.program} needs {', '.join(missing)}: ldd says not found",
            f"the program cannot start without {', '.join(missing)}: build the final stage FROM an image "
            "that has it (the CUDA base image has libcudart.so.12) or copy the library from the builder",
        )
    return f"ldd finds all {len(libs)} libraries {spec.program} needs"


@records(PathsPresent, PathsAbsent)
def record(s: Subject, spec: PathsPresent | PathsAbsent, f: Fixture) -> None:
    recorded = f.section(Paths) or Paths()
    found = recorded.present if isinstance(spec, PathsPresent) else recorded.absent
    found.update({g: s.image.find(g)[:5] for g in spec.paths})
    f.put(recorded)
