"""The course layer: course.yml and what a learner or instructor sees.

This package's own code is course.yml's schema, the manifest of modules and
exercises; its modules run lessons (`notebooks`, `lesson`), show results
(`plots`, `widgets`), make a learner act (`activities`, `challenges`) and
check the machine (`doctor`, and `needs`: can a lesson run here).

course.yml is read into a strict typed schema.
A typo in a key or a wrong type fails with the file, the key and what was
expected, instead of being silently ignored.
The grading part of an exercise (what each check's keys
mean, the limits, the secret) is the grader's: `layerlab.grade.exercise`
validates it, with the same reporting, when it loads an exercise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from layerlab.ground import settings
from layerlab.ground.errors import LayerlabError, NotFound
from layerlab.ground.settings import COURSE_FILE, REPO  # noqa: F401 - re-exported: course.REPO is where callers look

# Judged against the engine in course/needs.py; "containerd": an image store that keeps multi-platform images.
Need = Literal["engine", "buildx", "containerd", "qemu", "gpu", "cuda", "vm", "compose", "registry"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- Activities: predict then measure, a short challenge, check your understanding ---
# Declared here so that the instructor page and a quiz export can show them; the
# widgets that render them are in layerlab.course.activities.


class Prediction(Strict):
    """A number the learner guesses before the cell that measures it runs."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="used by the notebook: predict('01', '<id>')")
    question: str
    unit: str = Field(description="the unit of the guess and the measurement: 'x', 'MB', 'steps', '%' ...")
    why: str = Field(
        description="one line that explains what the measurement shows, displayed next to it after the run"
    )


class Challenge(Strict):
    """A 5-10 minute task inline in the lesson, with a quick check and a solution hidden until asked for."""

    id: str = Field(pattern=r"^[0-9]{2}-[a-z0-9-]+$", description="'<module>-<slug>': the name layerlab.check() takes")
    title: str
    minutes: int = Field(ge=1, le=15)
    solution: str = Field(description="file with the solution, from the repo root; loaded only when the learner asks")


class Question(Strict):
    """A multiple-choice question (`choices`, `answer` is one of them) or a numeric one (`answer` a number, `tolerance`)."""

    prompt: str
    choices: list[str] | None = None
    answer: str | float
    tolerance: float = Field(ge=0, default=0, description="numeric questions: accepted |given - answer|")
    unit: str = ""
    explanation: str = Field(min_length=1, description="why the right answer is right; shown once the learner answers")

    @model_validator(mode="after")
    def _answer_fits(self) -> Question:
        if self.choices is not None:
            if len(self.choices) < 2 or len(set(self.choices)) != len(self.choices):
                raise ValueError("a multiple-choice question needs two or more different choices")
            if not isinstance(self.answer, str) or self.answer not in self.choices:
                raise ValueError(f"answer must be one of the choices, word for word (got {self.answer!r})")
            if self.tolerance:
                raise ValueError("tolerance is for numeric questions (no choices)")
        elif isinstance(self.answer, str):
            raise ValueError("a question without choices is numeric: its answer must be a number")
        return self


class Module(Strict):
    id: str = Field(description="two digits, the order of the module: '00', '01', ...")
    slug: str = Field(description="short name used in file names")
    title: str
    notebook: str = Field(description="path of the notebook's text source (jupytext percent), from the repo root")
    teaching_minutes: int = Field(ge=0)
    exercise_minutes: int = Field(ge=0, default=0)
    objectives: list[str] = Field(min_length=1)
    key_points: list[str] = Field(min_length=1)
    needs: list[Need] = Field(default_factory=list, description="what the module needs from the machine")
    seeds: list[str] = Field(default_factory=list, description="source material it draws on")
    predictions: list[Prediction] = Field(default_factory=list, description="numbers to guess before they are measured")
    challenges: list[Challenge] = Field(default_factory=list, description="short inline tasks with a quick check")
    quiz: list[Question] = Field(default_factory=list, description="check your understanding, at the end of the lesson")

    @field_validator("id")
    @classmethod
    def _two_digits(cls, v: str) -> str:
        if not (len(v) == 2 and v.isdigit()):
            raise ValueError("a module id is two digits, like '03'")
        return v

    @model_validator(mode="after")
    def _activity_ids(self) -> Module:
        ids = [p.id for p in self.predictions]
        if len(set(ids)) != len(ids):
            raise ValueError(f"prediction ids repeat: {ids}")
        for c in self.challenges:
            if not c.id.startswith(self.id + "-"):
                raise ValueError(f"challenge {c.id} must start with the module id {self.id}-")
        return self

    def prediction(self, key: str) -> Prediction:
        for p in self.predictions:
            if p.id == key:
                return p
        raise NotFound(
            f"module {self.id} declares no prediction {key!r}; known: {', '.join(p.id for p in self.predictions) or 'none'}"
        )


# --- Exercises and their checks -------------------------------------------
# The course page needs an exercise's id, title, files and points; what a check means is the
# grader's (layerlab.grade.exercise validates each check, typed, when it loads an exercise, and
# reports a typo with that check's own keys). So a check here is its kind, points and whether it
# is required, with its other keys kept as written.


class CheckEntry(BaseModel):
    """One check of course.yml as the course sees it; its parameters are the grader's to validate."""

    model_config = ConfigDict(extra="allow")

    check: str = Field(description="the kind of check: the grader knows each kind and its keys")
    points: int = Field(ge=0, default=1, description="points earned when the check passes")
    required: bool = Field(default=True, description="a required check must pass for the exercise to pass")


class Exercise(Strict):
    id: str = Field(description="'<module>-<slug>', also the folder name under solutions/ and exercises/")
    module: str = Field(description="id of the module the exercise belongs to")
    title: str
    points: int = Field(ge=0, default=0, description="total; 0 means the sum of the checks' points")
    paths: list[str] = Field(
        min_length=1, description="the files the student edits and hands in, relative to the exercise folder"
    )
    dockerfile: str = "Dockerfile"
    checks: list[CheckEntry] = Field(min_length=1)
    limits: dict[str, Any] = Field(default_factory=dict, description="what one grading run may use (the grader's keys)")
    secret: dict[str, Any] | None = Field(default=None, description="a token the build needs (the grader's keys)")

    @property
    def total_points(self) -> int:
        return self.points or sum(c.points for c in self.checks)


class Course(Strict):
    title: str
    description: str
    modules: list[Module] = Field(min_length=1)
    exercises: list[Exercise] = Field(default_factory=list)

    def exercise(self, key: str) -> Exercise:
        for e in self.exercises:
            if e.id == key:
                return e
        known = ", ".join(e.id for e in self.exercises) or "none"
        raise NotFound(f"no exercise {key!r} in course.yml; known: {known}")

    def challenge(self, key: str) -> Challenge:
        for m in self.modules:
            for c in m.challenges:
                if c.id == key:
                    return c
        known = ", ".join(c.id for m in self.modules for c in m.challenges) or "none"
        raise NotFound(f"no challenge {key!r} in course.yml; known: {known}")

    def module(self, key: str) -> Module:
        for m in self.modules:
            if key in (m.id, m.slug, f"{m.id}-{m.slug}"):
                return m
        raise NotFound(
            f"no module {key!r} in course.yml; known: {', '.join(m.id + '-' + m.slug for m in self.modules)}"
        )


class CourseFileError(LayerlabError, ValueError):
    pass


def _where(loc: tuple, data: Any) -> str:
    parts = []
    node = data
    for key in loc:
        if isinstance(key, int):
            label: int | str = key
            if isinstance(node, list) and key < len(node) and isinstance(node[key], dict) and "id" in node[key]:
                label = f"{key} (id {node[key]['id']})"
            parts.append(f"[{label}]")
            node = node[key] if isinstance(node, list) and key < len(node) else None
        else:
            parts.append(f".{key}" if parts else str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts)


def load(path: Path | str = COURSE_FILE, *, check_files: bool = True) -> Course:
    """course.yml, validated. `check_files=False` skips checking that each lesson's notebook and
    challenge answer exist beside it: the grader reads only the exercises, and grades from copies of
    course.yml that travel without the lessons (an autograder bundle, a student's repository)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CourseFileError(f"{path}: not found") from None
    except yaml.YAMLError as e:
        raise CourseFileError(f"{path}: not valid YAML: {e}") from None
    try:
        course = Course.model_validate(data)
    except ValidationError as e:
        lines = [f"{path}: {len(e.errors())} problem(s)"]
        for err in e.errors():
            where = _where(err["loc"], data)
            if err["type"] == "extra_forbidden":
                model = model_at(Course, err["loc"])
                expected = ", ".join(model.model_fields) if model else "?"
                lines.append(f"  {where}: unknown key (expected one of: {expected})")
            else:
                got = err.get("input")
                shown = f" (got {got!r})" if got is not None and not isinstance(got, (dict, list)) else ""
                lines.append(f"  {where}: {err['msg']}{shown}")
        raise CourseFileError("\n".join(lines)) from None
    ids = [m.id for m in course.modules]
    if len(set(ids)) != len(ids):
        raise CourseFileError(f"{path}: module ids repeat: {ids}")
    for m in course.modules if check_files else []:
        if not (path.parent / m.notebook).is_file():
            raise CourseFileError(f"{path}: modules[{m.id}].notebook: {m.notebook} does not exist")
        for c in m.challenges:
            # A student release leaves the answers out on purpose (grade/student.py).
            if not (path.parent / c.solution).is_file() and not settings.student_release(path.parent):
                raise CourseFileError(
                    f"{path}: modules[{m.id}].challenges[{c.id}].solution: {c.solution} does not exist"
                )
    ex_ids = [e.id for e in course.exercises]
    if len(set(ex_ids)) != len(ex_ids):
        raise CourseFileError(f"{path}: exercise ids repeat: {ex_ids}")
    for ex in course.exercises:
        if ex.module not in ids:
            raise CourseFileError(
                f"{path}: exercises[{ex.id}].module: no module {ex.module!r} (expected one of: {', '.join(ids)})"
            )
    return course


def model_at(model: type[BaseModel] | None, loc: tuple) -> type[BaseModel] | None:
    """The model that holds the last key of a validation error's `loc`, starting from `model`: its field names are
    what a typo report lists as expected (the grader's check models use it too)."""
    for key in loc[:-1]:
        if isinstance(key, int) or model is None:
            continue
        field = model.model_fields.get(key)
        ann = getattr(field, "annotation", None)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
            continue
        args = getattr(ann, "__args__", ())
        model = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return model
