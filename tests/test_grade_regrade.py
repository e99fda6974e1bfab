"""Grading survives the engine's known intermittent error: graded again once, and said so; twice, said plainly.

No engine: the subject's build (`build.build`, which `sandbox.Session.build` calls) is
replaced by one that raises the typed error the engine layer raises after its own retry.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from layerlab import engine
from layerlab.engine import build as build_mod
from layerlab.engine import transient
from layerlab.engine.buildlog import parse
from layerlab.grade import regrade
from layerlab.grade.runner import grade

MODULES = """
title: T
description: D
modules:
  - id: "02"
    slug: x
    title: X
    notebook: notebooks/02-x.py
    teaching_minutes: 5
    objectives: [o]
    key_points: [k]
exercises:
  - id: t-engine
    module: "02"
    title: Engine
    paths: [Dockerfile, app.py]
    checks:
      - check: builds
      - check: dependency_install_before_source_copy
        source: [app.py]
"""

DATA = Path(__file__).parent / "data" / "transient"


def engine_error(tag: str) -> build_mod.TransientEngineError:
    race = transient.classify(parse((DATA / "export-race.log").read_text().replace("TAG", tag).splitlines()))
    assert race is not None
    return build_mod.TransientEngineError(tag, race, ["unpacking to docker.io/library/x"], 2, [])


class Builds:
    """`build.build` whose first `fail` calls raise `error(tag)`; the others build."""

    def __init__(self, fail: int, error=engine_error):
        self.fail, self.error, self.tags = fail, error, []

    def __call__(self, context, tag, **kw):
        self.tags.append(tag)
        if len(self.tags) <= self.fail:
            raise self.error(tag)
        return build_mod.BuildResult(
            tag=tag, image_id="sha256:" + "1" * 64, platforms=["linux/amd64"], seconds=1.0, context_bytes=100
        )


@pytest.fixture
def submission(tmp_path, monkeypatch) -> tuple[Path, Path]:
    # Engine calls other than the build fail at once (the label, the clean-up); grading thinks an engine answers.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.delenv("LAYERLAB_REPLAY", raising=False)
    monkeypatch.setattr(engine, "require", engine.client)  # no probe; every call on it then fails
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "02-x.py").write_text("# %%\n")
    (tmp_path / "course.yml").write_text(MODULES)
    d = tmp_path / "t-engine"
    d.mkdir()
    (d / "Dockerfile").write_text(
        "FROM python:3.13-slim\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY app.py .\n"
    )
    (d / "app.py").write_text("print('hi')\n")
    (d / "requirements.txt").write_text("")
    return d, tmp_path / "course.yml"


def test_an_engine_error_once_is_graded_again_and_said_so(submission, monkeypatch, capsys):
    d, course_file = submission
    builds = Builds(fail=1)
    monkeypatch.setattr(build_mod, "build", builds)
    r = grade(d, "t-engine", course_file=course_file)
    assert len(builds.tags) == 2 and builds.tags[0] != builds.tags[1]  # a fresh session the second time
    assert r.passed and r.points == r.max_points and not r.problems
    assert len(r.notes) == 1 and r.notes[0].startswith("engine error, not your submission:")
    assert "NOTE     engine error, not your submission" in r.table()
    said = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(said) == 1 and said[0].startswith("engine error, not your submission:") and "grading it again" in said[0]


def test_an_engine_error_twice_is_said_plainly_and_awards_nothing_unjudged(submission, monkeypatch):
    d, course_file = submission
    builds = Builds(fail=99)
    monkeypatch.setattr(build_mod, "build", builds)
    r = grade(d, "t-engine", course_file=course_file)
    assert len(builds.tags) == 2  # graded again once, never more
    assert not r.passed
    assert len(r.problems) == 1 and r.problems[0].startswith("engine error, not your submission:")
    assert "layerlab doctor" in r.problems[0] and "restart the engine" in r.problems[0]
    by = {x.check: x for x in r.results}
    assert by["builds"].status == "not run" and by["builds"].points == 0
    assert by["builds"].why.startswith("engine error, not your submission")
    assert by["dependency_install_before_source_copy"].status == "passed"  # it ran without the engine
    assert r.points == by["dependency_install_before_source_copy"].points
    table = r.table()
    assert "PROBLEM  engine error, not your submission" in table and "NOT RUN  builds" in table


def test_a_learners_build_error_is_not_graded_again(submission, monkeypatch, capsys):
    d, course_file = submission

    def learners(tag):
        return build_mod.BuildError(
            tag, "RUN pip install -r requirements.txt", ["ERROR: no such package"], "exit code: 1"
        )

    builds = Builds(fail=99, error=learners)
    monkeypatch.setattr(build_mod, "build", builds)
    r = grade(d, "t-engine", course_file=course_file)
    assert len(builds.tags) == 1 and not r.notes
    assert {x.check: x.status for x in r.results}["builds"] == "failed"
    assert "engine error" not in r.table() and "engine error" not in capsys.readouterr().err


def test_outside_a_grading_an_engine_error_is_nobodys_business():
    regrade.notice(engine_error("t:x"))  # no grading watches: nothing remembered, nothing raised
