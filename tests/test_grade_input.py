"""Submissions a class hands in that the grader must refuse in one line, before it copies anything: a folder
past the size limit, a file name that is not UTF-8, a link that loops; and a report on a folder whose own
name is not UTF-8 still writes as JSON. No engine: bad input never reaches one."""

from __future__ import annotations

import json
import os
import time

from layerlab.grade import sandbox
from layerlab.grade.runner import grade
from layerlab.ground import settings
from test_grade_static import course_file, submission


def _one_problem(tmp_path, d) -> str:
    r = grade(d, "t-static", course_file=course_file(tmp_path))
    assert not r.passed and r.points == 0 and all(x.status == "not run" for x in r.results)
    assert len(r.problems) == 1, r.problems
    json.loads(r.to_json())
    return r.problems[0]


def test_a_folder_of_several_gigabytes_is_refused_before_it_is_copied(tmp_path, monkeypatch):
    d = submission(tmp_path)
    with open(d / "dataset.bin", "wb") as f:  # sparse: 3 GB to the directory entry, nothing on the disk
        f.truncate(3 * 10**9)
    copied = []
    monkeypatch.setattr("layerlab.grade.runner.copy", lambda *a: copied.append(a))
    start = time.perf_counter()
    line = _one_problem(tmp_path, d)
    assert "holds more than 50 MB" in line and "limits.max_submission_mb" in line, line
    assert copied == [], "a folder past the limit was copied"
    assert time.perf_counter() - start < 10  # read from the directory entries, not the 3 GB


def test_caches_left_beside_the_files_do_not_count_towards_the_limit(tmp_path):
    d = submission(tmp_path)
    (d / "__pycache__").mkdir()
    with open(d / "__pycache__" / "big.pyc", "wb") as f:
        f.truncate(60 * 10**6)
    r = grade(d, "t-static", course_file=course_file(tmp_path))
    assert not any("holds more than" in p for p in r.problems), r.problems


def test_a_file_name_that_is_not_utf8_is_named_printably(tmp_path):
    d = submission(tmp_path)
    (d / os.fsdecode(b"caf\xe9.txt")).write_text("x")
    assert _one_problem(tmp_path, d) == (
        "the file name caf\\xe9.txt is not UTF-8: rename it (the engine and the report need UTF-8 names)"
    )


def test_a_link_to_a_folder_that_holds_it_is_a_loop(tmp_path):
    d = submission(tmp_path)
    (d / "sub").mkdir()
    (d / "sub" / "again").symlink_to(d)
    assert _one_problem(tmp_path, d) == "sub/again links to a folder that holds it, a loop: remove the link"


def test_a_link_to_a_file_inside_is_fine(tmp_path):
    d = submission(tmp_path)
    (d / "same.py").symlink_to(d / "app.py")
    r = grade(d, "t-static", course_file=course_file(tmp_path))
    assert r.problems == []


def test_a_folder_whose_name_is_not_utf8_still_reports_as_json(tmp_path):
    d = submission(tmp_path, name=os.fsdecode(b"stud\xe9nt"))
    (d / "Dockerfile").unlink()
    line = _one_problem(tmp_path, d)
    assert "stud\\xe9nt" in line
    r = grade(d, "t-static", course_file=course_file(tmp_path))
    assert json.loads(r.to_json())["path"].endswith("stud\\xe9nt")


def test_grade_many_s_job_label_is_on_everything_a_grading_session_makes(monkeypatch):
    monkeypatch.delenv(settings.GRADE_JOB_ENV, raising=False)
    alone = sandbox.Session("02-slim", "02", memory="64m", pids=10, max_output=10)
    assert sandbox.JOB_LABEL not in alone.labels and alone.labels[sandbox.RUN_LABEL] == alone.run_id
    monkeypatch.setenv(settings.GRADE_JOB_ENV, "gm0123abcd")
    s = sandbox.Session("02-slim", "02", memory="64m", pids=10, max_output=10)
    assert s.labels[sandbox.JOB_LABEL] == "gm0123abcd" and s.run_labels[sandbox.JOB_LABEL] == "gm0123abcd"
    monkeypatch.setenv(settings.GRADE_JOB_ENV, "x y")
    try:
        settings.grade_job()
    except ValueError as e:
        assert settings.GRADE_JOB_ENV in str(e)
    else:
        raise AssertionError("a job id with a space was taken")
