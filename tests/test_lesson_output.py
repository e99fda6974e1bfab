"""Executed lessons carry build summary lines, not BuildKit's raw log (issue #19).

Every lesson from 02 on (those that build images, and every lesson written
after) as executed in this session (nbval's run in `make test`, see
tests/executed.py): its HTML page and executed notebook must hold no `#N ...`
line of BuildKit's plain progress, no progress widget, and a summary line per
build. The `layerlab run` path is checked on its own on the run of lesson 04
that tests/test_official_layout.py makes (`check_summary_lines`).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import pytest

import executed as executed_mod
from layerlab import course as course_mod
from layerlab.course import notebooks

pytestmark = [pytest.mark.usefixtures("engine_client"), pytest.mark.slow, pytest.mark.reads_executed_lessons]

RAW = re.compile(r"^#\d+ ")
SUMMARY = re.compile(r"^(built|FAILED|INTERRUPTED) \S+.* full log: \S+\.log$")
COURSE = course_mod.load()
LESSONS = [m for m in COURSE.modules if m.id >= "02"]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("executed")


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


def check_summary_lines(run: executed_mod.Executed) -> None:
    name = f"{run.module.id}-{run.module.slug}"
    assert run.error is None, f"{name} failed ({run.source}), so its page may show a build log: {run.error}"
    page, nb = run.html, run.nb
    raw = [line for line in _pre_lines(page) + _output_lines(nb) if RAW.match(line)]
    assert not raw, f"{name} carries {len(raw)} raw BuildKit line(s), e.g.:\n" + "\n".join(raw[:5])
    # The lesson's own widgets stay; a progress widget (its model has the class) must not be there.
    assert "layerlab-progress" not in nbformat.writes(nb) + page, "a headless run displayed a progress widget"
    summaries = [line for line in _output_lines(nb) if SUMMARY.match(line)]
    source = notebooks.source_path(run.module).read_text()
    if "build.build(" in source or "cache.scenarios(" in source:
        assert summaries, f"{name} builds images but printed no summary line"
    for line in summaries:
        log = Path(line.rsplit("full log: ", 1)[1])
        log = log if log.is_absolute() else course_mod.REPO / log
        assert log.is_file(), f"the summary names a log that is not there: {line}"


@pytest.mark.parametrize("module", LESSONS, ids=[m.id for m in LESSONS])
def test_an_executed_lesson_shows_summary_lines_not_buildkit_logs(scratch, module):
    check_summary_lines(executed_mod.lesson(module, scratch))
