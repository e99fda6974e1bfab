"""The lessons as executed in this test session: what nbval ran, else a fresh headless run.

`make test` runs nbval on every lesson; the root conftest keeps each cell's
outputs in build/nbval/. Tests marked `reads_executed_lessons` run after the
notebooks and read that record, turned into the same HTML page `layerlab run`
writes (both run the kernel headless: LAYERLAB_HEADLESS=1). A lesson nbval did
not run in this session (a test run on its own) is executed here instead, as
`layerlab run` does it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat

from layerlab.course import Module, notebooks

NBVAL_RECORD = Path(__file__).resolve().parent.parent / "build" / "nbval"


@dataclass
class Executed:
    module: Module
    nb: nbformat.NotebookNode
    html: str
    error: str | None  # None: every code cell ran without an error
    source: str  # "nbval" or "layerlab run"


def recorded(m: Module, scratch: Path) -> Executed | None:
    """The lesson as nbval ran it in this session, or None when nbval did not run it."""
    name = f"{m.id}-{m.slug}"
    path = NBVAL_RECORD / f"{name}.ipynb"
    if not path.exists():
        return None
    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.get("layerlab_nbval", {})
    error = meta.get("failed")
    if error is None and meta.get("cells_run") != meta.get("code_cells"):
        error = f"nbval ran {meta.get('cells_run')} of {meta.get('code_cells')} code cells"
    page = scratch / f"{name}.html"
    notebooks.write_html(nb, page, m)
    return Executed(m, nb, page.read_text(encoding="utf-8"), error, "nbval")


def lesson(m: Module, scratch: Path) -> Executed:
    if (run := recorded(m, scratch)) is not None:
        return run
    r = notebooks.execute(m, scratch)
    nb = nbformat.read(scratch / r.executed, as_version=4)
    return Executed(m, nb, (scratch / r.html).read_text(encoding="utf-8"), r.error, "layerlab run")
