"""What every check unit shares: the grading context, pass/fail/not-run, and the registries.

A unit (one file of this package) declares its course.yml model (a `CheckBase`
subclass with `check: Literal["<kind>"]`, see `spec`), registers its judgement with
`@check(Model)` and, when grading compares with something the solution measured,
what it records in the fixture with `@records(Model)`, into a `fixture.Section`
of its own declared beside it.

A judgement returns the detail of a pass, or raises Failed (with a hint naming the
likely cause) or NotRun (with the reason). Feedback describes the submission's own
measurements and the tolerance; it never shows the solution's files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layerlab import engine
from layerlab.engine.build import BuildError
from layerlab.ground.errors import LayerlabError

from ..dockerfile import Dockerfile
from ..fixture import Fixture
from ..report import CheckResult
from ..sandbox import TimedOut
from ..subject import NotBuilt, Subject
from .spec import CheckBase, kind

if TYPE_CHECKING:
    from ..exercise import Exercise


class NotRun(LayerlabError):
    """The check could not run; `why` says why."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


class Failed(LayerlabError):
    """The check failed: `detail` is what was measured, `hint` the likely cause."""

    def __init__(self, detail: str, hint: str):
        super().__init__(detail)
        self.detail, self.hint = detail, hint


class RecordError(LayerlabError):
    """The reference solution could not be measured; the message says why."""


@dataclass
class Context:
    exercise: Exercise
    folder: Path  # the scratch copy of the submission: checks may edit it (and grading plants a token in it)
    dockerfile: Dockerfile
    subject: Subject | None  # None: no engine
    no_engine: str = ""
    fixture: Fixture | None = None
    no_fixture: str = ""
    # State that checks share within one grading run (the compose project), by a key their unit chooses.
    extras: dict = field(default_factory=dict)
    planted: str = ""  # the token grading planted (exercise.secret): the built image must hold it nowhere
    original: str = ""  # the token the submission came with: what the student's own pushed image was built with
    submitted: Path | None = None  # the folder as handed in: read, never written
    scratch: Path | None = None  # the grading run's own temporary folder (a unit's `prepare` may write there)
    # The exercise's starter as students get it, where a unit compares with it (an autograder bundle carries
    # it); None: the unit makes it from the solution beside course.yml (the instructor's repository).
    starter: Path | None = None

    def need_subject(self) -> Subject:
        if self.subject is None:
            raise NotRun(self.no_engine)
        return self.subject

    def need_fixture(self) -> Fixture:
        if self.fixture is None:
            raise NotRun(self.no_fixture)
        return self.fixture


CheckFn = Callable[[Context, Any], str]  # returns the detail of a pass; raises Failed / NotRun
RecordFn = Callable[[Subject, Any, Fixture], None]  # writes the solution's measurement into the fixture
REGISTRY: dict[str, CheckFn] = {}  # check kind -> judgement
RECORDERS: dict[str, RecordFn] = {}  # check kind -> what recording the solution measures for it


def check(model: type[CheckBase]) -> Callable[[CheckFn], CheckFn]:
    """Register the judgement of `model`'s check kind."""

    def register(fn: CheckFn) -> CheckFn:
        REGISTRY[kind(model)] = fn
        return fn

    return register


def records(*models: type[CheckBase]) -> Callable[[RecordFn], RecordFn]:
    """Register what `layerlab record` measures on the solution for these check kinds (in course.yml's order)."""

    def register(fn: RecordFn) -> RecordFn:
        for m in models:
            RECORDERS[kind(m)] = fn
        return fn

    return register


def non_root_user(subject: Subject, hint: str) -> str:
    """The image's USER, or Failed with `hint` when it is unset or root (by name or uid 0)."""
    user = subject.image.user
    if user.split(":")[0] in ("", "root", "0"):
        raise Failed(f"the image's user is {user or 'not set (root)'}", hint)
    return user


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()]


def excerpt(text: str, n: int = 6) -> str:
    found = text.strip().splitlines()
    return "\n".join(f"| {line}" for line in found[-n:])


def redact(ctx: Context, text: str) -> str:
    """A report never carries a token in full: what grading planted, nor what the submission came with."""
    from layerlab.measure.leaks import mask

    for token in (getattr(ctx, "planted", ""), getattr(ctx, "original", "")):
        if token and token in text:
            text = text.replace(token, mask(token))
    return text


def run_check(ctx: Context, spec: CheckBase) -> CheckResult:
    result = _run_check(ctx, spec)
    result.detail, result.hint, result.why = (redact(ctx, t) for t in (result.detail, result.hint, result.why))
    return result


def _run_check(ctx: Context, spec: CheckBase) -> CheckResult:
    name = kind(type(spec))
    base: dict[str, Any] = dict(check=name, max_points=spec.points, required=spec.required)
    try:
        detail = REGISTRY[name](ctx, spec)
        return CheckResult(status="passed", points=spec.points, detail=detail, **base)
    except Failed as f:
        return CheckResult(status="failed", points=0, detail=f.detail, hint=f.hint, **base)
    except NotBuilt:
        # `builds` says why (its own judgement turns NotBuilt into a failure with a hint).
        return CheckResult(status="not run", points=0, why="the image did not build (see `builds`)", **base)
    except NotRun as e:
        return CheckResult(status="not run", points=0, why=e.why, **base)
    except TimedOut as e:
        return CheckResult(
            status="failed", points=0, detail=str(e), hint="a step waits or loops forever; make it finish", **base
        )
    except BuildError as e:
        return CheckResult(
            status="failed",
            points=0,
            detail=str(e).splitlines()[0],
            hint="a rebuild for this check failed although the first build passed",
            **base,
        )
    except engine.EngineUnavailable as e:
        return CheckResult(status="not run", points=0, why=str(e).splitlines()[0], **base)
