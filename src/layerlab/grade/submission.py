"""A submission as handed in: what makes grading pointless (bad input), the copy grading works on, its token.

Bad input (no Dockerfile, a typo in it, a missing or non-UTF-8 file, a file
name that is not UTF-8, a path outside the exercise, a link out of the folder,
to nowhere or in a loop, a folder past the exercise's size limit) becomes one
report line each, never a traceback, and no build is attempted. Paths in those
lines go through `printable`, so a report on a folder with a non-UTF-8 name
still writes as JSON.

This is the first half of the sandbox: nothing outside the submission's folder
enters the copy that is built (the build context), so a build reads nothing else
of the grading machine's (another submission, the solutions, the autograder). The
second half is the engine's: a build sees its context and its base images only,
and sandbox.Session runs the result without network or mounts.
"""

from __future__ import annotations

import os
from pathlib import Path

from layerlab.engine import pyindex
from layerlab.ground.text import printable
from layerlab.measure import leaks

from . import files
from .dockerfile import Dockerfile, parse
from .exercise import Exercise
from .fixture import FIXTURE_NAME, HIDDEN_NAME
from .sandbox import Session

TEXT_SUFFIXES = {"", ".py", ".txt", ".toml", ".cfg", ".ini", ".yml", ".yaml", ".json", ".sh", ".md", ".in", ".lock"}


def check_input(ex: Exercise, folder: Path) -> tuple[list[str], Dockerfile | None]:
    """Problems that make grading pointless, each as one line that says what to do."""
    shown = printable(str(folder))
    if not folder.exists():
        return [f"{shown} does not exist: pass the folder that holds your {ex.dockerfile}"], None
    if not folder.is_dir():
        return [f"{shown} is not a folder: pass the folder that holds your {ex.dockerfile}"], None
    root = folder.resolve()
    too_big = _past_size(folder, ex.limits.max_submission_mb)
    if too_big:
        return [too_big], None  # walked no further: the rest would read every file of it
    problems = _names_and_links(folder, root)
    for rel in ex.paths:
        if not _inside(Path(os.path.normpath(root / rel)), root):  # the name, not where a link points
            problems.append(f"course.yml names {rel}, a path outside the exercise folder")
            continue
        p = folder / rel
        if p.is_symlink():
            continue  # reported above when it leaves the folder
        if not p.exists():
            problems.append(f"no {rel} in {shown}: the exercise hands in {', '.join(ex.paths)}")
            continue
        if p.is_file() and (p.suffix in TEXT_SUFFIXES or p.name.startswith(".")):
            bad = _not_utf8(p)
            if bad:
                problems.append(f"{rel} is not UTF-8 text ({bad}): save it as UTF-8")
    dockerfile_path = folder / ex.dockerfile
    if not dockerfile_path.is_file():
        if not any(ex.dockerfile in line for line in problems):
            problems.append(f"no {ex.dockerfile} in {shown}: the exercise is graded by building it")
        return problems, None
    if (bad := _not_utf8(dockerfile_path)) and not any(
        line.startswith(f"{ex.dockerfile} is not UTF-8") for line in problems
    ):
        problems.append(f"{ex.dockerfile} is not UTF-8 text ({bad}): save it as UTF-8")
    if problems:
        return problems, None
    df = parse(dockerfile_path.read_text(encoding="utf-8"))
    provided = {os.path.normpath(p) for c in ex.checks for p in c.provides()}  # written by grading itself
    for ins in df.unknown:
        problems.append(
            f"{ex.dockerfile} line {ins.line}: unknown instruction {ins.keyword} (a typo? instructions are FROM, RUN, COPY, ...)"
        )
    if not any(i.keyword == "FROM" for i in df.instructions):
        problems.append(f"{ex.dockerfile} has no FROM line: an image starts from a base image")
    for ins in df.instructions:
        if ins.keyword not in ("COPY", "ADD") or "from" in ins.flags or "<<" in ins.args:
            continue
        for src in ins.sources():
            if "://" in src or src.startswith("git@"):
                continue
            target = (folder / src).resolve()
            if not _inside(target, root):
                problems.append(
                    f"{ex.dockerfile} line {ins.line}: {ins.keyword} {src} reaches outside the exercise folder; copy files from inside it"
                )
            elif (
                not any(ch in src for ch in "*?[")
                and "$" not in src
                and not target.exists()
                and os.path.normpath(src) not in provided
            ):
                problems.append(
                    f"{ex.dockerfile} line {ins.line}: {ins.keyword} {src}: no such file in the exercise folder"
                )
    return problems, df


def _past_size(folder: Path, limit_mb: int) -> str:
    """A problem when the files below `folder` (links not followed, caches left out) pass `limit_mb`, else ''.
    Sizes are read from the directory entries, so a folder of several GB is refused in milliseconds."""
    limit, total = limit_mb * 1_000_000, 0
    for here, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in files.IGNORED_DIRS]
        for name in names:
            try:
                total += os.lstat(os.path.join(here, name)).st_size
            except OSError:
                continue  # vanished while walked: nothing to copy either
            if total > limit:
                return (
                    f"{printable(str(folder))} holds more than {limit_mb} MB (limits.max_submission_mb in course.yml): "
                    "hand in the exercise's files only, without data sets, images or virtual environments"
                )
    return ""


def _names_and_links(folder: Path, root: Path) -> list[str]:
    """File names that are not UTF-8, links that leave the folder, links to a folder that holds them (copying
    would never end)."""
    problems: list[str] = []
    for p in sorted(folder.rglob("*")):
        rel = printable(str(p.relative_to(folder)))
        if not _utf8_name(p.name):
            problems.append(f"the file name {rel} is not UTF-8: rename it (the engine and the report need UTF-8 names)")
        if not p.is_symlink():
            continue
        try:
            target = p.resolve(strict=True)
        except (OSError, RuntimeError):  # RuntimeError: a loop, on Python before 3.13
            # Grading copies the folder with links followed: one that leads nowhere cannot be copied.
            problems.append(f"{rel} is a link that leads nowhere (a missing file or a loop): copy the file in instead")
            continue
        if not _inside(target, root):
            problems.append(
                f"{rel} links to {printable(str(target))}, a path outside the exercise folder: copy the file in instead"
            )
        elif target.is_dir() and _inside(p.parent.resolve(), target):
            problems.append(f"{rel} links to a folder that holds it, a loop: remove the link")
    return problems


def _utf8_name(name: str) -> bool:
    try:
        os.fsencode(name).decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _inside(p: Path, root: Path) -> bool:
    return p == root or root in p.parents


def _not_utf8(p: Path) -> str:
    data = p.read_bytes()
    try:
        data.decode("utf-8")
        return ""
    except UnicodeDecodeError as e:
        return f"byte 0x{data[e.start]:02x} at offset {e.start}"


def copy(folder: Path, dst: Path) -> None:
    """Grade a copy: checks edit files (code-edit rebuilds) and must never touch the student's. A fixture or
    hidden checks beside the files (a solution folder) are not part of what is built."""
    files.copy(folder, dst, FIXTURE_NAME, HIDDEN_NAME)


def plant(ex: Exercise, work: Path, session: Session, serve: bool = True) -> tuple[str, str]:
    """Give the scratch copy a fresh token (exercise.secret) and every build of the session the means to use it.

    Returns (the planted token, the one the submission came with). A token made for this run
    appears nowhere unless the build put it there, so finding it proves a leak. `serve`: start the
    private package index an `index` secret opens (False without an engine: nothing will be built).
    Raises leaks.Replant, or pyindex.PyIndexError when the index does not start.
    """
    sec = ex.secret
    if sec is None:
        return "", ""
    token_file = work / sec.file
    if not token_file.is_file():
        raise leaks.Replant(f"no {sec.file} in the submission: keep the token file the exercise gave you")
    original = token_file.read_text(encoding="utf-8").strip()
    planted = leaks.new_token()
    leaks.replant(work, sec.file, sec.locked, planted)
    session.secrets = [f"id={sec.id},src={token_file}"]
    if sec.build_arg:
        session.build_args = {sec.build_arg: planted}
    if sec.index and serve:
        # The index serves this grading's token only, and carries the grading's labels: closing the
        # session removes it. The pip.conf lives in the session's scratch folder, outside the build context.
        index = pyindex.up(
            planted, name=f"layerlab-pyindex-{session.run_id}", module=ex.module, extra_labels=session.run_labels
        )
        conf = index.write_pip_conf(planted, session.scratch / "secrets" / "pip.conf")
        session.secrets = [f"id={sec.id},src={conf}"]
        session.build_args = index.build_args(planted, sec.build_arg) if sec.build_arg else {}
    return planted, original
