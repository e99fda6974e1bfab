"""The files of an exercise folder, without the caches that tools leave in it.

Recording, releasing and grading all walk or copy such a folder; they agree
on what is not part of it here, once.
"""

from __future__ import annotations

import shutil
from pathlib import Path

# Left by Python, Jupyter and pytest beside a student's files: never theirs to hand in or ours to measure.
IGNORED_DIRS = frozenset({"__pycache__", ".ipynb_checkpoints", ".pytest_cache"})


def walk(folder: Path) -> list[Path]:
    """Every file below `folder`, sorted, outside IGNORED_DIRS."""
    return [
        p for p in sorted(folder.rglob("*")) if p.is_file() and not set(p.relative_to(folder).parts[:-1]) & IGNORED_DIRS
    ]


def copy(folder: Path, dst: Path, *also: str) -> None:
    """Copy `folder` to `dst` (links followed), leaving out IGNORED_DIRS and the names in `also`."""
    shutil.copytree(folder, dst, symlinks=False, ignore=shutil.ignore_patterns(*sorted(IGNORED_DIRS), *also))
