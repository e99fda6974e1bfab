"""course.yml: the manifest of modules and exercises, as a strict typed schema.

A typo in a key or a wrong type fails with the file, the key and what was
expected, instead of being silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

REPO = Path(__file__).resolve().parents[2]
COURSE_FILE = REPO / "course.yml"

Need = Literal["engine", "buildx", "qemu", "gpu", "vm", "compose"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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

    @field_validator("id")
    @classmethod
    def _two_digits(cls, v: str) -> str:
        if not (len(v) == 2 and v.isdigit()):
            raise ValueError("a module id is two digits, like '03'")
        return v


class Exercise(Strict):
    id: str
    module: str
    title: str
    points: int = Field(ge=0, default=0)


class Course(Strict):
    title: str
    description: str
    modules: list[Module] = Field(min_length=1)
    exercises: list[Exercise] = Field(default_factory=list)

    def module(self, key: str) -> Module:
        for m in self.modules:
            if key in (m.id, m.slug, f"{m.id}-{m.slug}"):
                return m
        raise KeyError(f"no module {key!r} in course.yml; known: {', '.join(m.id + '-' + m.slug for m in self.modules)}")


class CourseFileError(ValueError):
    pass


def _where(loc: tuple, data) -> str:
    parts = []
    node = data
    for key in loc:
        if isinstance(key, int):
            label = key
            if isinstance(node, list) and key < len(node) and isinstance(node[key], dict) and "id" in node[key]:
                label = f"{key} (id {node[key]['id']})"
            parts.append(f"[{label}]")
            node = node[key] if isinstance(node, list) and key < len(node) else None
        else:
            parts.append(f".{key}" if parts else str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts)


def load(path: Path | str = COURSE_FILE) -> Course:
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
                model = _model_at(err["loc"])
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
    for m in course.modules:
        if not (path.parent / m.notebook).is_file():
            raise CourseFileError(f"{path}: modules[{m.id}].notebook: {m.notebook} does not exist")
    return course


def _model_at(loc: tuple) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Course
    for key in loc[:-1]:
        if isinstance(key, int) or model is None:
            continue
        field = model.model_fields.get(key)
        ann = getattr(field, "annotation", None)
        args = getattr(ann, "__args__", ())
        model = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return model
