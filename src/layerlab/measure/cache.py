"""The four rebuilds of the cache lessons: cold, unchanged, code edit, dependency edit.

The context is copied to a scratch folder so edits never touch the lesson's
files, and every edit writes new content (a nonce), so it can never be
served from a cache entry left by an earlier run of the same lesson.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from pydantic import Field

from layerlab.engine import replay
from layerlab.engine.build import BuildResult, Show, build
from layerlab.engine.result import Replayable, Result
from layerlab.ground.errors import NotFound
from layerlab.ground.text import say


class StepRun(Result):
    """One step that ran in a scenario: its seconds and the end of its log."""

    name: str
    seconds: float | None
    log: list[str]


class Scenario(Result):
    name: str  # cold | unchanged | code edit | dependency edit
    seconds: float
    ran: list[str]  # instructions that executed
    cached: int
    instructions: int
    # Per step that ran: its seconds and the end of its log, so a lesson can
    # look inside one step (what did the installer download?) not just time it.
    steps: list[StepRun] = Field(default_factory=list)

    def step(self, text: str) -> StepRun | None:
        """The first step that ran whose instruction contains `text`."""
        return next((s for s in self.steps if text in s.name), None)


class CacheReport(Replayable):
    tag: str
    scenarios: list[Scenario]
    context_bytes: int | None = None

    def get(self, name: str) -> Scenario:
        for s in self.scenarios:
            if s.name == name:
                return s
        raise NotFound(f"no scenario {name!r}; known: {', '.join(s.name for s in self.scenarios)}")

    def table(self) -> str:
        lines = [f"{self.tag}", f"  {'rebuild':<16} {'seconds':>8} {'steps run':>10}  which"]
        for s in self.scenarios:
            which = ", ".join(_short(r) for r in s.ran) or "-"
            lines.append(f"  {s.name:<16} {s.seconds:>8.1f} {len(s.ran):>10}  {which}")
        if self.replayed:
            lines.append(f"  (replayed from a recorded run: {self.replayed['engine']}, {self.replayed['recorded_at']})")
        return "\n".join(lines)


LOG_LINES = 20  # enough for an installer's summary, small enough for a replay file


def _short(name: str, width: int = 40) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _scenario(name: str, r: BuildResult) -> Scenario:
    return Scenario(
        name=name,
        seconds=r.seconds,
        ran=[s.name for s in r.ran],
        cached=len(r.cached),
        instructions=len([s for s in r.steps if s.index is not None]),
        steps=[StepRun(name=s.name, seconds=s.seconds, log=s.log[-LOG_LINES:]) for s in r.ran],
    )


def touch(path: Path) -> None:
    """An edit that changes the file's content but not its meaning (a comment line)."""
    with path.open("a", encoding="utf-8") as f:
        f.write(f"\n# edited {uuid.uuid4().hex}\n")


def pin(path: Path, package: str, version: str) -> str:
    """Change `package==X` to `package==version` in a lock file and touch it; returns the old pin."""
    text = path.read_text(encoding="utf-8")
    m = re.search(rf"^{re.escape(package)}==(\S+)$", text, flags=re.M | re.I)
    if m is None:
        raise ValueError(f"{package} is not pinned in {path}")
    path.write_text(text[: m.start(1)] + version + text[m.end(1) :], encoding="utf-8")
    touch(path)  # and a nonce, so no earlier run's cache entry matches
    return m.group(1)


def _key(context: str | Path, tag: str, **kw: Any) -> str:
    return f"{tag}|{kw.get('dockerfile') or 'Dockerfile'}"


@replay.replayable("cache", _key, CacheReport)
def scenarios(
    context: str | Path,
    tag: str,
    *,
    code_file: str,
    dependency_file: str | None = None,
    dependency_pin: tuple[str, str] | None = None,
    dockerfile: str | None = None,
    build_args: dict[str, str] | None = None,
    module: str | None = None,
    show: Show = say,
) -> CacheReport:
    """Build `context` four ways and record time and steps re-run for each.

    The dependency edit is a real one when `dependency_pin=(package, version)`
    is given: that package's pin in `dependency_file` changes (plus a nonce
    comment). Without it the file only gains a comment, which busts the cache
    but changes no package.
    """
    src = Path(context)
    results: list[Scenario] = []
    with tempfile.TemporaryDirectory(prefix="layerlab-cache-") as tmp:
        work = Path(tmp) / "ctx"
        shutil.copytree(src, work, symlinks=True)
        df = (work / dockerfile) if dockerfile else None

        def one(name: str, cache: bool) -> BuildResult:
            return build(
                work, tag, dockerfile=df, build_args=build_args, cache=cache, module=module, show=show, label=name
            )

        cold = one("cold", cache=False)
        results.append(_scenario("cold", cold))
        results.append(_scenario("unchanged", one("unchanged", cache=True)))
        touch(work / code_file)
        results.append(_scenario("code edit", one("code edit", cache=True)))
        if dependency_file:
            if dependency_pin:
                pin(work / dependency_file, *dependency_pin)
            else:
                touch(work / dependency_file)
            results.append(_scenario("dependency edit", one("dependency edit", cache=True)))
    return CacheReport(tag=tag, scenarios=results, context_bytes=cold.context_bytes)


def bump_version(pyproject: Path) -> str:
    """A release that changes metadata only: a new `version = "..."` in pyproject.toml (unique, so no
    earlier run's cache entry matches). Returns the new version."""
    text = pyproject.read_text(encoding="utf-8")
    version = f"0.1.{uuid.uuid4().int % 10**6}"
    new, n = re.subn(r'^version = "[^"]+"', f'version = "{version}"', text, count=1, flags=re.M)
    if n == 0:
        raise ValueError(f'no version = "..." line in {pyproject}')
    pyproject.write_text(new, encoding="utf-8")
    return version


def pinned_packages(lock_file: Path) -> int:
    """How many `name==version` pins a requirements lock file holds."""
    return len(re.findall(r"^[\w.-]+==", lock_file.read_text(encoding="utf-8"), flags=re.M))


class UvInstall(Result):
    """What uv said in one install step: its summary lines, and how many packages it had to prepare
    (download and unpack) and in how many seconds; 0 when it prepared nothing."""

    lines: list[str]
    prepared: int
    prepare_seconds: float


_UV_SUMMARY = re.compile(r"\s*(Resolved|Prepared|Installed|Uninstalled) \d+")
_UV_PREPARED = re.compile(r"Prepared (\d+) packages? in ([\d.]+)(ms|s)")


def uv_install(log: list[str]) -> UvInstall:
    """Read uv's summary from an install step's log (`Scenario.step(...).log`)."""
    lines = [line.strip() for line in log if _UV_SUMMARY.match(line)]
    said = next((m for m in map(_UV_PREPARED.search, lines) if m), None)
    if said is None:
        return UvInstall(lines=lines, prepared=0, prepare_seconds=0.0)
    seconds = float(said.group(2)) / (1000 if said.group(3) == "ms" else 1)
    return UvInstall(lines=lines, prepared=int(said.group(1)), prepare_seconds=seconds)
