"""Exercise 09-ship: the shipped solution passes; the shipped starter fails every shipping check,
and its report names the places of the token without ever printing it. The app needs a package that
only the course's private index serves (engine/pyindex): lesson 09's secret mount alone does not install
it, and installing it with the token in a build argument leaks the token."""

from __future__ import annotations

import re
import shutil
import time
import uuid
from types import SimpleNamespace

import pytest

from layerlab.course import REPO
from layerlab.engine import pyindex, registry
from layerlab.grade import checks
from layerlab.grade import exercise as exercise_mod
from layerlab.grade.checks.ship import (
    OCI_SOURCE,
    PushedImage,
    _leak_hint,
    index_hint,
    layer_changes,
    mask_run_args,
    pushed_ref,
    run_args,
    ship,
)
from layerlab.grade.runner import grade
from layerlab.grade.sandbox import RUN_LABEL

EX = exercise_mod.load("09-ship")


def _graded(tmp_path_factory, folder, label):
    """Ship `folder` as a student would (build with its own token as the secret, push, write digest.txt), then grade."""
    dest = tmp_path_factory.mktemp(label) / "09-ship"
    ship(EX, folder, dest, f"09-ship-test-{label}-{uuid.uuid4().hex[:8]}:v1")
    report = grade(dest, "09-ship")
    return report, {r.check: r for r in report.results}, dest


def _left_running(client, run_id):
    """Index containers of this grading, and the ones `ship` started, still there after it."""
    flt = [("label", f"{pyindex.ROLE}=pyindex")]
    return [
        c.name
        for c in client.container.list(all=True, filters=flt)
        if (c.config.labels or {}).get(RUN_LABEL) == run_id or c.name.startswith("layerlab-pyindex-ship-")
    ]


def _variant(tmp_path, dockerfile):
    """The solution folder with another Dockerfile, graded as handed in (no push: pushed_image fails alone)."""
    dest = tmp_path / "09-ship"
    shutil.copytree(REPO / "solutions" / "09-ship", dest, ignore=shutil.ignore_patterns("fixture.json"))
    (dest / "Dockerfile").write_text(dockerfile)
    report = grade(dest, "09-ship")
    return report, {r.check: r for r in report.results}


HEAD = """FROM python:3.13-slim
LABEL org.opencontainers.image.source="https://example.org/x" org.opencontainers.image.version="1.0.0"
WORKDIR /app
"""
TAIL = """COPY serve.py ./
USER 10001
CMD ["python3", "serve.py"]
"""


@pytest.fixture(scope="module")
def solution(engine_client, tmp_path_factory):
    return _graded(tmp_path_factory, REPO / "solutions" / "09-ship", "solution")


@pytest.fixture(scope="module")
def starter(engine_client, tmp_path_factory):
    return _graded(tmp_path_factory, REPO / "exercises" / "09-ship", "starter")


@pytest.mark.answers
def test_the_shipped_solution_passes_and_its_index_is_gone_after(solution, engine_client):
    report, results, _ = solution
    assert report.passed, report.table()
    assert "without the token" in results["pushed_image"].detail
    assert _left_running(engine_client, report.run_id) == [], "grading and `ship` remove the indexes they started"


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
def test_the_pushed_image_built_again_without_cache_is_still_the_same_files(solution, monkeypatch):
    # The build cache's garbage collection (or a prune) between push and grading makes grading's rebuild of
    # the folder run its steps again: other timestamps, other digests, the student's same files.
    from layerlab.grade.sandbox import Session

    _, _, dest = solution
    real = Session.build

    def uncached(self, context, name, **kw):
        return real(self, context, name, **{**kw, "cache": name != "handed-in" and kw.get("cache", True)})

    monkeypatch.setattr(Session, "build", uncached)
    time.sleep(1.5)  # a second after the push: the steps that run again stamp other mtimes
    report = grade(dest, "09-ship")
    pushed = {r.check: r for r in report.results}["pushed_image"]
    assert pushed.ok and "ran again here" in pushed.detail, report.table()


@pytest.mark.answers
def test_the_starter_leaks_and_the_report_says_where_not_what(starter):
    report, results, dest = starter
    assert not report.passed
    assert results["builds"].ok and results["runs_and_prints"].ok, "the starter works: it installs from the index"
    leak = results["token_absent"]
    assert leak.status == "failed"
    assert (
        "history" in leak.detail and "config.config.Env" in leak.detail and "INDEX_URL=http://__token__:" in leak.detail
    )
    assert "an ARG or ENV carries the token" in leak.hint
    assert "--mount=type=secret,id=pip_conf,target=/etc/pip.conf" in leak.hint
    pushed = results["pushed_image"]
    assert pushed.status == "failed" and "holds your token" in pushed.detail
    assert results["hadolint"].ok, "the starter has no error-level finding: the leak is what it has to fix"
    assert results["oci_labels"].status == "failed" and OCI_SOURCE in results["oci_labels"].detail
    own = (dest / "index.token").read_text().strip()
    text = report.table() + report.to_json()
    assert own not in text and own[4:20] not in text, "the report never carries the student's token"
    assert not re.search(r"llt_[0-9a-f]{8}", text), "nor the one grading planted (leaks.new_token)"


@pytest.mark.answers
def test_the_lessons_secret_mount_with_the_index_url_in_an_arg_leaks(engine_client, tmp_path):
    # Lesson 09's challenge rewrite (the secret at /run/secrets/<id>) is there, but pip never reads that
    # file: what installs churnscore is the URL in the build argument, token and all.
    report, results = _variant(
        tmp_path,
        HEAD
        + """ARG PIP_INDEX_URL
ARG PIP_TRUSTED_HOST
RUN --mount=type=secret,id=pip_conf,required=true pip install --no-cache-dir churnscore==1.0.0
"""
        + TAIL,
    )
    assert results["builds"].ok and results["runs_and_prints"].ok, report.table()
    leak = results["token_absent"]
    assert leak.status == "failed" and "history" in leak.detail, report.table()
    assert "pip never reads it" in leak.hint and "target=/etc/pip.conf" in leak.hint
    assert not report.passed


@pytest.mark.answers
def test_a_secret_mount_that_keeps_the_trusted_host_argument_passes(engine_client, tmp_path_factory):
    # PIP_TRUSTED_HOST holds no secret, only the index's address, which differs between the build that
    # was pushed and grading's: the pushed image is still this folder's, and the grade says so.
    folder = tmp_path_factory.mktemp("trusted-host") / "09-ship"
    shutil.copytree(REPO / "solutions" / "09-ship", folder, ignore=shutil.ignore_patterns("fixture.json"))
    (folder / "Dockerfile").write_text(
        HEAD
        + """ARG PIP_TRUSTED_HOST
RUN --mount=type=secret,id=pip_conf,target=/etc/pip.conf,required=true \\
    pip install --no-cache-dir --trusted-host "$PIP_TRUSTED_HOST" churnscore==1.0.0
"""
        + TAIL
    )
    report, results, _ = _graded(tmp_path_factory, folder, "trusted-host")
    assert report.passed, report.table()
    assert "the same layer content as this build" in results["pushed_image"].detail


def test_build_arguments_are_read_from_a_history_step_and_masked_for_comparison():
    step = "RUN |2 PIP_TRUSTED_HOST=172.17.0.5 X=a=b /bin/sh -c pip install churnscore # buildkit"
    assert run_args(step) == {"PIP_TRUSTED_HOST": "172.17.0.5", "X": "a=b"}
    other = step.replace("172.17.0.5", "172.17.0.9")
    assert (
        mask_run_args(step)
        == mask_run_args(other)
        == ("RUN |2 PIP_TRUSTED_HOST=<arg> X=<arg> /bin/sh -c pip install churnscore # buildkit")
    )
    assert mask_run_args(step) != mask_run_args(other.replace("churnscore", "numpy")), "the command still counts"
    plain = "RUN /bin/sh -c pip install churnscore # buildkit"
    assert run_args(plain) == {} and mask_run_args(plain) == plain


@pytest.mark.answers
def test_the_lessons_secret_mount_alone_installs_nothing_and_the_hint_says_why(engine_client, tmp_path):
    # No build argument and no pip.conf where pip looks: pip asks PyPI, which has no churnscore.
    report, results = _variant(
        tmp_path,
        HEAD
        + "RUN --mount=type=secret,id=pip_conf,required=true pip install --no-cache-dir churnscore==1.0.0\n"
        + TAIL,
    )
    built = results["builds"]
    assert built.status == "failed", report.table()
    assert "private package index" in built.hint and "id=pip_conf,target=/etc/pip.conf" in built.hint, built.hint
    assert "Traceback" not in built.detail + built.hint


@pytest.mark.answers
def test_an_app_without_the_package_fails_with_a_hint_not_a_traceback(engine_client, tmp_path):
    report, results = _variant(tmp_path, HEAD + TAIL)
    ran = results["runs_and_prints"]
    assert results["builds"].ok and ran.status == "failed", report.table()
    assert "churnscore is served only by the course's private package index" in ran.hint, ran.hint
    assert results["token_absent"].ok, "nothing installed, nothing leaked: the run check is what fails"


def test_the_hints_name_the_private_index_only_for_an_exercise_that_has_one():
    assert "private package index" in (index_hint(EX, "ERROR: No matching distribution found for churnscore") or "")
    assert "private package index" in (index_hint(EX, "ModuleNotFoundError: No module named 'churnscore'") or "")
    refused = (  # what pip prints for a wrong token: a 401, then no distribution found
        "WARNING: 401 Error, Credentials not correct for http://x/simple/churnscore/\n"
        "ERROR: No matching distribution found for churnscore"
    )
    assert "refused the token" in (index_hint(EX, refused) or "")
    assert index_hint(EX, "E: Unable to locate package curl") is None
    other = EX.model_copy(update={"secret": EX.secret.model_copy(update={"index": []})})
    assert index_hint(other, "No module named 'churnscore'") is None
    assert "/run/secrets/<id>" in _leak_hint({"layer"}, other) and "pip.conf" in _leak_hint({"layer"}, EX)


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


def test_a_step_the_cache_no_longer_holds_differs_in_timestamps_only(engine_client, tmp_path):
    """A pushed image's layer built again (the build cache's garbage collection took its record) has other
    digests and the same files: `layer_changes` tells that apart from a file that really changed."""
    from layerlab.engine import build as build_mod
    from layerlab.engine import images

    uid = uuid.uuid4().hex[:8]
    tags = [f"layerlab-ship-retimed-{uid}:{v}" for v in ("pushed", "again", "edited")]
    for tag, note in zip(tags, ("same", "same", "other")):
        ctx = tmp_path / tag.split(":")[1]
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(f"FROM debian:trixie-slim\nWORKDIR /ship-{uid}\nRUN echo {note} > note\n")
        build_mod.build(ctx, tag, cache=False, show=None)
        time.sleep(1.5)  # two runs of a step in the same second can stamp the same mtime: the same layer
    registry.up_live()
    pushed = registry.push_live(tags[0], f"ship-retimed-{uid}:v1")
    ref = f"{registry.address()}/ship-retimed-{uid}@{pushed.digest}"
    name = f"ship-retimed-{uid}"
    try:
        first, again = images.diff_ids(tags[0]), images.diff_ids(tags[1])
        differing = [i for i, (x, y) in enumerate(zip(first, again)) if x != y]
        assert len(first) == len(again) and differing and differing[-1] == len(first) - 1, (first, again)
        retimed = layer_changes(name, ref, tags[1], differing)
        assert retimed[len(first) - 1], "the RUN ran again a second later: its files carry other mtimes"
        assert {d.change for diffs in retimed.values() for d in diffs} == {"mtime only"}, retimed
        changed = layer_changes(name, ref, tags[2], [len(first) - 1])[len(first) - 1]
        assert "content" in {d.change for d in changed if d.path.endswith(f"ship-{uid}/note")}, changed
    finally:
        engine_client.image.remove([*tags, f"{registry.address()}/ship-retimed-{uid}:v1"], force=True)
