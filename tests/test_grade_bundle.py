"""The autograder bundle (issue 27, section 1), without an engine: the same course gives the same bytes,
a pin refuses any other file, a changed member is caught, the bundle carries no answer, and a submission's
own course.yml or fixture never changes what grades it: it is flagged instead.

Grading runs here with LAYERLAB_REPLAY=1, where the runner reads the exercise (and so its checks and points)
but builds nothing: which course.yml graded shows in the results. tests/test_grade_bundle_engine.py grades
a tampered submission for real."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import time
from pathlib import Path

import pytest
import yaml

from layerlab import cli
from layerlab.course import COURSE_FILE, REPO
from layerlab.grade import bundle, release, tamper
from layerlab.grade import fixture as fixture_mod
from layerlab.grade import hidden as hidden_mod

EX = "02-slim"


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> bundle.Written:
    return bundle.write(tmp_path_factory.mktemp("bundle") / "autograder.tar.gz")


@pytest.fixture
def opened(made):
    with bundle.open_bundle(f"{made.path}@{made.digest}") as b:
        yield b


def _members(path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


def _repack(src: Path, dst: Path, change) -> Path:
    """The bundle at `src` with `change(files)` applied to its members, packed as the writer packs."""
    with tarfile.open(src, "r:gz") as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    change(files)
    dst.write_bytes(bundle.pack(files))
    return dst


# --- writing: deterministic, pinned by a digest, no answers ------------------------------------


@pytest.mark.answers
def test_the_same_course_gives_the_same_bytes_whenever_it_is_written(made, tmp_path, monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.0)  # another "now": nothing may depend on it
    again = bundle.write(tmp_path / "again.tar.gz")
    assert again.path.read_bytes() == made.path.read_bytes()
    assert again.digest == made.digest == "sha256:" + hashlib.sha256(made.path.read_bytes()).hexdigest()


@pytest.mark.answers  # the bundle is written from the course's fixtures
def test_members_are_sorted_with_fixed_times_owners_and_modes(made):
    infos = list(_members(made.path).values())
    assert [m.name for m in infos] == sorted(m.name for m in infos)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in infos} == {(bundle.MTIME, 0, 0, "", "", 0o644)}
    header = made.path.read_bytes()[:10]
    assert header[4:8] == b"\0\0\0\0" and not header[3] & 0x08  # gzip: no time, no file name


@pytest.mark.answers
def test_the_bundle_holds_checks_fixtures_hidden_checks_and_starters_and_no_answer(made):
    names = set(_members(made.path))
    with tarfile.open(made.path, "r:gz") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        files = {n: tar.extractfile(n).read() for n in names}
    ids = [e["id"] for e in yaml.safe_load(COURSE_FILE.read_text())["exercises"]]
    assert manifest["format"] == "layerlab-autograder/1" and manifest["exercises"] == ids
    assert set(manifest["files"]) == names - {"manifest.json"}
    assert files["course.yml"] == COURSE_FILE.read_bytes()
    for ex_id in ids:
        assert files[f"fixtures/{ex_id}.json"] == fixture_mod.fixture_path(ex_id).read_bytes()
        starter = {n.split("/", 2)[2]: d for n, d in files.items() if n.startswith(f"starters/{ex_id}/")}
        assert starter == release.expected(ex_id)  # what students get, generated from the solution
    assert {n for n in names if n.startswith("hidden/")} == {"hidden/02-slim.yml", "hidden/04-multistage.yml"}
    assert made.hidden == 2
    # The solution's own lines (its one RUN with --no-cache-dir) are in no member but the solution's.
    solution_line = b"pip install --no-cache-dir six==1.17.0"
    assert solution_line in (REPO / "solutions" / EX / "Dockerfile").read_bytes()
    assert not any(solution_line in d for d in files.values())
    assert not any(b"BEGIN SOLUTION" in d for n, d in files.items() if n.startswith("starters/"))


@pytest.mark.answers
def test_release_prints_the_digest_of_the_file_it_wrote(tmp_path, capsys):
    out = tmp_path / "ag.tar.gz"
    assert cli.main(["release", EX, "--autograder", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1] == "sha256:" + hashlib.sha256(out.read_bytes()).hexdigest()
    assert f"{out}@{printed[-1]}" in printed[0] and "1 exercise(s)" in printed[0] and "1 hidden check" in printed[0]
    assert json.loads(_read(out, "manifest.json"))["exercises"] == [EX]
    assert cli.main(["release", "--check", "--autograder", str(out)]) == 2


def _read(path: Path, name: str) -> bytes:
    with tarfile.open(path, "r:gz") as tar:
        return tar.extractfile(name).read()


def _course_with_solution(tmp_path: Path, fixture_digest: str | None = None) -> Path:
    """A course of one exercise (t-static) with a solution folder and a fixture recorded for it."""
    from test_grade_static import course_file

    tmp_path.mkdir(parents=True, exist_ok=True)
    cf = course_file(tmp_path)
    sol = tmp_path / "solutions" / "t-static"
    sol.mkdir(parents=True)
    (sol / "Dockerfile").write_text("FROM python:3.13-slim\nCOPY app.py .\n")
    (sol / "app.py").write_text("print('hi')\n")
    fx = fixture_mod.load(EX).model_copy(update={"exercise": "t-static"})
    fx.solution_digest = fixture_digest or fixture_mod.digest(sol, "t-static.py")
    (sol / "fixture.json").write_text(fx.model_dump_json())
    return cf


@pytest.mark.answers
def test_release_refuses_a_missing_or_stale_fixture_and_invalid_hidden_checks(tmp_path):
    cf = _course_with_solution(tmp_path, fixture_digest="0" * 16)
    with pytest.raises(bundle.BundleError, match=r"fixture of t-static is stale.*layerlab record t-static"):
        bundle.members(cf)
    (tmp_path / "solutions" / "t-static" / "fixture.json").unlink()
    with pytest.raises(bundle.BundleError, match="no fixture recorded for t-static"):
        bundle.members(cf)
    cf = _course_with_solution(tmp_path / "h")
    (tmp_path / "h" / "solutions" / "t-static" / "hidden.yml").write_text("checks:\n  - check: size_at_mots\n")
    with pytest.raises(bundle.BundleError, match="unknown check kind 'size_at_mots'"):
        bundle.members(cf)


# --- opening: the pin, the manifest, what a bundle may hold ------------------------------------


@pytest.mark.answers
def test_a_pinned_bundle_opens_and_serves_what_the_repository_holds(opened, made):
    assert opened.digest == made.digest
    assert opened.fixture(EX) == fixture_mod.load(EX)
    assert opened.hidden_checks(EX) == hidden_mod.load(COURSE_FILE, EX)
    assert opened.hidden_checks("03-cache") == []
    assert opened.course_file.read_bytes() == COURSE_FILE.read_bytes()
    assert (opened.starter(EX) / "Dockerfile").read_bytes() == (REPO / "exercises" / EX / "Dockerfile").read_bytes()
    with pytest.raises(bundle.BundleError, match="no exercise 'nope'"):
        opened.fixture("nope")


@pytest.mark.answers
def test_the_bundles_starter_is_the_one_the_05_baseline_is_measured_and_kept_for(opened):
    """05's cross-build check compares with the starter's emulated build, kept per starter content: from the
    bundle (no solutions/ beside it) the starter must be the same content, so the same kept baseline serves."""
    from layerlab.grade import exercise as exercise_mod
    from layerlab.grade.checks.multiarch import starter_digest

    ex = exercise_mod.load("05-multiarch")
    solution = REPO / "solutions" / ex.id
    made = release.starter_text((solution / ex.dockerfile).read_text(), ex.dockerfile)
    folder = opened.starter(ex.id)
    shipped = (folder / ex.dockerfile).read_text()
    assert shipped == made
    assert starter_digest(ex.id, ex.paths, ex.dockerfile, shipped, folder) == starter_digest(
        ex.id, ex.paths, ex.dockerfile, made, solution
    )


@pytest.mark.answers  # the bundle is written from the course's fixtures
def test_the_bundles_folder_is_removed_when_it_is_closed(made):
    b = bundle.open_bundle(str(made.path))
    folder = b.course_file.parent
    assert folder.is_dir()
    b.close()
    assert not folder.exists()


@pytest.mark.answers  # the bundle is written from the course's fixtures
def test_a_wrong_digest_names_both_digests(made):
    wrong = "sha256:" + "0" * 64
    with pytest.raises(bundle.DigestMismatch) as e:
        bundle.open_bundle(f"{made.path}@{wrong}")
    assert (e.value.expected, e.value.actual) == (wrong, made.digest)
    assert wrong in str(e.value) and made.digest in str(e.value)


@pytest.mark.answers  # the bundle is written from the course's fixtures
@pytest.mark.parametrize("pin", ["sha256:abc", "sha256:" + "G" * 64])
def test_a_malformed_pin_says_what_a_pin_looks_like(made, pin):
    with pytest.raises(bundle.BundleError, match="FILE@sha256:<64 hex digits>"):
        bundle.open_bundle(f"{made.path}@{pin}")


@pytest.mark.answers  # the bundle is written from the course's fixtures
def test_a_member_changed_after_release_is_caught_without_a_pin(made, tmp_path):
    def loosen(files):
        files["course.yml"] = files["course.yml"].replace(b"factor: 1.15", b"factor: 100")

    with pytest.raises(bundle.BundleError, match=r"changed after it was made \(course.yml differ"):
        bundle.open_bundle(str(_repack(made.path, tmp_path / "t.tar.gz", loosen)))


@pytest.mark.answers  # the bundle is written from the course's fixtures
@pytest.mark.parametrize("name", ["../escape.yml", "/etc/cron.d/x", "run.sh", "starters/02-slim/../../x"])
def test_a_member_no_bundle_holds_is_refused(made, tmp_path, name):
    with pytest.raises(bundle.BundleError, match="which no bundle holds"):
        bundle.open_bundle(str(_repack(made.path, tmp_path / "t.tar.gz", lambda f: f.update({name: b"x"}))))


def test_a_file_that_is_no_bundle_gets_one_line(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    with pytest.raises(bundle.BundleError, match="not an autograder bundle"):
        bundle.open_bundle(str(junk))
    with pytest.raises(bundle.BundleError, match="layerlab release --autograder"):
        bundle.open_bundle(str(tmp_path / "missing.tar.gz"))
    other = tmp_path / "other.tar.gz"
    other.write_bytes(bundle.pack({"manifest.json": b'{"format": "layerlab-autograder/0"}'}))
    with pytest.raises(bundle.BundleError, match="make it again with this layerlab"):
        bundle.open_bundle(str(other))


@pytest.mark.answers  # the bundle is written from the course's fixtures
def test_the_cli_refuses_a_wrong_pin_with_one_line_and_builds_nothing(made, capsys, monkeypatch):
    from layerlab.grade import runner

    monkeypatch.setattr(runner, "grade", lambda *a, **k: pytest.fail("graded despite a wrong pin"))
    code = cli.main(["grade", "exercises/02-slim", "--autograder", f"{made.path}@sha256:{'1' * 64}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and made.digest in err


# --- a submission's own copies: flagged, never used ---------------------------------------------


@pytest.fixture
def student_repo(tmp_path) -> Path:
    """A student's repository as they cloned it: course.yml, the exercise, and (an old habit of the course)
    solutions/<id>/fixture.json; returns the exercise folder."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    shutil.copy(COURSE_FILE, repo / "course.yml")
    shutil.copytree(REPO / "exercises" / EX, repo / "exercises" / EX)
    (repo / "solutions" / EX).mkdir(parents=True)
    shutil.copy(fixture_mod.fixture_path(EX), repo / "solutions" / EX / "fixture.json")
    return repo / "exercises" / EX


def _flags(opened, folder: Path) -> list[str]:
    return tamper.flags(
        folder,
        EX,
        course_text=opened.text("course.yml").decode(),
        fixture_bytes=opened.text(f"fixtures/{EX}.json"),
        hidden_text=(opened.text(f"hidden/{EX}.yml") or b"").decode() or None,
    )


@pytest.mark.answers
def test_an_untouched_repository_raises_no_flag(opened, student_repo):
    assert _flags(opened, student_repo) == []


@pytest.mark.answers
def test_a_loosened_check_in_course_yml_is_flagged_by_what_changed(opened, student_repo):
    course = student_repo.parents[1] / "course.yml"
    course.write_text(course.read_text().replace("factor: 1.15", "factor: 100", 1))
    (flag,) = _flags(opened, student_repo)
    assert flag.startswith("course.yml: exercise 02-slim's checks differ from the autograder's") and "ignored" in flag


@pytest.mark.answers
def test_a_change_that_grades_nothing_is_no_flag(opened, student_repo):
    course = student_repo.parents[1] / "course.yml"
    data = yaml.safe_load(course.read_text())
    data["modules"][1]["title"] = "Another title"
    data["modules"][3]["challenges"] = []  # a student release may drop the challenges' answers
    course.write_text(yaml.safe_dump(data))
    assert _flags(opened, student_repo) == []


@pytest.mark.answers
def test_an_edited_fixture_a_broken_course_and_added_hidden_checks_are_flagged(opened, student_repo):
    repo = student_repo.parents[1]
    fx = repo / "solutions" / EX / "fixture.json"
    data = json.loads(fx.read_text())
    fx.write_text(json.dumps(data, indent=4))  # re-indented: the same data, no flag
    assert _flags(opened, student_repo) == []
    data["added_bytes"] *= 100
    fx.write_text(json.dumps(data))
    (student_repo / "fixture.json").write_text(json.dumps(data))
    (repo / "course.yml").write_text("exercises: [\n")
    (repo / "solutions" / EX / "hidden.yml").write_text("checks: []\n")
    flags = _flags(opened, student_repo)
    assert flags == [
        "exercises/02-slim/fixture.json differs from the autograder's fixture (ignored: graded with the autograder's)",
        "course.yml is not valid YAML (ignored: graded with the autograder's)",
        "solutions/02-slim/fixture.json differs from the autograder's fixture (ignored: graded with the autograder's)",
        "solutions/02-slim/hidden.yml differs from the autograder's hidden checks (ignored: graded with the autograder's)",
    ]


@pytest.mark.answers
def test_grading_with_the_bundle_uses_its_checks_not_the_repositorys_and_flags_them(opened, student_repo, monkeypatch):
    monkeypatch.setenv("LAYERLAB_REPLAY", "1")  # the runner reads the exercise, builds nothing
    untouched = bundle.grade_with(opened, student_repo)
    course = student_repo.parents[1] / "course.yml"
    data = yaml.safe_load(course.read_text())
    ex = next(e for e in data["exercises"] if e["id"] == EX)
    ex["checks"] = [{"check": "builds", "points": 50}]  # "everything but builds is optional, builds is all"
    course.write_text(yaml.safe_dump(data))
    tampered = bundle.grade_with(opened, student_repo)
    assert [(r.check, r.max_points, r.hidden) for r in tampered.results] == [
        (r.check, r.max_points, r.hidden) for r in untouched.results
    ]
    assert tampered.max_points == untouched.max_points != 50
    assert [r.check for r in tampered.results if r.hidden] == ["size_at_most"]
    assert untouched.flags == [] and len(tampered.flags) == 1 and "checks differ" in tampered.flags[0]
    assert tampered.autograder == opened.digest


@pytest.mark.answers
def test_an_exercise_the_bundle_lacks_is_one_problem(tmp_path, made):
    small = bundle.write(tmp_path / "one.tar.gz", ["03-cache"])
    with bundle.open_bundle(str(small.path)) as b:
        r = bundle.grade_with(b, REPO / "exercises" / EX)
    assert r.problems == [
        f"cannot tell which exercise {REPO / 'exercises' / EX} is: pass --exercise ID (the autograder grades 03-cache)"
    ]
    assert not r.results


# --- engine: a tampered submission grades as the untampered one -------------------------------------


def _tamper(repo: Path) -> None:
    """What a student who wants the 02-slim starter to pass edits in their repository: the tolerances in
    course.yml, the recorded sizes in the fixture (two copies), and an empty hidden.yml."""
    data = yaml.safe_load((repo / "course.yml").read_text())
    ex = next(e for e in data["exercises"] if e["id"] == EX)
    for c in ex["checks"]:
        c.update({"size_at_most": {"factor": 1000}, "wasted_at_most": {"allowance_mb": 10_000}}.get(c["check"], {}))
    (repo / "course.yml").write_text(yaml.safe_dump(data))
    fx = json.loads(fixture_mod.fixture_path(EX).read_text())
    fx["added_bytes"] *= 1000
    fx["added_wasted_bytes"] = 10**12
    for where in (repo / "solutions" / EX, repo / "exercises" / EX):
        where.mkdir(parents=True, exist_ok=True)
        (where / "fixture.json").write_text(json.dumps(fx))
    (repo / "solutions" / EX / "hidden.yml").write_text("checks: []\n")


@pytest.mark.answers
def test_a_tampered_submission_grades_as_the_untampered_one_and_is_flagged(engine_client, tmp_path):
    from test_grade_engine import _assert_left_nothing

    ag = bundle.write(tmp_path / "autograder.tar.gz", [EX])
    clean = tmp_path / "clean" / EX
    shutil.copytree(REPO / "exercises" / EX, clean)
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    shutil.copy(COURSE_FILE, repo / "course.yml")
    shutil.copytree(REPO / "exercises" / EX, repo / "exercises" / EX)
    _tamper(repo)
    with bundle.open_bundle(f"{ag.path}@{ag.digest}") as b:
        untouched = bundle.grade_with(b, clean)
        tampered = bundle.grade_with(b, repo / "exercises" / EX)

    def verdicts(r):
        return [(x.check, x.hidden, x.status, x.points, x.max_points) for x in r.results]

    assert verdicts(tampered) == verdicts(untouched), tampered.table()
    assert (tampered.points, tampered.passed) == (untouched.points, False)
    # What the edits were for: the starter still fails the size checks, the hidden one included.
    failed = {(x.check, x.hidden) for x in tampered.results if x.status == "failed"}
    assert {("size_at_most", False), ("wasted_at_most", False), ("size_at_most", True)} <= failed
    assert untouched.flags == []
    assert [f.split(" ", 1)[0] for f in tampered.flags] == [
        "exercises/02-slim/fixture.json",
        "course.yml:",
        "solutions/02-slim/fixture.json",
        "solutions/02-slim/hidden.yml",
    ]
    assert "FLAG     course.yml: exercise 02-slim's checks differ" in tampered.table()
    assert tampered.autograder == untouched.autograder == ag.digest
    for r in (untouched, tampered):
        _assert_left_nothing(engine_client, r.run_id)
