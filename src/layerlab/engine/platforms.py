"""The platforms this engine runs: its native one, the foreign one the course emulates, and what it can emulate.

The one API lessons and graders ask, never assuming an amd64 machine: on Debian's Docker on a PC `native`
is linux/amd64 and `foreign` linux/arm64; on Docker Desktop on Apple silicon `native` is linux/arm64 and
`foreign` linux/amd64. `foreign` is always the other of the two the course teaches, whether or not this
engine can run it; `emulated` says which it can (BuildKit's own test, or binfmt_misc where it is in sight).
"""

from __future__ import annotations

from pydantic import Field

from layerlab import engine

from . import replay
from .result import Replayable


class Platforms(Replayable):
    native: str  # the engine machine's platform: "linux/amd64", "linux/arm64"
    foreign: str  # the other of linux/amd64 and linux/arm64
    emulated: list[str] = Field(default_factory=list)  # platforms besides native that containers run on, via qemu

    @property
    def foreign_runs(self) -> bool:
        """Can this engine run (and so build for) the foreign platform?"""
        return self.foreign in self.emulated

    @property
    def both(self) -> list[str]:
        """The course's two platforms, native first: what a multi-platform build here asks for."""
        return [self.native, self.foreign]

    def can_run(self, platform: str) -> bool:
        return platform == self.native or platform in self.emulated

    def line(self) -> str:
        emulated = ", ".join(self.emulated) or "none"
        how = "emulated" if self.foreign_runs else "cannot run"
        return f"native {self.native}, foreign {self.foreign} ({how}); emulated: {emulated}"


def of(facts: engine.EngineFacts) -> Platforms:
    """The platforms of an engine described by its facts (recorded ones too)."""
    return Platforms(native=facts.native, foreign=facts.foreign, emulated=facts.emulated)


def _current_live() -> Platforms:
    facts = engine.probe()
    if not facts.reachable:
        raise engine.EngineUnavailable(facts.error or "no engine")
    return of(facts)


current = replay.replayable("engine-platforms", lambda: "platforms", Platforms, sequence=False)(_current_live)
"""This engine's platforms; replayed (from the recorded engine's) where none answers."""
