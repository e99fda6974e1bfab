"""The grader without an engine: markers, release, the Dockerfile reader, schema and bad input."""

from __future__ import annotations

import json
import shutil

import pytest

from layerlab import course
from layerlab.course import REPO
from layerlab.grade import exercise, release
from layerlab.grade.checks import Context, run_check
from layerlab.grade.dockerfile import parse
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
"""

EXERCISE = """
exercises:
  - id: t-static
    module: "02"
    title: Static
    paths: [Dockerfile, app.py]
    checks:
      - check: builds
      - check: dependency_install_before_source_copy
        source: [app.py]
      - check: hadolint
"""


def course_file(tmp_path, exercises=EXERCISE):
    (tmp_path / "notebooks").mkdir(exist_ok=True)
    (tmp_path / "notebooks" / "02-x.py").write_text("# %%\n")
    p = tmp_path / "course.yml"
    p.write_text(MODULES + exercises)
    return p


GOOD_DOCKERFILE = "FROM python:3.13-slim\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY app.py .\n"


def submission(tmp_path, dockerfile=GOOD_DOCKERFILE, name="t-static"):
    d = tmp_path / name
    d.mkdir()
    (d / "Dockerfile").write_text(dockerfile)
    (d / "app.py").write_text("print('hi')\n")
    (d / "requirements.txt").write_text("")
    return d


# --- markers and release ----------------------------------------------------


def test_a_region_with_a_starter_becomes_the_starter():
    src = "FROM x\n# BEGIN SOLUTION\nRUN good\n# STARTER\n# RUN bad\n#   RUN indented\n# END SOLUTION\nCMD y\n"
    assert release.starter_text(src) == "FROM x\nRUN bad\n  RUN indented\nCMD y\n"


def test_a_region_without_a_starter_becomes_a_todo_line():
    src = "def f():\n    # BEGIN SOLUTION: return the answer\n    return 42\n    # END SOLUTION\n"
    assert release.starter_text(src) == "def f():\n    # TODO: return the answer\n"


@pytest.mark.parametrize(
    "src, message",
    [
        ("# BEGIN SOLUTION\nx\n", "never closed"),
        ("# END SOLUTION\n", "without a BEGIN"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", "inside the region"),
        ("# BEGIN SOLUTION\n# STARTER\nRUN uncommented\n# END SOLUTION\n", "must be commented"),
    ],
)
def test_broken_markers_name_the_file_and_line(src, message):
    with pytest.raises(release.ReleaseError, match=message) as e:
        release.starter_text(src, "solutions/x/Dockerfile")
    assert "solutions/x/Dockerfile:" in str(e.value)


@pytest.mark.answers
def test_every_exercise_has_a_solution_and_an_exercise_folder():
    assert release.unpaired(course.load()) == []


@pytest.mark.answers
@pytest.mark.parametrize("ex", [e.id for e in course.load().exercises])
def test_exercises_are_generated_from_the_solutions_and_not_stale(ex):
    d = release.drift(ex)
    assert not d.stale, d.describe()
    # No solution region leaks into what students get.
    for content in release.expected(ex).values():
        assert b"BEGIN SOLUTION" not in content and b"END SOLUTION" not in content


@pytest.mark.answers
@pytest.mark.parametrize("ex", [e.id for e in course.load().exercises])
def test_every_solution_has_a_fixture_recorded_from_its_current_files(ex):
    from layerlab.grade import fixture

    f = fixture.load(ex)
    assert f.solution_digest == fixture.digest(fixture.solution_dir(ex), f"{ex}.py"), (
        f"solutions/{ex} changed since its fixture was recorded: run `layerlab record {ex}`"
    )
    assert f.size_bytes > 0 and f.engine


@pytest.mark.answers
@pytest.mark.parametrize("ex", [e.id for e in course.load().exercises])
def test_each_fixture_section_is_one_a_check_unit_declares_and_reads(ex):
    from layerlab.grade import checks, fixture  # noqa: F401 - importing checks defines every unit's Section

    declared = {cls.name: cls for cls in fixture.Section.__subclasses__()}
    f = fixture.load(ex)
    assert set(f.sections) <= set(declared), f"sections no unit declares: {set(f.sections) - set(declared)}"
    for name in f.sections:
        assert f.section(declared[name]) is not None  # validates against the unit's model


@pytest.mark.parametrize("ex", [e.id for e in course.load().exercises])
def test_the_exercise_notebook_ends_by_grading(ex):
    last = (REPO / "exercises" / ex / f"{ex}.py").read_text().rstrip().splitlines()[-1]
    assert last == f'layerlab.grade_exercise("{ex}")'


def test_drift_names_missing_changed_and_extra_files(tmp_path):
    sol = tmp_path / "solutions" / "e1"
    sol.mkdir(parents=True)
    (sol / "Dockerfile").write_text("FROM x\n# BEGIN SOLUTION\nRUN a\n# END SOLUTION\n")
    (sol / "fixture.json").write_text("{}")
    assert release.drift("e1", tmp_path).missing == ["Dockerfile"]
    release.release("e1", tmp_path)
    out = tmp_path / "exercises" / "e1"
    assert (out / "Dockerfile").read_text() == "FROM x\n# TODO: your solution here\n"
    assert not (out / "fixture.json").exists()
    (out / "Dockerfile").write_text("edited by hand\n")
    (out / "stray.txt").write_text("x")
    d = release.drift("e1", tmp_path)
    assert d.changed == ["Dockerfile"] and d.extra == ["stray.txt"] and "layerlab release e1" in d.describe()


# --- schema -----------------------------------------------------------------


def test_a_check_with_an_unknown_key_lists_that_checks_keys(tmp_path):
    p = course_file(
        tmp_path, EXERCISE.replace("      - check: hadolint", "      - check: size_at_most\n        factr: 1.1")
    )
    course.load(p)  # the course layer keeps a check's keys as written: they are the grader's
    with pytest.raises(exercise.ExerciseError) as e:
        exercise.load("t-static", p)
    msg = str(e.value)
    assert str(p) in msg and "checks[2] (size_at_most).factr: unknown key" in msg and "factor" in msg
    assert e.value.exercise == "t-static" and len(e.value.problems) == 2  # and `factor` is missing


def test_an_unknown_check_kind_and_a_wrong_type_are_reported(tmp_path):
    p = course_file(tmp_path, EXERCISE.replace("check: hadolint", "check: lint_everything"))
    with pytest.raises(
        exercise.ExerciseError, match="unknown check kind 'lint_everything' .*expected one of: .*builds"
    ):
        exercise.load("t-static", p)
    p = course_file(
        tmp_path, EXERCISE.replace("      - check: hadolint", "      - check: size_at_most\n        factor: big")
    )
    with pytest.raises(exercise.ExerciseError, match="factor.*number"):
        exercise.load("t-static", p)
    p = course_file(tmp_path, EXERCISE.replace("    checks:", "    limits: {memroy: 1g}\n    checks:"))
    with pytest.raises(exercise.ExerciseError, match="limits.memroy: unknown key .*memory"):
        exercise.load("t-static", p)


def test_an_exercise_needs_a_builds_check_and_a_known_module(tmp_path):
    with pytest.raises(exercise.ExerciseError, match="builds"):
        exercise.load("t-static", course_file(tmp_path, EXERCISE.replace("      - check: builds\n", "")))
    with pytest.raises(course.CourseFileError, match="no module '09'"):
        course.load(course_file(tmp_path, EXERCISE.replace('module: "02"', 'module: "09"')))


# --- the Dockerfile reader and the static checks ------------------------------


def test_the_dockerfile_reader_keeps_line_numbers_across_continuations():
    df = parse("# c\nFROM a AS b\nRUN x \\\n  # inside\n  && y\nCOPY --chown=1 a.py b.py /app/\nRUNN z\n")
    assert [(i.line, i.keyword) for i in df.instructions] == [(2, "FROM"), (3, "RUN"), (6, "COPY")]
    assert df.instructions[1].args == "x   && y"  # the comment line inside is dropped, the continuation joined
    assert df.instructions[2].flags == {"chown": "1"} and df.instructions[2].sources() == ["a.py", "b.py"]
    assert [(i.line, i.keyword) for i in df.unknown] == [(7, "RUNN")]


def _static(tmp_path, dockerfile, kind):
    ex = exercise.load("t-static", course_file(tmp_path))
    d = submission(tmp_path, dockerfile)
    spec = next(c for c in ex.checks if c.check == kind)
    return run_check(Context(ex, d, parse(dockerfile), None, no_engine="no engine"), spec)


def test_dependency_order_passes_when_the_code_comes_after_the_install(tmp_path):
    assert _static(tmp_path, GOOD_DOCKERFILE, "dependency_install_before_source_copy").status == "passed"


def test_copying_the_code_before_the_install_fails_with_a_hint(tmp_path):
    bad = "FROM python:3.13-slim\nCOPY . /app\nRUN pip install --no-cache-dir -r /app/requirements.txt\n"
    r = _static(tmp_path, bad, "dependency_install_before_source_copy")
    assert r.status == "failed" and "line 2 copies ." in r.detail and "install" in r.hint


def test_hadolint_fails_on_an_error_level_finding(tmp_path):
    r = _static(tmp_path, "FROM python:3.13-slim\nADD app.py /app/\n", "hadolint")
    assert r.status == "failed" and "DL3020" in r.detail and r.hint
    (tmp_path / "ok").mkdir()
    assert _static(tmp_path / "ok", GOOD_DOCKERFILE, "hadolint").status == "passed"


def test_an_image_check_without_an_engine_is_not_run_and_says_why(tmp_path):
    r = _static(tmp_path, GOOD_DOCKERFILE, "builds")
    assert r.status == "not run" and r.why == "no engine" and r.points == 0


# --- bad input: one report line each, no traceback ------------------------------


def _problems(tmp_path, d, exercise="t-static"):
    r = grade(d, exercise, course_file=course_file(tmp_path))
    assert not r.passed and all(x.status == "not run" for x in r.results)
    assert len(r.problems) == 1, r.problems
    json.loads(r.to_json())
    assert "PROBLEM" in r.table()
    return r.problems[0]


def test_no_dockerfile(tmp_path):
    d = submission(tmp_path)
    (d / "Dockerfile").unlink()
    assert _problems(tmp_path, d).startswith("no Dockerfile in ")


def test_a_dockerfile_syntax_error_names_the_line(tmp_path):
    d = submission(tmp_path, "FROM python:3.13-slim\nRUNN pip install six\n")
    assert (
        _problems(tmp_path, d)
        == "Dockerfile line 2: unknown instruction RUNN (a typo? instructions are FROM, RUN, COPY, ...)"
    )


def test_a_copy_of_a_missing_file(tmp_path):
    d = submission(tmp_path, "FROM python:3.13-slim\nCOPY app.py nothere.py /app/\n")
    assert _problems(tmp_path, d) == "Dockerfile line 2: COPY nothere.py: no such file in the exercise folder"


def test_a_non_utf8_file(tmp_path):
    d = submission(tmp_path)
    (d / "app.py").write_bytes(b"print('caf\xe9')\n")
    assert _problems(tmp_path, d) == "app.py is not UTF-8 text (byte 0xe9 at offset 10): save it as UTF-8"


def test_a_path_outside_the_exercise(tmp_path):
    d = submission(tmp_path, "FROM python:3.13-slim\nCOPY ../secret.txt /app/\n")
    (tmp_path / "secret.txt").write_text("x")
    assert "COPY ../secret.txt reaches outside the exercise folder" in _problems(tmp_path, d)


def test_a_link_to_a_path_outside_the_exercise(tmp_path):
    d = submission(tmp_path)
    (tmp_path / "elsewhere.py").write_text("x")
    (d / "app.py").unlink()
    (d / "app.py").symlink_to(tmp_path / "elsewhere.py")
    assert "a path outside the exercise folder" in _problems(tmp_path, d)


def test_an_unknown_exercise_id(tmp_path):
    d = submission(tmp_path)
    r = grade(d, "99-nope", course_file=course_file(tmp_path))
    assert r.problems == ["unknown exercise '99-nope': known: t-static"] and not r.passed


def test_no_engine_says_so_and_does_not_pass(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    d = submission(tmp_path)
    r = grade(d, "t-static", course_file=course_file(tmp_path))
    assert not r.passed and not r.problems
    by = {x.check: x for x in r.results}
    assert by["builds"].status == "not run" and "no container engine answers" in by["builds"].why
    assert by["dependency_install_before_source_copy"].status == "passed"  # static checks still run
    assert "did not run, so they were not checked: builds" in r.table()


@pytest.mark.answers  # grading reads the exercise's hidden checks (solutions/02-slim/hidden.yml)
def test_the_cli_grade_exits_nonzero_with_one_line_for_a_missing_folder(tmp_path, capsys):
    from layerlab import cli

    assert cli.main(["grade", str(tmp_path / "nowhere"), "--exercise", "02-slim"]) == 1
    out = capsys.readouterr().out
    assert "does not exist" in out and "Traceback" not in out


def test_base_names_ignore_registry_namespace_and_digest():
    from layerlab.grade.checks.size import base_name

    assert base_name("python:3.13-slim") == base_name("docker.io/library/python:3.13-slim") == "python:3.13-slim"
    assert base_name("localhost:5000/mirror/python:3.13-slim@sha256:abc") == "python:3.13-slim"
    assert base_name("debian") == "debian:latest"
    assert base_name("python:3.13") != base_name("python:3.13-slim")


@pytest.mark.parametrize(
    "line,want,memory_line",
    [
        ("cgroup v2 100663296 50000 100000", (100663296, 0.5), "96 MiB"),
        ("cgroup v2 max max 100000", (None, None), "unlimited"),
        ("cgroup v1 209715200 150000 100000", (209715200, 1.5), "200 MiB"),
        ("cgroup v1 9223372036854771712 -1 100000", (None, None), "unlimited"),
    ],
)
def test_the_cgroup_probe_reads_v1_and_v2(line, want, memory_line):
    from layerlab.grade.checks.limits import expected_limit_lines, parse_cgroup_line

    assert parse_cgroup_line(line) == want
    assert expected_limit_lines(*want)["memory limit"] == memory_line


def test_the_expected_limit_lines_match_the_reference_program():
    from layerlab.grade.checks.limits import expected_limit_lines

    assert expected_limit_lines(96 * 2**20, 0.5) == {"memory limit": "96 MiB", "cpu limit": "0.5 CPUs", "workers": "1"}
    assert expected_limit_lines(200 * 2**20, 1.5)["workers"] == "1"


@pytest.mark.parametrize(
    "error",
    [
        "api exited 1 | no model at /data/model.json",  # the API lost the race
        "container layerlab-08-exercise-prep-1 exited (0)",  # compose saw the job stop first
    ],
)
def test_both_ways_the_08_starter_fails_point_at_waiting_for_the_job(error):
    from layerlab.grade.checks.compose import _up_hint

    assert "service_completed_successfully" in _up_hint(error, "")


def test_an_exit_that_is_not_a_jobs_clean_end_gets_the_generic_hint():
    from layerlab.grade.checks.compose import _up_hint

    assert "service_completed_successfully" not in _up_hint("api exited (1)", "")


def test_a_file_grading_writes_itself_is_not_missing(tmp_path):
    # 10-prod's starter copies model.npy, which grading generates (weights_outside_image and its family
    # `provides` it); its folder as handed out has none, and that is no problem of the submission's.
    from layerlab.grade.submission import check_input

    ex = exercise.load("10-prod")
    folder = tmp_path / "10-prod"
    shutil.copytree(REPO / "exercises" / "10-prod", folder)
    assert not (folder / "model.npy").exists()
    assert check_input(ex, folder)[0] == []
    (folder / "Dockerfile").write_text((folder / "Dockerfile").read_text().replace("model.npy", "modle.npy"))
    assert check_input(ex, folder)[0] == ["Dockerfile line 7: COPY modle.npy: no such file in the exercise folder"]


def test_the_loaders_shm_is_judged_before_it_runs():
    from layerlab.grade.checks.production import LoaderShm, judge_shm

    spec = LoaderShm(check="loader_shm")
    need = 4 * 2 * 16 * 2**20
    assert judge_shm(160 * 2**20, None, need, spec) is None
    assert judge_shm(None, None, need, spec) is None  # the default is tried: the run says it fails
    host = judge_shm(160 * 2**20, "host", need, spec)
    assert host is not None and "ipc: host" in host.detail and "shm_size" in host.hint
    big = judge_shm(2 * 2**30, None, need, spec)
    assert big is not None and "2048 MiB" in big.detail and "128 MiB" in big.detail
    assert judge_shm(int(spec.most * need), None, need, spec) is None


def test_a_tmpfs_on_dev_shm_is_read_as_the_loaders_shm_in_each_form_compose_writes():
    """What `docker compose config --format json` prints for each way to size /dev/shm (Compose 2.26)."""
    from layerlab.grade.checks.base import Failed
    from layerlab.grade.checks.production import declared_shm

    where = "service loader in compose.yaml"
    short = declared_shm({"tmpfs": ["/tmp", "/dev/shm:size=160m,mode=1777"]}, where)
    assert short.size == 160 * 2**20 and short.tmpfs == "/dev/shm:size=160m,mode=1777"
    assert "a tmpfs of 160 MiB on /dev/shm" == short.option
    assert declared_shm({"tmpfs": "/dev/shm:size=1g"}, where).size == 2**30
    long = declared_shm({"volumes": [{"type": "tmpfs", "target": "/dev/shm", "tmpfs": {"size": "167772160"}}]}, where)
    assert long.size == 160 * 2**20 and long.tmpfs == "/dev/shm:size=167772160"
    plain = declared_shm({"shm_size": "167772160"}, where)
    assert plain.size == 160 * 2**20 and plain.tmpfs is None and plain.option == "shm_size 160 MiB"
    assert declared_shm({"tmpfs": ["/tmp:size=1g"]}, where).size is None  # not /dev/shm: the default
    for unsized in ({"tmpfs": ["/dev/shm"]}, {"volumes": [{"type": "tmpfs", "target": "/dev/shm/"}]}):
        with pytest.raises(Failed, match="without a size"):
            declared_shm(unsized, where)
    with pytest.raises(Failed, match="50% of the host"):
        declared_shm({"tmpfs": ["/dev/shm:size=50%"]}, where)
    with pytest.raises(Failed, match="not a tmpfs size"):
        declared_shm({"tmpfs": ["/dev/shm:size=160MiB"]}, where)  # the kernel refuses it: compose up would fail


@pytest.mark.answers  # without an autograder's starter, the given copy comes from the solution's folder
def test_a_given_program_is_the_starters_whatever_the_submission_holds(tmp_path):
    from layerlab.grade.checks.base import Context
    from layerlab.grade.checks.production import LoaderShm

    folder = tmp_path / "10-prod"
    shutil.copytree(REPO / "exercises" / "10-prod", folder)
    (folder / "loader.py").write_text("print('all fine')\n")
    ex = exercise.load("10-prod")
    ctx = Context(exercise=ex, folder=folder, dockerfile=None, subject=None)  # type: ignore[arg-type]
    LoaderShm(check="loader_shm").prepare(ctx)
    assert (folder / "loader.py").read_bytes() == (REPO / "exercises" / "10-prod" / "loader.py").read_bytes()
    assert "loader.py" in LoaderShm(check="loader_shm").provides()


def test_the_loaders_workload_and_the_quotas_are_validated():
    from pydantic import ValidationError

    from layerlab.grade.checks.production import LoaderShm, ThreadsFromQuota

    for bad in (["4", "2"], ["4", "2", "x"], ["0", "2", "16"], ["4", "2", "16", "1"]):
        with pytest.raises(ValidationError):
            LoaderShm(check="loader_shm", args=bad)
    with pytest.raises(ValidationError):
        ThreadsFromQuota(check="threads_from_quota", weights={"rows": 2, "cols": 2, "seed": 1}, cpus=[0])
    with pytest.raises(ValidationError):
        ThreadsFromQuota(check="threads_from_quota", weights={"rows": 2, "cols": 2, "seed": 1}, cpus=[])


def test_the_exercises_loader_is_the_lessons():
    # Two copies on purpose (a student's image cannot import the course); the grader runs the exercise's, the
    # lesson measures with its own, and both must stay the one program the lesson's figures describe.
    lesson = REPO / "docker" / "lessons" / "10-production" / "app" / "loader.py"
    assert (REPO / "exercises" / "10-prod" / "loader.py").read_bytes() == lesson.read_bytes()
