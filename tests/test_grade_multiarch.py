"""Exercise 05-multiarch: the usual multi-platform mistakes each fail a check with a hint that names the cause."""

from __future__ import annotations

import shutil

import pytest

from layerlab.course import REPO
from layerlab.grade import fixture as fixture_mod
from layerlab.grade.runner import grade
from test_grade_static import course_file

pytestmark = [pytest.mark.usefixtures("engine_client"), pytest.mark.slow]

# The exercise's checks without the starter comparison (a cold emulated build of several minutes).
EXERCISE = """
exercises:
  - id: 05-multiarch
    module: "02"
    title: multiarch mistakes
    paths: [Dockerfile, serve.py, customers.csv, requirements.txt, fastscore.c, modelpack.c, weights.z]
    limits:
      build_timeout_s: 540
      run_timeout_s: 90
    checks:
      - check: builds
      - check: multiarch_runs
      - check: no_emulated_build_steps
"""


def variant(tmp_path, edit) -> str:
    d = tmp_path / "05-multiarch"
    shutil.copytree(REPO / "solutions" / "05-multiarch", d, ignore=shutil.ignore_patterns("fixture.json"))
    text = (d / "Dockerfile").read_text()
    new = edit(text)
    assert new != text
    (d / "Dockerfile").write_text(new)
    return d


def graded(tmp_path, edit):
    folder = variant(tmp_path, edit)
    r = grade(
        folder, "05-multiarch", course_file=course_file(tmp_path, EXERCISE), fixture=fixture_mod.load("05-multiarch")
    )
    assert "Traceback" not in r.table()
    return {x.check: x for x in r.results}, r


@pytest.mark.answers
@pytest.mark.lane("tests")  # 73 s on a fresh machine: the lanes are about even with it on the other side
def test_an_arm64_build_copied_into_the_amd64_image_fails_with_a_hint(engine_client, tmp_path):
    def pin_arm64(t):
        return (
            t.replace('if [ "$TARGETARCH" = "$(dpkg --print-architecture)" ]', "if false")
            .replace('case "$TARGETARCH" in', 'case "arm64" in')
            .replace('--add-architecture "$TARGETARCH"', "--add-architecture arm64")
            .replace("libpython3.13-dev:$TARGETARCH", "libpython3.13-dev:arm64")
            .replace("zlib1g-dev:$TARGETARCH", "zlib1g-dev:arm64")
            # A light RUN in the runtime stage: it runs under qemu for the foreign platform, and installs nothing.
            .replace(
                "COPY --from=builder /opt/site /opt/site\n",
                "COPY --from=builder /opt/site /opt/site\nRUN mkdir /build\n",
                1,
            )
        )

    results, r = graded(tmp_path, pin_arm64)
    runs = results["multiarch_runs"]
    assert runs.status == "failed" and "linux/amd64" in runs.detail, r.table()
    assert "another CPU" in runs.hint and "TARGETARCH" in runs.hint
    # Judged by what the emulated step did, not by the word "build" in it: an emulated mkdir is no install.
    light = results["no_emulated_build_steps"]
    assert light.status == "passed" and "1 light emulated RUN step" in light.detail, r.table()


@pytest.mark.answers
def test_a_missing_arg_targetarch_fails_with_a_hint(engine_client, tmp_path):
    results, r = graded(tmp_path, lambda t: t.replace("ARG TARGETARCH\n", "", 1))
    assert results["builds"].status == "failed", r.table()
    assert "ARG TARGETARCH" in results["builds"].hint
    assert {x.status for c, x in results.items() if c != "builds"} == {"not run"}


@pytest.mark.answers
def test_the_lessons_cross_compile_file_does_not_solve_the_exercise(engine_client, tmp_path):
    """The exercise asks for one step the lesson did not show: its second extension links the target's zlib."""
    lesson = (REPO / "docker" / "lessons" / "05-multi-arch" / "cross-compile" / "Dockerfile").read_text()
    folder = variant(tmp_path, lambda t: lesson)
    r = grade(
        folder, "05-multiarch", course_file=course_file(tmp_path, EXERCISE), fixture=fixture_mod.load("05-multiarch")
    )
    results = {x.check: x for x in r.results}  # the app's own traceback is in the table: it fails to import
    runs = results["multiarch_runs"]
    assert results["builds"].status == "passed" and runs.status == "failed", r.table()
    assert "modelpack" in runs.detail, r.table()
