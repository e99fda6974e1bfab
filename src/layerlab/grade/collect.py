"""A class's submissions as an instructor collects them: one entry per student in a folder.

An entry is a folder, a git repository, or a git bundle (`NAME.bundle`, cloned
first). Where it holds the exercise's folder (`exercises/<id>/` or `<id>/`, as a
student's copy of the course repository does), that folder is what is graded.
Names that are not UTF-8 are made printable (`\\xNN`) for everything written.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from layerlab.ground.errors import LayerlabError
from layerlab.ground.text import last_line, printable

GIT_TIMEOUT_S = 120.0


class NoSubmissions(LayerlabError):
    """SUBMISSIONS is no folder, or holds no submission."""


@dataclass(frozen=True)
class Submission:
    student: str  # the entry's name (a bundle's without .bundle), printable
    entry: Path  # as found in SUBMISSIONS
    kind: Literal["folder", "repository", "bundle"]


def find(submissions: Path, out: Path) -> tuple[list[Submission], list[str]]:
    """One Submission per student entry (sorted by name), and a line for each entry that is none."""
    if not submissions.is_dir():
        raise NoSubmissions(
            f"{printable(str(submissions))} is not a folder: pass the folder that holds one entry per student"
        )
    found: list[Submission] = []
    skipped: list[str] = []
    taken: set[str] = set()
    for entry in sorted(submissions.iterdir(), key=lambda p: os.fsencode(p.name)):
        name = printable(entry.name)
        if entry.name.startswith(".") or entry.resolve() == out.resolve():
            continue  # the collection's own .git, editors' files, the gradebook's folder
        kind: Literal["folder", "repository", "bundle"]
        if entry.is_dir():
            kind, student = ("repository" if (entry / ".git").exists() else "folder"), name
        elif entry.is_file() and entry.name.endswith(".bundle"):
            kind, student = "bundle", name.removesuffix(".bundle")
        else:
            skipped.append(f"{name}: not a folder, a git repository or a .bundle file")
            continue
        if student in taken:  # alice/ and alice.bundle: the second keeps its whole name
            student = name
        taken.add(student)
        found.append(Submission(student, entry, kind))
    if not found:
        raise NoSubmissions(
            f"no submissions in {printable(str(submissions))}: want one folder, git repository or .bundle per student"
        )
    return found, skipped


def exercise_folder(root: Path, exercise_id: str) -> Path:
    """The exercise's folder inside a student's copy of the course (`exercises/<id>`, `<id>`), else `root`.
    A candidate that leads out of `root` through a link is not taken: the grader then reports the link."""
    real = root.resolve()
    for candidate in (root / "exercises" / exercise_id, root / exercise_id):
        if candidate.is_dir() and real in candidate.resolve().parents:
            return candidate
    return root


def clone(bundle: Path, dest: Path) -> str:
    """Clone a git bundle into dest; return a problem, or ''."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1"}
    try:
        r = subprocess.run(
            ["git", "clone", "--quiet", "--", str(bundle), str(dest)],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=GIT_TIMEOUT_S,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        return "git is not installed here: install it to grade .bundle submissions"
    except subprocess.TimeoutExpired:
        return f"cloning the git bundle took longer than {GIT_TIMEOUT_S:.0f} s"
    if r.returncode:
        return f"the git bundle could not be cloned: {last_line(r.stderr, f'git exited with {r.returncode}')}"
    return ""
