"""`builds`: the image builds within the limit; every other image check starts from its result."""

from __future__ import annotations

from typing import ClassVar, Literal

from ..subject import NotBuilt
from .base import Context, Failed, check
from .ship import index_hint
from .spec import CheckBase


class Builds(CheckBase):
    check: Literal["builds"]

    order: ClassVar[int] = -1  # every other image check starts from this build, and its failure explains theirs


@check(Builds)
def builds(ctx: Context, spec: Builds) -> str:
    try:
        r = ctx.need_subject().build()
    except NotBuilt as e:
        raise Failed(
            str(e), index_hint(ctx.exercise, str(e)) or undeclared_platform_arg(ctx) or build_hint(str(e))
        ) from None
    return f"built in {r.seconds:.0f} s, {len(r.ran)} step(s) ran"


def build_hint(error: str) -> str:
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


def stages(ctx: Context) -> list[list]:
    """The Dockerfile's stages, each a list of instructions starting with its FROM."""
    found: list[list] = []
    for ins in ctx.dockerfile.instructions:
        if ins.keyword == "FROM":
            found.append([ins])
        elif found:
            found[-1].append(ins)
    return found


_AUTOMATIC_ARGS = ("TARGETARCH", "TARGETPLATFORM", "TARGETOS", "TARGETVARIANT", "BUILDPLATFORM", "BUILDARCH", "BUILDOS")


def undeclared_platform_arg(ctx: Context) -> str | None:
    """A stage that uses $TARGETARCH (or another automatic platform ARG) without declaring it."""
    for stage in stages(ctx):
        declared = {w.split("=")[0] for i in stage if i.keyword == "ARG" for w in i.args.split()}
        for i in stage[1:]:
            if i.keyword == "ARG":
                continue
            used = next((a for a in _AUTOMATIC_ARGS if f"${a}" in i.args or f"${{{a}}}" in i.args), None)
            if used and used not in declared:
                return (
                    f"line {i.line} uses ${used} but its stage has no `ARG {used}`: BuildKit sets it for "
                    "every platform, yet a stage sees it only after declaring it, so here it is empty"
                )
    return None
