"""The foundation against the real engine: base images, pip inside, clean, doctor."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from layerlab.engine import bootstrap, build, clean, containers, images, labels, rootfs
from layerlab.ground.errors import NotFound

pytestmark = pytest.mark.usefixtures("engine_client")
PLATFORMS = ("linux/amd64", "linux/arm64")
CLI = [sys.executable, "-m", "layerlab.cli"]


@pytest.fixture(scope="module")
def base_images(engine_client):
    """Bootstrap is idempotent: on a set-up machine this only checks, on a bare one it builds."""
    bootstrap.run(bootstrap.current_plan())
    return {b.ref: images.facts(b.ref, PLATFORMS) for b in bootstrap.BASE_IMAGES}


@pytest.mark.parametrize("ref", [b.ref for b in bootstrap.BASE_IMAGES])
def test_base_image_runs_on_both_platforms(base_images, ref):
    f = base_images[ref]
    assert f is not None, f"{ref} missing after bootstrap"
    assert f.uname == {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}


def test_a_second_bootstrap_has_nothing_to_do(base_images):
    assert bootstrap.current_plan().work == []


def test_a_base_pinned_by_digest_builds_on_the_same_image(tmp_path, engine_client):
    pin = images.pin_live("python:3.13-slim")
    assert pin.pinned.startswith("python:3.13-slim@sha256:") and len(pin.digest) == len("sha256:") + 64
    (tmp_path / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\nRUN true\n")
    r = build.build(tmp_path, "layerlab-test-pin:latest", build_args={"BASE": pin.pinned}, show=None)
    # The build's base layers are the pinned image's: its uncompressed layers start with the base's.
    base_layers = images.diff_ids("python:3.13-slim")
    assert images.diff_ids(r.tag)[: len(base_layers)] == base_layers
    with pytest.raises(NotFound, match="layerlab bootstrap"):
        images.pin_live("layerlab-no-such-image:never")


def test_standins_say_what_they_are_and_carry_the_host_ca_bundle(base_images):
    f = base_images["debian:trixie-slim"]
    if not f.standin:
        pytest.skip("official image pulled: no stand-in to check")
    assert "debootstrap" in f.recipe
    host = hashlib.sha256(rootfs.HOST_CA_BUNDLE.read_bytes()).hexdigest()
    r = containers.run(
        "debian:trixie-slim", ["sha256sum", "/usr/local/share/ca-certificates/layerlab-host-bundle.crt"], network="none"
    )
    assert r.ok, r.output
    assert r.output.split()[0] == host


def test_python_standin_is_python_313_with_pip_and_venv(base_images):
    r = containers.run(
        "python:3.13-slim",
        ["sh", "-c", "python --version && pip --version && python -m venv /tmp/v && /tmp/v/bin/python -c 'print(1)'"],
        network="none",
    )
    assert r.ok, r.output
    assert "Python 3.13." in r.output


def test_pip_install_from_the_index_works_inside_the_python_image(base_images):
    r = containers.run(
        "python:3.13-slim",
        [
            "sh",
            "-c",
            "pip install --no-cache-dir --quiet --root-user-action=ignore six==1.16.0"
            " && python -c 'import six; print(six.__version__)'",
        ],
        timeout=180,
    )
    assert r.ok, r.output
    # The engine merges stdout and stderr from two pipes, so a warning may land after the print.
    assert "1.16.0" in r.output.strip().splitlines(), r.output


def test_full_python_image_has_a_compiler_and_slim_does_not(base_images):
    full = containers.run("python:3.13", ["sh", "-c", "command -v gcc"], network="none")
    slim = containers.run("python:3.13-slim", ["sh", "-c", "command -v gcc"], network="none")
    assert full.ok and full.output.strip().endswith("gcc")
    assert not slim.ok


def _tiny_context(tmp_path: Path, text: str) -> Path:
    (tmp_path / "hello.txt").write_text(text)
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /\n")
    return tmp_path


def test_clean_removes_labelled_images_and_leaves_unlabelled_ones(tmp_path, engine_client):
    tag = uuid.uuid4().hex[:8]
    ours = f"layerlab-test-ours:{tag}"
    theirs = f"layerlab-test-theirs:{tag}"
    # Narrowed to this test's run: the lessons' nbval lane runs beside this one on the same engine.
    run = {"test.run": tag}
    build.build(_tiny_context(tmp_path, tag + "a"), ours, managed=True, show=None, extra_labels=run)
    build.build(_tiny_context(tmp_path, tag + "b"), theirs, managed=False, show=None, extra_labels=run)
    try:
        report = clean.clean(within=("test.run", tag))
        assert any(ours in name for name in report.images)
        assert not engine_client.image.exists(ours)
        assert engine_client.image.exists(theirs)
        assert not any(theirs in name for name in report.images)
        # Base images stay unless asked.
        assert all(engine_client.image.exists(b.ref) for b in bootstrap.BASE_IMAGES)
    finally:
        engine_client.image.remove(theirs, force=True)


def test_clean_removes_labelled_containers_volumes_and_networks(engine_client):
    name = f"layerlab-test-{uuid.uuid4().hex[:8]}"
    lab = {**labels.course_labels("test"), "test.run": name}
    engine_client.volume.create(name, labels=lab)
    engine_client.network.create(name, labels=lab)
    engine_client.container.create("debian:trixie-slim", ["true"], name=name, labels=lab)
    report = clean.clean(within=("test.run", name))
    assert name in report.containers and name in report.volumes and name in report.networks
    assert not engine_client.container.exists(name)
    assert not engine_client.volume.exists(name)
    assert not engine_client.network.exists(name)


def test_doctor_json_reports_engine_buildx_arm64_and_base_images(base_images):
    out = subprocess.run(CLI + ["doctor", "--json"], capture_output=True, text=True, timeout=300)
    report = json.loads(out.stdout)
    assert out.returncode == 0, out.stdout + out.stderr
    assert report["ok"] is True
    assert report["engine"]["reachable"] and report["engine"]["buildx_version"]
    assert "linux/arm64" in report["engine"]["builder_platforms"]
    for b in bootstrap.BASE_IMAGES:
        assert set(report["images"][b.ref]["platforms"]) == set(PLATFORMS)


def test_doctor_fails_clearly_when_docker_host_is_a_dead_socket(tmp_path):
    dead = f"unix://{tmp_path}/nothing.sock"
    env = {**os.environ, "DOCKER_HOST": dead}
    out = subprocess.run(CLI + ["doctor"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 1
    assert f"No container engine answers at DOCKER_HOST={dead}" in out.stdout
    assert "unset DOCKER_HOST" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


def test_a_failed_build_names_the_failing_step(tmp_path, engine_client):
    (tmp_path / "Dockerfile").write_text("FROM debian:trixie-slim\nRUN echo about to fail && exit 3\n")
    with pytest.raises(build.BuildError) as err:
        build.build(tmp_path, f"layerlab-test-fail:{uuid.uuid4().hex[:8]}", show=None)
    assert "RUN echo about to fail && exit 3" in str(err.value)
    assert "about to fail" in str(err.value)


def test_container_memory_limit_kills_the_process(engine_client):
    r = containers.run(
        "python:3.13-slim",
        ["python", "-c", "b = bytearray(200 * 1024 * 1024); print('allocated')"],
        memory="64m",
        network="none",
    )
    assert r.exit_code == 137 and r.oom_killed


def test_container_timeout_kills_a_run_that_never_ends(engine_client):
    r = containers.run("debian:trixie-slim", ["sleep", "60"], timeout=2, network="none")
    assert r.timed_out and not r.ok
    assert r.seconds < 30
