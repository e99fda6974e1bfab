"""Read BuildKit's plain progress output (`--progress=plain`) into step records.

The format, one vertex per `#N`:

    #5 [linux/arm64 2/3] RUN pip install -r requirements.txt
    #5 0.512 Collecting numpy
    #5 DONE 12.3s            (or: #5 CACHED, or: #5 ERROR: ...)

Vertices without a `[stage n/m]` tag (internal loads, exporting) are kept
but flagged, so the cache statistics only count Dockerfile instructions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from layerlab.engine.result import Result
from layerlab.ground.text import decimal_bytes

_HEADER = re.compile(r"^#(\d+) \[(?P<tag>[^\]]*)\] (?P<name>.*)$")
_HEADER_UNTAGGED = re.compile(r"^#(\d+) (?P<name>[a-zA-Z].*)$")
_DONE = re.compile(r"^#(\d+) DONE (?P<secs>[\d.]+)s$")
_CACHED = re.compile(r"^#(\d+) CACHED$")
_ERROR = re.compile(r"^#(\d+) ERROR: (?P<msg>.*)$")
_CANCELED = re.compile(r"^#(\d+) CANCELED$")
_LOG = re.compile(r"^#(\d+) (?:\d+\.\d+ )?(?P<text>.*)$")
# "linux/arm64 builder 2/5"; a stage built on another platform for this one (FROM --platform=$BUILDPLATFORM)
# reads "linux/amd64->arm64 builder 2/5": it runs natively on amd64 and produces for arm64.
_STAGE = re.compile(
    r"^(?:(?P<platform>[a-z0-9]+/[a-z0-9_]+(?:/v\d)?)(?:->(?P<to>[a-z0-9_]+(?:/v\d)?))? )?(?:(?P<stage>[\w.-]+) )?(?P<n>\d+)/(?P<m>\d+)$"
)
_CONTEXT = re.compile(r"transferring context: (?P<size>[\d.]+)(?P<unit>[kMG]?B)")


class Step(Result):
    """One vertex of the build graph."""

    dumped_properties = ("ran",)

    vertex: int
    name: str
    tag: str | None = None  # "2/3", "builder 2/5", "linux/arm64 2/3", "internal"
    platform: str | None = None  # the platform the step builds for ("linux/arm64")
    runs_on: str | None = None  # where it executes when that differs: "linux/amd64" for a cross stage
    stage: str | None = None
    index: int | None = None  # n of "n/m": the instruction's place in its stage
    cached: bool = False
    seconds: float | None = None
    error: str | None = None
    log: list[str] = Field(default_factory=list)

    @property
    def instruction(self) -> str:
        return self.name.split(" ", 1)[0].upper() if self.name else ""

    @property
    def is_instruction(self) -> bool:
        """A Dockerfile instruction (has an n/m tag), not an internal load or export."""
        return self.index is not None

    @property
    def ran(self) -> bool:
        """Executed in this build rather than taken from the cache."""
        return not self.cached and self.error is None and self.seconds is not None


@dataclass
class BuildLog:
    steps: list[Step]
    context_bytes: int | None = None

    def instructions(self) -> list[Step]:
        return [s for s in self.steps if s.is_instruction]

    def ran(self) -> list[Step]:
        """Instructions that executed (a FROM never 'runs' in a useful sense and is skipped)."""
        return [s for s in self.instructions() if s.ran and s.instruction != "FROM"]

    def cached(self) -> list[Step]:
        return [s for s in self.instructions() if s.cached]

    def failed(self) -> Step | None:
        for s in self.steps:
            if s.error:
                return s
        return None


def _parse_tag(step: Step, tag: str) -> None:
    step.tag = tag
    m = _STAGE.match(tag)
    if m:
        step.platform = m.group("platform")
        if m.group("to") and step.platform:
            os_name = step.platform.split("/")[0]
            step.runs_on, step.platform = step.platform, f"{os_name}/{m.group('to')}"
        step.stage = m.group("stage")
        step.index = int(m.group("n"))


@dataclass
class Event:
    """One thing BuildKit reported about a vertex: it started, finished, was cached, failed, or logged."""

    kind: Literal["start", "done", "cached", "error", "log"]
    step: Step


class Reader:
    """Parse plain progress one line at a time, as the build streams it.

    `feed` returns the event a line carries (or None for blank and foreign
    lines); `log()` is the parse so far. `parse` is a Reader fed a whole log.
    """

    def __init__(self) -> None:
        self.steps: dict[int, Step] = {}
        self.context_bytes: int | None = None

    def feed(self, raw: str) -> Event | None:
        steps = self.steps
        line = raw.rstrip("\n")
        if not line.startswith("#"):
            return None
        if m := _DONE.match(line):
            s = steps.get(int(m.group(1)))
            if s:
                s.seconds = float(m.group("secs"))
                return Event("done", s)
            return None
        if m := _CACHED.match(line):
            s = steps.get(int(m.group(1)))
            if s:
                s.cached = True
                return Event("cached", s)
            return None
        if m := _ERROR.match(line):
            s = steps.setdefault(int(m.group(1)), Step(vertex=int(m.group(1)), name="?"))
            s.error = m.group("msg")
            return Event("error", s)
        if _CANCELED.match(line):
            return None
        if m := _HEADER.match(line):
            v = int(m.group(1))
            if v not in steps:
                s = steps[v] = Step(vertex=v, name=m.group("name"))
                _parse_tag(s, m.group("tag"))
                return Event("start", s)
        v_match = re.match(r"^#(\d+) ", line)
        if not v_match:
            return None
        v = int(v_match.group(1))
        if v not in steps:
            m = _HEADER_UNTAGGED.match(line)
            s = steps[v] = Step(vertex=v, name=m.group("name") if m else line.split(" ", 1)[-1])
            return Event("start", s)
        if m := _LOG.match(line):
            text = m.group("text")
            steps[v].log.append(text)
            if c := _CONTEXT.search(text):
                self.context_bytes = decimal_bytes(c.group("size") + c.group("unit"))
            return Event("log", steps[v])
        return None

    def log(self) -> BuildLog:
        return BuildLog(steps=sorted(self.steps.values(), key=lambda s: s.vertex), context_bytes=self.context_bytes)


def parse(lines: Iterable[str]) -> BuildLog:
    """Parse plain progress lines (an iterable of str, with or without newlines)."""
    reader = Reader()
    for raw in lines:
        reader.feed(raw)
    return reader.log()


def progress_line(line: str) -> str | None:
    """The lines worth showing a learner while a build runs: step starts and their outcome."""
    line = line.rstrip("\n")
    if _HEADER.match(line) or _CACHED.match(line) or _ERROR.match(line) or _DONE.match(line):
        return line
    return None
