"""Fixtures: what the reference solution measured, recorded by `layerlab record <id>`.

Checks compare a submission with these numbers within the tolerances of
course.yml, so no expected value is ever typed in by hand. The digest of the
solution's files says when a fixture is stale.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from layerlab.engine.result import Result
from layerlab.ground.errors import LayerlabError
from layerlab.ground.settings import REPO

from . import files

FIXTURE_NAME = "fixture.json"
HIDDEN_NAME = "hidden.yml"  # the solution's hidden checks (grade/hidden.py): the autograder's, never a student's
# Files beside the solution that are not part of what is built and measured, nor of what a student gets.
NOT_MEASURED = {FIXTURE_NAME, HIDDEN_NAME}


def solution_dir(exercise_id: str) -> Path:
    return REPO / "solutions" / exercise_id


def fixture_path(exercise_id: str) -> Path:
    return solution_dir(exercise_id) / FIXTURE_NAME


def measured_files(folder: Path, notebook: str) -> list[Path]:
    """The files whose content decides the measurements: all but the fixture and the notebook."""
    return [p for p in files.walk(folder) if p.name not in NOT_MEASURED and p.name != notebook and p.suffix != ".ipynb"]


def digest(folder: Path, notebook: str) -> str:
    h = hashlib.sha256()
    for p in measured_files(folder, notebook):
        h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


class Section(BaseModel):
    """What one check unit recorded on the solution, declared by the unit beside its `@records`.

    `name` is its key in the fixture's `sections`; checks of one unit (the serving family) share one.
    """

    model_config = ConfigDict(extra="forbid")

    name: ClassVar[str]


S = TypeVar("S", bound=Section)


class Fixture(Result):
    exercise: str
    recorded_at: str
    engine: str  # "docker 26.1.5 (containerd image store) on linux/amd64"
    host_platform: str
    solution_digest: str
    # The image every check starts from.
    size_bytes: int
    compressed_bytes: int
    layers: int
    layer_sizes: list[int]
    wasted_bytes: int
    user: str
    entrypoint: list[str] | None
    cmd: list[str] | None
    context_bytes: int | None
    # The base the solution was measured on, and what the solution adds above it: checks compare
    # these, so a fixture recorded on a stand-in grades a submission built on the official image.
    base_ref: str | None = None
    base_image_id: str | None = None
    base_standin: bool | None = None
    base_bytes: int | None = None
    added_bytes: int | None = None
    base_wasted_bytes: int | None = None
    added_wasted_bytes: int | None = None
    # What each check unit measured for its checks, by section name (see Section); the fixture
    # does not know the units' models, each unit reads its own back with `section()`.
    sections: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def section(self, model: type[S]) -> S | None:
        """The section `model` recorded, typed; None when the solution was recorded without it."""
        raw = self.sections.get(model.name)
        return None if raw is None else model.model_validate(raw)

    def put(self, section: Section) -> None:
        self.sections[section.name] = section.model_dump(mode="json")

    def describe(self) -> str:
        base = ""
        if self.base_ref:
            base = f", on base {self.base_ref} ({'stand-in' if self.base_standin else 'official'}, {(self.base_bytes or 0) / 1e6:.1f} MB)"
        return f"fixture recorded {self.recorded_at} on {self.engine}{base}"


class NoFixture(LayerlabError, LookupError):
    pass


def load(exercise_id: str) -> Fixture:
    p = fixture_path(exercise_id)
    if not p.exists():
        raise NoFixture(f"no fixture recorded for {exercise_id}: run `layerlab record {exercise_id}` with an engine")
    return Fixture.model_validate_json(p.read_text(encoding="utf-8"))


def save(f: Fixture) -> Path:
    p = fixture_path(f.exercise)
    p.write_text(json.dumps(f.model_dump(mode="json"), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return p
