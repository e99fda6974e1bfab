"""A failed headless lesson says which cell failed, the error's own line and what to do; `layerlab run` exits 1.

The notebooks here are tiny temporary ones run by a real kernel (no engine).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from layerlab import course as course_mod
from layerlab.course import failure, notebooks

MODULES = """
title: T
description: D
modules:
  - id: "98"
    slug: boom
    title: Boom
    notebook: {notebook}
    teaching_minutes: 1
    objectives: [o]
    key_points: [k]
"""

RAISES_IN_CELL_2 = """\
# %% [markdown]
# A lesson that stops in its second code cell.

# %%
x = 41

# %%
def check(v):
    if v != 42:
        raise ValueError(f"the answer is {v}, not 42\\nsecond line of the message")

check(x)

# %%
print("never runs")
"""


def lesson(tmp_path: Path, source: str) -> course_mod.Course:
    nb = tmp_path / "98-boom.py"
    nb.write_text(source)
    f = tmp_path / "course.yml"
    f.write_text(MODULES.format(notebook=nb))
    return course_mod.load(f)


@pytest.fixture(autouse=True)
def _no_engine(monkeypatch):
    # Nothing here needs an engine; any probe of one fails at once instead of waiting.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")


def test_the_failing_cell_and_the_errors_own_line_are_reported(tmp_path):
    c = lesson(tmp_path, RAISES_IN_CELL_2)
    said: list[str] = []
    r = notebooks.execute(c.modules[0], tmp_path / "out", say=said.append)
    assert not r.ok and r.failure is not None
    assert (r.failure.cell, r.failure.cells) == (2, 3)
    assert r.failure.error_type == "ValueError" and r.failure.message == "the answer is 41, not 42"
    assert not r.failure.engine_error
    assert r.error == "cell 2/3: ValueError: the answer is 41, not 42"
    assert "\x1b[" not in r.error and "Traceback" not in r.error
    failed_lines = [line for line in said if "FAILED" in line]
    assert len(failed_lines) == 1
    assert failed_lines[0].startswith("[98] FAILED at cell 2/3: ValueError: the answer is 41")
    assert said[-1] == "[98] its page shows the whole traceback; run the lesson again alone: `layerlab run 98`"
    assert (tmp_path / "out" / r.html).is_file()  # the executed copy still renders


def test_a_bare_assert_names_the_line_that_raised(tmp_path):
    c = lesson(tmp_path, "# %%\nHOST = 'linux/arm64'\n\n# %%\nassert HOST == 'linux/amd64'\n")
    r = notebooks.execute(c.modules[0], tmp_path / "out", say=lambda line: None)
    assert r.failure and r.error == "cell 2/2: AssertionError: at `assert HOST == 'linux/amd64'`"


def test_layerlab_run_prints_what_failed_and_what_to_do_and_exits_1(tmp_path, monkeypatch, capsys):
    from layerlab import cli

    c = lesson(tmp_path, RAISES_IN_CELL_2)
    monkeypatch.setattr(course_mod, "load", lambda *a, **k: c)
    assert cli.main(["run", "98", "--out", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert "0/1 notebooks ran" in out
    assert "98-boom: FAILED at cell 2/3: ValueError: the answer is 41, not 42" in out
    assert "run the lesson again alone: `layerlab run 98`" in out


def test_the_engines_known_error_raised_in_a_lesson_is_named_as_the_engines(tmp_path):
    log = Path(__file__).parent / "data" / "transient" / "export-race.log"
    c = lesson(
        tmp_path,
        f"""\
# %%
from layerlab.engine import build, buildlog, transient
race = transient.classify(buildlog.parse(open({str(log)!r}).read().splitlines()))

# %%
raise build.TransientEngineError("layerlab-03:naive", race, ["unpacking to docker.io/library/x"], 2, [])
""",
    )
    said: list[str] = []
    r = notebooks.execute(c.modules[0], tmp_path / "out", say=said.append)
    assert r.failure and r.failure.engine_error and r.failure.cell == 2
    assert r.error.startswith("cell 2/2: TransientEngineError: building layerlab-03:naive failed twice")
    assert said[-1].startswith("[98] this is the engine's error, not the lesson's")


def test_the_engines_known_error_is_named_as_the_engines():
    f = failure.from_cell_error(
        "03",
        "TransientEngineError",
        "building layerlab-03:naive failed twice at `exporting to image` with a known intermittent engine error "
        "(failed to prepare extraction snapshot): an engine error, not a fault in the Dockerfile.\n  | ...",
        "\x1b[0;31mTransientEngineError\x1b[0m: ...",
        7,
        20,
    )
    assert f.engine_error and f.line().startswith("cell 7/20: TransientEngineError: building layerlab-03:naive failed")
    assert f.todo().startswith("this is the engine's error, not the lesson's")
    assert "`layerlab run 03`" in f.todo() and "layerlab doctor" in f.todo()
