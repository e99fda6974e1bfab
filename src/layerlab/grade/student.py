"""`layerlab release --student DIR`: the repository a student clones, without the answers.

The release is written from `git ls-files` (so nothing the repository does not
track ever ships), with each file's content as it is in the working tree, less
every path that holds an answer (`Answers`): the reference solutions with their
fixtures and hidden checks, and the lessons' challenge answers. What it leaves
out is listed, never silently dropped.

A marker file at the release's root (`settings.STUDENT_MARKER`) says what the
copy is, and each part of the course reads it: the course loads without the
challenge answers, a challenge's "show the solution" says it is with the
instructor, the grader asks for the instructor's autograder bundle instead of
reading fixtures (`NeedsAutograder`), and the test suite deselects the tests
marked `answers` (tests/answers.py), so the student's `make test` passes.
course.yml is copied byte for byte: the autograder compares a submission's
copy with its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pydantic import BaseModel

from layerlab import course as course_mod
from layerlab.course import classroom
from layerlab.ground.errors import LayerlabError
from layerlab.ground.settings import REPO, STUDENT_MARKER, student_release

from . import fixture, release

MARKER_FORMAT = "layerlab-student/1"

# (what, why): what holds an answer, and the group the release lists it under. Folders end in "/", then file names.
FOLDERS = (
    ("solutions/", "reference solutions, their fixtures and hidden checks"),
    ("notebooks/solutions/", "the lessons' challenge answers"),
)
NAMES = (
    (fixture.FIXTURE_NAME, "a fixture recorded from a reference solution"),
    (fixture.HIDDEN_NAME, "hidden checks"),
)
CHALLENGE_ANSWERS = ("challenge answers named by course.yml", "a challenge's answer, outside notebooks/solutions/")


class StudentReleaseError(LayerlabError, ValueError):
    pass


class NeedsAutograder(LayerlabError):
    """Grading in a student release, which has no fixtures, without the instructor's autograder bundle."""

    def __init__(self, exercise: str):
        super().__init__(
            f"{exercise}: this copy of the course is a student release and holds no fixtures: grading needs "
            "the instructor's autograder bundle (`layerlab grade DIR --autograder FILE`; your instructor gives you FILE)"
        )
        self.exercise = exercise


def require_fixture(exercise_id: str) -> None:
    """Raise NeedsAutograder where the grader would look for a fixture a student release does not have."""
    if student_release() and not fixture.fixture_path(exercise_id).exists():
        raise NeedsAutograder(exercise_id)


@dataclass(frozen=True)
class Answers:
    """Which paths of the course's repository hold an answer, and why (the group the release lists it under)."""

    challenge_files: frozenset[str] = frozenset()

    @classmethod
    def of(cls, course: course_mod.Course) -> Answers:
        return cls(frozenset(str(PurePosixPath(c.solution)) for m in course.modules for c in m.challenges))

    def why(self, rel: str) -> tuple[str, str] | None:
        """(group, why) for a repository-relative POSIX path that holds an answer, else None."""
        for folder, why in FOLDERS:
            if rel.startswith(folder):
                return folder, why
        name = PurePosixPath(rel).name
        for known, why in NAMES:
            if name == known:
                return f"**/{known}", why
        if rel in self.challenge_files:
            return CHALLENGE_ANSWERS
        return None


class LeftOut(BaseModel):
    path: str
    group: str
    why: str


class StudentRelease(BaseModel):
    target: str
    commit: str
    files: int
    left_out: list[LeftOut]
    modified: list[str]  # shipped with changes not committed in the source repository
    untracked: int  # files the source repository does not track: never shipped

    def groups(self) -> list[tuple[str, str, int]]:
        counts = Counter(x.group for x in self.left_out)
        why = {x.group: x.why for x in self.left_out}
        return [(g, why[g], n) for g, n in counts.items()]

    def summary(self) -> str:
        lines = [f"student release written to {self.target}: {self.files} files from commit {self.commit[:12]}"]
        lines.append("left out:" if self.left_out else "left out: nothing")
        width = max((len(g) for g, _, _ in self.groups()), default=0)
        lines += [f"  {g:<{width}}  {n:>4} file(s)  {why}" for g, why, n in self.groups()]
        if self.modified:
            lines.append(f"shipped with uncommitted changes: {', '.join(self.modified)}")
        if self.untracked:
            lines.append(f"not shipped: {self.untracked} file(s) git does not track in the source repository")
        lines.append(f'next: cd {self.target} && git init && git add -A && git commit -m "Course release"')
        return "\n".join(lines)


@dataclass
class _Entry:
    mode: str
    path: str


@dataclass
class _Plan:
    ship: list[_Entry] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)


def _git(root: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise StudentReleaseError(f"git {args[0]} failed in {root}: {e}") from None
    if out.returncode:
        msg = (out.stderr.strip().splitlines() or ["no message"])[0]
        raise StudentReleaseError(f"git {args[0]} failed in {root}: {msg} (a release is written from git's files)")
    return out.stdout


def _tracked(root: Path) -> list[_Entry]:
    """`git ls-files --stage`: each tracked path with its mode (100644/100755 file, 120000 link, 160000 submodule)."""
    entries = []
    for rec in _git(root, "ls-files", "--stage", "-z").split("\0"):
        if rec:
            meta, path = rec.split("\t", 1)
            entries.append(_Entry(meta.split()[0], path))
    return entries


def _plan(root: Path, answers: Answers) -> _Plan:
    plan = _Plan()
    for e in _tracked(root):
        reason = answers.why(e.path)
        if reason:
            plan.left_out.append(LeftOut(path=e.path, group=reason[0], why=reason[1]))
        elif e.mode == "160000":
            plan.left_out.append(LeftOut(path=e.path, group="submodules", why="a submodule: not copied"))
        elif not os.path.lexists(root / e.path):
            plan.left_out.append(
                LeftOut(path=e.path, group="deleted", why="deleted in the working tree, not committed")
            )
        else:
            plan.ship.append(e)
    return plan


def _check_link(root: Path, rel: str, answers: Answers) -> str:
    """A tracked symlink's target, if it stays inside the release and points at no answer."""
    target = os.readlink(root / rel)
    resolved = os.path.normpath(PurePosixPath(rel).parent / target)
    if os.path.isabs(target) or resolved.startswith(".."):
        raise StudentReleaseError(f"{rel} links outside the repository ({target}): replace it by a file")
    if answers.why(resolved.replace(os.sep, "/")):
        raise StudentReleaseError(f"{rel} links to {target}, which the student release leaves out")
    return target


def _check_source(root: Path, course: course_mod.Course) -> None:
    if student_release(root):
        raise StudentReleaseError(f"{root} is itself a student release: release from the instructor's repository")
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    if top.resolve() != root.resolve():
        raise StudentReleaseError(f"{root} is not the top of its git checkout ({top})")
    stale = [d.describe() for d in (release.drift(ex.id, root) for ex in course.exercises) if d.stale]
    if stale:
        # A student must get the starters of the solutions the autograder was made from.
        raise StudentReleaseError(stale[0] + (f" (and {len(stale) - 1} more)" if len(stale) > 1 else ""))


def write(target: Path | str, root: Path = REPO) -> StudentRelease:
    """Write the student release of the repository at `root` into `target`, a new or empty folder."""
    target = Path(target).resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise StudentReleaseError(f"{target} is not an empty folder: a student release is written into a new one")
    course = course_mod.load(root / "course.yml")
    _check_source(root, course)
    answers = Answers.of(course)
    plan = _plan(root, answers)
    commit = _git(root, "rev-parse", "HEAD").strip()
    changed = set(_git(root, "diff", "--name-only", "-z", "HEAD").split("\0")) - {""}
    untracked = [p for p in _git(root, "ls-files", "--others", "--exclude-standard", "-z").split("\0") if p]
    links = {e.path: _check_link(root, e.path, answers) for e in plan.ship if e.mode == "120000"}

    target.mkdir(parents=True, exist_ok=True)
    for e in plan.ship:
        dst = target / e.path
        dst.parent.mkdir(parents=True, exist_ok=True)
        if e.path in links:
            os.symlink(links[e.path], dst)
        else:
            shutil.copyfile(root / e.path, dst)
            shutil.copymode(root / e.path, dst)
    # The grading CI lives in classroom/ here; a student repository needs it where GitHub and GitLab look.
    placed = [dest for dest, src in classroom.STUDENT_FILES.items() if dest != src and (root / src).is_file()]
    for dest in placed:
        (target / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / classroom.STUDENT_FILES[dest], target / dest)
    result = StudentRelease(
        target=str(target),
        commit=commit,
        files=len(plan.ship) + len(placed) + 1,  # and the marker
        left_out=plan.left_out,
        modified=sorted(changed & {e.path for e in plan.ship}),
        untracked=len(untracked),
    )
    marker = {
        "format": MARKER_FORMAT,
        "commit": commit,
        "left_out": {g: {"files": n, "why": why} for g, why, n in result.groups()},
        "grading": "needs the instructor's autograder bundle: layerlab grade DIR --autograder FILE",
    }
    (target / STUDENT_MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return result
