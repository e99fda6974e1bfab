"""The course's local registry: a real one at localhost:PORT, never a mock (lessons 05 and 09)."""

import json
import subprocess
import sys

import pytest

from layerlab.course import REPO
from layerlab.engine import registry


def test_references_split_into_the_apis_repository_and_tag():
    assert registry.split("localhost:5000/05-app:cross") == ("05-app", "cross")
    assert registry.split("localhost:5000/team/app@sha256:ab") == ("team/app", "sha256:ab")
    assert registry.split("localhost:5000/app") == ("app", "latest")


def test_the_port_is_configurable(monkeypatch):
    monkeypatch.setenv("LAYERLAB_REGISTRY_PORT", "5099")
    assert registry.address() == "localhost:5099"


def test_an_index_round_trips_through_its_recording():
    ix = registry.Index(
        ref="localhost:5000/a:b",
        digest="sha256:1",
        media_type=registry.INDEX_TYPES[0],
        raw={"manifests": []},
        entries=[
            registry.Entry(
                digest="sha256:a",
                media_type=registry.MANIFEST_TYPES[0],
                platform="linux/arm64",
                size=500,
                layers_bytes=1000,
                layers=3,
            ),
            registry.Entry(
                digest="sha256:b",
                media_type=registry.MANIFEST_TYPES[0],
                platform="unknown/unknown",
                size=500,
                layers_bytes=10,
                layers=1,
                attests="sha256:a",
            ),
        ],
    )
    back = registry.Index.model_validate(json.loads(ix.model_dump_json()))
    assert back.platforms == ["linux/arm64"] and [a.attests for a in back.attestations] == ["sha256:a"]


# Lines as the Distribution registry writes them (Apache combined format), for a push of a code-only change.
ACCESS_LOG = """\
172.17.0.1 - - [02/Dec/2026:02:25:10 +0000] "HEAD /v2/09-app-r1/blobs/sha256:aaa HTTP/1.1" 200 0 "" "docker/26.1.5"
172.17.0.1 - - [02/Dec/2026:02:25:10 +0000] "HEAD /v2/09-app-r1/blobs/sha256:bbb HTTP/1.1" 404 157 "" "docker/26.1.5"
172.17.0.1 - - [02/Dec/2026:02:25:10 +0000] "POST /v2/09-app-r1/blobs/uploads/ HTTP/1.1" 202 0 "" "docker/26.1.5"
172.17.0.1 - - [02/Dec/2026:02:25:10 +0000] "PATCH /v2/09-app-r1/blobs/uploads/u1?_state=x HTTP/1.1" 202 0 "" "docker/26.1.5"
172.17.0.1 - - [02/Dec/2026:02:25:10 +0000] "PUT /v2/09-app-r1/blobs/uploads/u1?_state=x&digest=sha256%3Abbb HTTP/1.1" 201 0 "" "docker/26.1.5"
172.17.0.1 - - [02/Dec/2026:02:25:10 +0000] "POST /v2/09-app-r1/blobs/uploads/?from=09-cache-r1&mount=sha256%3Accc HTTP/1.1" 201 0 "" "docker/26.1.5"
172.17.0.1 - - [02/Dec/2026:02:25:10 +0000] "PUT /v2/09-app-r1/manifests/v2 HTTP/1.1" 201 0 "" "docker/26.1.5"
172.17.0.1 - - [02/Dec/2026:02:25:10 +0000] "PUT /v2/09-app-r10/blobs/uploads/u2?digest=sha256%3Addd HTTP/1.1" 201 0 "" "docker/26.1.5"
172.17.0.1 - - [02/Dec/2026:02:25:11 +0000] "GET /v2/09-app-r1/blobs/sha256:aaa HTTP/1.1" 200 2101 "" "buildkit/v0.13"
"""


def test_the_access_log_says_what_a_push_uploaded_mounted_and_found():
    t = registry.read_access_log(ACCESS_LOG, "09-app-r1")
    assert list(t.uploaded) == ["sha256:bbb"], (
        "one completed upload; the manifest PUT and another repository's do not count"
    )
    assert t.mounted == ["sha256:ccc"] and t.present == 1 and t.downloaded == {"sha256:aaa": 2101}
    assert registry.read_access_log(ACCESS_LOG, "other").uploaded == {}


def test_registry_up_takes_a_plain_docker_push_and_serves_the_index(engine_client):
    """`layerlab registry up`, then the docker CLI itself pushes a two-platform image that the API lists."""
    up = subprocess.run(
        [sys.executable, "-m", "layerlab.cli", "registry", "up"], capture_output=True, text=True, cwd=REPO, timeout=600
    )
    assert up.returncode == 0, up.stdout + up.stderr
    st = registry.status_live()
    assert st.running and st.api.startswith("200")
    c = engine_client.container.inspect(registry.CONTAINER)
    assert c.config.labels.get("org.layerlab.managed") == "true", "labelled: layerlab clean removes it"
    ref = f"{registry.address()}/layerlab-test-registry:two-platforms"
    subprocess.run(["docker", "tag", "python:3.13-slim", ref], check=True, timeout=60)
    try:
        push = subprocess.run(["docker", "push", "--quiet", ref], capture_output=True, text=True, timeout=600)
        assert push.returncode == 0, push.stderr
        ix = registry.index_live(ref)
        assert {"linux/amd64", "linux/arm64"} <= set(ix.platforms)
        assert ix.digest.startswith("sha256:")
        manifest, digest, media = registry.fetch(
            f"{registry.address()}/layerlab-test-registry@{ix.entry('linux/arm64').digest}"
        )
        assert media in registry.MANIFEST_TYPES and digest == ix.entry("linux/arm64").digest
        config, _, _ = registry.fetch_blob(f"{registry.address()}/layerlab-test-registry", manifest["config"]["digest"])
        assert config["architecture"] == "arm64"
    finally:
        subprocess.run(["docker", "image", "rm", ref], capture_output=True, timeout=60)


def test_blobs_raises_when_the_registry_lacks_a_layer_the_manifest_names(monkeypatch):
    """Lesson 05's "every layer blob is there" assert rests on this: a missing blob is an error, never a smaller sum."""
    manifest = {"config": {"digest": "sha256:c"}, "layers": [{"digest": "sha256:l1"}, {"digest": "sha256:l2"}]}
    held = {"sha256:l1": 100, "sha256:l2": 250, "sha256:c": 7}
    monkeypatch.setattr(registry, "platform_manifest", lambda ref, platform=None: (manifest, "sha256:m"))
    monkeypatch.setattr(registry, "fetch", lambda ref, accept=(): ({}, "sha256:ix", registry.INDEX_TYPES[0]))
    monkeypatch.setattr(registry, "fetch_blob", lambda repo, digest: ({"config": {"Labels": {"a": "b"}}}, digest, ""))
    monkeypatch.setattr(registry, "blob_present", lambda name, digest: held.get(digest))
    b = registry.blobs_live("localhost:5000/05-app:cross", "linux/arm64")
    assert b.layers == {"sha256:l1": 100, "sha256:l2": 250} and b.config_bytes == 7 and b.labels == {"a": "b"}
    del held["sha256:l2"]
    with pytest.raises(registry.RegistryError, match="lacks layer sha256:l2"):
        registry.blobs_live("localhost:5000/05-app:cross", "linux/arm64")


def test_changed_layers_tell_a_recompressed_layer_from_new_content():
    v1 = registry.Blobs(
        ref="r:v1",
        digest="d1",
        manifest_digest="m1",
        config="cfg1",
        layers={"a": 10, "b": 2_000_000, "c": 30},
        diff_ids=["A", "B", "C"],
    )
    v2 = registry.Blobs(
        ref="r:v2",
        digest="d2",
        manifest_digest="m2",
        config="cfg2",
        layers={"a": 10, "b2": 3_000_000, "c2": 40},
        diff_ids=["A", "B", "C2"],
    )
    assert set(v1.new_in(v2)) == {"b2", "c2", "cfg2"}
    assert v1.changed_layers(v2) == [
        "layer 2 (3.0 MB): the same content compressed again",
        "layer 3 (0.0 MB): new content",
    ]
    assert v1.changed_layers(v1) == []


def test_a_recording_keeps_the_manifests_layer_order_and_the_new_content_is_the_code_layer(monkeypatch, tmp_path):
    from layerlab.engine import replay

    monkeypatch.setenv("LAYERLAB_REPLAY_DIR", str(tmp_path))
    # Layers bottom to top, their digests in no sorted order: base, venv, code.
    v1 = registry.Blobs(
        ref="r:v1",
        digest="sha256:i1",
        manifest_digest="sha256:m1",
        config="sha256:c1",
        config_bytes=3000,
        layers={"sha256:f-base": 30_000_000, "sha256:a-venv": 20_000_000, "sha256:9-code": 700},
        diff_ids=["sha256:base", "sha256:venv", "sha256:code1"],
    )
    # v2: new code, and the venv's unchanged content compressed again into another blob.
    v2 = v1.model_copy(
        update={
            "ref": "r:v2",
            "config": "sha256:c2",
            "layers": {"sha256:f-base": 30_000_000, "sha256:0-venv": 20_000_100, "sha256:e-code": 772},
            "diff_ids": ["sha256:base", "sha256:venv", "sha256:code2"],
        }
    )
    replay.save("blobs", "v2#1", v2)
    back = replay.load("blobs", "v2#1", registry.Blobs)
    assert list(back.layers) == list(v2.layers), "the recording sorted the layers"
    assert v1.content_new_in(back) == {"sha256:e-code": 772}
    assert set(v1.new_in(back)) == {"sha256:0-venv", "sha256:e-code", "sha256:c2"}
    with pytest.raises(ValueError, match="diff IDs"):
        v1.content_new_in(v2.model_copy(update={"diff_ids": []}))
