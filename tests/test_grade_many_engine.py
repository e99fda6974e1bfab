"""`layerlab grade-many` on the real engine: a class of real 02-slim submissions graded two at a time gets,
per student, the report that grading them alone gives (no cross-talk between concurrent gradings), a
build that never ends is stopped at --timeout with nothing of it left running or labelled, and no grading
of the batch leaves anything behind."""

from __future__ import annotations

import shutil
import threading
import time

import pytest

from layerlab.course import REPO
from layerlab.grade import batch, isolate
from layerlab.grade.runner import grade
from layerlab.grade.sandbox import JOB_LABEL, RUN_LABEL
from procs import sleep_seconds, sleeping

pytestmark = pytest.mark.usefixtures("engine_client")


def _verdicts(report):
    return [(r.check, r.status, r.points) for r in report.results]


def _left(client, jobs: set[str], runs: set[str]) -> list[str]:
    """Anything carrying one of these jobs' or runs' labels, of every kind a grading makes."""
    found = []
    for key, values in ((JOB_LABEL, jobs), (RUN_LABEL, runs)):
        flt = [("label", key)]
        found += [c.name for c in client.container.list(all=True, filters=flt) if c.config.labels.get(key) in values]
        found += [n.name for n in client.network.list(filters=flt) if (n.labels or {}).get(key) in values]
        found += [v.name for v in client.volume.list(filters=flt) if (v.labels or {}).get(key) in values]
        found += [i.id for i in client.image.list(filters=flt) if (i.config.labels or {}).get(key) in values]
    return found


@pytest.mark.answers
# 52 s on a fresh machine (969f73b), where the tests lane ran 1897 s beside the lessons lane's 1775 s: here it evens them.
@pytest.mark.lane("lessons")
def test_each_students_report_matches_grading_them_alone(engine_client, tmp_path):
    subs = tmp_path / "subs"
    shutil.copytree(REPO / "solutions" / "02-slim", subs / "right")
    shutil.copytree(REPO / "exercises" / "02-slim", subs / "starter")
    (subs / "nodockerfile").mkdir()
    shutil.copy(REPO / "exercises" / "02-slim" / "wordcount.py", subs / "nodockerfile")
    b = batch.grade_many(subs, "02-slim", tmp_path / "out", jobs=2, timeout=900, show=lambda line: None)
    rows = {r.student: r for r in b.rows}
    assert rows["right"].status == "passed" and rows["right"].total == rows["right"].max
    assert rows["starter"].status == "failed" and rows["nodockerfile"].status == "broken"
    for g in b.graded:
        alone = grade(g.submission.entry, "02-slim")
        assert _verdicts(g.report) == _verdicts(alone), g.row.student
        assert g.report.problems == alone.problems
    assert b.left == []
    runs = {g.report.run_id for g in b.graded} - {"-"}
    assert len(runs) == 2, "each graded student has a run of their own"
    assert _left(engine_client, {g.job for g in b.graded}, runs) == []


@pytest.mark.answers
def test_a_build_that_never_ends_is_stopped_at_the_timeout_and_leaves_nothing(engine_client, tmp_path):
    subs = tmp_path / "subs"
    d = subs / "forever"
    shutil.copytree(REPO / "solutions" / "02-slim", d)
    n = sleep_seconds()
    df = d / "Dockerfile"
    # a step that never ends on its own, first, so the grading reaches it in seconds; a nonce keeps it out of the cache
    text = df.read_text()
    assert "\nFROM python:3.13-slim\n" in text
    df.write_text(
        text.replace(
            "\nFROM python:3.13-slim\n", f"\nFROM python:3.13-slim\nRUN echo {time.time_ns()} && sleep {n}\n", 1
        )
    )
    seen = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if sleeping(n):
                seen.set()
            time.sleep(0.5)

    done = threading.Event()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.monotonic()
    try:
        # 30 s: long enough to reach the step under a loaded make test (about 10 s there), and no longer.
        b = batch.grade_many(subs, "02-slim", tmp_path / "out", timeout=30, show=lambda line: None)
    finally:
        done.set()
        watcher.join()
    assert time.monotonic() - start < 30 + isolate.GRACE_S + 60
    (row,) = b.rows
    assert row.status == "timed out" and row.total == 0 and row.max > 0, row
    assert seen.is_set(), "the grading never reached the step that never ends: the test proves nothing"
    deadline = time.monotonic() + 60  # BuildKit cancels a build whose client left
    while sleeping(n) and time.monotonic() < deadline:
        time.sleep(1)
    assert not sleeping(n), f"the submission's `sleep {n}` is still running"
    assert b.left == [] and _left(engine_client, {b.graded[0].job}, set()) == []


def test_what_a_grading_builds_carries_its_job_label_and_is_removed_by_it(engine_client, tmp_path, monkeypatch):
    """The clean-up of a killed grading finds what it made by the job label alone."""
    from layerlab.grade.sandbox import Session
    from layerlab.ground import settings

    job = f"gmtest{time.time_ns()}"
    monkeypatch.setenv(settings.GRADE_JOB_ENV, job)
    (tmp_path / "Dockerfile").write_text(f"FROM python:3.13-slim\nRUN echo {job} > /job\n")
    session = Session("02-slim", "02", memory="128m", pids=64, max_output=1000)
    try:
        session.build(tmp_path, "main", timeout=300)
        left = isolate.EngineCleaner().remaining({job})
        assert len(left) == 1 and left[0].startswith("image "), left
        assert isolate.EngineCleaner().remove(job) == []
        assert isolate.EngineCleaner().remaining({job}) == []
    finally:
        session.close()
