"""Hidden checks (issue 27, section 1): declared in solutions/<id>/hidden.yml, run with the others, and shown
to a student as points and a neutral line in every format, to the instructor in full. No engine: the
reports are built by hand, grading runs with LAYERLAB_REPLAY=1 (the exercise is read, nothing is built),
and the course's own hidden checks are judged on a subject that reports sizes, as tests/test_grade_fairness.py does."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from junitparser import Failure, JUnitXml

from layerlab import cli
from layerlab.course import COURSE_FILE, REPO
from layerlab.grade import formats, release
from layerlab.grade import hidden as hidden_mod
from layerlab.grade.checks import REGISTRY, Failed
from layerlab.grade.checks.size import SizeAtMost
from layerlab.grade.report import HIDDEN_MESSAGE, CheckResult, Report
from layerlab.grade.runner import grade
from test_grade_fairness import MB, _ctx, _fixture, _sized, _spec
from test_grade_formats import CTX, _validate
from test_grade_static import course_file, submission

SECRETS = ("SECRET-DETAIL 1.9 MB", "SECRET-HINT keep only the venv", "SECRET-WHY the probe")
FLAG = "course.yml: exercise 02-slim's checks differ from the autograder's (ignored: graded with the autograder's)"


def with_hidden() -> Report:
    """A public check and a hidden one of the same kind, a hidden one that did not run, and a flag."""
    return Report(
        exercise="02-slim",
        path="/class/ada/exercises/02-slim",
        run_id="r42",
        autograder="sha256:" + "a" * 64,
        flags=[FLAG],
        results=[
            CheckResult(check="builds", status="passed", points=2, max_points=2, required=True, detail="built"),
            CheckResult(
                check="size_at_most", status="passed", points=3, max_points=3, required=True, detail="adds 2 MB"
            ),
            CheckResult(
                check="size_at_most",
                status="failed",
                points=0,
                max_points=2,
                required=False,
                hidden=True,
                detail=SECRETS[0],
                hint=SECRETS[1],
            ),
            CheckResult(
                check="paths_absent",
                status="not run",
                points=0,
                max_points=1,
                required=True,
                hidden=True,
                why=SECRETS[2],
            ),
        ],
    )


def _text(name: str, rendered: str) -> str:
    """What a reader of the rendering sees, XML unescaped."""
    if name != "junit":
        return rendered
    root = ET.fromstring(rendered)
    return " ".join([el.text or "" for el in root.iter()] + [v for el in root.iter() for v in el.attrib.values()])


ALL = ["text", "json", "junit", "gradescope", "classroom50", "github-summary"]


@pytest.mark.parametrize("name", ALL)
def test_a_student_sees_a_hidden_checks_points_and_a_neutral_line_only(name):
    report = with_hidden()
    seen = _text(name, formats.render(name, report, CTX))  # CTX: the default audience, the student
    assert not any(s in seen for s in SECRETS), seen
    assert HIDDEN_MESSAGE in seen
    if name == "json":
        assert [r.hidden for r in Report.model_validate_json(seen).results] == [False, False, True, True]
    else:  # its name says it is hidden, and keeps it apart from the public check of its kind
        assert "size_at_most (optional) (hidden)" in seen.replace("`", "")
    assert report.results[2].detail == SECRETS[0]  # the report itself keeps the instructor's detail


@pytest.mark.parametrize("name", ALL)
def test_the_instructor_sees_everything_and_both_see_the_flag(name):
    instructor = formats.Context(env={}, now=CTX.now, audience="instructor")
    seen = _text(name, formats.render(name, with_hidden(), instructor))
    assert all(s in seen for s in SECRETS), seen
    assert HIDDEN_MESSAGE not in seen
    for ctx in (CTX, instructor):
        assert FLAG in _text(name, formats.render(name, with_hidden(), ctx))


def test_the_default_audience_is_the_student():
    assert formats.Context().audience == "student"


def test_the_students_points_are_the_instructors():
    for name in ("gradescope", "classroom50"):
        student = json.loads(formats.render(name, with_hidden(), CTX))
        instructor = json.loads(formats.render(name, with_hidden(), formats.Context(audience="instructor")))
        assert student["score"] == instructor["score"] == 5
        assert [t.get("max_score", t.get("max-score")) for t in student["tests"]] == [
            t.get("max_score", t.get("max-score")) for t in instructor["tests"]
        ]


def test_the_students_json_reads_back_with_the_hidden_text_replaced():
    back = Report.model_validate_json(formats.render("json", with_hidden(), CTX))
    hidden = [r for r in back.results if r.hidden]
    assert [(r.status, r.points, r.detail, r.hint, r.why) for r in hidden] == [
        ("failed", 0, HIDDEN_MESSAGE, "", ""),
        ("not run", 0, HIDDEN_MESSAGE, "", ""),
    ]
    assert back.flags == [FLAG] and back.points == 5


def test_gradescope_keeps_the_instructors_hidden_text_from_students_by_visibility():
    def tests(ctx):
        return {t["name"]: t for t in json.loads(formats.render("gradescope", with_hidden(), ctx))["tests"]}

    student, instructor = tests(CTX), tests(formats.Context(audience="instructor"))
    name = "size_at_most (optional) (hidden)"
    assert student[name]["visibility"] == "visible" and SECRETS[1] not in student[name]["output"]
    assert instructor[name]["visibility"] == "hidden" and SECRETS[1] in instructor[name]["output"]
    assert instructor["size_at_most"]["visibility"] == "visible"
    assert "hidden" in student[name]["tags"] and student[name]["extra_data"]["hidden"] is True
    for ctx in (CTX, formats.Context(audience="instructor")):
        doc = json.loads(formats.render("gradescope", with_hidden(), ctx))
        _validate(doc, "gradescope-results.schema.json")
        assert doc["extra_data"]["flags"] == [FLAG]


def test_junit_keeps_a_hidden_check_apart_from_the_public_one_of_its_kind(tmp_path):
    path = tmp_path / "j.xml"
    path.write_text(formats.render("junit", with_hidden(), CTX))
    suite = next(iter(JUnitXml.fromfile(str(path))))
    cases = {c.name: c for c in suite}
    assert len(cases) == len(with_hidden().results)  # no two cases share a name
    failure = next(r for r in cases["size_at_most (optional) (hidden)"].result if isinstance(r, Failure))
    assert failure.message == HIDDEN_MESSAGE
    props = {(p.name, p.value) for p in suite.properties()}
    assert ("flag", FLAG) in props and ("autograder", "sha256:" + "a" * 64) in props


def test_classroom50_carries_flags_and_hidden_marks_and_still_matches_its_schema():
    doc = json.loads(formats.render("classroom50", with_hidden(), CTX))
    _validate(doc, "classroom50-result-v1.schema.json")
    tests = {t["test-name"]: t for t in doc["tests"]}
    assert tests["submission flag 1"] == {
        "test-name": "submission flag 1",
        "passed": True,
        "score": 0,
        "max-score": 0,
        "status": "flag",
        "output": FLAG,
    }
    assert tests["size_at_most (optional) (hidden)"]["hidden"] is True and tests["size_at_most"]["hidden"] is False
    assert sum(t["score"] for t in doc["tests"]) == doc["score"]


# --- the CLI: who reads it ---------------------------------------------------------------------


@pytest.fixture
def graded(monkeypatch):
    from layerlab.grade import bundle, runner

    monkeypatch.setattr(runner, "grade", lambda path, exercise=None, show=None: with_hidden())
    monkeypatch.setattr(bundle, "grade_with", lambda b, path, exercise=None, show=None: with_hidden())
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def test_the_cli_shows_the_instructor_everything_in_the_instructors_repository(graded, capsys):
    cli.main(["grade", "x"])
    assert SECRETS[1] in capsys.readouterr().out
    cli.main(["grade", "x", "--audience", "student"])
    out = capsys.readouterr().out
    assert SECRETS[1] not in out and HIDDEN_MESSAGE in out


@pytest.mark.answers
def test_the_cli_shows_a_student_points_only_when_grading_with_the_autograder(graded, capsys, tmp_path):
    from layerlab.grade import bundle

    path = bundle.write(tmp_path / "ag.tar.gz", ["02-slim"]).path
    cli.main(["grade", "x", "--autograder", str(path), "--write", f"json={tmp_path / 'r.json'}"])
    out = capsys.readouterr().out
    assert SECRETS[1] not in out and HIDDEN_MESSAGE in out and "FLAG" in out
    assert SECRETS[1] not in (tmp_path / "r.json").read_text()  # --write renders for the same reader
    cli.main(["grade", "x", "--autograder", str(path), "--audience", "instructor"])
    assert SECRETS[1] in capsys.readouterr().out


# --- declaring and running hidden checks -------------------------------------------------------

HIDDEN_OK = "checks:\n  - check: hadolint\n    points: 2\n    required: false\n"


def test_the_runner_runs_the_hidden_checks_beside_the_course_and_marks_them(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLAB_REPLAY", "1")
    cf = course_file(tmp_path)
    (tmp_path / "solutions" / "t-static").mkdir(parents=True)
    (tmp_path / "solutions" / "t-static" / "hidden.yml").write_text(HIDDEN_OK)
    r = grade(submission(tmp_path), "t-static", course_file=cf)
    assert [(x.check, x.hidden) for x in r.results] == [
        ("builds", False),
        ("dependency_install_before_source_copy", False),
        ("hadolint", False),
        ("hadolint", True),
    ]
    assert r.max_points == 5
    none = grade(tmp_path / "t-static", "t-static", course_file=cf, hidden=[])  # what the caller gives, no more
    assert [x.hidden for x in none.results] == [False, False, False]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("checks:\n  - check: hadolint\n    level: eror\n", "checks[0] (hadolint).level"),
        ("checks:\n  - check: hadolnt\n", "unknown check kind 'hadolnt'"),
        ("checks:\n  - points: 1\n", "checks[0]: Field required"),
        ("- check: hadolint\n", "want one key, `checks:`"),
        ("checks: [\n", "not valid YAML"),
    ],
)
def test_a_broken_hidden_yml_is_one_problem_line_naming_the_file(tmp_path, text, problem):
    cf = course_file(tmp_path)
    hidden_file = tmp_path / "solutions" / "t-static" / "hidden.yml"
    hidden_file.parent.mkdir(parents=True)
    hidden_file.write_text(text)
    r = grade(submission(tmp_path), "t-static", course_file=cf)
    assert len(r.problems) == 1 and r.problems[0].startswith(f"{hidden_file} is invalid: ") and problem in r.problems[0]
    assert not r.results


@pytest.mark.answers
def test_hidden_checks_never_reach_the_exercise_folder_nor_the_solutions_digest():
    for ex_id in ("02-slim", "04-multistage"):
        assert (REPO / "solutions" / ex_id / "hidden.yml").is_file()
        assert "hidden.yml" not in release.expected(ex_id)
        assert not (REPO / "exercises" / ex_id / "hidden.yml").exists()
        assert (REPO / "solutions" / ex_id / "hidden.yml") not in release.source_files(REPO / "solutions" / ex_id)


# --- the course's hidden checks: stricter than the public ones, and fair to the reference ---------


@pytest.mark.parametrize("ex_id", ["02-slim", "04-multistage"])
@pytest.mark.answers
def test_the_hidden_size_check_is_stricter_than_the_public_one_and_the_reference_passes_it(ex_id):
    (tight,) = hidden_mod.load(COURSE_FILE, ex_id)
    public = _spec(ex_id, SizeAtMost)
    assert isinstance(tight, SizeAtMost) and not tight.required
    assert (tight.factor, tight.allowance_mb) < (public.factor, public.allowance_mb)
    fx = _fixture(ex_id)
    judge = REGISTRY["size_at_most"]
    reference = fx.added_bytes / MB
    judge(_ctx(ex_id, _sized(ex_id, [(reference, "RUN the reference's own")])), tight)  # passes: no Failed
    # Half a megabyte more than the hidden bound allows, still inside the public one: only the hidden check fails.
    near = reference * tight.factor + tight.allowance_mb + 0.5
    assert near < reference * public.factor + public.allowance_mb
    subject = _sized(ex_id, [(near, "RUN apt-get install ... one package more")])
    judge(_ctx(ex_id, subject), public)
    with pytest.raises(Failed):
        judge(_ctx(ex_id, subject), tight)
