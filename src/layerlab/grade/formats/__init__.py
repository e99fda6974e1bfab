"""Report formats: one module per format, each a pure function from a grading `Report` to text.

`layerlab grade --format NAME` picks one; `FORMATS` lists them, in the order the
CLI shows them. A format module registers its renderer with `@fmt(...)`, and
every module of this package is imported here, so adding a format is one file.
A renderer only reads the report and the `Context` it is given (the environment
variables a CI system sets, the time of grading); writing the text somewhere is
the caller's job (`Format.env_file`: the environment variable naming a file the
CLI appends to, as GitHub's job summary wants).

Every renderer keeps points integers, tells `not run` apart from `failed` where
its format can say so, shows each failed check's hint and each not-run check's
reason, and only what the report holds: the report never carries the solution.

`Context.audience` says who reads the text. Registration wraps each renderer so
that it is handed `report.for_audience(...)`: for a student, a hidden check's
points and a neutral line, whichever format, and no renderer can forget it.
Student is the default; the instructor's view is asked for by name. Flags (what
a submission changed that grading ignored) are shown wherever a format can
carry them.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from layerlab.grade.report import Audience, CheckResult, Report


@dataclass(frozen=True)
class Context:
    """What a renderer may read besides the report: the environment a CI system set, now, and who reads it."""

    env: Mapping[str, str] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    audience: Audience = "student"


Renderer = Callable[["Report", Context], str]


@dataclass(frozen=True)
class Format:
    name: str
    help: str
    render: Renderer
    order: int = 50  # the CLI lists formats by this, then by name
    env_file: str | None = None  # when this variable names a file, the CLI appends the text there


FORMATS: dict[str, Format] = {}


def fmt(name: str, help: str, *, order: int = 50, env_file: str | None = None) -> Callable[[Renderer], Renderer]:
    """Register a renderer under `name` (what `--format` accepts)."""

    def register(render: Renderer) -> Renderer:
        if name in FORMATS:
            raise ValueError(f"format {name!r} is registered twice")

        @functools.wraps(render)
        def for_reader(report: Report, ctx: Context) -> str:
            return render(report.for_audience(ctx.audience), ctx)

        FORMATS[name] = Format(name, help, for_reader, order, env_file)
        return for_reader

    return register


def names() -> list[str]:
    return [f.name for f in sorted(FORMATS.values(), key=lambda f: (f.order, f.name))]


def render(name: str, report: Report, ctx: Context | None = None) -> str:
    return FORMATS[name].render(report, ctx or Context())


MARK = {"passed": "pass", "failed": "FAIL", "not run": "NOT RUN"}


def explain(r: CheckResult) -> str:
    """A check's own text, as each format shows it: what was measured, then the hint or why it did not run."""
    lines = [r.detail] if r.detail else []
    if r.status == "failed" and r.hint:
        lines.append(f"hint: {r.hint}")
    if r.status == "not run":
        lines.append(f"not checked: {r.why}" if r.why else "not checked")
    return "\n".join(lines)


def verdict(report: Report) -> str:
    return f"{report.exercise}: {'PASSED' if report.passed else 'FAILED'}, {report.points}/{report.max_points} points"


for _unit in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_unit.name}")

__all__ = ["FORMATS", "Context", "Format", "explain", "fmt", "names", "render", "verdict"]
