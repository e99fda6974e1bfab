"""course.yml: strict schema, clear errors, and the files it names exist."""

import subprocess

import pytest

from layerlab import course
from layerlab.course import REPO


def test_the_course_manifest_loads():
    c = course.load()
    assert [m.id for m in c.modules] == sorted(m.id for m in c.modules)
    assert c.module("00").slug == "setup"
    assert c.module("setup").id == "00"


def write(tmp_path, text):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "00-x.py").write_text("# %%\n")
    p = tmp_path / "course.yml"
    p.write_text(text)
    return p


GOOD = """
title: T
description: D
modules:
  - id: "00"
    slug: x
    title: X
    notebook: notebooks/00-x.py
    teaching_minutes: 5
    objectives: [o]
    key_points: [k]
"""


def test_a_minimal_manifest_is_valid(tmp_path):
    assert course.load(write(tmp_path, GOOD)).modules[0].exercise_minutes == 0


def test_an_unknown_key_names_the_file_the_key_and_the_expected_keys(tmp_path):
    p = write(tmp_path, GOOD.replace("teaching_minutes: 5", "teaching_minutes: 5\n    notebok: typo"))
    with pytest.raises(course.CourseFileError) as e:
        course.load(p)
    msg = str(e.value)
    assert str(p) in msg
    assert "modules[0 (id 00)].notebok: unknown key" in msg
    assert "teaching_minutes" in msg  # the keys it expected


def test_a_wrong_type_says_what_was_expected(tmp_path):
    p = write(tmp_path, GOOD.replace("teaching_minutes: 5", "teaching_minutes: soon"))
    with pytest.raises(course.CourseFileError) as e:
        course.load(p)
    assert "teaching_minutes" in str(e.value) and "integer" in str(e.value)


def test_an_unknown_need_is_rejected(tmp_path):
    p = write(tmp_path, GOOD + "    needs: [engine, quantum]\n")
    with pytest.raises(course.CourseFileError) as e:
        course.load(p)
    assert "needs" in str(e.value) and "quantum" in str(e.value)


def test_a_missing_notebook_is_reported(tmp_path):
    p = write(tmp_path, GOOD.replace("00-x.py", "00-y.py"))
    with pytest.raises(course.CourseFileError, match="does not exist"):
        course.load(p)


def test_bad_yaml_is_reported_not_raised_raw(tmp_path):
    p = write(tmp_path, "title: [unclosed\n")
    with pytest.raises(course.CourseFileError, match="not valid YAML"):
        course.load(p)


def test_lesson_sources_are_text_and_no_ipynb_is_tracked():
    tracked = subprocess.run(["git", "ls-files", "notebooks"], cwd=REPO, capture_output=True, text=True).stdout.split()
    assert not [t for t in tracked if t.endswith(".ipynb")], "commit the jupytext .py source, not the .ipynb"
    for m in course.load().modules:
        assert m.notebook.endswith(".py")
        assert (REPO / m.notebook).read_text().lstrip().startswith("# %%")


def test_every_exercise_of_the_course_is_valid_for_the_grader():
    # course/ keeps a check's keys as written; the grader reads each check by its kind's model.
    from layerlab.grade import exercise

    typed = exercise.load_all()
    assert [e.id for e in typed] == [e.id for e in course.load().exercises]
    assert all(
        e.checks and e.total_points == r.total_points for e, r in zip(typed, course.load().exercises, strict=True)
    )


def test_a_bad_check_in_the_manifest_is_caught(tmp_path):
    from layerlab.grade import exercise

    text = (
        (REPO / "course.yml")
        .read_text()
        .replace("      - check: size_at_most\n        factor:", "      - check: size_at_most\n        factr:", 1)
    )
    p = tmp_path / "course.yml"
    p.write_text(text)
    for m in course.load().modules:
        (tmp_path / m.notebook).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / m.notebook).write_text("# %%\n")
        for c in m.challenges:
            (tmp_path / c.solution).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / c.solution).write_text("")
    with pytest.raises(
        exercise.ExerciseError, match=r"\(size_at_most\)\.factr: unknown key \(expected one of: .*factor"
    ):
        exercise.load_all(p)
