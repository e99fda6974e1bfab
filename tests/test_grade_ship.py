"""Exercise 09-ship: the shipped solution passes; the shipped starter fails every shipping check,
and its report names the places of the token without ever printing it."""

from __future__ import annotations

import re
import shutil
import uuid
from types import SimpleNamespace

import pytest

from layerlab.course import REPO
from layerlab.engine import registry
from layerlab.grade import checks
from layerlab.grade import exercise as exercise_mod
from layerlab.grade.checks.ship import OCI_SOURCE, PushedImage, pushed_ref, ship
from layerlab.grade.runner import grade

EX = exercise_mod.load("09-ship")


def _graded(tmp_path_factory, folder, label):
    """Ship `folder` as a student would (build with its own token as the secret, push, write digest.txt), then grade."""
    dest = tmp_path_factory.mktemp(label) / "09-ship"
    ship(EX, folder, dest, f"09-ship-test-{label}-{uuid.uuid4().hex[:8]}:v1")
    report = grade(dest, "09-ship")
    return report, {r.check: r for r in report.results}, dest


@pytest.fixture(scope="module")
def solution(engine_client, tmp_path_factory):
    return _graded(tmp_path_factory, REPO / "solutions" / "09-ship", "solution")


@pytest.fixture(scope="module")
def starter(engine_client, tmp_path_factory):
    return _graded(tmp_path_factory, REPO / "exercises" / "09-ship", "starter")


@pytest.mark.answers
def test_the_shipped_solution_passes(solution):
    report, results, _ = solution
    assert report.passed, report.table()
    assert "without the token" in results["pushed_image"].detail


@pytest.mark.answers
def test_code_edited_after_the_push_is_not_the_pushed_image(solution):
    # Same Dockerfile, same steps, other files: only the layers' content (rootfs.diff_ids) tells them apart.
    _, _, dest = solution
    edited = dest.parent / "edited" / "09-ship"
    shutil.copytree(dest, edited)
    (edited / "serve.py").write_text((edited / "serve.py").read_text() + "\n# edited after the push\n")
    report = grade(edited, "09-ship")
    pushed = {r.check: r for r in report.results}["pushed_image"]
    assert pushed.status == "failed" and "other content" in pushed.detail and "serve.py" in pushed.detail, (
        report.table()
    )


@pytest.mark.answers
def test_the_starter_leaks_and_the_report_says_where_not_what(starter):
    report, results, dest = starter
    assert not report.passed
    assert results["builds"].ok and results["runs_and_prints"].ok and results["paths_present"].ok, "the starter works"
    leak = results["token_absent"]
    assert leak.status == "failed"
    assert "layer" in leak.detail and "/tmp/unlock.token" in leak.detail and "deleted by layer" in leak.detail
    assert "history" in leak.detail and "config.config.Env" in leak.detail
    assert "--mount=type=secret" in leak.hint
    pushed = results["pushed_image"]
    assert pushed.status == "failed" and "holds your token" in pushed.detail
    assert results["hadolint"].status == "failed" and "DL3020" in results["hadolint"].detail
    assert results["oci_labels"].status == "failed" and OCI_SOURCE in results["oci_labels"].detail
    own = (dest / "unlock.token").read_text().strip()
    text = report.table() + report.to_json()
    assert own not in text and own[4:20] not in text, "the report never carries the student's token"
    assert not re.search(r"llt_[0-9a-f]{8}", text), "nor the one grading planted (leaks.new_token)"


def _ctx(folder):
    return SimpleNamespace(folder=folder)


def test_a_digest_file_that_names_a_tag_fails_with_a_hint(tmp_path):
    spec = PushedImage(check="pushed_image")
    with pytest.raises(checks.Failed, match="no digest.txt"):
        pushed_ref(_ctx(tmp_path), spec)
    (tmp_path / "digest.txt").write_text(f"{registry.address()}/09-ship:v1\n")
    with pytest.raises(checks.Failed) as e:
        pushed_ref(_ctx(tmp_path), spec)
    assert "a tag can move" in e.value.hint
    good = f"{registry.address()}/09-ship@sha256:" + "a" * 64
    (tmp_path / "digest.txt").write_text(good + "\n")
    assert pushed_ref(_ctx(tmp_path), spec) == (good, "09-ship", "sha256:" + "a" * 64)
