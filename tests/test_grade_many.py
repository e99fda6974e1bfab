"""`layerlab grade-many` without an engine: each student graded by a fake grader in a process of its own
(a script that prints the report a submission's `fake.json` asks for, or sleeps, or crashes), so the
gradebook, the regrade's changes, the summary, the time limit and every kind of broken row are tested
in seconds; then the real grader on broken submissions, which never reach an engine."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from layerlab import cli
from layerlab.course import REPO
from layerlab.grade import batch, collect, gradebook, isolate, summary
from layerlab.grade.report import Report

# grade-many is the instructor's: it reads the exercise's hidden checks (solutions/<id>/hidden.yml), which a student
# release does not have.
pytestmark = pytest.mark.answers

FAKE = r"""
import json, os, subprocess, sys, time
from pathlib import Path

# Plain JSON in the grade report's shape: importing layerlab would cost each fake grading a second.
folder, job = Path(sys.argv[1]), os.environ["LAYERLAB_GRADE_JOB"]
(Path(os.environ["FAKE_LOG"]) / job).write_text(str(folder.resolve()))
spec = json.loads((folder / "fake.json").read_text()) if (folder / "fake.json").exists() else {}
mode = spec.get("mode", "grade")
if mode == "sleep":  # a build that never ends: a child of the grader, as a docker client is
    child = subprocess.Popen(["sleep", "300"])
    (Path(os.environ["FAKE_LOG"]) / f"{job}.pid").write_text(str(child.pid))
    time.sleep(300)
if mode == "crash":
    raise RuntimeError("the grader broke")
if mode == "garbage":
    print("this is no report")
    sys.exit(0)
broken = not (folder / "Dockerfile").exists()
results = []
for name, most, required in [("builds", 2, True), ("runs_and_prints", 2, True), ("size_at_most", 3, True), ("hadolint", 1, False)]:
    got = 0 if broken else spec.get("points", {}).get(name, most)
    status = "not run" if broken else "passed" if got == most else "failed"
    hint = spec.get("hints", {}).get(name, "") if status == "failed" else ""
    results.append(dict(check=name, status=status, points=got, max_points=most, required=required, hint=hint))
problems = ["no Dockerfile in " + str(folder)] if broken else []
print(json.dumps(dict(exercise="02-slim", path=str(folder), run_id=job, problems=problems, results=results)))
sys.exit(0 if not broken and all(r["status"] == "passed" for r in results if r["required"]) else 1)
"""


class FakeCleaner:
    def __init__(self) -> None:
        self.removed: list[str] = []
        self.asked: set[str] = set()

    def remove(self, job: str) -> list[str]:
        self.removed.append(job)
        return []

    def remaining(self, jobs: set[str]) -> list[str]:
        self.asked |= jobs
        return []


@pytest.fixture
def fake(tmp_path, monkeypatch):
    script = tmp_path / "fake_grader.py"
    script.write_text(FAKE)
    log = tmp_path / "fake-log"
    log.mkdir()
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])))
    monkeypatch.setattr(isolate, "GRACE_S", 2.0)

    def command(folder: Path, job: str) -> list[str]:
        return [sys.executable, str(script), str(folder)]

    return command, log


def student(root: Path, name: str | bytes, **spec) -> Path:
    d = root / (os.fsdecode(name) if isinstance(name, bytes) else name)
    d.mkdir(parents=True)
    if spec.pop("dockerfile", True):
        (d / "Dockerfile").write_text("FROM python:3.13-slim\n")
    (d / "fake.json").write_text(json.dumps(spec))
    return d


def run(subs: Path, out: Path, fake, **kw) -> tuple[batch.Batch, FakeCleaner]:
    command, _ = fake
    cleaner = FakeCleaner()
    lines: list[str] = []
    b = batch.grade_many(subs, "02-slim", out, command=command, cleaner=cleaner, show=lines.append, **kw)
    assert len(lines) == len(b.rows)
    return b, cleaner


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    return {r["student"]: r for r in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))}


HINT = "the image is 80 MB above its base: delete apt's lists in the same RUN"


def class_of_three(subs: Path) -> None:
    student(subs, "alice")
    student(subs, "bob", points={"size_at_most": 0}, hints={"size_at_most": HINT})
    student(
        subs, "carol", points={"size_at_most": 0, "hadolint": 0}, hints={"size_at_most": HINT, "hadolint": "DL3008"}
    )
    student(subs, "dan", dockerfile=False)


def test_the_gradebook_has_a_row_per_student_with_points_per_check(tmp_path, fake):
    subs, out = tmp_path / "subs", tmp_path / "out"
    class_of_three(subs)
    b, cleaner = run(subs, out, fake, jobs=2, formats=("junit", "gradescope"))
    book = read_csv(out / "gradebook.csv")
    assert list(book) == ["alice", "bob", "carol", "dan"]
    header = (out / "gradebook.csv").read_text().splitlines()[0].split(",")
    assert header[:2] == ["student", "status"] and header[-6:] == gradebook.LAST
    assert header[2:-6] == ["builds", "runs_and_prints", "size_at_most", "hadolint"]
    assert (book["alice"]["status"], book["alice"]["total"], book["alice"]["max"]) == ("passed", "8", "8")
    assert (book["bob"]["status"], book["bob"]["size_at_most"], book["bob"]["total"]) == ("failed", "0", "5")
    assert (
        book["dan"]["status"] == "broken" and book["dan"]["total"] == "0" and "no Dockerfile" in book["dan"]["reason"]
    )
    assert all(book[s]["change"] == "" for s in book), "a first grading has nothing to compare with"
    for s in book:  # each student's own report, as the grader wrote it, and in the formats asked for
        r = Report.model_validate_json((out / "reports" / f"{s}.json").read_text())
        assert r.points == int(book[s]["total"])
        assert json.loads((out / "reports" / f"{s}.gradescope.json").read_text())["score"] == r.points
        suite = ET.parse(out / "reports" / f"{s}.junit.xml").getroot()
        assert len(suite.findall(".//testcase")) == len(r.results) + len(r.problems)  # a problem is an <error>
    assert cleaner.asked == {g.job for g in b.graded}, "the leftover check did not cover every grading"
    assert cleaner.removed == [], "gradings that ended on their own clean up after themselves"
    assert len({g.job for g in b.graded}) == 4


def test_the_summary_shows_the_distribution_the_failing_share_and_the_most_common_hint(tmp_path, fake):
    subs, out = tmp_path / "subs", tmp_path / "out"
    class_of_three(subs)
    b, _ = run(subs, out, fake)
    page = (out / "summary.html").read_text(encoding="utf-8")
    assert "<svg" in page and "Total points per student (4 students)" in page
    assert "total points (of 8)" in page and ">students</text>" in page
    stats = {s.key: s for s in summary.check_stats(b.graded)}
    # size_at_most: bob and carol failed it, dan's did not run: 3 of 4 did not pass
    assert (stats["size_at_most"].failed, stats["size_at_most"].not_run) == (2, 1)
    assert stats["size_at_most"].failing_share == 0.75 and "75%" in page
    assert stats["size_at_most"].hint == HINT and stats["size_at_most"].hint_count == 2
    assert stats["builds"].failing_share == 0.25 and stats["builds"].hint == ""
    assert "the same RUN" in page and "(2 of 2)" in page
    attention = page.split("Broken, timed out and flagged")[1].split("<h2>")[0]
    assert "dan" in attention and "no Dockerfile" in attention and "alice" not in attention
    assert "Nothing: no container" in page


def test_the_histogram_counts_each_total():
    svg = summary.histogram([0, 8, 8, 5], 8)
    ET.fromstring(svg)  # well-formed: browsers show nothing of a broken inline SVG
    assert svg.count("<rect") == 3  # totals 0, 5 and 8
    assert "<title>8 points: 2 student(s)</title>" in svg and "<title>5 points: 1 student(s)</title>" in svg


def test_a_regrade_says_whose_grade_changed_and_why(tmp_path, fake):
    subs, out = tmp_path / "subs", tmp_path / "out"
    class_of_three(subs)
    run(subs, out, fake)
    first = (out / "gradebook.csv").read_text()
    # the check changed: bob's image now passes; carol left; erin joined
    (subs / "bob" / "fake.json").write_text("{}")
    shutil.rmtree(subs / "carol")
    student(subs, "erin")
    b, _ = run(subs, out, fake)
    book = read_csv(out / "gradebook.csv")
    assert book["bob"]["change"] == "5/8 (failed) -> 8/8 (passed)"
    assert book["alice"]["change"] == "" and book["erin"]["change"] == "new"
    assert [c.student for c in b.changes] == ["bob"] and b.changes[0].checks == ["size_at_most 0 -> 3"]
    assert b.gone == ["carol"]
    assert (out / "gradebook.previous.csv").read_text() == first
    page = (out / "summary.html").read_text(encoding="utf-8")
    assert "Changed since the previous grading" in page and "size_at_most 0 -&gt; 3" in page and "carol" in page
    # and once more, unchanged: nobody changed
    b, _ = run(subs, out, fake)
    assert b.changes == [] and all(r.change == "" for r in b.rows)


def test_a_grading_past_its_time_limit_is_stopped_whole_and_its_job_cleaned(tmp_path, fake):
    subs, out = tmp_path / "subs", tmp_path / "out"
    student(subs, "alice")
    student(subs, "sleepy", mode="sleep")
    _, log = fake
    start = time.monotonic()
    b, cleaner = run(subs, out, fake, jobs=2, timeout=3)
    assert time.monotonic() - start < 60
    row = {r.student: r for r in b.rows}["sleepy"]
    assert row.status == "timed out" and row.total == 0 and row.max == 8 and "--timeout 3 s" in row.reason
    assert set(row.points) == {"builds", "runs_and_prints", "size_at_most", "hadolint"}
    job = next(g.job for g in b.graded if g.row.student == "sleepy")
    assert cleaner.removed == [job]
    child = int((log / f"{job}.pid").read_text())
    assert not _alive(child), "the grader's own child (a docker client, say) outlived the time limit"
    assert {r.student: r for r in b.rows}["alice"].status == "passed"
    report = Report.model_validate_json((out / "reports" / "sleepy.json").read_text())
    assert report.points == 0 and all(r.status == "not run" for r in report.results) and report.problems


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_grader_that_crashes_or_prints_no_report_is_a_row_saying_so(tmp_path, fake):
    subs, out = tmp_path / "subs", tmp_path / "out"
    student(subs, "alice")
    student(subs, "crash", mode="crash")
    student(subs, "garbage", mode="garbage")
    b, cleaner = run(subs, out, fake)
    rows = {r.student: r for r in b.rows}
    assert rows["crash"].status == "error" and "exit status 1" in rows["crash"].reason
    assert "the grader broke" in rows["crash"].reason  # the last line of its stderr
    assert "RuntimeError" in (out / "logs" / "crash.txt").read_text()
    assert rows["garbage"].status == "error" and rows["garbage"].total == 0
    assert rows["alice"].status == "passed"
    # exit 1 is the grader's "failed"; only a grading that did not end so is cleaned from outside
    assert cleaner.removed == []


def test_names_that_are_not_utf8_write_to_csv_json_and_html(tmp_path, fake):
    subs, out = tmp_path / "subs", tmp_path / "out"
    student(subs, b"ren\xe9")
    student(subs, "alice")
    b, _ = run(subs, out, fake)
    assert "ren\\xe9" in read_csv(out / "gradebook.csv")
    Report.model_validate_json((out / "reports" / "ren\\xe9.json").read_text(encoding="utf-8"))
    assert "ren\\xe9" in (out / "summary.html").read_text(encoding="utf-8")
    assert gradebook.read(out / "gradebook.csv")[1].student == "ren\\xe9"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_repositories_and_bundles_are_graded_at_their_exercise_folder(tmp_path, fake):
    subs, out = tmp_path / "subs", tmp_path / "out"
    repo = subs / "frank"
    student(repo / "exercises", "02-slim", points={"hadolint": 0})
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "hand in"], check=True)
    subprocess.run([*git, "bundle", "create", "-q", str(subs / "grace.bundle"), "--all"], check=True)
    (subs / "broken.bundle").write_text("not a bundle")
    (subs / "notes.txt").write_text("not a submission")
    b, _ = run(subs, out, fake)
    _, log = fake
    rows = {r.student: r for r in b.rows}
    assert sorted(rows) == ["broken", "frank", "grace"]
    graded = {Path(p.read_text()).relative_to(Path(p.read_text()).parents[1]) for p in log.iterdir()}
    assert graded == {Path("exercises/02-slim")}
    assert rows["frank"].total == rows["grace"].total == 7
    assert rows["broken"].status == "broken" and "could not be cloned" in rows["broken"].reason
    notes = {g.row.student: g.report.notes for g in b.graded}
    assert notes["grace"] == ["graded exercises/02-slim inside the bundle grace.bundle"]
    assert b.skipped == ["notes.txt: not a folder, a git repository or a .bundle file"]


def test_what_cannot_start_fails_before_grading_anything(tmp_path, fake):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    with pytest.raises(collect.NoSubmissions, match="no submissions in"):
        run(subs, out, fake)
    student(subs, "alice")
    with pytest.raises(batch.BatchError, match="unknown exercise '99-nope'"):
        batch.grade_many(subs, "99-nope", out, command=fake[0], cleaner=FakeCleaner())
    out.mkdir()
    (out / "gradebook.csv").write_text("name,score\nalice,3\n")
    with pytest.raises(gradebook.GradebookError, match="not a gradebook"):
        run(subs, out, fake)
    assert list(fake[1].iterdir()) == [], "a batch that could not start graded someone"


def test_the_cli_grades_broken_submissions_with_the_real_grader(tmp_path, capsys):
    """The real `layerlab grade`, one process per student: bad input never reaches an engine."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    good = REPO / "exercises" / "02-slim"
    shutil.copytree(good, subs / "big")
    with open(subs / "big" / "data.bin", "wb") as f:
        f.truncate(3 * 10**9)
    shutil.copytree(good, subs / "linked")
    (subs / "linked" / "sample.txt").unlink()
    (subs / "linked" / "sample.txt").symlink_to("/etc/hostname")
    odd = subs / os.fsdecode(b"bad\xffname")
    shutil.copytree(good, odd)
    (odd / os.fsdecode(b"\xfe.txt")).write_text("x")
    rc = cli.main(["grade-many", str(subs), "--exercise", "02-slim", "--out", str(out), "--jobs", "3"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    book = read_csv(out / "gradebook.csv")
    assert {s: (book[s]["status"], book[s]["total"]) for s in book} == {
        "bad\\xffname": ("broken", "0"),
        "big": ("broken", "0"),
        "linked": ("broken", "0"),
    }
    assert book["bad\\xffname"]["reason"].startswith("the file name \\xfe.txt is not UTF-8")
    assert "holds more than 50 MB" in book["big"]["reason"]
    assert "a path outside the exercise folder" in book["linked"]["reason"]
    # Every check counts towards the maximum, the exercise's hidden ones too (graded here, in the instructor's repository).
    full = sum(c.max_points for c in batch.exercise_checks("02-slim", REPO / "course.yml"))
    assert full > 12 and book["big"]["max"] == str(full) and book["big"]["size_at_most"] == "0"
    assert "3 students graded" in printed and "(3 broken)" in printed


INTERRUPTED = r"""
import json, sys
from pathlib import Path
from layerlab.grade import batch, isolate

class Cleaner:
    def remove(self, job):
        with open(sys.argv[3], "a") as f:
            f.write(job + "\n")
        return []
    def remaining(self, jobs):
        return []

isolate.GRACE_S = 2.0
command = lambda folder, job: [sys.executable, sys.argv[2], str(folder)]
batch.grade_many(Path(sys.argv[1]), "02-slim", Path(sys.argv[1]).parent / "out", jobs=2, command=command,
                 cleaner=Cleaner(), show=lambda line: print(line, flush=True))
"""


def test_an_interrupted_batch_stops_every_grading_and_keeps_the_previous_gradebook(tmp_path, fake):
    """Ctrl-C in the instructor's terminal: every running grading stopped, its job cleaned, no gradebook written."""
    import signal

    subs, out = tmp_path / "subs", tmp_path / "out"
    student(subs, "a", mode="sleep")
    student(subs, "b", mode="sleep")
    student(subs, "c")
    out.mkdir()
    (out / "gradebook.csv").write_text(gradebook.to_csv([]))
    runner, script, removed = tmp_path / "runner.py", tmp_path / "fake_grader.py", tmp_path / "removed.txt"
    runner.write_text(INTERRUPTED)
    script.write_text(FAKE)
    proc = subprocess.Popen(
        [sys.executable, str(runner), str(subs), str(script), str(removed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, log = fake
    deadline = time.monotonic() + 60
    while len(list(log.glob("*.pid"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(list(log.glob("*.pid"))) == 2, "the two sleeping gradings never started"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    sleepers = {p.stem for p in log.glob("*.pid")}
    assert set(removed.read_text().split()) == sleepers, "a stopped grading's job was not cleaned"
    assert not any(_alive(int(p.read_text())) for p in log.glob("*.pid")), "a grading outlived the batch"
    assert len([p for p in log.iterdir() if p.suffix != ".pid"]) == 2, "a grading started after the interrupt"
    assert gradebook.read(out / "gradebook.csv") == [] and not (out / "gradebook.previous.csv").exists()


def test_the_cli_says_in_one_line_what_cannot_start(tmp_path, capsys):
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    out = str(tmp_path / "out")
    assert cli.main(["grade-many", str(tmp_path / "subs"), "--exercise", "02-slim", "--jobs", "0", "--out", out]) == 2
    assert cli.main(["grade-many", str(tmp_path / "nowhere"), "--exercise", "02-slim", "--out", out]) == 2
    assert cli.main(["grade-many", str(tmp_path / "subs"), "--exercise", "99-nope", "--out", out]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("--jobs wants 1 or more") and "is not a folder" in err[1] and "unknown exercise" in err[2]
    assert len(err) == 3 and not (tmp_path / "out" / "gradebook.csv").exists()


def test_with_a_bundle_the_class_is_graded_by_its_checks_hidden_ones_included_and_a_wrong_pin_stops_it(tmp_path):
    from layerlab.grade import bundle

    w = bundle.write(tmp_path / "ag.tar.gz", ["02-slim"])
    known = batch.exercise_checks("02-slim", REPO / "nowhere.yml", f"{w.path}@{w.digest}")
    assert [c.hidden for c in known].count(True) == w.hidden > 0  # what a student with no report is shown
    assert "--audience" in isolate.grade_command("02-slim", str(w.path))(tmp_path, "job")
    with pytest.raises(batch.BatchError) as e:
        batch.exercise_checks("02-slim", REPO / "course.yml", f"{w.path}@sha256:{'0' * 64}")
    assert len(str(e.value).splitlines()) == 1
