"""The graded subject: one submission (or the solution, when recording), built once and measured.

Each measurement is taken once, when the first check needs it, so a check
that is not declared costs nothing; grading and recording share this code,
so a fixture and a submission are always measured the same way. What every
image check reads (the build, the image, its base, a run) is here; a check
unit's own measurements (serving, multi-platform builds, code-edit rebuilds,
the build context) live in the unit and are kept for the run with `once`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from layerlab.engine import build as build_mod
from layerlab.ground import settings
from layerlab.ground.errors import LayerlabError
from layerlab.measure import inspector

from .dockerfile import parse as parse_dockerfile
from .sandbox import Ran, Session, TimedOut

if TYPE_CHECKING:
    from .exercise import Exercise

T = TypeVar("T")


class NotBuilt(LayerlabError):
    """The image did not build, so nothing about it can be measured; the message says why."""


class Subject:
    def __init__(self, exercise: Exercise, context: Path, session: Session):
        self.exercise, self.context, self.session = exercise, context, session
        self.limits = exercise.limits
        self.build_error: str | None = None
        self._built: build_mod.BuildResult | None = None
        self._kept: dict[Hashable, object] = {}

    def once(self, key: Hashable, measure: Callable[[], T]) -> T:
        """A check unit's own measurement, taken the first time one of its checks asks and kept for the
        run's other checks (and for recording, which measures the solution through the same Subject).
        `key` starts with the unit's name, so two units never share one by accident."""
        if key not in self._kept:
            self._kept[key] = measure()
        return self._kept[key]  # type: ignore[return-value]  # stored by this same key and measure

    @property
    def dockerfile(self) -> Path:
        return self.context / self.exercise.dockerfile

    def build(self) -> build_mod.BuildResult:
        """The first (cold-cache-allowed) build; its failure is remembered, not retried."""
        if self._built is None and self.build_error is None:
            try:
                self._built = self.session.build(
                    self.context, "main", dockerfile=self.dockerfile, timeout=self.limits.build_timeout_s
                )
            except TimedOut as e:
                scaled = f" x {settings.time_factor():g} (LAYERLAB_TIME_FACTOR)" if settings.time_factor() != 1 else ""
                self.build_error = f"{e} (limit from course.yml: limits.build_timeout_s{scaled})"
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

    @functools.cache  # noqa: B019 - one Subject per grading run
    def run(self, command: tuple[str, ...] | None = None) -> Ran:
        return self.session.run(self.tag, list(command) if command else None, timeout=self.limits.run_timeout_s)


def _explain_build_error(e: build_mod.BuildError) -> str:
    text = str(e)
    lines = text.splitlines()
    head = lines[0].split(" failed at ", 1)[-1] if lines else "the build"
    tail = [line for line in lines[1:] if line.strip()][-6:]
    return "failed at " + head + ("\n" + "\n".join(tail) if tail else "")
