"""The grader against the real engine: the solution passes, the starter fails where expected,
each check fails a submission made wrong on purpose, and nothing is left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from layerlab import course
from layerlab.course import REPO
from layerlab.engine import build
from layerlab.grade import GradeFailed
from layerlab.grade import exercise as exercise_mod
from layerlab.grade import fixture as fixture_mod
from layerlab.grade import hidden as hidden_mod
from layerlab.grade.checks.ship import ship
from layerlab.grade.record import measure_fixture
from layerlab.grade.runner import grade
from layerlab.grade.sandbox import RUN_LABEL
from layerlab.measure import inspector
from procs import building, sleep_seconds, sleeping
from test_grade_static import course_file

pytestmark = pytest.mark.usefixtures("engine_client")


def _assert_left_nothing(client, run_id: str):
    # Other engineers' grading runs share this engine and come and go while ours runs, so
    # look only for what carries this run's label: every object a grading run makes has it.
    flt = [("label", f"{RUN_LABEL}={run_id}")]
    assert client.container.list(all=True, filters=flt) == []
    assert client.network.list(filters=flt) == []
    assert client.volume.list(filters=flt) == []
    assert client.image.list(filters=flt) == []


def by_check(report):
    return {r.check: r for r in report.results}


# --- the course's exercises ---------------------------------------------------


def _handed_in(kind: str, ex: str, tmp_path) -> Path:
    """The folder as a student hands it in. An exercise with a `pushed_image` check is first built and
    pushed to this machine's registry, as its notebook does: a fresh machine's registry is empty."""
    folder = REPO / kind / ex
    e = exercise_mod.load(ex)
    if not any(c.check == "pushed_image" for c in e.checks):
        return folder
    dest = tmp_path / ex
    ship(e, folder, dest, f"{ex}-test-{kind}-{uuid.uuid4().hex[:8]}:v1")
    return dest


def _run_solution_notebook(ex: str, folder: Path) -> dict:
    """Run the solution's notebook as a student runs it (cwd = the exercise folder); its last cell
    grades the folder. Returns what that cell's report says, read back through IPython's `_`."""
    import json

    import jupytext
    import nbformat
    from nbclient import NotebookClient

    nb = jupytext.read(folder / f"{ex}.py")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import json; print(json.dumps({'run_id': _.run_id, 'passed': _.passed, "
            "'not_run': [r.check for r in _.not_run], 'table': _.table(), "
            "'hidden': [r.status for r in _.results if r.hidden]}))"
        )
    )
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    graded = "".join(o.get("text", "") for o in nb.cells[-2].outputs)
    assert f"{ex}: PASSED" in graded, graded
    return json.loads("".join(o.get("text", "") for o in nb.cells[-1].outputs))


# The starters are graded before the solutions: grading the untouched 05-multiarch starter measures its cold
# emulated build, which is also the baseline the solution is compared with (kept per engine and starter
# content), so the suite builds it once, not twice (issue 29).
STARTER_FAILS = {
    "01-limits": {"cgroup_limits"},
    "02-slim": {"size_at_most", "wasted_at_most", "code_edit_reruns_at_most"},
    "03-cache": {"code_edit_reruns_at_most", "dependency_install_before_source_copy", "dockerignore_excludes"},
    "04-multistage": {"paths_absent", "runs_as_non_root", "size_at_most"},
    "05-multiarch": {"no_emulated_build_steps", "cross_build_speedup"},
    "06-cuda": {"paths_absent", "runs_as_non_root", "size_at_most"},
    "07-serve": {"becomes_healthy", "ready_means_ready", "graceful_stop", "hardened_serves", "no_reloader"},
    "08-compose": {"compose_up_predicts", "compose_persists", "compose_ports_loopback"},
    "09-ship": {"token_absent", "pushed_image", "oci_labels"},
    "10-prod": {
        "weights_outside_image",
        "weights_at_run_time",
        "reproducible_digest",
        "threads_from_quota",
        "loader_shm",
    },
}


@pytest.mark.answers
@pytest.mark.parametrize("ex", [e.id for e in course.load().exercises])
def test_every_untouched_starter_fails_on_the_expected_checks(engine_client, ex, tmp_path):
    r = grade(_handed_in("exercises", ex, tmp_path), ex)
    assert not r.passed
    failed = {x.check for x in r.results if x.status == "failed"}
    assert failed == STARTER_FAILS[ex], r.table()
    assert all(x.hint for x in r.results if x.status == "failed")
    hidden = [x.status for x in r.results if x.hidden]  # solutions/<id>/hidden.yml: the starter fails those too
    assert bool(hidden) == (REPO / "solutions" / ex / "hidden.yml").is_file() and set(hidden) <= {"failed"}, r.table()
    if ex == "05-multiarch":  # every RUN of the starter's arm64 image is emulated: the hint says why
        hint = next(x.hint for x in r.results if x.check == "no_emulated_build_steps")
        assert "--platform=$BUILDPLATFORM" in hint, hint
    assert "BEGIN SOLUTION" not in r.table()


@pytest.mark.answers
@pytest.mark.parametrize("ex", [e.id for e in course.load().exercises])
def test_every_solution_notebook_runs_and_passes(engine_client, ex, tmp_path):
    """One grading per solution: the notebook's own last cell. In a copy, since a notebook may
    edit its files (03-cache appends to predict.py) and 09 ships (pushes) before it grades."""
    folder = tmp_path / ex
    shutil.copytree(REPO / "solutions" / ex, folder)
    report = _run_solution_notebook(ex, folder)
    assert report["passed"], report["table"]
    assert not report["not_run"], report["table"]
    # Hidden checks too (solutions/<id>/hidden.yml), optional as they are: the reference passes them.
    assert len(report["hidden"]) == len(hidden_mod.load(course.COURSE_FILE, ex)), report["table"]
    assert set(report["hidden"]) <= {"passed"}, report["table"]
    _assert_left_nothing(engine_client, report["run_id"])


# The CLI through the engine: tests/test_grade_formats.py grades the 02-slim starter with --format junit
# (exit 1, the file parsed); exit 0 and --json are unit tests there, on a report built by hand.


@pytest.mark.answers
def test_grading_from_python_raises_on_a_failing_exercise(engine_client, tmp_path):
    import layerlab

    d = tmp_path / "02-slim"
    d.mkdir()
    (d / "Dockerfile").write_text("FROM python:3.13-slim\nRUN false\n")
    (d / "wordcount.py").write_text("")
    (d / "sample.txt").write_text("")
    with pytest.raises(GradeFailed):
        layerlab.grade_exercise("02-slim", d)


# --- one tiny exercise with every check, and a wrong submission for each -----------

TINY = """
exercises:
  - id: t-tiny
    module: "02"
    title: Tiny
    paths: [Dockerfile, app.py, requirements.txt]
    limits: {build_timeout_s: 240, run_timeout_s: 30}
    checks:
      - check: builds
      - check: runs_and_prints
        command: [python, app.py, --once]
      - check: size_at_most
        factor: 1.15
      - check: wasted_at_most
        allowance_mb: 1
      - check: code_edit_reruns_at_most
        code_file: app.py
      - check: dependency_install_before_source_copy
        source: [app.py]
      - check: dockerignore_excludes
        paths: [secrets.txt]
      - check: paths_present
        paths: [/app/app.py]
      - check: paths_absent
        paths: ["/app/secrets*"]
      - check: runs_as_non_root
      - check: hadolint
"""

APP = """import http.server, sys
if "--once" in sys.argv:
    print("tiny 42")
else:
    http.server.HTTPServer(("0.0.0.0", 8000), http.server.SimpleHTTPRequestHandler).serve_forever()
"""
DOCKERFILE = """FROM python:3.13-slim
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY app.py ./
USER 1000:1000
EXPOSE 8000
CMD ["python", "app.py"]
"""


def tiny(root, dockerfile=DOCKERFILE, output="42", ignore="secrets.txt\n"):
    d = root / "t-tiny"
    d.mkdir(parents=True)
    (d / "Dockerfile").write_text(dockerfile)
    (d / "app.py").write_text(APP.replace("42", output))
    (d / "requirements.txt").write_text("")
    (d / "secrets.txt").write_text("do not ship me\n")
    (d / ".dockerignore").write_text(ignore)
    return d


@pytest.fixture(scope="module")
def tiny_setup(engine_client, tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    cf = course_file(root, TINY)
    ex = exercise_mod.load("t-tiny", cf)
    return cf, measure_fixture(ex, tiny(root / "reference"))


def grade_tiny(tiny_setup, tmp_path, **kw):
    cf, fx = tiny_setup
    return grade(tiny(tmp_path, **kw), "t-tiny", course_file=cf, fixture=fx)


def test_the_tiny_reference_passes_every_check(tiny_setup, tmp_path, engine_client):
    r = grade_tiny(tiny_setup, tmp_path)
    assert r.passed and not r.not_run and r.points == r.max_points, r.table()
    _assert_left_nothing(engine_client, r.run_id)


def _fails(report, *checks):
    got = by_check(report)
    for c in checks:
        assert got[c].status == "failed", report.table()
        assert got[c].hint, c
    return got


def test_wrong_output_root_user_and_add_to_a_wrong_folder_fail(tiny_setup, tmp_path):
    df = (
        DOCKERFILE.replace("COPY app.py ./", "ADD app.py /srv/")
        .replace("USER 1000:1000\n", "")
        .replace("WORKDIR /app", "WORKDIR /srv")
    )
    df = df.replace("COPY requirements.txt ./", "COPY requirements.txt /srv/")
    r = grade_tiny(tiny_setup, tmp_path, dockerfile=df, output="43")
    got = _fails(r, "runs_and_prints", "runs_as_non_root", "hadolint", "paths_present")
    assert "line 1" in got["runs_and_prints"].detail and "tiny 43" in got["runs_and_prints"].detail
    assert "tiny 42" not in r.table()  # the reference output is never shown
    assert "DL3020" in got["hadolint"].detail
    assert got["builds"].status == "passed"


def test_code_before_install_and_no_dockerignore_fail(tiny_setup, tmp_path):
    df = DOCKERFILE.replace("COPY requirements.txt ./\n", "COPY . ./\n").replace("COPY app.py ./\n", "")
    r = grade_tiny(tiny_setup, tmp_path, dockerfile=df, ignore="")
    got = _fails(
        r, "code_edit_reruns_at_most", "dependency_install_before_source_copy", "dockerignore_excludes", "paths_absent"
    )
    assert "secrets.txt" in got["dockerignore_excludes"].detail


def test_a_fat_wasteful_image_fails(tiny_setup, tmp_path):
    _, fx = tiny_setup
    blob = int(fx.size_bytes * 0.2)
    df = DOCKERFILE.replace(
        "COPY app.py ./",
        f"RUN head -c {blob} /dev/zero > /opt/blob && head -c 5000000 /dev/urandom > /tmp/x\nRUN rm /tmp/x\nCOPY app.py ./",
    )
    r = grade_tiny(tiny_setup, tmp_path, dockerfile=df)
    got = _fails(r, "size_at_most", "wasted_at_most")
    assert "/tmp/x" in got["wasted_at_most"].detail


def test_a_failing_build_fails_builds_and_the_rest_is_not_run(tiny_setup, tmp_path, engine_client):
    r = grade_tiny(tiny_setup, tmp_path, dockerfile=DOCKERFILE.replace("WORKDIR /app", "WORKDIR /app\nRUN exit 3"))
    got = _fails(r, "builds")
    assert "RUN exit 3" in got["builds"].detail
    assert got["size_at_most"].status == "not run" and "did not build" in got["size_at_most"].why
    assert got["dependency_install_before_source_copy"].status == "passed"
    _assert_left_nothing(engine_client, r.run_id)


def test_a_build_past_its_time_limit_is_stopped(tiny_setup, tmp_path, engine_client):
    cf, fx = tiny_setup
    text = cf.read_text().replace("build_timeout_s: 240", "build_timeout_s: 8")
    cf2 = tmp_path / "course.yml"
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "02-x.py").write_text("# %%\n")
    cf2.write_text(text)
    d = tiny(tmp_path / "sub", dockerfile=DOCKERFILE.replace("WORKDIR /app", "WORKDIR /app\nRUN sleep 120"))
    r = grade(d, "t-tiny", course_file=cf2, fixture=fx)
    assert r.seconds < 60
    assert "timed out after 8 s" in by_check(r)["builds"].detail


@pytest.mark.answers
@pytest.mark.parametrize("phase", ["build", "run"])
@pytest.mark.parametrize("to", ["group", "process"])
def test_an_interrupted_grading_run_removes_what_it_made(engine_client, tmp_path, phase, to):
    """Interrupted while the submission builds or its container runs: exit 130, one line, nothing of the run left.

    `group` is Ctrl-C in a terminal (every process of the job gets SIGINT); `process` is Jupyter's
    "interrupt kernel" (only the kernel gets it, not the docker clients it started)."""
    import os
    import signal
    import time

    d = tmp_path / "02-slim"
    shutil.copytree(REPO / "solutions" / "02-slim", d)
    df = d / "Dockerfile"
    n = sleep_seconds()
    text = df.read_text()
    if phase == "build":  # a step that never ends on its own; a nonce keeps it out of the cache
        text = text.replace("\nCMD ", f"\nRUN echo {time.time_ns()} && sleep {n}\nCMD ", 1)
    else:
        text = text.replace('CMD ["python", "wordcount.py", "sample.txt"]', f'CMD ["sleep", "{n}"]')
    df.write_text(text)
    proc = subprocess.Popen(
        [sys.executable, "-m", "layerlab.cli", "grade", str(d), "--exercise", "02-slim"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        start_new_session=True,
    )

    def started():
        if phase == "build":
            return building("layerlab-grade-02-slim:")
        # Any container with a grading-run label running `sleep` is ours: nothing else grades 02-slim that way.
        return [
            c for c in engine_client.container.list(filters=[("label", RUN_LABEL)]) if "sleep" in (c.config.cmd or [])
        ]

    deadline = time.monotonic() + 300
    while not started() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert started(), f"the submission's {phase} never started"
    time.sleep(2)  # into the sleep itself, not the step's set-up
    (os.killpg if to == "group" else os.kill)(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "grading interrupted" in err and "Traceback" not in err, err
    assert not building("layerlab-grade-02-slim:"), "the build client was left running"
    # and the step or the container itself stopped (BuildKit cancels a build whose client left)
    deadline = time.monotonic() + 60
    while sleeping(n) and time.monotonic() < deadline:
        time.sleep(1)
    assert not sleeping(n), f"the submission's `sleep {n}` is still running"
    left = [c.name for c in engine_client.container.list(all=True, filters=[("label", RUN_LABEL)])]
    assert left == [], left
    # Only this repository's images: listing every image inspects each, and the lessons lane removes its own
    # between the listing and the inspection (NoSuchImage, seen on a fresh machine).
    assert engine_client.image.list("layerlab-grade-02-slim") == []


# --- fixtures hold on another build of the base image ---------------------------------


@pytest.fixture(scope="module")
def other_base(engine_client, tmp_path_factory):
    """python:3.13-slim with 30 MB more in it, under a throw-away name: as an official image or a
    newer release of the base differs from the stand-in the fixtures were recorded on."""
    ctx = tmp_path_factory.mktemp("other-base")
    (ctx / "Dockerfile").write_text("FROM python:3.13-slim\nRUN head -c 30000000 /dev/urandom > /opt/ballast\n")
    # Same name and tag, another namespace: as a mirror or the official image would carry it.
    tag = f"layerlab-test-otherbase-{uuid.uuid4().hex[:8]}/python:3.13-slim"
    build.build(ctx, tag, show=None)
    yield tag
    engine_client.image.remove(tag, force=True)


def _on_base(src, dst, base):
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("fixture.json"))
    df = dst / "Dockerfile"
    df.write_text(df.read_text().replace("FROM python:3.13-slim", f"FROM {base}"))
    return dst


@pytest.mark.answers
@pytest.mark.parametrize("ex", ["02-slim", "04-multistage"])
def test_the_solution_passes_on_another_base_and_the_starter_still_fails(other_base, tmp_path, ex):
    fx = fixture_mod.load(ex)
    assert fx.base_ref == "python:3.13-slim" and fx.added_bytes is not None
    solution = grade(_on_base(REPO / "solutions" / ex, tmp_path / "solution" / ex, other_base), ex)
    got = by_check(solution)
    assert solution.passed, solution.table()
    assert got["size_at_most"].status == "passed" and "above its base" in got["size_at_most"].detail
    # Compared in total, as it was, the other base's 30 MB alone would fail the size check.
    spec = next(c for c in exercise_mod.load(ex).checks if c.check == "size_at_most")
    assert inspector.inspect(other_base).size_bytes + fx.added_bytes > fx.size_bytes * spec.factor
    starter = grade(_on_base(REPO / "exercises" / ex, tmp_path / "starter" / ex, other_base), ex)
    assert by_check(starter)["size_at_most"].status == "failed", starter.table()


@pytest.mark.answers
def test_10_a_fixed_thread_count_and_a_loader_that_only_says_it_worked_fail(tmp_path):
    """Two ways to look right without being so. OMP_NUM_THREADS=1 fixed in the image is right under
    --cpus=1 only: the second quota finds it. A loader.py rewritten to report success is replaced by the
    given one before the build, so the missing shm_size still fails the way the starter does."""
    folder = tmp_path / "10-prod"
    shutil.copytree(REPO / "solutions" / "10-prod", folder, ignore=shutil.ignore_patterns("fixture.json"))
    df = folder / "Dockerfile"
    df.write_text(df.read_text().replace("USER 10001", "ENV OMP_NUM_THREADS=1\nUSER 10001"))
    cf = folder / "compose.yaml"
    cf.write_text("\n".join(l for l in cf.read_text().splitlines() if "shm_size" not in l) + "\n")
    (folder / "loader.py").write_text('import json\nprint(json.dumps({"needed_bytes": 1, "ok": True}))\n')
    if (os.cpu_count() or 1) < 2:
        pytest.skip("the second quota, --cpus=2, needs an engine with two CPUs")
    course_yml = course_file(tmp_path, _10_prod_with(THREADS + LOADER))
    got = by_check(grade(folder, "10-prod", course_file=course_yml, fixture=fixture_mod.load("10-prod")))
    assert got["weights_at_run_time"].status == "passed", got["weights_at_run_time"].detail
    threads = got["threads_from_quota"]
    assert threads.status == "failed" and "--cpus=2 BLAS runs 1 threads" in threads.detail, threads.detail
    shm = got["loader_shm"]
    assert shm.status == "failed" and "SIGBUS" in shm.detail and "shm_size:" in shm.hint, shm.detail


def _10_prod_with(checks: str) -> str:
    """Exercise 10-prod with only `checks` (YAML list items): its two no-cache release builds are not what
    these tests are about, and take a minute."""
    return (
        """
exercises:
  - id: 10-prod
    module: "02"
    title: production, in part
    paths: [Dockerfile, .dockerignore, score.py, requirements.lock, compose.yaml]
    limits:
      build_timeout_s: 300
      run_timeout_s: 60
    checks:
      - check: builds
"""
        + checks
    )


WEIGHTS = "        weights: {rows: 2048, cols: 2048, seed: 2026}\n"
LOADER = '      - check: loader_shm\n        service: loader\n        args: ["4", "2", "16"]\n'
THREADS = "      - check: weights_at_run_time\n" + WEIGHTS + "      - check: threads_from_quota\n" + WEIGHTS
THREADS += "        cpus: [1, 2]\n"


@pytest.mark.answers
def test_10_a_sized_tmpfs_on_dev_shm_is_an_answer_and_an_unsized_one_is_not(tmp_path):
    """Compose's `tmpfs: /dev/shm:size=...` replaces Docker's own /dev/shm: the grader runs the loader
    under that tmpfs, as `docker compose up` would. Without size= it may grow to half the host's memory."""
    folder = tmp_path / "10-prod"
    shutil.copytree(REPO / "solutions" / "10-prod", folder, ignore=shutil.ignore_patterns("fixture.json"))
    cf = folder / "compose.yaml"
    text = cf.read_text()
    assert "    shm_size: 160m\n" in text
    cf.write_text(text.replace("    shm_size: 160m\n", "    tmpfs:\n      - /dev/shm:size=160m\n"))
    course_yml = course_file(tmp_path, _10_prod_with(LOADER))
    fx = fixture_mod.load("10-prod")
    got = by_check(grade(folder, "10-prod", course_file=course_yml, fixture=fx))["loader_shm"]
    assert got.status == "passed" and "a tmpfs of 160 MiB on /dev/shm" in got.detail, got.detail
    cf.write_text(text.replace("    shm_size: 160m\n", "    tmpfs:\n      - /dev/shm\n"))
    got = by_check(grade(folder, "10-prod", course_file=course_yml, fixture=fx))["loader_shm"]
    assert got.status == "failed" and "without a size" in got.detail and "size=160m" in got.hint, got.detail


@pytest.mark.answers
def test_04_the_lessons_multi_stage_file_misses_libgomp_and_the_hint_says_so(tmp_path):
    """Exercise 04 needs a step the lesson did not show: its fastscore links libgomp, which the
    builder has (gcc brought it) and slim lacks. The lesson's Dockerfile, test stage dropped,
    fails to run there, and the hint names the library and where to look for its package."""
    folder = tmp_path / "04-multistage"
    shutil.copytree(REPO / "solutions" / "04-multistage", folder, ignore=shutil.ignore_patterns("fixture.json"))
    lesson_file = (REPO / "docker" / "lessons" / "04-multi-stage" / "multi-stage" / "Dockerfile").read_text()
    builder, _, rest = lesson_file.partition("FROM builder AS test")
    runtime = rest[rest.index("FROM ${PYTHON_SLIM}") :]
    (folder / "Dockerfile").write_text(builder + runtime)
    r = grade(folder, "04-multistage")
    got = by_check(r)["runs_and_prints"]
    assert got.status == "failed", r.table()
    assert "libgomp.so.1" in got.detail and "libgomp.so.1" in got.hint and "final stage" in got.hint, r.table()
