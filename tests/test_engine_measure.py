"""The measurement core against the real engine: waste, cache steps, sizes, platforms, replay."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path

import pytest

from layerlab.engine import build, replay
from layerlab.measure import cache, inspector
from layerlab.measure.oci import Archive

pytestmark = pytest.mark.usefixtures("engine_client")
BLOB = 5_000_000


@pytest.fixture(scope="module")
def waste_image(engine_client, tmp_path_factory):
    """A file written in one layer and deleted in the next: the append-only trap."""
    ctx = tmp_path_factory.mktemp("waste")
    (ctx / "Dockerfile").write_text(f"FROM debian:trixie-slim\nRUN head -c {BLOB} /dev/urandom > /blob\nRUN rm /blob\n")
    tag = f"layerlab-test-waste:{uuid.uuid4().hex[:8]}"
    build.build(ctx, tag, show=None)
    yield tag
    engine_client.image.remove(tag, force=True)


def test_waste_of_a_deleted_file_is_counted_as_dive_counts_it(waste_image):
    r = inspector.inspect(waste_image, use_cache=False)
    # dive adds every occurrence of a repeated path: the 5 MB file, then its deletion marker, which
    # records size 0 for a file (only a deleted directory records what it held).
    blob = next(t for t in r.top_waste if t[0] == "/blob")
    assert blob[1:] == (2, BLOB)
    assert r.wasted_bytes >= BLOB
    assert not r.has("/blob")
    last, before = r.layers[-1], r.layers[-2]
    assert before.size_bytes >= BLOB and before.added >= 1
    assert last.deleted == 1
    assert r.efficiency < 1.0


def test_a_clean_image_has_no_waste_from_our_layers(engine_client, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        f"FROM debian:trixie-slim\nRUN head -c {BLOB} /dev/urandom > /blob && rm /blob\n"
    )
    tag = f"layerlab-test-nowaste:{uuid.uuid4().hex[:8]}"
    build.build(tmp_path, tag, show=None)
    try:
        r = inspector.inspect(tag, use_cache=False)
        assert all(t[0] != "/blob" for t in r.top_waste)
        assert r.layers[-1].size_bytes < 1_000
    finally:
        engine_client.image.remove(tag, force=True)


def test_compressed_size_is_below_uncompressed_and_close_to_gzipped_layers(waste_image, engine_client, tmp_path):
    r = inspector.inspect(waste_image)
    assert r.compressed_bytes < r.size_bytes
    archive_path = tmp_path / "img.tar"
    engine_client.image.save(waste_image, output=archive_path)
    with Archive(archive_path) as a:
        img = next(i for i in a.platforms() if i.platform == r.platform)
        regzipped = 0
        for layer in img.layers:
            raw = a.blob(layer.digest).read()
            regzipped += len(gzip.compress(gzip.decompress(raw), compresslevel=6))
    assert abs(r.compressed_bytes - regzipped) / regzipped < 0.10


def test_platforms_of_a_multiplatform_image(engine_client, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM debian:trixie-slim\nRUN uname -m > /arch\n")
    tag = f"layerlab-test-mp:{uuid.uuid4().hex[:8]}"
    result = build.build(tmp_path, tag, platforms=["linux/amd64", "linux/arm64"], show=None)
    try:
        assert result.platforms == ["linux/amd64", "linux/arm64"]
        r = inspector.inspect(tag)
        assert {p.platform for p in r.platforms} == {"linux/amd64", "linux/arm64"}
        assert all(p.compressed_bytes > 0 and p.layers == 2 for p in r.platforms)
        arm = inspector.inspect(tag, platform="linux/arm64")
        assert arm.platform == "linux/arm64" and arm.has("/arch")
    finally:
        engine_client.image.remove(tag, force=True)


def test_cache_scenarios_see_cached_steps_and_the_edited_step(engine_client, tmp_path):
    (tmp_path / "deps.txt").write_text("numpy\n")
    (tmp_path / "app.py").write_text("print('hi')\n")
    (tmp_path / "Dockerfile").write_text(
        "FROM debian:trixie-slim\nCOPY deps.txt /deps.txt\nRUN sleep 1 && cat /deps.txt > /installed\nCOPY app.py /app.py\n"
    )
    tag = f"layerlab-test-cache:{uuid.uuid4().hex[:8]}"
    try:
        rep = cache.scenarios(tmp_path, tag, code_file="app.py", dependency_file="deps.txt", show=None)
        cold, warm, code, dep = (rep.get(n) for n in ("cold", "unchanged", "code edit", "dependency edit"))
        assert len(cold.ran) == 3
        assert warm.ran == [] and warm.cached == 3
        assert code.ran == ["COPY app.py /app.py"]
        assert dep.ran == [
            "COPY deps.txt /deps.txt",
            "RUN sleep 1 && cat /deps.txt > /installed",
            "COPY app.py /app.py",
        ]
        # The lesson's files are never edited: the scenarios work on a copy.
        assert (tmp_path / "app.py").read_text() == "print('hi')\n"
    finally:
        engine_client.image.remove(tag, force=True)


def test_replay_round_trip(waste_image, tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLAB_REPLAY_DIR", str(tmp_path))
    replay._seen.clear()
    monkeypatch.setenv("LAYERLAB_RECORD", "1")
    live = inspector.inspect(waste_image)
    monkeypatch.delenv("LAYERLAB_RECORD")
    monkeypatch.setenv("LAYERLAB_REPLAY", "1")
    replay._seen.clear()
    again = inspector.inspect(waste_image)
    assert again.replayed and again.replayed["engine"].startswith("docker")
    assert again.wasted_bytes == live.wasted_bytes and again.layers == live.layers
    assert "replayed from a recorded run" in again.table()
    stored = json.loads(gzip.decompress(next(Path(tmp_path, "inspect").glob("*.json.gz")).read_bytes()))
    assert stored["meta"]["recorded_at"]


def test_a_missing_image_is_a_clear_error(engine_client):
    with pytest.raises(inspector.ImageNotFound, match="no image 'layerlab-no-such-image:0' in the local store"):
        inspector.inspect("layerlab-no-such-image:0")


def test_an_interrupted_build_stops_its_client_and_the_step(engine_client, tmp_path):
    """Jupyter's "interrupt kernel" signals the kernel alone, never the docker client it started:
    build() must stop that client itself, or BuildKit goes on building for nobody."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from procs import building, sleep_seconds, sleeping

    n = sleep_seconds()
    (tmp_path / "Dockerfile").write_text(f"FROM debian:trixie-slim\nRUN echo {uuid.uuid4().hex} && sleep {n}\n")
    tag = f"layerlab-test-interrupt:{uuid.uuid4().hex[:8]}"
    code = f"from layerlab.engine import build; build.build({str(tmp_path)!r}, {tag!r}, show=None)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not sleeping(n) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        assert building(tag) and sleeping(n), f"the build never reached its `sleep {n}` step"
        os.kill(proc.pid, signal.SIGINT)
        # Bounds for liveness, not speed: beside the lessons' lane a busy engine took over 60 s to cancel the step.
        _, err = proc.communicate(timeout=240)
        assert "KeyboardInterrupt" in err
        deadline = time.monotonic() + 120
        while (building(tag) or sleeping(n)) and time.monotonic() < deadline:
            time.sleep(1)
        assert not building(tag), "the build client was left running"
        assert not sleeping(n), "BuildKit is still running the step"
    finally:
        if proc.poll() is None:  # a failed assert must not leave a build running into the next tests
            proc.kill()
    assert not engine_client.image.exists(tag)


def test_course_builds_carry_no_provenance_attestation_unless_asked(engine_client, tmp_path):
    """buildx adds an `unknown/unknown` provenance manifest by default; the course's builds leave it out."""
    import tarfile

    (tmp_path / "Dockerfile").write_text("FROM debian:trixie-slim\nRUN echo hi > /x\n")
    seen = {}
    for provenance in (False, True):
        tag = f"layerlab-test-provenance:{uuid.uuid4().hex[:8]}"
        build.build(tmp_path, tag, provenance=provenance, show=None)
        try:
            engine_client.image.save(tag, output=tmp_path / "image.tar")
            with tarfile.open(tmp_path / "image.tar") as tar:
                index = json.load(tar.extractfile("index.json"))
                inner = json.load(tar.extractfile("blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]))
            seen[provenance] = [(m.get("platform") or {}).get("os") for m in inner.get("manifests", [])]
        finally:
            engine_client.image.remove(tag, force=True)
    assert "unknown" not in seen[False]
    assert "unknown" in seen[True]
