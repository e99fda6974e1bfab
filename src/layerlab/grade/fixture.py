"""Fixtures: what the reference solution measured, recorded by `layerlab record <id>`.

Checks compare a submission with these numbers within the tolerances of
course.yml, so no expected value is ever typed in by hand. The digest of the
solution's files says when a fixture is stale.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import Field

from layerlab.engine.result import Result
from layerlab.ground.settings import REPO
from . import files

FIXTURE_NAME = "fixture.json"
# Files beside the solution that are not part of what is built and measured.
NOT_MEASURED = {FIXTURE_NAME}


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


class Fixture(Result):
    exercise: str
    recorded_at: str
    engine: str  # "docker 26.1.5 (containerd image store) on linux/amd64"
    host_platform: str
    solution_digest: str
    size_bytes: int
    compressed_bytes: int
    layers: int
    layer_sizes: list[int]
    wasted_bytes: int
    user: str
    entrypoint: list[str] | None
    cmd: list[str] | None
    output: str  # of the runs_and_prints command
    exit_code: int
    context_bytes: int | None
    code_edit_reruns: dict[str, list[str]] = Field(default_factory=dict)  # code file -> steps re-run
    platforms: dict[str, str] = Field(default_factory=dict)  # platform -> `uname -m`
    platform_sizes: dict[str, int] = Field(default_factory=dict)  # platform -> uncompressed bytes (multi-platform build)
    platform_seconds: dict[str, float] = Field(default_factory=dict)  # platform -> step seconds of a cold build
    # A server (exercise 07): first_ok_s, healthy_s, stop_s, and the answers to the `predicts` checks by path.
    serving: dict[str, Any] = Field(default_factory=dict)
    paths_present: dict[str, list[str]] = Field(default_factory=dict)  # glob -> first matches
    paths_absent: dict[str, list[str]] = Field(default_factory=dict)  # glob -> matches (empty)
    http_body: str | None = None  # what the compose stack's service answered (compose_up_predicts)
    # The base the solution was measured on, and what the solution adds above it: checks compare
    # these, so a fixture recorded on a stand-in grades a submission built on the official image.
    base_ref: str | None = None
    base_image_id: str | None = None
    base_standin: bool | None = None
    base_bytes: int | None = None
    added_bytes: int | None = None
    base_wasted_bytes: int | None = None
    added_wasted_bytes: int | None = None

    def describe(self) -> str:
        base = ""
        if self.base_ref:
            base = f", on base {self.base_ref} ({'stand-in' if self.base_standin else 'official'}, {(self.base_bytes or 0) / 1e6:.1f} MB)"
        return f"fixture recorded {self.recorded_at} on {self.engine}{base}"


class NoFixture(LookupError):
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
