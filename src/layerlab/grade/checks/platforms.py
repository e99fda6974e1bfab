"""`platforms`: the image runs on each platform and `uname -m` says so."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from layerlab import engine
from layerlab.course.checkspec import CheckBase
from ..fixture import Fixture
from ..measure import Subject
from .base import Context, Failed, NotRun, check, records


Platform = Literal["linux/amd64", "linux/arm64"]
TWO_PLATFORMS: list = ["linux/amd64", "linux/arm64"]


class Platforms(CheckBase):
    check: Literal["platforms"]
    platforms: list[Platform] = Field(min_length=1)


@check(Platforms)
def platforms(ctx: Context, spec: Platforms) -> str:
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


@records(Platforms)
def record(s: Subject, spec: Platforms, f: Fixture) -> None:
    multi = s.platform_build(tuple(spec.platforms))
    f.platforms = {p: (s.uname(multi.tag, p).output.strip()) for p in spec.platforms}
