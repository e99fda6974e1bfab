"""An exercise as the grader reads it: course.yml's record with its checks typed, its limits and its secret.

The course layer keeps an exercise's checks as written (kind, points, and keys it
does not read); here each is validated by its kind's model when the exercise is
loaded. A misspelt key or an unknown kind fails loudly, with the file, where, and
the names that were expected. Numbers a check compares against come from the
solution's recorded fixture; course.yml only holds tolerances (a factor, an
allowance), never a measured value.

Hidden checks (solutions/<id>/hidden.yml, see `hidden`) are validated the same
way and kept apart in `Exercise.hidden`: they run with the others (`ordered`),
and the report marks their results so a student is shown their points only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from layerlab import course as C
from layerlab.course import Strict
from layerlab.ground import settings
from layerlab.ground.errors import LayerlabError, NotFound
from layerlab.ground.settings import COURSE_FILE

from .checks.spec import CheckBase, models


class Limits(Strict):
    """What one grading run may use; a submission past these fails with "timed out after N s"."""

    build_timeout_s: int = Field(gt=0, default=600)
    run_timeout_s: int = Field(gt=0, default=60)
    memory: str = "512m"
    pids: int = Field(gt=0, default=256)
    max_output_chars: int = Field(gt=0, default=4000)
    # A folder past this is refused before it is copied or sent to the engine as a build context:
    # the exercises are kilobytes, and a grading of a class must not stall on one student's dataset.
    max_submission_mb: int = Field(gt=0, default=50)

    def scaled(self, factor: float) -> Limits:
        """The time limits for an engine `factor` times slower than the ones they were sized on."""
        if factor == 1.0:
            return self
        return self.model_copy(
            update={
                "build_timeout_s": round(self.build_timeout_s * factor),
                "run_timeout_s": round(self.run_timeout_s * factor),
            }
        )


class BuildSecret(Strict):
    """A token the build needs. Grading plants a fresh one: in `file`, in each `locked` file re-locked for it,
    as the build secret `id`, and (what a careless pipeline does) as the build argument `build_arg`.

    With `index`, the token opens the course's private package index (engine/pyindex), which grading
    starts for itself with the planted token: the secret `id` is then a pip.conf that points pip at it,
    `build_arg` the index URL with the token in it, and PIP_TRUSTED_HOST its plain-HTTP host."""

    id: str = Field(pattern=r"^[a-z0-9_-]+$", description="the secret's id: RUN --mount=type=secret,id=<id>")
    file: str = Field(description="the file, in the exercise folder, that holds the token")
    build_arg: str | None = Field(
        default=None, description="also offered as --build-arg <name>=<token>, so an ARG gets it"
    )
    locked: list[str] = Field(default_factory=list, description="files locked with the token (layerlab.leaks.lock)")
    index: list[str] = Field(
        default_factory=list,
        description="packages only the course's private index serves, behind the token: grading starts it",
    )


class Exercise(Strict):
    id: str
    module: str
    title: str
    points: int
    paths: list[str]
    dockerfile: str
    checks: list[CheckBase]  # each an instance of its kind's model
    limits: Limits
    secret: BuildSecret | None
    hidden: list[CheckBase] = Field(default_factory=list)  # for the autograder only (solutions/<id>/hidden.yml)

    @property
    def total_points(self) -> int:
        return self.points or sum(c.points for c in self.checks)

    def ordered(self) -> list[CheckBase]:
        """Every check, hidden ones included, in the order they run (see `CheckBase.order`)."""
        return sorted([*self.checks, *self.hidden], key=lambda c: c.order)

    def with_hidden(self, checks: list[CheckBase]) -> Exercise:
        return self.model_copy(update={"hidden": list(checks)})


class ExerciseError(LayerlabError):
    """The grading part of an exercise in course.yml is invalid; `problems` holds one line each."""

    def __init__(self, path: Path, exercise: str, problems: list[str]):
        self.path, self.exercise, self.problems = path, exercise, problems
        super().__init__(
            f"{path}: exercise {exercise}: {len(problems)} problem(s)\n" + "\n".join(f"  {p}" for p in problems)
        )


class UnknownExercise(NotFound):
    def __init__(self, key: str, known: list[str]):
        self.key, self.known = key, known
        super().__init__(f"no exercise {key!r} in course.yml; known: {', '.join(known) or 'none'}")


def load(exercise_id: str, course_file: Path | str = COURSE_FILE) -> Exercise:
    """The exercise `exercise_id`, typed. Raises CourseFileError, UnknownExercise or ExerciseError."""
    course_file = Path(course_file)
    found = C.load(course_file, check_files=False).exercises
    record = next((e for e in found if e.id == exercise_id), None)
    if record is None:
        raise UnknownExercise(exercise_id, [e.id for e in found])
    return typed(record, course_file)


def load_all(course_file: Path | str = COURSE_FILE) -> list[Exercise]:
    """Every exercise of course.yml, typed: a manifest test checks with it that the grader can read every check."""
    course_file = Path(course_file)
    return [typed(e, course_file) for e in C.load(course_file, check_files=False).exercises]


def typed(record: C.Exercise, path: Path) -> Exercise:
    """Validate the grader's part of a course record: every check by its kind's model, limits, secret."""
    checks, problems = typed_checks(record.checks)
    if checks and not any(c.check == "builds" for c in checks):
        problems.append("checks: every exercise needs a `builds` check: the other image checks start from its image")
    limits: Limits | None = None
    secret: BuildSecret | None = None
    try:
        limits = Limits.model_validate(record.limits).scaled(settings.time_factor())
    except ValidationError as e:
        problems += _lines("limits", e, Limits, record.limits)
    if record.secret is not None:
        try:
            secret = BuildSecret.model_validate(record.secret)
        except ValidationError as e:
            problems += _lines("secret", e, BuildSecret, record.secret)
    if problems or limits is None:
        raise ExerciseError(path, record.id, problems)
    return Exercise(
        id=record.id,
        module=record.module,
        title=record.title,
        points=record.points,
        paths=record.paths,
        dockerfile=record.dockerfile,
        checks=checks,
        limits=limits,
        secret=secret,
    )


def typed_checks(entries: list[C.CheckEntry]) -> tuple[list[CheckBase], list[str]]:
    """Each entry validated by its kind's model; the problems, one line each, say where (checks[i])."""
    problems: list[str] = []
    kinds = models()
    checks: list[CheckBase] = []
    for i, entry in enumerate(entries):
        raw = entry.model_dump()
        model = kinds.get(entry.check)
        if model is None:
            problems.append(
                f"checks[{i}].check: unknown check kind {entry.check!r} (expected one of: {', '.join(sorted(kinds))})"
            )
            continue
        try:
            checks.append(model.model_validate(raw))
        except ValidationError as e:
            problems += _lines(f"checks[{i}] ({entry.check})", e, model, raw)
    return checks, problems


def _lines(where: str, e: ValidationError, model: type[BaseModel], data: Any) -> list[str]:
    out = []
    for err in e.errors():
        at = where + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in err["loc"])
        if err["type"] == "extra_forbidden":
            inner = C.model_at(model, err["loc"])
            expected = ", ".join(inner.model_fields) if inner else "?"
            out.append(f"{at}: unknown key (expected one of: {expected})")
        else:
            got = err.get("input")
            shown = f" (got {got!r})" if got is not None and not isinstance(got, (dict, list)) else ""
            out.append(f"{at}: {err['msg']}{shown}")
    return out
