"""The report formats (`layerlab grade --format ...`), each read back by a real parser or checked
against a schema written from its published field list: JUnit XML through `junitparser`, Gradescope's
results.json and Classroom 50's result.json through JSON Schemas in tests/data/ (their sources cited
there), the GitHub job summary by its Markdown table. The reports are built by hand, so this needs no
engine; one engine test grades the 02-slim starter through the CLI and parses its JUnit file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from layerlab import cli
from layerlab.grade import formats
from layerlab.grade.report import CheckResult, Report
from layerlab.ground.settings import REPO

DATA = Path(__file__).parent / "data"
CTX = formats.Context(env={}, now=datetime(2026, 12, 2, 3, 4, 5, tzinfo=UTC))
ESC = "\x1b"


def mixed() -> Report:
    """Every status, required and optional, with text each format must carry safely: pipes, markup, an ANSI escape."""
    return Report(
        exercise="02-slim",
        path="/course/exercises/02-slim",
        run_id="r1234",
        engine="docker 28.5",
        seconds=41.6,
        fixture="fixture recorded on python:3.13-slim",
        notes=["the engine answered late once; graded again"],
        results=[
            CheckResult(check="builds", status="passed", points=1, max_points=1, required=True, detail="built in 12 s"),
            CheckResult(
                check="size_at_most",
                status="failed",
                points=0,
                max_points=3,
                required=True,
                detail="added 212 MB above the base | limit 60 MB <fixture x 1.2>",
                hint="apt lists left in /var/lib/apt/lists\nremove them in the same RUN as the install",
            ),
            CheckResult(
                check="wasted_at_most",
                status="not run",
                points=0,
                max_points=2,
                required=True,
                why="the image did not build for dive",
            ),
            CheckResult(
                check="output_matches",
                status="failed",
                points=0,
                max_points=1,
                required=False,
                detail=f"{ESC}[31mword count differs{ESC}[0m & more",
                hint="print one line per word",
            ),
            CheckResult(check="runs_as_non_root", status="passed", points=2, max_points=2, required=False),
        ],
    )


def broken() -> Report:
    """A submission the grader could not judge at all: problems, no check results."""
    return Report(exercise="02-slim", path="sub/02-slim", run_id="r5678", problems=["no Dockerfile in sub/02-slim"])


def by_status(report: Report) -> dict[str, list[CheckResult]]:
    out: dict[str, list[CheckResult]] = {"passed": [], "failed": [], "not run": []}
    for r in report.results:
        out[r.status].append(r)
    return out


def test_every_format_is_registered_and_the_cli_lists_it(capsys):
    want = ["text", "json", "junit", "gradescope", "classroom50", "github-summary"]
    assert formats.names() == want
    with pytest.raises(SystemExit):
        cli.main(["grade", "--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in want)


@pytest.mark.parametrize("name", ["text", "json", "junit", "gradescope", "classroom50", "github-summary"])
def test_every_format_carries_each_hint_and_each_reason_and_says_what_did_not_run(name):
    text = formats.render(name, mixed(), CTX)
    if name == "junit":  # XML escapes markup: compare with what a parser reads back
        text = " ".join(el.text or "" for el in ET.fromstring(text).iter()) + " ".join(
            v for el in ET.fromstring(text).iter() for v in el.attrib.values()
        )
    for hint_line in ("apt lists left in /var/lib/apt/lists", "print one line per word"):
        assert hint_line in text.replace("\\|", "|")
    assert "the image did not build for dive" in text
    assert "not run" in text.lower()
    assert "BEGIN SOLUTION" not in text


# --- JUnit XML ------------------------------------------------------------------


def test_junit_reads_back_through_junitparser_with_failures_and_skips_apart(tmp_path):
    report = mixed()
    path = tmp_path / "junit.xml"
    path.write_text(formats.render("junit", report, CTX))
    ET.parse(path)  # well-formed XML, the ANSI escape in a detail included

    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    s = by_status(report)
    assert (suite.tests, suite.failures, suite.skipped, suite.errors) == (5, len(s["failed"]), len(s["not run"]), 0)
    assert (xml.tests, xml.failures, xml.skipped, xml.errors) == (5, 2, 1, 0)

    cases = {c.name: c for c in suite}
    assert set(cases) == {
        "builds",
        "size_at_most",
        "wasted_at_most",
        "output_matches (optional)",
        "runs_as_non_root (optional)",
    }
    assert cases["builds"].is_passed and cases["runs_as_non_root (optional)"].is_passed
    failure = cases["size_at_most"].result[0]
    assert isinstance(failure, Failure)
    assert failure.message == "apt lists left in /var/lib/apt/lists"
    assert "remove them in the same RUN" in failure.text
    skipped = cases["wasted_at_most"].result[0]
    assert isinstance(skipped, Skipped) and not isinstance(skipped, Failure)
    assert "the image did not build for dive" in skipped.message
    assert "\\x1b[31m" in cases["output_matches (optional)"].result[0].text

    props = {p.name: p.value for p in suite.properties()}
    assert (int(props["points"]), int(props["max_points"]), props["passed"]) == (
        report.points,
        report.max_points,
        "false",
    )
    assert cases["size_at_most"].system_out.splitlines()[0] == "points: 0/3"


def test_junit_reports_a_submission_it_could_not_judge_as_an_error():
    xml = JUnitXml.fromstring(formats.render("junit", broken(), CTX))
    suite = next(iter(xml))
    assert (suite.tests, suite.failures, suite.skipped, suite.errors) == (1, 0, 0, 1)
    (case,) = list(suite)
    assert isinstance(case.result[0], Error)
    assert case.result[0].message == "no Dockerfile in sub/02-slim"


# --- Gradescope results.json ------------------------------------------------------


def _validate(doc: dict, schema_file: str) -> None:
    schema = json.loads((DATA / schema_file).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(doc)


def _ints(*values: object) -> bool:
    return all(type(v) is int for v in values)


@pytest.mark.parametrize("make", [mixed, broken])
def test_gradescope_results_match_its_field_list_with_integer_points(make):
    report = make()
    doc = json.loads(formats.render("gradescope", report, CTX))
    _validate(doc, "gradescope-results.schema.json")
    assert doc["score"] == report.points and _ints(doc["score"], doc["execution_time"])
    assert all(_ints(t["score"], t["max_score"]) for t in doc["tests"])
    assert sum(t["score"] for t in doc["tests"]) == doc["score"]
    assert sum(t["max_score"] for t in doc["tests"]) == report.max_points
    assert ("PASSED" if report.passed else "FAILED") in doc["output"]


def test_gradescope_marks_not_run_apart_from_failed():
    tests = {t["name"]: t for t in json.loads(formats.render("gradescope", mixed(), CTX))["tests"]}
    failed, not_run = tests["size_at_most"], tests["wasted_at_most"]
    assert failed["status"] == not_run["status"] == "failed"  # Gradescope's status knows only passed/failed
    assert failed["output"].startswith("FAIL") and "hint: apt lists" in failed["output"]
    assert not_run["output"].startswith("NOT RUN") and "the image did not build for dive" in not_run["output"]
    assert "not run" in not_run["tags"] and "not run" not in failed["tags"]
    assert (not_run["extra_data"]["layerlab_status"], failed["extra_data"]["layerlab_status"]) == ("not run", "failed")
    assert tests["builds"]["status"] == "passed"


# --- Classroom 50 result.json -----------------------------------------------------


@pytest.mark.parametrize("make", [mixed, broken])
def test_classroom50_result_matches_its_schema_and_its_cross_field_rules(make):
    report = make()
    doc = json.loads(formats.render("classroom50", report, CTX))
    _validate(doc, "classroom50-result-v1.schema.json")
    assert doc["schema"] == "classroom50/result/v1"
    assert (doc["score"], doc["max-score"]) == (report.points, report.max_points)
    assert doc["score"] <= doc["max-score"]  # the rules the published schema leaves to code
    assert all(t["score"] <= t["max-score"] and _ints(t["score"], t["max-score"]) for t in doc["tests"])
    assert sum(t["score"] for t in doc["tests"]) == doc["score"]
    assert doc["datetime"] == "2026-12-02T03:04:05Z"


def test_classroom50_takes_its_identity_from_the_runners_variables_and_says_not_run():
    env = {
        "CLASSROOM": "ml101",
        "ASSIGNMENT": "slim",
        "USERNAME": "ada",
        "SUBMISSION_TAG": "submit/20261202T030405Z-abc1234",
        "COMMIT_URL": "https://github.com/ml101/ml101-slim-ada/commit/abc1234",
        "RELEASE_URL": "https://github.com/ml101/ml101-slim-ada/releases/tag/submit%2F20261202T030405Z-abc1234",
    }
    doc = json.loads(formats.render("classroom50", mixed(), formats.Context(env=env, now=CTX.now)))
    _validate(doc, "classroom50-result-v1.schema.json")
    assert (doc["classroom"], doc["assignment"], doc["owner"], doc["submission"]) == (
        "ml101",
        "slim",
        "ada",
        env["SUBMISSION_TAG"],
    )
    assert doc["review"] == doc["commit"] == env["COMMIT_URL"]  # no REVIEW_URL: the commit view, as the runner does
    tests = {t["test-name"]: t for t in doc["tests"]}
    assert tests["wasted_at_most"]["passed"] is False and tests["wasted_at_most"]["status"] == "not run"
    assert tests["size_at_most"]["status"] == "failed" and "hint: apt lists" in tests["size_at_most"]["output"]
    assert tests["builds"]["passed"] is True


# --- GitHub Actions job summary ---------------------------------------------------

ROW = re.compile(r"(?<!\\)\|")  # a cell boundary: a pipe not escaped


def _table(markdown: str) -> list[list[str]]:
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Result |"))
    assert re.fullmatch(r"\|(---:?\|)+", lines[start + 1]), lines[start + 1]
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in ROW.split(line)[1:-1]])
    return [r for i, r in enumerate(rows) if i != 1]


def test_the_job_summary_is_one_table_row_per_check_with_a_mark_per_status():
    report = mixed()
    md = formats.render("github-summary", report, CTX)
    assert md.splitlines()[0] == "### `02-slim`: FAILED, 3/9 points"
    header, *rows = _table(md)
    assert header == ["Result", "Check", "Points", "What happened"]
    assert len(rows) == len(report.results) and all(len(r) == 4 for r in rows)
    marks = {r.status: row[0] for r, row in zip(report.results, rows, strict=True)}
    assert len(set(marks.values())) == 3  # passed, failed and not run each have their own mark
    assert "NOT RUN" in marks["not run"] and "FAILED" in marks["failed"]
    assert [row[2] for row in rows] == [f"{r.points}/{r.max_points}" for r in report.results]
    size = rows[1][3]
    assert "\\|" in size and "&lt;fixture x 1.2&gt;" in size and "<br>hint: apt lists" in size
    assert "2 check(s)" not in md and "1 check(s) did not run" in md


def test_the_job_summary_lists_problems_when_nothing_could_be_judged():
    md = formats.render("github-summary", broken(), CTX)
    assert "**problem:** no Dockerfile in sub/02-slim" in md and "| Result |" not in md


# --- the CLI: --json is --format json; the job summary goes to $GITHUB_STEP_SUMMARY ---


@pytest.fixture
def graded(monkeypatch):
    from layerlab.grade import runner

    monkeypatch.setattr(runner, "grade", lambda path, exercise=None, show=None: mixed())


def test_json_is_an_alias_of_format_json_and_they_cannot_disagree(graded, capsys):
    assert cli.main(["grade", "x", "--json"]) == 1
    alias = capsys.readouterr().out
    assert cli.main(["grade", "x", "--format", "json"]) == 1
    assert capsys.readouterr().out == alias
    assert Report.model_validate_json(alias).results == mixed().results
    assert cli.main(["grade", "x", "--json", "--format", "junit"]) == 2


def test_the_job_summary_is_appended_to_the_file_github_names(graded, capsys, monkeypatch, tmp_path):
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert cli.main(["grade", "x", "--format", "github-summary"]) == 1
    assert capsys.readouterr().out == ""
    text = summary.read_text()
    assert text.startswith("earlier step\n### `02-slim`: FAILED")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    cli.main(["grade", "x", "--format", "github-summary"])
    assert capsys.readouterr().out.startswith("### `02-slim`: FAILED")


# --- engine tier: the CLI grades a real starter and its JUnit file parses ----------


@pytest.mark.answers
def test_the_cli_writes_junit_for_the_02_slim_starter(engine_client, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "layerlab.cli", "grade", "exercises/02-slim", "--format", "junit"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 1, out.stdout + out.stderr  # the untouched starter fails
    path = tmp_path / "02-slim.xml"
    path.write_text(out.stdout)
    suite = next(iter(JUnitXml.fromfile(str(path))))
    failed = {c.name for c in suite if any(isinstance(r, Failure) for r in c.result)}
    # In the instructor's repository the hidden checks (solutions/02-slim/hidden.yml) are graded too.
    assert failed == {
        "size_at_most",
        "wasted_at_most",
        "code_edit_reruns_at_most (optional)",
        "size_at_most (optional) (hidden)",
    }, out.stdout
    assert suite.failures == 4 and suite.errors == 0 and suite.tests == len(list(suite))
    assert all(c.result[0].message for c in suite if c.name in failed)  # each failure carries its hint
    assert "BEGIN SOLUTION" not in out.stdout


def test_the_job_summary_drops_ansi_colour_codes():
    md = formats.render("github-summary", mixed(), CTX)
    assert ESC not in md and "[31m" not in md and "word count differs &amp; more" in md


@pytest.mark.parametrize("name", formats.names())
def test_a_passing_report_exits_0_in_every_format(monkeypatch, capsys, name):
    from layerlab.grade import runner

    passing = Report(exercise="02-slim", path="x", run_id="r", results=[mixed().results[0]])
    monkeypatch.setattr(runner, "grade", lambda path, exercise=None, show=None: passing)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert cli.main(["grade", "x", "--format", name]) == 0
    assert capsys.readouterr().out


def test_one_grading_writes_every_format_asked_for(graded, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    junit, result = tmp_path / "out" / "02-slim.xml", tmp_path / "result.json"
    code = cli.main(
        ["grade", "x", "--format", "github-summary", "--write", f"junit={junit}", "--write", f"classroom50={result}"]
    )
    assert code == 1
    assert capsys.readouterr().out.startswith("### `02-slim`")
    assert next(iter(JUnitXml.fromfile(str(junit)))).failures == 2
    _validate(json.loads(result.read_text()), "classroom50-result-v1.schema.json")
    assert cli.main(["grade", "x", "--write", "yaml=out.yml"]) == 2
