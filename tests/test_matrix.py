"""The engine matrix: the recorded runs hold no traceback and no stop without its fix; a leg's outcomes are
classified from what really happened (a lesson's failure, a grading's report); the table shows every leg."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from layerlab import course as course_mod
from layerlab.course import failure, matrix, matrix_run, notebooks
from layerlab.engine import EngineFacts
from layerlab.ground.settings import REPO


def outcome(**kw) -> matrix.Outcome:
    return matrix.Outcome(**{"kind": "lesson", "id": "05", "status": "passed", **kw})


def leg_result(leg: str = "docker-28.5", outcomes: list[matrix.Outcome] | None = None) -> matrix.LegResult:
    return matrix.LegResult(
        leg=leg,
        title="t",
        engine="docker 28.5.2 (containerd image store)",
        native="linux/amd64",
        cgroup="1",
        builder="docker",
        commit="abc1234",
        ran_at="2026-12-02T10:00:00+00:00",
        seconds=1800,
        outcomes=outcomes or [outcome()],
    )


def test_the_recorded_matrix_has_runs_and_every_stop_says_what_to_do():
    m = matrix.load()
    assert m.legs, f"{matrix.MATRIX_FILE} holds no leg: run `layerlab matrix docker-26.1` and commit the result"
    assert matrix.problems(m) == []
    # Each leg ran the whole course or says where its set-up failed: a leg is never silently short.
    c = course_mod.load()
    for r in m.legs:
        leg = matrix.leg(r.leg)
        lessons = {o.id for o in r.outcomes if o.kind == "lesson"}
        setup = next(o for o in r.outcomes if o.kind == "setup")
        if setup.status == "passed":
            # A lesson added after the leg ran is named on the page as not run there, never silently missing.
            expected = {x.id for x in c.modules if leg.lessons is None or x.id in leg.lessons}
            assert lessons | set(matrix.not_run(r)) == expected and lessons <= expected, r.leg
            for missing in matrix.not_run(r):
                assert f"lesson {missing}" in matrix.markdown(m) and "not run: added after commit" in matrix.markdown(m)


@pytest.mark.parametrize(
    ("bad", "complaint"),
    [
        (outcome(status="stopped", reason="no buildx"), "Fix:"),
        (outcome(status="failed", reason="cell 3/9: KeyError\nTraceback (most recent call last):"), "lines"),
        (outcome(status="failed", reason="Traceback (most recent call last): x"), "traceback"),
        (outcome(status="failed", reason=""), "without a reason"),
    ],
)
def test_problems_names_each_kind_of_bad_reason(bad, complaint):
    found = matrix.problems(matrix.Matrix(legs=[leg_result(outcomes=[bad])]))
    assert any(complaint in p for p in found), found


def test_a_stop_with_its_fix_is_no_problem():
    ok = outcome(status="stopped", reason="buildx: the engine has no buildx plugin. Fix: apt-get install docker-buildx")
    assert matrix.problems(matrix.Matrix(legs=[leg_result(outcomes=[ok])])) == []


def test_merge_keeps_one_run_per_leg_and_save_orders_them_as_the_legs(tmp_path):
    m = matrix.merge(
        matrix.Matrix(legs=[leg_result("podman-5.4"), leg_result("docker-28.5")]), leg_result("docker-28.5")
    )
    assert [r.leg for r in m.legs].count("docker-28.5") == 1
    path = tmp_path / "m.json"
    matrix.save(m, path)
    assert [r.leg for r in matrix.load(path).legs] == ["docker-28.5", "podman-5.4"]


def test_the_table_has_a_row_per_leg_and_lists_what_did_not_pass():
    bad = outcome(id="09", status="failed", reason="cell 7/20: AssertionError: at `assert steps == 1`")
    text = matrix.markdown(matrix.Matrix(legs=[leg_result(outcomes=[outcome(), bad]), leg_result("podman-5.4")]))
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + 2  # the header and one row per leg
    assert "1 passed / 1 failed" in table[1]
    assert "- lesson 09: failed: cell 7/20: AssertionError" in text


def test_every_legs_setup_variable_is_one_the_setup_script_reads():
    script = (REPO / "scripts" / "setup-engine.sh").read_text()
    for leg in matrix.LEGS:
        for key in leg.env:
            assert f"${{{key}" in script, f"{leg.id}: scripts/setup-engine.sh never reads {key}"


def test_the_setup_script_parses():
    subprocess.run(["bash", "-n", str(REPO / "scripts" / "setup-engine.sh")], check=True)
    subprocess.run(["bash", "-n", str(REPO / "scripts" / "matrix-leg.sh")], check=True)


# --- classifying one leg's outcomes ---


def _facts(**kw) -> EngineFacts:
    return EngineFacts(command="docker", reachable=True, name="podman", server_version="5.4.2", **kw)


def _run_result(failure_: failure.LessonFailure | None) -> notebooks.RunResult:
    return notebooks.RunResult(
        module="02-images-and-layers",
        title="t",
        ok=failure_ is None,
        seconds=3.0,
        cells=9,
        executed="x",
        html="y",
        error=failure_.line() if failure_ else None,
        failure=failure_,
    )


def test_a_lesson_refused_at_its_first_cell_is_stopped_with_the_unmet_need_and_its_fix(monkeypatch, tmp_path):
    m = course_mod.load().module("02")
    refused = failure.LessonFailure(module="02", cell=1, cells=9, error_type="LessonCannotRun", message="cannot run")
    monkeypatch.setattr(notebooks, "execute", lambda *a, **k: _run_result(refused))
    o = matrix_run.lesson_outcome(m, _facts(buildx_version=None), tmp_path)
    assert o.status == "stopped"
    assert "buildx" in o.reason and matrix.FIX_MARK in o.reason and "\n" not in o.reason


def test_a_lesson_that_stops_deeper_in_is_a_failure_with_its_cell(monkeypatch, tmp_path):
    m = course_mod.load().module("02")
    deep = failure.LessonFailure(module="02", cell=5, cells=9, error_type="KeyError", message="'Size'")
    monkeypatch.setattr(notebooks, "execute", lambda *a, **k: _run_result(deep))
    o = matrix_run.lesson_outcome(m, _facts(), tmp_path)
    assert o.status == "failed" and o.reason.startswith("cell 5/9: KeyError: 'Size'")


def _report(passed: bool, results: list[dict], problems: list[str] | None = None) -> str:
    return json.dumps({"exercise": "02-slim", "passed": passed, "results": results, "problems": problems or []})


FAILED_CHECK = {"check": "size_at_most", "status": "failed", "required": True, "detail": "182 MB, at most 90 MB"}


@pytest.mark.parametrize(
    ("which", "stdout", "status", "reason"),
    [
        ("solution", _report(True, []), "passed", ""),
        ("solution", _report(False, [FAILED_CHECK]), "failed", "the solution failed: size_at_most: 182 MB"),
        ("starter", _report(False, [FAILED_CHECK]), "passed", ""),
        ("starter", _report(True, []), "failed", "the starter passed"),
        ("starter", _report(False, [], ["the engine did not answer"]), "failed", "no verdict: the engine"),
        (
            "starter",
            _report(False, [{"check": "builds", "status": "failed", "required": True}]),
            "failed",
            "no verdict",
        ),
        ("starter", "Traceback (most recent call last):\n  boom", "failed", "no report (exit 1): no message"),
    ],
)
def test_a_grading_is_judged_from_its_report(monkeypatch, which, stdout, status, reason):
    done = subprocess.CompletedProcess([], 1, stdout=stdout, stderr="")
    monkeypatch.setattr(matrix_run.subprocess, "run", lambda *a, **k: done)
    o = matrix_run.grade_outcome("02-slim", which)
    assert (o.status, o.kind) == (status, which)
    assert o.reason.startswith(reason)


def test_the_leg_result_round_trips_through_json(tmp_path: Path):
    r = leg_result(outcomes=[outcome(kind="setup", id="make setup"), outcome()])
    assert matrix.LegResult.model_validate(json.loads(json.dumps(r.model_dump(mode="json")))) == r


# --- the grader refuses an engine that lacks what the exercise's module needs, in one line with the fix ---


def test_grading_on_podman_is_refused_before_any_build_with_the_fix(monkeypatch):
    from layerlab import engine
    from layerlab.course import needs
    from layerlab.grade import exercise as exercise_mod
    from layerlab.grade import runner

    ex = exercise_mod.load("01-limits")  # its lesson needs no buildx; its grading builds with it all the same
    monkeypatch.setattr(engine, "probe", lambda: _facts())
    line = runner.cannot_grade_here(ex, course_mod.COURSE_FILE)
    assert needs.CANNOT_GRADE in line and "buildx" in line and matrix.FIX_MARK in line and "\n" not in line
    docker = EngineFacts(
        command="docker", reachable=True, name="docker", server_version="28.5.2", buildx_version="0.29"
    )
    monkeypatch.setattr(engine, "probe", lambda: docker)
    assert runner.cannot_grade_here(ex, course_mod.COURSE_FILE) == ""


def test_a_refused_grading_is_a_stop_in_the_matrix(monkeypatch):
    from layerlab.course import needs

    refused = f"05-multiarch {needs.CANNOT_GRADE} (docker 28.5.2): containerd: the classic store. Fix: switch it on"
    done = subprocess.CompletedProcess([], 1, stdout=_report(False, [], [refused]), stderr="")
    monkeypatch.setattr(matrix_run.subprocess, "run", lambda *a, **k: done)
    o = matrix_run.grade_outcome("05-multiarch", "solution")
    assert o.status == "stopped" and o.reason == refused


def test_the_readme_shows_the_recorded_matrix():
    text = matrix.README.read_text()
    assert matrix.readme_with(matrix.load(), text) == text, "rewrite it: the README's matrix block is stale"


def test_a_failed_setup_is_named_by_the_failing_steps_own_line():
    log = (
        "[setup] venv: 24 s\nbootstrap builds the offline stand-ins with buildx: Podman builds with buildah. "
        "Fix: use Docker Engine 26+\n[setup] base images: 3 s, failed with status 1\n"
        "make: *** [Makefile:37: images] Error 1\n"
    )
    assert matrix_run.setup_reason(2, log) == (
        "exit 2: bootstrap builds the offline stand-ins with buildx: Podman builds with buildah. Fix: use Docker Engine 26+"
    )


def test_grade_ship_leaves_an_exercise_without_a_pushed_image_alone(tmp_path):
    from layerlab import cli

    # No engine in this tier: an exercise with nothing to push must not reach for one.
    assert cli._shipped("exercises/02-slim", "02-slim", tmp_path) == "exercises/02-slim"
    assert cli._shipped("somewhere", "no-such-exercise", tmp_path) == "somewhere"


def test_a_leg_gives_its_cells_and_gradings_the_limits_it_declares(monkeypatch, tmp_path):
    leg = matrix.leg("arm64-vm")
    assert (leg.cell_limit_s, leg.grade_limit_s) == (round(900 * leg.time_factor), round(1200 * leg.time_factor))
    assert leg.time_factor > 1 and matrix.leg("docker-26.1").cell_limit_s == 900, "only an emulated VM gets longer"
    seen: dict[str, int] = {}

    def execute(m, out, timeout=0, **kw):
        seen[m.id] = timeout
        return _run_result(None)

    def grade(cmd, timeout=0, **kw):
        if "--exercise" not in cmd:  # git rev-parse, for the commit
            return subprocess.CompletedProcess(cmd, 0, stdout="abc1234\n", stderr="")
        seen[cmd[cmd.index("--exercise") + 1] + ":" + cmd[4]] = timeout
        return subprocess.CompletedProcess(cmd, 1, stdout=_report(False, [FAILED_CHECK]), stderr="")

    monkeypatch.setattr(notebooks, "execute", execute)
    monkeypatch.setattr(matrix_run.subprocess, "run", grade)
    monkeypatch.setattr(matrix_run.engine, "probe", lambda: _facts())
    monkeypatch.setattr(matrix_run, "_free_bytes", lambda facts: matrix_run.LOW_DISK_BYTES + 1)
    setup = matrix.Outcome(kind="setup", id="make setup", status="passed")
    matrix_run.run_leg(leg, setup, tmp_path)
    lessons = {k: v for k, v in seen.items() if ":" not in k}
    gradings = {k: v for k, v in seen.items() if ":" in k}
    assert lessons == dict.fromkeys(leg.lessons or [], leg.cell_limit_s)
    assert len(gradings) == 2 * len(leg.exercises or []) and set(gradings.values()) == {leg.grade_limit_s}


def test_the_time_factor_lengthens_every_grading_limit_and_refuses_nonsense(monkeypatch):
    from layerlab.grade import exercise

    monkeypatch.delenv("LAYERLAB_TIME_FACTOR", raising=False)
    plain = exercise.load("05-multiarch").limits
    monkeypatch.setenv("LAYERLAB_TIME_FACTOR", "8")
    slow = exercise.load("05-multiarch").limits
    assert (slow.build_timeout_s, slow.run_timeout_s) == (plain.build_timeout_s * 8, plain.run_timeout_s * 8)
    assert slow.memory == plain.memory and slow.pids == plain.pids, "only time limits scale"
    for bad in ("0.5", "fast", "1000"):
        monkeypatch.setenv("LAYERLAB_TIME_FACTOR", bad)
        with pytest.raises(ValueError, match="LAYERLAB_TIME_FACTOR"):
            exercise.load("05-multiarch")


def test_a_bad_setting_is_one_line_from_the_cli_not_a_traceback(monkeypatch, capsys):
    from layerlab import cli

    monkeypatch.setenv("LAYERLAB_TIME_FACTOR", "fast")
    assert cli.main(["grade", "solutions/02-slim", "--exercise", "02-slim"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "layerlab: LAYERLAB_TIME_FACTOR='fast': want a number from 1 to 100"
