"""Lesson notebooks: their text sources, generated .ipynb, one headless run and its HTML.

Keeping runs (runs.json, the machine, the pages) is the page module's: `site.run`.

The reviewed source of a lesson is its jupytext percent file
(`notebooks/NN-slug.py`). The `.ipynb` beside it is generated (`layerlab
sync`) and ignored by git, so a review diff is plain text and the two can
never drift.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import jupytext
import nbformat
from traitlets.config import Config

from layerlab.engine import progress
from layerlab.engine.result import Result
from layerlab.ground.text import Printer
from layerlab.ground.text import say as say_line

from . import REPO, Course, Module
from .failure import LessonFailure, from_cell_error, from_other


def source_path(m: Module) -> Path:
    return REPO / m.notebook


def ipynb_path(m: Module) -> Path:
    return source_path(m).with_suffix(".ipynb")


def read(m: Module) -> nbformat.NotebookNode:
    nb = jupytext.read(source_path(m))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def sync(course: Course, say: Printer = say_line) -> list[Path]:
    """Write each module's .ipynb from its text source when the source is newer."""
    written = []
    for m in course.modules:
        src, dst = source_path(m), ipynb_path(m)
        if dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime:
            continue
        nbformat.write(read(m), dst)
        written.append(dst)
        say(f"wrote {dst.relative_to(REPO)}")
    return written


class RunResult(Result):
    module: str
    title: str
    ok: bool
    seconds: float
    cells: int
    executed: str
    html: str
    error: str | None = None
    failure: LessonFailure | None = None  # where and why it stopped, and what to do (course/failure.py)


def ipc_kernel_config(socket_dir: Path) -> Config:
    """Kernel sockets as files in `socket_dir`, not TCP ports on localhost.

    Over TCP, ipykernel warns on every start that the traffic is unencrypted;
    over IPC only this user can reach the sockets. The path must be absolute:
    jupyter_client's default ("kernel-ipc") is relative, and the kernel runs
    in the lesson's folder while the client runs here, so each side would look
    for the sockets in a different place.
    """
    cfg = Config()
    cfg.KernelManager.transport = "ipc"
    cfg.KernelManager.ip = str(socket_dir.resolve() / "kernel")
    return cfg


def execute(m: Module, out_dir: Path, say: Printer = say_line, timeout: int = 900) -> RunResult:
    """Run one lesson headless with nbclient; keep the executed copy and its HTML even when a cell fails."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = read(m)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    name = f"{m.id}-{m.slug}"
    (out_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    (out_dir / "html").mkdir(parents=True, exist_ok=True)
    executed_path = out_dir / "notebooks" / f"{name}.ipynb"
    html_path = out_dir / "html" / f"{name}.html"
    done = {"n": 0, "t": time.perf_counter()}
    started = {"n": 0}  # the code cell running now: the one that failed, when one does

    def on_cell_start(cell, cell_index, **_):
        if cell.cell_type == "code":
            started["n"] += 1

    def on_cell_executed(cell, cell_index, execute_reply, **_):
        if cell.cell_type != "code":
            return
        done["n"] += 1
        now = time.perf_counter()
        say(f"  [{m.id}] cell {done['n']}/{len(code_cells)} done ({now - done['t']:.1f} s)")
        done["t"] = now

    sockets = tempfile.TemporaryDirectory(prefix="layerlab-kernel-")
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(source_path(m).parent)}},
        on_cell_executed=on_cell_executed,
        on_cell_start=on_cell_start,
        config=ipc_kernel_config(Path(sockets.name)),
    )
    say(f"[{m.id}] running {m.notebook} ({len(code_cells)} code cells)")
    start = time.perf_counter()
    failure = None
    # The kernel inherits this: builds print their summary line only, and no widget
    # is displayed for a progress line nobody watches (the HTML keeps text, not "Loading widget...").
    before = os.environ.get(progress.HEADLESS_ENV)
    os.environ[progress.HEADLESS_ENV] = "1"
    try:
        with sockets:
            client.execute()
    except CellExecutionError as e:
        failure = from_cell_error(m.id, e.ename, e.evalue, e.traceback, started["n"] or None, len(code_cells))
    except Exception as e:  # a dead kernel or a timeout: still write what ran
        failure = from_other(m.id, e, started["n"] or None, len(code_cells))
    finally:
        if before is None:
            os.environ.pop(progress.HEADLESS_ENV, None)
        else:
            os.environ[progress.HEADLESS_ENV] = before
    seconds = time.perf_counter() - start
    nbformat.write(nb, executed_path)
    write_html(nb, html_path, m)
    error = failure.line() if failure else None
    say(f"[{m.id}] {'ok' if error is None else 'FAILED at ' + error} ({seconds:.1f} s)")
    if failure:
        say(f"[{m.id}] {failure.todo()}")
    return RunResult(
        module=name,
        title=m.title,
        ok=error is None,
        seconds=round(seconds, 1),
        cells=len(code_cells),
        executed=str(executed_path.relative_to(out_dir)),
        html=str(html_path.relative_to(out_dir)),
        error=error,
        failure=failure,
    )


def write_html(nb: nbformat.NotebookNode, path: Path, m: Module) -> None:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": f"{m.id} {m.title}"}})
    path.write_text(body, encoding="utf-8")
