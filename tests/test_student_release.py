"""`layerlab release --student DIR` (issue 27): the repository a student clones holds no answer, and its own tests pass.

A small course repository made here shows the mechanics (what git tracks ships, answers and untracked files do
not, what is left out is listed, a stale or unsafe source is refused); the course's own release, built into a
temporary folder, shows the product: no solutions/, fixture, hidden check or challenge answer, the exercises as
generated, a course that loads, a grader that asks for the autograder in one line, and a test suite whose
tests that need the answers are all marked, and deselected there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import answers
from layerlab import course
from layerlab.cli import main
from layerlab.course import REPO, activities, classroom
from layerlab.grade import hidden, release, student
from layerlab.ground.settings import STUDENT_MARKER, student_release

COURSE = """
title: T
description: D
modules:
  - id: "01"
    slug: x
    title: X
    notebook: notebooks/01-x.py
    teaching_minutes: 5
    objectives: [o]
    key_points: [k]
    challenges:
      - id: 01-try
        title: Try
        minutes: 5
        solution: notebooks/solutions/01-try.py
exercises:
  - id: 01-e
    module: "01"
    title: E
    paths: [Dockerfile]
    checks:
      - check: builds
"""


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root), *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


@pytest.fixture
def source(tmp_path) -> Path:
    """An instructor's repository in miniature: one lesson with a challenge, one exercise, committed."""
    root = tmp_path / "course"
    write(root, "course.yml", COURSE)
    write(root, "notebooks/01-x.py", "# %%\nactivities.solution('01-try')\n")
    write(root, "notebooks/solutions/01-try.py", "ANSWER = 42\n")
    write(
        root, "solutions/01-e/Dockerfile", "FROM x\n# BEGIN SOLUTION\nRUN good\n# STARTER\n# RUN bad\n# END SOLUTION\n"
    )
    write(root, "solutions/01-e/fixture.json", "{}\n")
    write(root, "solutions/01-e/hidden.yml", "checks: []\n")
    write(root, "docs/fixture.json", "{}\n")  # a fixture outside solutions/ is left out by its name
    write(root, ".gitignore", "/build/\n")
    write(root, "build/out.html", "ignored\n")
    os.chmod(write(root, "scripts/run.sh", "#!/bin/sh\n"), 0o755)
    release.release("01-e", root)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "course")
    write(root, "notes.txt", "the instructor's untracked notes\n")
    return root


def shipped(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def test_a_release_ships_what_git_tracks_less_the_answers_and_says_what_it_left_out(source, tmp_path):
    r = student.write(tmp_path / "student", source)
    out = tmp_path / "student"
    tracked = set(git(source, "ls-files").split())
    left = {x.path for x in r.left_out}
    assert left == {
        "solutions/01-e/Dockerfile",
        "solutions/01-e/fixture.json",
        "solutions/01-e/hidden.yml",
        "notebooks/solutions/01-try.py",
        "docs/fixture.json",
    }
    assert shipped(out) == tracked - left | {STUDENT_MARKER}, "exactly the tracked files, less the answers"
    assert not (out / "notes.txt").exists() and not (out / "build").exists() and r.untracked == 1
    assert (out / "exercises/01-e/Dockerfile").read_text() == "FROM x\nRUN bad\n"
    assert sorted(p.name for p in (out / "exercises/01-e").iterdir()) == ["Dockerfile"], "no fixture, no hidden checks"
    assert os.access(out / "scripts/run.sh", os.X_OK)
    assert r.files == len(shipped(out))
    text = r.summary()
    for group, n in (("solutions/", 3), ("notebooks/solutions/", 1), ("**/fixture.json", 1)):
        assert any(line.split()[:2] == [group, str(n)] for line in text.splitlines()), text
    assert "1 file(s) git does not track" in text
    marker = json.loads((out / STUDENT_MARKER).read_text())
    assert marker["format"] == student.MARKER_FORMAT and marker["left_out"]["solutions/"]["files"] == 3
    assert marker["commit"] == git(source, "rev-parse", "HEAD").strip()


def test_the_release_loads_as_a_course_without_the_challenge_answers(source, tmp_path):
    student.write(tmp_path / "student", source)
    write(tmp_path, "plain/notebooks/01-x.py", "# %%\n")
    with pytest.raises(course.CourseFileError, match="01-try.py does not exist"):
        course.load(write(tmp_path, "plain/course.yml", COURSE))  # the same course without its marker: an error
    c = course.load(tmp_path / "student" / "course.yml")
    assert c.challenge("01-try").solution == "notebooks/solutions/01-try.py"


def test_uncommitted_edits_ship_and_are_named(source, tmp_path):
    write(source, "notebooks/01-x.py", "# %%\n# edited\n")
    r = student.write(tmp_path / "student", source)
    assert (tmp_path / "student/notebooks/01-x.py").read_text() == "# %%\n# edited\n"
    assert r.modified == ["notebooks/01-x.py"] and "uncommitted changes: notebooks/01-x.py" in r.summary()


def test_a_stale_exercise_is_refused_before_anything_is_written(source, tmp_path):
    write(source, "exercises/01-e/Dockerfile", "FROM x\nRUN edited by hand\n")
    with pytest.raises(student.StudentReleaseError, match="layerlab release 01-e"):
        student.write(tmp_path / "student", source)
    assert not (tmp_path / "student").exists()


def test_a_link_to_an_answer_is_refused(source, tmp_path):
    os.symlink("../solutions/01-e/Dockerfile", source / "docs" / "answer")
    git(source, "add", "docs/answer")
    with pytest.raises(
        student.StudentReleaseError, match="docs/answer links to .* which the student release leaves out"
    ):
        student.write(tmp_path / "student", source)


def test_a_non_empty_folder_a_non_git_folder_and_a_release_are_refused(source, tmp_path):
    write(tmp_path, "full/x", "")
    with pytest.raises(student.StudentReleaseError, match="not an empty folder"):
        student.write(tmp_path / "full", source)
    plain = tmp_path / "plain"
    write(plain, "course.yml", COURSE)
    write(plain, "notebooks/01-x.py", "")
    write(plain, "notebooks/solutions/01-try.py", "")
    with pytest.raises(student.StudentReleaseError, match="git"):
        student.write(tmp_path / "s1", plain)
    student.write(tmp_path / "s2", source)
    with pytest.raises(student.StudentReleaseError, match="itself a student release"):
        student.write(tmp_path / "s3", tmp_path / "s2")


def test_student_takes_no_exercise_ids_and_no_check(tmp_path, capsys):
    assert main(["release", "--student", str(tmp_path / "s"), "--check"]) == 2
    assert "takes no exercise ids" in capsys.readouterr().err and not (tmp_path / "s").exists()


# --- what a student release changes, shown without building one -------------------------------------


def test_the_marker_is_where_the_answers_are_not():
    # On the instructor's repository a marker would deselect every test marked `answers`, silently; in a student
    # release its absence would run them against answers that are not there.
    assert student_release() == (REPO / STUDENT_MARKER).is_file() == (not (REPO / "solutions").exists())


def test_in_a_student_release_the_solution_button_says_the_instructor_has_it(tmp_path, monkeypatch):
    (tmp_path / STUDENT_MARKER).write_text("{}\n")
    monkeypatch.setattr(course, "REPO", tmp_path)  # the release's root: no notebooks/solutions/ there
    s = activities.solution("02-lean-git")
    assert "with your instructor" in s.show() and "with your instructor" in s.out.value
    static = s.static_html()
    assert "with your instructor" in static and "notebooks/solutions" not in static


def test_grading_in_a_student_release_asks_for_the_autograder_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(student, "student_release", lambda root=REPO: True)
    monkeypatch.setattr(student.fixture, "fixture_path", lambda ex: tmp_path / "solutions" / ex / "fixture.json")
    monkeypatch.setattr(hidden, "path_for", lambda course_file, ex: tmp_path / "solutions" / ex / "hidden.yml")
    assert main(["grade", str(REPO / "exercises" / "02-slim")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--autograder FILE" in err and err.startswith("02-slim: ")


# --- the marker cannot be forgotten ---------------------------------------------------------------------


def test_the_guard_names_paths_into_the_answers_only(monkeypatch):
    at = REPO.joinpath  # paths as a test's reads name them; nothing is read here
    assert answers.answer_path(at("solutions/02-slim/fixture.json")) == "solutions/02-slim/fixture.json"
    assert answers.answer_path(str(at("solutions"))) == "solutions"
    assert answers.answer_path(os.fsencode(at("notebooks/solutions/02-lean-git.py")))
    assert answers.answer_path(at("exercises/02-slim/Dockerfile")) is None
    assert answers.answer_path(at("notebooks/02-images-and-layers.py")) is None
    assert answers.answer_path(Path("/elsewhere/solutions/x")) is None and answers.answer_path(3) is None
    monkeypatch.chdir(REPO)
    assert answers.answer_path("solutions/x/../02-slim/Dockerfile") == "solutions/02-slim/Dockerfile"


PROBE = """
import pytest
from layerlab.ground.settings import REPO

def _read():
    try:
        open(REPO / "solutions" / "02-slim" / "Dockerfile").close()
    except OSError:
        pass  # a student release: the guard has seen the attempt all the same

def test_unmarked():
    _read()

@pytest.mark.answers
def test_marked():
    _read()
"""


def test_the_guard_fails_an_unmarked_test_that_reads_an_answer(tmp_path):
    (tmp_path / "test_probe.py").write_text(PROBE)
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "answers", "-p", "no:cacheprovider", "-q", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "tests")])},
        timeout=120,
    )
    assert "test_probe.py::test_unmarked" in r.stdout and "is not marked @pytest.mark.answers" in r.stdout, r.stdout
    # The marked test passes on the instructor's repository, and is deselected in a student release.
    tally = "1 failed, 1 deselected" if student_release() else "1 failed, 1 passed"
    assert tally in r.stdout, r.stdout


SCANNED = """
import subprocess, sys
import pytest
from layerlab.course import REPO
from layerlab.grade import fixture as fx
from layerlab.grade.runner import grade

SOLUTION = REPO / "solutions" / "02-slim"

def helper():
    return fx.load("02-slim")

@pytest.fixture
def solved():
    return SOLUTION

def test_by_constant():
    assert SOLUTION

def test_by_helper():
    helper()

def test_by_fixture(solved):
    pass

def test_by_challenge(c):
    (REPO / c.solution).read_text()

def test_by_grading_the_course():
    grade(REPO / "exercises" / "02-slim", "02-slim")

def test_by_subprocess():
    subprocess.run([sys.executable, "-m", "layerlab.cli", "grade", "exercises/02-slim"])

def test_by_command(dc):
    dc.exec(".venv/bin/layerlab grade solutions/01-limits --exercise 01-limits")

def test_own_course_and_tmp_paths(tmp_path, cf):
    grade(tmp_path, "t", course_file=cf)
    (tmp_path / "solutions" / "e1").mkdir(parents=True)
    assert "solutions/x/Dockerfile"

@pytest.mark.answers
def test_marked():
    helper()
"""


def test_the_source_scan_finds_each_way_a_test_names_the_answers(tmp_path):
    (tmp_path / "test_scanned.py").write_text(SCANNED)
    found = {p.split(" ")[0] for p in answers.unmarked_readers(tmp_path)}
    want = "constant helper fixture challenge grading_the_course subprocess command".split()
    assert found == {f"test_scanned.py::test_by_{w}" for w in want}
    (tmp_path / "test_import.py").write_text(
        "from layerlab.course import REPO\nTEXT = (REPO / 'solutions' / 'x' / 'Dockerfile').read_text()\n"
    )
    assert any("test_import.py:2: reads the answers at import" in p for p in answers.unmarked_readers(tmp_path))


def test_every_test_that_names_the_answers_is_marked():
    assert answers.unmarked_readers(REPO / "tests") == []


# --- the course's own student release --------------------------------------------------------------------


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> tuple[Path, student.StudentRelease]:
    out = tmp_path_factory.mktemp("release") / "student"
    return out, student.write(out)


def _in_release(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.answers
def test_the_course_release_holds_no_answer_and_every_exercise(released):
    out, r = released
    assert not (out / "solutions").exists() and not (out / "notebooks" / "solutions").exists()
    assert not [p for p in out.rglob("*") if p.name in ("fixture.json", "hidden.yml")]
    answered = set(git(REPO, "ls-files", "solutions", "notebooks/solutions").split())
    assert answered and answered <= {x.path for x in r.left_out}, "every answer is listed as left out"
    for ex in course.load().exercises:
        generated = release.expected(ex.id)
        assert {k: (out / "exercises" / ex.id / k).read_bytes() for k in generated} == generated, ex.id
    # Byte for byte: the autograder flags a submission whose course.yml differs from its own.
    assert (out / "course.yml").read_bytes() == (REPO / "course.yml").read_bytes()
    assert [m.id for m in course.load(out / "course.yml").modules] == [m.id for m in course.load().modules]
    assert answers.unmarked_readers(out / "tests") == []
    # The grading CI where GitHub and GitLab read it, the same bytes as the instructor's templates.
    for dest, src in classroom.STUDENT_FILES.items():
        assert (out / dest).read_bytes() == (REPO / src).read_bytes(), dest


@pytest.mark.answers
def test_the_course_release_grades_only_with_the_autograder(released):
    out, _ = released
    r = _in_release(out, "-m", "layerlab.cli", "grade", "exercises/02-slim")
    assert r.returncode == 2 and r.stdout == "", r.stdout + r.stderr
    assert len(r.stderr.splitlines()) == 1 and "autograder bundle (`layerlab grade DIR --autograder FILE`" in r.stderr


@pytest.mark.answers
def test_the_course_release_deselects_exactly_the_marked_tests(released):
    out, _ = released
    files = ["tests/test_grade_static.py", "tests/test_leaks.py"]  # one file with marked tests, one without
    r = _in_release(out, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files)
    assert r.returncode == 0, r.stdout + r.stderr
    collected = {line.split("[")[0] for line in r.stdout.splitlines() if "::" in line}
    assert (
        "tests/test_grade_static.py::test_every_solution_has_a_fixture_recorded_from_its_current_files" not in collected
    )
    assert "tests/test_grade_static.py::test_drift_names_missing_changed_and_extra_files" in collected
    assert "tests/test_leaks.py::test_a_mask_shows_four_characters_and_the_length" in collected
    # As many as carry the marker here, in the instructor's repository.
    here = _in_release(
        REPO, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", "answers", files[0]
    )
    marked = sum("::" in line for line in here.stdout.splitlines())
    assert marked > len(course.load().exercises), here.stdout  # three checks per exercise, and more
    assert f"{marked} deselected" in r.stdout and f"student release: {marked} test(s) marked" in r.stdout, r.stdout
