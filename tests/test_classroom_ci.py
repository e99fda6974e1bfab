"""A class's CI (classroom/): the GitHub workflow, its composite action and the GitLab template validate against
their systems' schemas (those check-jsonschema vendors, as lesson 09 checks its workflow), every action is pinned
to a commit, and the scripts they run do what the jobs rely on: a bundle is used only when its sha256 is the
pinned one, a grading writes the reports the jobs upload and report, and a failing grade fails the job. Then the
grading times the instructor's docs show are the ones measured (classroom/grading-times.json).

Nothing here runs on GitHub or GitLab: what a hosted runner does is read from the files, and the scripts run here
with a stand-in for the `layerlab` CLI where a grading would need an engine."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from layerlab import cli
from layerlab import course as course_mod
from layerlab.course import classroom, site
from layerlab.grade import formats
from layerlab.measure import lint

REPO = course_mod.REPO
CLASS = REPO / "classroom"
EXERCISES = [e.id for e in course_mod.load().exercises]
SHA_PIN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")

CI_FILES = [
    ("grade.yml", "github-workflow", "    runs-on:", "    run-on:"),
    ("action.yml", "github-action", "      shell: bash", "      shel: bash"),
    ("gitlab-ci.yml", "gitlab-ci", "    reports:", "    report:"),
]


def _yaml(name: str) -> dict:
    return yaml.safe_load((CLASS / name).read_text(encoding="utf-8"))


def _step(name: str) -> dict:
    return next(s for s in _yaml("action.yml")["runs"]["steps"] if s.get("name") == name)


# --- schemas ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kind", "good", "typo"), CI_FILES)
def test_each_ci_file_validates_against_its_systems_schema_and_a_typo_does_not(tmp_path, name, kind, good, typo):
    text = (CLASS / name).read_text(encoding="utf-8")
    assert good in text
    broken = tmp_path / name
    broken.write_text(text.replace(good, typo, 1), encoding="utf-8")
    ok, bad = lint.ci_files([CLASS / name, broken], kind)
    assert ok.ok, ok.output
    assert not bad.ok, f"a misspelt key ({typo.strip()}) passed the {kind} schema"
    assert bad.output != "ok"


def test_an_unknown_kind_of_ci_file_is_a_clear_error():
    with pytest.raises(ValueError, match="known: github-workflow"):
        lint.ci_files([CLASS / "grade.yml"], "jenkins")


# --- pinned actions -----------------------------------------------------------------------------


def _uses(node: object) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "uses" and isinstance(v, str)] + [
            u for v in node.values() for u in _uses(v)
        ]
    if isinstance(node, list):
        return [u for v in node for u in _uses(v)]
    return []


def unpinned(text: str) -> list[str]:
    """Each `uses:` that is neither a local action of this repository nor pinned to a 40-hex commit with its release
    in a comment on its line (what Dependabot and Renovate read to propose the next one)."""
    lines = re.findall(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", text, re.M)
    assert [ref for ref, _ in lines] == _uses(yaml.safe_load(text)), "a `uses:` this check cannot read line by line"
    bad = []
    for ref, rest in lines:
        if ref.startswith("./"):
            if not (REPO / ref / "action.yml").exists():
                bad.append(f"{ref} (no action.yml there)")
        elif not SHA_PIN.match(ref):
            bad.append(ref)
        elif not re.match(r"\s+#\s*v\d", rest):
            bad.append(f"{ref} (no release comment)")
    return bad


@pytest.mark.parametrize("name", ["grade.yml", "action.yml"])
def test_every_action_is_pinned_to_a_commit(name):
    text = (CLASS / name).read_text(encoding="utf-8")
    assert _uses(yaml.safe_load(text)), f"{name} uses no action at all"
    assert unpinned(text) == []


def test_the_pin_check_catches_a_tag_a_short_sha_and_a_missing_local_action():
    text = textwrap.dedent(
        """\
        steps:
          - uses: actions/checkout@v4
          - uses: actions/checkout@11bd719
          - uses: ./nowhere
          - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683
          - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        """
    )
    assert unpinned(text) == [
        "actions/checkout@v4",
        "actions/checkout@11bd719",
        "./nowhere (no action.yml there)",
        "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 (no release comment)",
    ]


# --- what the files say ---------------------------------------------------------------------------


def test_by_default_the_workflow_and_the_gitlab_template_grade_every_exercise_of_course_yml():
    matrix = _yaml("grade.yml")["jobs"]["grade"]["strategy"]["matrix"]["exercise"]
    default = re.search(r"\|\|\s*'(\[[^']*\])'\s*\)\s*}}$", matrix)
    assert default, f"no default list at the end of the matrix expression: {matrix}"
    assert json.loads(default.group(1)) == EXERCISES
    assert _yaml("gitlab-ci.yml")["variables"]["LAYERLAB_EXERCISES"].split() == EXERCISES


def test_the_workflow_calls_the_action_the_student_repository_carries_with_the_pinned_autograder():
    steps = _yaml("grade.yml")["jobs"]["grade"]["steps"]
    call = next(s for s in steps if s.get("uses") == "./classroom")
    assert call["with"]["autograder-digest"] == "${{ vars.LAYERLAB_AUTOGRADER_DIGEST }}"
    assert call["with"]["exercise"] == "${{ matrix.exercise }}"
    # The action's own inputs: the workflow gives every required one and nothing it does not declare.
    inputs = _yaml("action.yml")["inputs"]
    assert {k for k, v in inputs.items() if v.get("required")} <= set(call["with"]) <= set(inputs)
    # Everything the action runs from its own folder ships in the student repository, where the workflow calls it.
    action_text = (CLASS / "action.yml").read_text(encoding="utf-8")
    scripts = set(re.findall(r"\$GITHUB_ACTION_PATH/([\w.-]+)", action_text))
    assert scripts and {f"classroom/{s}" for s in scripts} <= set(classroom.STUDENT_FILES)
    assert classroom.STUDENT_FILES[".github/workflows/grade.yml"] == "classroom/grade.yml"
    for dest, src in classroom.STUDENT_FILES.items():
        assert (REPO / src).is_file(), f"{src} (for {dest}) does not exist"


def test_the_gitlab_job_keeps_the_junit_files_that_grade_sh_writes_even_when_a_grade_fails():
    job = _yaml("gitlab-ci.yml")["grade"]
    assert job["artifacts"]["when"] == "always"
    # grade.sh EXERCISE BUNDLE DIGEST REPORTS FORMAT writes REPORTS/EXERCISE.junit.xml
    call = re.search(r"classroom/grade\.sh (\S+) (\S+) (\S+) (\S+) (\S+)", "\n".join(job["script"]))
    assert call, "the job does not run classroom/grade.sh"
    written = f"{call.group(4)}/02-slim.junit.xml"
    assert fnmatch.fnmatch(written, job["artifacts"]["reports"]["junit"])
    assert any(fnmatch.fnmatch(written, p + "*") for p in job["artifacts"]["paths"])


def test_the_options_the_ci_passes_to_layerlab_grade_are_the_cli_s(capsys):
    script = (CLASS / "grade.sh").read_text(encoding="utf-8")
    used = set(re.findall(r"--write \"(\w[\w-]*)=", script))
    assert used == {"junit", "classroom50", "json"}
    assert used | {"github-summary", "text"} <= set(formats.names())
    with pytest.raises(SystemExit):
        cli.main(["grade", "--help"])
    helptext = capsys.readouterr().out
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", script.split('"$layerlab" grade', 1)[1].split("rc=$?")[0]))
    assert {"--write", "--format", "--exercise"} <= options
    if "--autograder" not in helptext:
        pytest.skip("`layerlab grade` has no --autograder/--audience yet: the bundle branch adds them")
    assert {o for o in options if o not in helptext} == set()


# --- the scripts ----------------------------------------------------------------------------------


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", *args], cwd=cwd, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


@pytest.fixture
def bundle(tmp_path) -> tuple[Path, str]:
    f = tmp_path / "published" / "autograder.tgz"
    f.parent.mkdir()
    f.write_bytes(b"not really a tarball, but bytes with a digest\n" * 100)
    return f, "sha256:" + hashlib.sha256(f.read_bytes()).hexdigest()


def test_the_bundle_is_kept_only_when_its_sha256_is_the_pinned_one(tmp_path, bundle):
    f, digest = bundle
    out = tmp_path / "job" / "autograder.tgz"
    r = _run([str(CLASS / "fetch-autograder.sh"), f.as_uri(), digest, str(out)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == f.read_bytes()

    out.unlink()
    other = "sha256:" + "0" * 64
    r = _run([str(CLASS / "fetch-autograder.sh"), f.as_uri(), other, str(out)], tmp_path)
    assert r.returncode == 1
    assert digest in r.stderr and other in r.stderr  # both named: what came and what was pinned
    assert list(out.parent.iterdir()) == []  # neither the file nor a partial download is left


@pytest.mark.parametrize(
    ("source", "digest", "says"),
    [
        ("FILE", "sha256:ABC", "is not sha256:<64 lower-case hex"),
        ("FILE", "", "is not sha256:<64 lower-case hex"),
        ("http://example.invalid/autograder.tgz", "DIGEST", "give an https:// URL"),
        ("", "DIGEST", "LAYERLAB_AUTOGRADER_URL"),
    ],
)
def test_a_bad_source_or_digest_is_refused_before_anything_is_fetched(tmp_path, bundle, source, digest, says):
    f, good = bundle
    source = f.as_uri() if source == "FILE" else source
    digest = good if digest == "DIGEST" else digest
    r = _run([str(CLASS / "fetch-autograder.sh"), source, digest, str(tmp_path / "out.tgz")], tmp_path)
    assert r.returncode == 2
    assert says in r.stderr
    assert not (tmp_path / "out.tgz").exists()


# A stand-in for .venv/bin/layerlab: it records its arguments, writes each --write target (the json one with the
# verdict given in its environment) and exits as `layerlab grade` would.
STUB = """\
#!{python}
import json, os, sys
args = sys.argv[1:]
open(os.environ["STUB_ARGS"], "w").write(json.dumps(args))
passed = os.environ["STUB_PASSED"] == "1"
for i, a in enumerate(args):
    if a == "--write":
        name, _, path = args[i + 1].partition("=")
        body = json.dumps({{"passed": passed, "points": 7 if passed else 3, "max_points": 10}}) if name == "json" else name
        open(path, "w").write(body)
print("summary in", args[args.index("--format") + 1])
sys.exit(0 if passed else 1)
"""


@pytest.fixture
def student_repo(tmp_path) -> tuple[Path, Path]:
    repo = tmp_path / "student"
    (repo / "exercises" / "02-slim").mkdir(parents=True)
    stub = tmp_path / "layerlab"
    stub.write_text(STUB.format(python=sys.executable), encoding="utf-8")
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    return repo, stub


@pytest.mark.parametrize("passed", [True, False])
def test_grade_sh_grades_with_the_pinned_bundle_for_the_student_and_reports_the_verdict(tmp_path, student_repo, passed):
    repo, stub = student_repo
    digest = "sha256:" + "a" * 64
    outputs = tmp_path / "github_output"
    env = {"LAYERLAB": str(stub), "STUB_ARGS": str(tmp_path / "args.json"), "STUB_PASSED": "1" if passed else "0"}
    env["GITHUB_OUTPUT"] = str(outputs)
    r = _run([str(CLASS / "grade.sh"), "02-slim", "/tmp/b.tgz", digest, "build/grade", "github-summary"], repo, env)
    assert r.returncode == (0 if passed else 1), r.stderr
    args = json.loads((tmp_path / "args.json").read_text())
    assert args[:2] == ["grade", "exercises/02-slim"]
    assert args[args.index("--autograder") + 1] == f"/tmp/b.tgz@{digest}"
    assert args[args.index("--audience") + 1] == "student"
    assert args[args.index("--format") + 1] == "github-summary"
    for suffix in ("junit.xml", "classroom50.json", "json"):
        assert (repo / "build" / "grade" / f"02-slim.{suffix}").is_file()
    got = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert got == {
        "passed": "true" if passed else "false",
        "points": "7" if passed else "3",
        "max-points": "10",
        "exit-code": "0" if passed else "1",
    }


def test_grade_sh_refuses_an_exercise_the_repository_does_not_have(tmp_path, student_repo):
    repo, stub = student_repo
    env = {"LAYERLAB": str(stub), "STUB_ARGS": str(tmp_path / "args.json"), "STUB_PASSED": "1"}
    r = _run([str(CLASS / "grade.sh"), "../../etc", "b.tgz", "sha256:" + "a" * 64, "build/grade", "text"], repo, env)
    assert r.returncode == 2
    assert "no exercise '../../etc'" in r.stderr and "02-slim" in r.stderr
    assert not (tmp_path / "args.json").exists()  # layerlab never ran


@pytest.mark.parametrize(
    ("exit_code", "passed", "fails"),
    [("0", "true", False), ("1", "false", True), ("", "", True), ("0", "false", True)],
    ids=["passed", "failed", "never-graded", "no-verdict"],
)
def test_the_action_s_last_step_fails_the_job_unless_the_exercise_passed(tmp_path, exit_code, passed, fails):
    step = _step("Runner time, and fail on a failing grade")
    assert step["if"] == "always()"  # it runs after a failed step too, so a job that could not grade fails
    summary = tmp_path / "summary.md"
    env = {"EXERCISE": "02-slim", "STARTED": "100", "SET_UP": "190", "GRADED": "250"}
    env |= {"EXIT_CODE": exit_code, "PASSED": passed, "GITHUB_STEP_SUMMARY": str(summary)}
    r = _run(["-c", step["run"]], tmp_path, env)
    assert (r.returncode != 0) == fails
    assert "set-up 90 s, fetch and grading 60 s" in summary.read_text()


def test_the_grade_step_never_fails_before_the_reports_are_uploaded():
    grade = _step("Grade")
    upload = _step("Upload the reports")
    assert "|| true" in grade["run"]
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "${{ inputs.reports }}/${{ inputs.exercise }}.*"


# --- what a class costs ---------------------------------------------------------------------------


def test_runner_minutes_are_whole_minutes_rounded_up():
    assert [classroom.billed_minutes(s) for s in (0, 1, 59.9, 60, 60.1, 119, 121)] == [1, 1, 1, 1, 2, 2, 3]


def test_a_cold_copy_makes_every_run_step_of_every_stage_run_again(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM python:3.13-slim AS build\nRUN make\nfrom debian:trixie-slim\nRUN ls\n")
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "Dockerfile.dev").write_text("FROM python:3.13\nCOPY . .\n")
    assert classroom.bust_run_cache(tmp_path, "t0k") == 3
    text = (tmp_path / "Dockerfile").read_text().splitlines()
    assert text == [
        "FROM python:3.13-slim AS build",
        "ARG LAYERLAB_COLD_CACHE=t0k",
        "RUN make",
        "from debian:trixie-slim",
        "ARG LAYERLAB_COLD_CACHE=t0k",
        "RUN ls",
    ]


def _time(exercise: str, cache: str, seconds: float) -> classroom.GradingTime:
    return classroom.GradingTime(
        exercise=exercise,
        cache=cache,  # type: ignore[arg-type]
        seconds=seconds,
        graded_seconds=seconds - 1,
        passed=True,
        engine="docker 26.1.5 (containerd image store)",
        cpus=2,
        load=1.5,
        measured_at="2026-12-02T05:00:00+00:00",
    )


def test_a_new_measurement_replaces_the_old_one_of_its_exercise_and_cache_state():
    times = classroom.GradingTimes()
    for t in (_time("03-cache", "warm", 30), _time("02-slim", "warm", 20), _time("02-slim", "cold", 90)):
        times.put(t)
    times.put(_time("02-slim", "warm", 25))
    assert [(t.exercise, t.cache, t.seconds) for t in times.times] == [
        ("02-slim", "cold", 90),
        ("02-slim", "warm", 25),
        ("03-cache", "warm", 30),
    ]
    md = classroom.table(times)
    assert "| `02-slim` | cold | 90 s | 2 | yes |" in md


def test_the_readme_table_is_the_one_rendered_from_the_measured_times():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert classroom.readme_table(readme) == classroom.table(classroom.load())


def test_the_instructor_page_has_the_class_section_with_the_measured_times(tmp_path, monkeypatch):
    times = classroom.GradingTimes(times=[_time("02-slim", "cold", 130)])
    monkeypatch.setattr(classroom, "load", lambda path=classroom.TIMES_FILE: times)
    page = site.instructor_page(course_mod.load(), tmp_path)
    section = page.split("<section id='class'>", 1)[1].split("</section>", 1)[0]
    assert "Running a class" in section and "grade-many" in section
    assert "<td><code>02-slim</code></td><td>cold</td><td>130 s</td><td>3</td>" in section


@pytest.mark.answers
def test_a_grading_that_did_not_pass_is_not_recorded_as_a_grading_time():
    # The unit tier has no engine: the reference solution's checks do not run, and that is no grading's time.
    with pytest.raises(classroom.ClassroomError, match=r"02-slim: the reference solution did not pass here \(builds: "):
        classroom.measure("02-slim")
    with pytest.raises(classroom.ClassroomError, match="no reference solution"):
        classroom.measure("99-nothing")
