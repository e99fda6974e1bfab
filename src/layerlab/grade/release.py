"""`layerlab release`: generate exercises/<id>/ from solutions/<id>/, the one authoring source.

A solution region stays valid in its file, because every marker is a comment:

    # BEGIN SOLUTION: optional text for the TODO line
    ...the reference lines...
    # STARTER
    # ...what the student starts from, commented here...
    # END SOLUTION

The exercise gets the STARTER lines uncommented, or, without a STARTER part,
one `# TODO:` line. Files are only ever generated, never edited by hand.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from layerlab.course import Course
from layerlab.ground.settings import REPO

from . import files as folder_files
from .fixture import NOT_MEASURED

_BEGIN = re.compile(r"^(?P<indent>\s*)#\s*BEGIN SOLUTION\b:?\s*(?P<todo>.*)$")
_STARTER = re.compile(r"^\s*#\s*STARTER\s*$")
_END = re.compile(r"^\s*#\s*END SOLUTION\s*$")
_COMMENT = re.compile(r"^(?P<indent>\s*)# ?(?P<rest>.*)$")


class ReleaseError(ValueError):
    pass


def exercise_dir(exercise_id: str, root: Path = REPO) -> Path:
    return root / "exercises" / exercise_id


def starter_text(text: str, name: str = "<text>") -> str:
    """The student's version of one file: each solution region replaced by its starter or a TODO."""
    out: list[str] = []
    starter: list[str] = []
    state, indent, todo, begin_line = "out", "", "", 0
    for n, line in enumerate(text.splitlines(keepends=True), 1):
        bare = line.rstrip("\r\n")
        if state == "out":
            m = _BEGIN.match(bare)
            if m:
                state, indent, todo, begin_line, starter = "solution", m["indent"], m["todo"].strip(), n, []
            elif _STARTER.match(bare) or _END.match(bare):
                raise ReleaseError(f"{name}:{n}: {bare.strip()} without a BEGIN SOLUTION before it")
            else:
                out.append(line)
            continue
        if _BEGIN.match(bare):
            raise ReleaseError(f"{name}:{n}: BEGIN SOLUTION inside the region opened on line {begin_line}")
        if _END.match(bare):
            if state == "starter":
                out.extend(starter)
            else:
                out.append(f"{indent}# TODO: {todo or 'your solution here'}\n")
            state = "out"
        elif _STARTER.match(bare):
            state = "starter"
        elif state == "starter":
            m = _COMMENT.match(bare)
            if not m and bare.strip():
                raise ReleaseError(
                    f"{name}:{n}: a STARTER line must be commented out in the solution (start it with #)"
                )
            starter.append((m["indent"] + m["rest"] if m else "") + "\n")
    if state != "out":
        raise ReleaseError(f"{name}:{begin_line}: BEGIN SOLUTION is never closed by END SOLUTION")
    return "".join(out)


def source_files(solution: Path) -> list[Path]:
    """What the exercise is made from: everything but the fixture, the hidden checks and generated files."""
    return [p for p in folder_files.walk(solution) if p.name not in NOT_MEASURED and p.suffix != ".ipynb"]


def expected(exercise_id: str, root: Path = REPO) -> dict[str, bytes]:
    """relative path -> content of the generated exercise folder."""
    solution = root / "solutions" / exercise_id
    if not solution.is_dir():
        raise ReleaseError(f"no solutions/{exercise_id}/ folder: an exercise is generated from its solution")
    files: dict[str, bytes] = {}
    for p in source_files(solution):
        rel = str(p.relative_to(solution))
        raw = p.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            files[rel] = raw  # binary data: copied as it is; it cannot hold markers
            continue
        files[rel] = starter_text(text, f"solutions/{exercise_id}/{rel}").encode("utf-8")
    return files


@dataclass
class Drift:
    exercise: str
    missing: list[str] = field(default_factory=list)  # generated but absent
    changed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # present but not generated

    @property
    def stale(self) -> bool:
        return bool(self.missing or self.changed or self.extra)

    def describe(self) -> str:
        parts = [
            f"{k}: {', '.join(v)}"
            for k, v in (("missing", self.missing), ("changed", self.changed), ("extra", self.extra))
            if v
        ]
        return f"exercises/{self.exercise}/ is stale ({'; '.join(parts)}): run `layerlab release {self.exercise}`"


def _present(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder_files.walk(folder) if p.suffix != ".ipynb"}


def drift(exercise_id: str, root: Path = REPO) -> Drift:
    want, have = expected(exercise_id, root), _present(exercise_dir(exercise_id, root))
    return Drift(
        exercise_id,
        missing=sorted(set(want) - set(have)),
        changed=sorted(k for k in set(want) & set(have) if want[k] != have[k]),
        extra=sorted(set(have) - set(want)),
    )


def release(exercise_id: str, root: Path = REPO) -> list[Path]:
    """Write exercises/<id>/ from solutions/<id>/; returns the files written or removed."""
    files = expected(exercise_id, root)  # raises before anything is touched
    target = exercise_dir(exercise_id, root)
    touched: list[Path] = []
    for rel in set(_present(target)) - set(files):
        (target / rel).unlink()
        touched.append(target / rel)
    for rel, content in files.items():
        dst = target / rel
        if dst.exists() and dst.read_bytes() == content:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(content)
        shutil.copymode(root / "solutions" / exercise_id / rel, dst)
        touched.append(dst)
    return touched


def unpaired(course: Course, root: Path = REPO) -> list[str]:
    """Exercises without a solution or an exercise folder, and folders no exercise declares."""
    declared = {e.id for e in course.exercises}
    problems = []
    for kind in ("solutions", "exercises"):
        folder = root / kind
        present = {p.name for p in folder.iterdir() if p.is_dir()} if folder.is_dir() else set()
        for missing in sorted(declared - present):
            problems.append(
                f"{kind}/{missing}/ is missing" + (" (run `layerlab release`)" if kind == "exercises" else "")
            )
        for extra in sorted(present - declared):
            problems.append(f"{kind}/{extra}/ belongs to no exercise in course.yml")
    return problems
