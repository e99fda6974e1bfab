"""Small conveniences for lesson notebooks: where a lesson's build contexts live, how to show a file."""

from __future__ import annotations

import re
from pathlib import Path

from layerlab.ground import settings
from layerlab.ground.errors import NotFound
from layerlab.ground.settings import REPO

from . import Module, load

LESSONS = REPO / "docker" / "lessons"

# The base images the lessons build on, named in one place. Each Dockerfile
# says `ARG <NAME>=<default>` then `FROM ${<NAME>}`, so it reads (and builds
# by hand) as the official image; `base()` and `build_args()` let a test or an
# instructor point every lesson at another image with an environment variable,
# e.g. LAYERLAB_BASE_PYTHON_SLIM=my/python:3.13-slim, without retagging anything.
BASES = {
    "PYTHON_SLIM": "python:3.13-slim",
    "PYTHON_FULL": "python:3.13",
    "DEBIAN_SLIM": "debian:trixie-slim",
}


def base(name: str) -> str:
    """The image a lesson uses for base `name` ("python-slim", "python-full", "debian-slim")."""
    key = name.upper().replace("-", "_")
    if key not in BASES:
        raise NotFound(f"unknown base {name!r}; known: {', '.join(k.lower().replace('_', '-') for k in BASES)}")
    return settings.base_override(key) or BASES[key]


def build_args(dockerfile: Path | str) -> dict[str, str]:
    """The base-image build args that `dockerfile` declares (`ARG PYTHON_SLIM=...`), set from `base()`."""
    text = Path(dockerfile).read_text(encoding="utf-8")
    declared = set(re.findall(r"^\s*ARG\s+([A-Z_]+)", text, flags=re.M))
    return {key: base(key) for key in BASES if key in declared}


def context(lesson: str, name: str) -> Path:
    """The build context `docker/lessons/<lesson>/<name>`; fails with the list of what exists."""
    path = LESSONS / lesson / name
    if not (path / "Dockerfile").is_file():
        known = sorted(p.name for p in (LESSONS / lesson).glob("*") if (p / "Dockerfile").is_file())
        raise FileNotFoundError(f"no Dockerfile in {path}; lesson {lesson} has: {', '.join(known) or 'nothing'}")
    return path


def tag(lesson: str, name: str) -> str:
    """One tag per lesson image, under a namespace that says whose it is."""
    return f"layerlab/{lesson.split('-')[0]}-{name}:lesson"


def show(path: Path | str, language: str = "dockerfile") -> None:
    """Display a file as a highlighted code block (plain text outside a notebook)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8").rstrip()
    try:
        from IPython.display import Markdown, display

        display(Markdown(f"`{path.relative_to(REPO)}`\n```{language}\n{text}\n```"))
    except ImportError:
        print(text)


def objectives(module: str) -> None:
    """Show what the learner will do in `module`, as course.yml states it (the one place it is written:
    the course page and the instructor page read the same list)."""
    _show_list("In this lesson you will", _module(module).objectives)


def key_points(module: str) -> None:
    """Show `module`'s key points from course.yml, the one place they are written."""
    _show_list("Key points", _module(module).key_points)


def _module(module: str) -> Module:
    return load().module(module)


def _show_list(title: str, items: list[str]) -> None:
    text = f"**{title}**\n\n" + "\n".join(f"- {item}" for item in items)
    if _in_notebook():
        from IPython.display import Markdown, display

        display(Markdown(text))
    else:
        print(text.replace("**", ""))


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def workspace(lesson: str, variant: str, scratch: Path, clutter: dict[str, int] | None = None) -> Path:
    """A fresh copy of the lesson's `app/` with the variant's Dockerfile (and .dockerignore) in a new
    folder under `scratch`, so a lesson's edits never touch its own files. `clutter` adds what a real
    project folder holds (path -> bytes: data, a local venv, git history), the same bytes every run."""
    import random
    import shutil
    import tempfile

    here = LESSONS / lesson
    ws = Path(tempfile.mkdtemp(prefix=f"{variant}-", dir=scratch))
    shutil.copytree(here / "app", ws, dirs_exist_ok=True)
    for f in (here / variant).iterdir():
        shutil.copy(f, ws / f.name)
    for i, (name, size) in enumerate((clutter or {}).items()):
        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        (ws / name).write_bytes(random.Random(i).randbytes(size))
    return ws
