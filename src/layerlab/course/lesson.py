"""A lesson as one object: `Lesson("03")` knows its module in course.yml, its folder under docker/lessons/,
how its images are tagged and labelled, and builds, runs and serves them, so a notebook cell says what it
does and not the plumbing (tag, build args, module label) that every lesson would otherwise repeat.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layerlab.engine import catalogue
from layerlab.ground import settings
from layerlab.ground.errors import NotFound
from layerlab.ground.settings import REPO

from . import Module, load

if TYPE_CHECKING:
    from layerlab.engine.build import BuildResult
    from layerlab.engine.compose import Project
    from layerlab.engine.containers import RunResult
    from layerlab.measure.cache import CacheReport
    from layerlab.measure.inspector import ImageReport
    from layerlab.measure.serving import ServeResult

    from .needs import Readiness

LESSONS = REPO / "docker" / "lessons"

# The base images the lessons build on, by the build argument that names each (the catalogue holds their
# names). Each Dockerfile says `ARG <NAME>=<default>` then `FROM ${<NAME>}`, so it reads (and builds by hand)
# as the official image; `base()` and `build_args()` let a test or an instructor point every lesson at
# another image with an environment variable, e.g. LAYERLAB_BASE_PYTHON_SLIM=my/python, without retagging.
BASES = {b.arg: b.ref for b in catalogue.BASE_IMAGES if b.arg}

# How `show` highlights a file, by suffix; a Dockerfile has none.
LANGUAGES = {".py": "python", ".cu": "cpp", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".sh": "bash"}


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


def show(path: Path | str, language: str | None = None) -> None:
    """Display a file as a highlighted code block (plain text outside a notebook); the language follows
    the file's suffix unless given (a Dockerfile, a .dockerignore or a lock file has none of its own)."""
    path = Path(path)
    if language is None:
        language = LANGUAGES.get(path.suffix, "dockerfile" if "Dockerfile" in path.name else "text")
    text = path.read_text(encoding="utf-8").rstrip()
    try:
        from IPython.display import Markdown, display

        # A file the lesson wrote (under its scratch folder) is named by its whole path.
        name = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        display(Markdown(f"`{name}`\n```{language}\n{text}\n```"))
    except ImportError:
        print(text)


class Lesson:
    """Lesson `module` ("03", "03-build-cache" or "build-cache") of course.yml.

    `folder` is `docker/lessons/<id>-<slug>`: one sub-folder per variant, each with its Dockerfile, and
    `app/`, the code most variants build. Every image the lesson makes is tagged `layerlab/<id>-<name>:lesson`
    and labelled with its module, so `layerlab clean` finds it and the course page knows whose it is.
    """

    def __init__(self, module: str):
        self.module: Module = load().module(module)
        self.id = self.module.id
        self.name = f"{self.id}-{self.module.slug}"
        self.folder = LESSONS / self.name

    def __repr__(self) -> str:
        return f"Lesson({self.name!r})"

    def require(self) -> Readiness | None:
        """The first cell's gate: stop here, one line per unmet need of course.yml with its fix, if this engine
        cannot run the lesson; rather than a traceback deep inside a later cell."""
        from . import needs

        return needs.require(self.id)

    @property
    def app(self) -> Path:
        return self.folder / "app"

    def path(self, *parts: str) -> Path:
        return self.folder.joinpath(*parts)

    def dockerfile(self, variant: str) -> Path:
        """`<folder>/<variant>/Dockerfile`; fails with the variants that exist."""
        path = self.folder / variant / "Dockerfile"
        if not path.is_file():
            known = sorted(p.parent.name for p in self.folder.glob("*/Dockerfile"))
            raise NotFound(f"no Dockerfile in {path.parent}; lesson {self.name} has: {', '.join(known) or 'nothing'}")
        return path

    def tag(self, name: str) -> str:
        """One tag per lesson image, under a namespace that says whose it is."""
        return f"layerlab/{self.id}-{name}:lesson"

    def base(self, name: str) -> str:
        return base(name)

    def show(self, *parts: str, language: str | None = None) -> None:
        """Show a file of the lesson's folder; a variant's name shows its Dockerfile."""
        path = self.path(*parts)
        show(path / "Dockerfile" if path.is_dir() else path, language)

    # --- what the lesson does with the engine ---
    # Imported on first use: a lesson's first cell (its objectives) needs neither python-on-whales nor numpy.

    def build(
        self,
        name: str,
        *,
        variant: str | None = None,
        context: Path | str | None = None,
        dockerfile: Path | str | None = None,
        build_args: dict[str, str] | None = None,
        **kw: Any,
    ) -> BuildResult:
        """Build image `name` (tagged `tag(name)`, labelled with this lesson's module).

        The Dockerfile is `dockerfile`, else the one in `context` when no `variant` is named, else
        `variant`'s (which defaults to `name`); the context is `context`, else the Dockerfile's folder.
        The base images the Dockerfile declares come as build args (`build_args` adds or overrides);
        the rest (`target`, `platforms`, `cache`, `label`, `show`, ...) goes to `engine.build.build`.
        """
        from layerlab.engine import build

        if dockerfile is None:
            own = Path(context) / "Dockerfile" if context is not None and variant is None else None
            dockerfile = own if own is not None and own.is_file() else self.dockerfile(variant or name)
        df = Path(dockerfile)
        ctx = Path(context) if context is not None else df.parent
        return build.build(
            ctx,
            self.tag(name),
            dockerfile=None if df == ctx / "Dockerfile" else df,
            build_args={**build_args_of(df), **(build_args or {})},
            module=self.id,
            **kw,
        )

    def builds(self, names: dict[str, str], **kw: Any) -> dict[str, BuildResult]:
        """`build` of each image in `names` (label -> image name, with the same `kw`), side by side.

        For builds whose times the lesson does not compare: two builds that wait on different things (one
        on downloads, one on a compiler) overlap on a small machine. Each gets its own progress line, made
        here, since a notebook's widgets must be made in the kernel's thread."""
        from concurrent.futures import ThreadPoolExecutor

        from layerlab.engine import progress

        shows = {label: progress.auto() for label in names}
        with ThreadPoolExecutor(max_workers=len(names) or 1) as pool:
            running = {label: pool.submit(self.build, name, show=shows[label], **kw) for label, name in names.items()}
            return {label: f.result() for label, f in running.items()}

    def image(self, name: str, **kw: Any) -> ImageReport:
        """Build image `name` as `build` does and inspect it: its layers, files and sizes."""
        from layerlab.measure import inspector

        return inspector.inspect(self.build(name, **kw).tag)

    def images(self, *names: str, **kw: Any) -> list[ImageReport]:
        """`image` of each of `names`, in that order, built side by side as `builds` does."""
        from layerlab.measure import inspector

        return [inspector.inspect(r.tag) for r in self.builds({n: n for n in names}, **kw).values()]

    def scenarios(self, name: str, context: Path | str, **kw: Any) -> CacheReport:
        """`measure.cache.scenarios` (cold, unchanged, code edit, dependency edit) of the Dockerfile in
        `context`, tagged `tag(name)`, with its base build args and this lesson's module."""
        from layerlab.measure import cache

        args = build_args_of(Path(context) / kw.pop("dockerfile", "Dockerfile"))
        return cache.scenarios(context, self.tag(name), build_args=args, module=self.id, **kw)

    def run(self, image: str, command: list[str] | None = None, **kw: Any) -> RunResult:
        """`engine.containers.run`, the container labelled with this lesson's module."""
        from layerlab.engine import containers

        return containers.run(image, command, module=self.id, **kw)

    def serve(self, image: str, **kw: Any) -> ServeResult:
        """`measure.serving.serve`, the server's container labelled with this lesson's module."""
        from layerlab.measure import serving

        return serving.serve(image, module=self.id, **kw)

    def compose(self, name: str, *files: str, **kw: Any) -> Project:
        """The compose project `layerlab-<id>-<name>` of the lesson's compose `files` (relative to its folder),
        whose probes carry this lesson's module; `kw` (env=...) goes to `engine.compose.Project`."""
        from layerlab.engine import compose

        return compose.Project(f"layerlab-{self.id}-{name}", [self.folder / f for f in files], module=self.id, **kw)

    def workspace(self, variant: str, scratch: Path, clutter: dict[str, int] | None = None) -> Path:
        """A fresh copy of the lesson's `app/` with the variant's Dockerfile (and .dockerignore) in a new
        folder under `scratch`, so a lesson's edits never touch its own files. `clutter` adds what a real
        project folder holds (path -> bytes: data, a local venv, git history), the same bytes every run."""
        import random
        import shutil
        import tempfile

        ws = Path(tempfile.mkdtemp(prefix=f"{variant}-", dir=scratch))
        shutil.copytree(self.app, ws, dirs_exist_ok=True)
        for f in self.dockerfile(variant).parent.iterdir():
            shutil.copy(f, ws / f.name)
        for i, (name, size) in enumerate((clutter or {}).items()):
            (ws / name).parent.mkdir(parents=True, exist_ok=True)
            (ws / name).write_bytes(random.Random(i).randbytes(size))
        return ws

    # --- what course.yml says about it ---

    def objectives(self) -> None:
        """Show what the learner will do in this lesson, as course.yml states it (the one place it is
        written: the course page and the instructor page read the same list)."""
        _show_list("In this lesson you will", self.module.objectives)

    def key_points(self) -> None:
        """Show the lesson's key points from course.yml, the one place they are written."""
        _show_list("Key points", self.module.key_points)


# `Lesson.build` has an argument named build_args: the module-level function under another name.
build_args_of = build_args


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
