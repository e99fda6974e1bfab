"""Executed lessons carry build summary lines, not BuildKit's raw log (issue #19).

Every lesson from 02 on (those that build images, and every lesson written
after) is executed once, headless as `layerlab run` does it; then each one's
HTML and executed notebook must hold no `#N ...` line of BuildKit's plain
progress, no progress widget, and a summary line per build.

Set LAYERLAB_EXECUTED_DIR to a folder `layerlab run` wrote (e.g. build/) to
check its pages instead of executing the lessons again.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import nbformat
import pytest

from layerlab import course as course_mod
from layerlab import notebooks

pytestmark = [pytest.mark.engine, pytest.mark.slow]

RAW = re.compile(r"^#\d+ ")
SUMMARY = re.compile(r"^(built|FAILED|INTERRUPTED) \S+.* full log: \S+\.log$")
COURSE = course_mod.load()
LESSONS = [m for m in COURSE.modules if m.id >= "02"]


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> dict[str, notebooks.RunResult | None]:
    if given := os.environ.get("LAYERLAB_EXECUTED_DIR"):
        out = Path(given)
        return {m.id: None for m in LESSONS}, out
    out = tmp_path_factory.mktemp("executed")
    return {m.id: notebooks.execute(m, out) for m in LESSONS}, out


def _pre_lines(page: str) -> list[str]:
    """Text lines of the page's <pre> blocks: the cells' outputs (and their code)."""
    lines = []
    for block in re.findall(r"<pre[^>]*>(.*?)</pre>", page, re.S):
        lines += html.unescape(re.sub(r"<[^>]+>", "", block)).splitlines()
    return lines


def _output_lines(nb) -> list[str]:
    lines = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            lines += out.get("text", "").splitlines()
            lines += out.get("data", {}).get("text/plain", "").splitlines()
    return lines


@pytest.mark.parametrize("module", LESSONS, ids=[m.id for m in LESSONS])
def test_an_executed_lesson_shows_summary_lines_not_buildkit_logs(executed, module):
    results, out = executed
    name = f"{module.id}-{module.slug}"
    r = results[module.id]
    if r is not None:
        assert r.ok, f"{name} failed, so its page may show a build log: {r.error}"
    page = (out / "html" / f"{name}.html").read_text(encoding="utf-8")
    nb = nbformat.read(out / "notebooks" / f"{name}.ipynb", as_version=4)
    raw = [line for line in _pre_lines(page) + _output_lines(nb) if RAW.match(line)]
    assert not raw, f"{name} carries {len(raw)} raw BuildKit line(s), e.g.:\n" + "\n".join(raw[:5])
    # The lesson's own widgets stay; a progress widget (its model has the class) must not be there.
    assert "layerlab-progress" not in nbformat.writes(nb) + page, "a headless run displayed a progress widget"
    summaries = [line for line in _output_lines(nb) if SUMMARY.match(line)]
    source = notebooks.source_path(module).read_text()
    if "build.build(" in source or "cache.scenarios(" in source:
        assert summaries, f"{name} builds images but printed no summary line"
    for line in summaries:
        log = Path(line.rsplit("full log: ", 1)[1])
        log = log if log.is_absolute() else course_mod.REPO / log
        assert log.is_file(), f"the summary names a log that is not there: {line}"
