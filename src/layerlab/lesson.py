"""Small conveniences for lesson notebooks: where a lesson's build contexts live, how to show a file."""

from __future__ import annotations

from pathlib import Path

from .course import REPO

LESSONS = REPO / "docker" / "lessons"


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


def show(path: Path | str, language: str = "dockerfile"):
    """Display a file as a highlighted code block (plain text outside a notebook)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8").rstrip()
    try:
        from IPython.display import Markdown, display

        display(Markdown(f"`{path.relative_to(REPO)}`\n```{language}\n{text}\n```"))
    except ImportError:
        print(text)
