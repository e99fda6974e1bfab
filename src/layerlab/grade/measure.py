"""Measurements of one built submission (or of the solution, when recording).

Each measurement is taken once, when the first check needs it, so a check
that is not declared costs nothing; grading and recording share this code,
so a fixture and a submission are always measured the same way.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

from layerlab.engine import build as build_mod
from layerlab.measure import cache, inspector
from layerlab.measure.serving import ServeResult
from layerlab.course import Exercise
from .dockerfile import parse as parse_dockerfile
from .sandbox import Ran, Session, TimedOut


class NotBuilt(RuntimeError):
    """The image did not build, so nothing about it can be measured."""


class Subject:
    def __init__(self, exercise: Exercise, context: Path, session: Session):
        self.exercise, self.context, self.session = exercise, context, session
        self.limits = exercise.limits
        self.build_error: str | None = None
        self._built: build_mod.BuildResult | None = None

    @property
    def dockerfile(self) -> Path:
        return self.context / self.exercise.dockerfile

    def build(self) -> build_mod.BuildResult:
        """The first (cold-cache-allowed) build; its failure is remembered, not retried."""
        if self._built is None and self.build_error is None:
            try:
                self._built = self.session.build(self.context, "main", dockerfile=self.dockerfile,
                                                 timeout=self.limits.build_timeout_s)
            except TimedOut as e:
                self.build_error = f"{e} (limit from course.yml: limits.build_timeout_s)"
            except build_mod.BuildError as e:
                self.build_error = _explain_build_error(e)
        if self._built is None:
            raise NotBuilt(self.build_error or "the image did not build")
        return self._built

    @property
    def tag(self) -> str:
        return self.build().tag

    @functools.cached_property
    def image(self) -> inspector.ImageReport:
        return inspector.inspect(self.tag)

    @functools.cached_property
    def above_base(self) -> inspector.AboveBase | None:
        """What the image adds above the base its final stage names; None when no base can be named."""
        base = parse_dockerfile(self.dockerfile.read_text(encoding="utf-8", errors="replace")).final_base()
        if base is None:
            return None
        try:
            return inspector.above_base(self.image, base)
        except inspector.ImageNotFound:
            return None

    @functools.lru_cache(maxsize=None)  # noqa: B019 - one Subject per grading run
    def run(self, command: tuple[str, ...] | None = None) -> Ran:
        return self.session.run(self.tag, list(command) if command else None, timeout=self.limits.run_timeout_s)

    @functools.lru_cache(maxsize=None)  # noqa: B019
    def code_edit_reruns(self, code_file: str) -> list[str]:
        """Steps re-run when `code_file` changes by a comment line: build, edit a copy, rebuild."""
        self.build()
        with tempfile.TemporaryDirectory(prefix="layerlab-grade-edit-") as tmp:
            work = Path(tmp) / "ctx"
            shutil.copytree(self.context, work, symlinks=True)
            if not (work / code_file).is_file():
                raise FileNotFoundError(f"{code_file} is not in the exercise folder")
            # The cache is keyed by content, not by folder, so the copy starts warm
            # from the submission's build; the edit then changes one file only.
            cache.touch(work / code_file)
            name = "edit-" + "".join(c if c.isalnum() else "-" for c in code_file).lower()[:40]
            r = self.session.build(work, name, dockerfile=work / self.exercise.dockerfile,
                                   timeout=self.limits.build_timeout_s)
        return [s.name for s in r.ran]

    @functools.lru_cache(maxsize=None)  # noqa: B019
    def platform_build(self, platforms: tuple[str, ...]) -> build_mod.BuildResult:
        return self.session.build(self.context, "multi", dockerfile=self.dockerfile, platforms=list(platforms),
                                  timeout=self.limits.build_timeout_s)

    @functools.lru_cache(maxsize=None)  # noqa: B019
    def cold_platform_build(self, platforms: tuple[str, ...]) -> build_mod.BuildResult:
        """A cold (--no-cache) multi-platform build: its per-platform step times compare with another cold build."""
        return self.session.build(self.context, "cold-multi", dockerfile=self.dockerfile, platforms=list(platforms),
                                  cache=False, timeout=self.limits.build_timeout_s)

    @functools.lru_cache(maxsize=None)  # noqa: B019
    def starter_platform_build(self, platforms: tuple[str, ...]) -> build_mod.BuildResult:
        """The exercise's starter (from the solution's STARTER regions), built cold in the same context."""
        from .fixture import solution_dir
        from .release import starter_text

        source = solution_dir(self.exercise.id) / self.exercise.dockerfile
        text = starter_text(source.read_text(encoding="utf-8"), str(source))
        if self.dockerfile.read_text(encoding="utf-8", errors="replace") == text:
            return self.cold_platform_build(platforms)  # the untouched starter: one cold build is enough
        with tempfile.TemporaryDirectory(prefix="layerlab-grade-starter-") as tmp:
            df = Path(tmp) / "Dockerfile"
            df.write_text(text, encoding="utf-8")
            return self.session.build(self.context, "starter-multi", dockerfile=df, platforms=list(platforms),
                                      cache=False, timeout=self.limits.build_timeout_s)

    @functools.lru_cache(maxsize=None)  # noqa: B019
    def platform_run(self, image: str, platform: str) -> Ran:
        return self.session.run(image, None, platform=platform, timeout=self.limits.run_timeout_s)

    @functools.lru_cache(maxsize=None)  # noqa: B019
    def served(self, hardened: bool = False) -> ServeResult:
        """The image served once for every serving check of the exercise (`hardened`: --read-only and a tmpfs too).

        One container answers all the checks: health and first answer, each `predicts` body,
        and a timed stop with the `graceful_stop` request in flight.
        """
        from .checks.serve import GracefulStop, HardenedServes, Predicts, ServeCheck

        specs = [c for c in self.exercise.checks if isinstance(c, ServeCheck)]
        first = specs[0]
        kw: dict = dict(port=first.port, health_path=first.health_path, wait_s=max(c.wait_s for c in specs),
                        requests={c.path: ["POST", c.path, c.body] for c in specs if isinstance(c, Predicts)})
        stop = next((c for c in specs if isinstance(c, GracefulStop)), None)
        if hardened:
            tmpfs = next((c.tmpfs for c in specs if isinstance(c, HardenedServes)), ["/tmp"])
            kw.update(read_only=True, tmpfs=tmpfs, execs={"uid": ["id", "-u"]}, stop_grace_s=1)
        elif stop is not None:
            # A grace just above the limit: a server that ignores SIGTERM fails in seconds, not Docker's 10.
            kw.update(inflight=stop.inflight_path, stop_grace_s=int(stop.within_s) + 1)
        return self.session.serve(self.tag, **kw)

    def uname(self, image: str, platform: str) -> Ran:
        return self.session.run(image, ["-m"], entrypoint="uname", platform=platform, timeout=self.limits.run_timeout_s)

    @functools.cached_property
    def sent_files(self) -> tuple[list[str], int | None]:
        """The files the build context really sends (after .dockerignore), and its size."""
        with tempfile.TemporaryDirectory(prefix="layerlab-grade-ctx-") as tmp:
            probe = Path(tmp) / "probe.Dockerfile"
            # FROM scratch: the probe image holds the context and nothing else, so reading it back is quick.
            probe.write_text("FROM scratch\nCOPY . /ctx/\n")
            r = self.session.build(self.context, "context", dockerfile=probe, timeout=self.limits.build_timeout_s)
        report = inspector.inspect(r.tag)
        return sorted(p.removeprefix("/ctx/") for p in report.files if p.startswith("/ctx/")), r.context_bytes


def _explain_build_error(e: build_mod.BuildError) -> str:
    text = str(e)
    lines = text.splitlines()
    head = lines[0].split(" failed at ", 1)[-1] if lines else "the build"
    tail = [line for line in lines[1:] if line.strip()][-6:]
    return "failed at " + head + ("\n" + "\n".join(tail) if tail else "")
