"""Compose projects: the course labels and names each, and `layerlab clean` removes them and nothing unlabelled."""

from __future__ import annotations

import json
import uuid

import pytest
from python_on_whales import DockerClient

from layerlab import engine
from layerlab.course import REPO
from layerlab.engine import clean, compose

LESSON = REPO / "docker" / "lessons" / "08-compose"

LABELLED = """
x-course: &course
  org.layerlab.managed: "true"
  org.layerlab.module: "08"
services:
  sleeper:
    image: debian:trixie-slim
    pull_policy: never
    command: ["sleep", "infinity"]
    init: true
    volumes: [keep:/keep]
    labels: *course
volumes:
  keep: {labels: *course}
networks:
  default: {labels: *course}
"""
UNLABELLED = """
services:
  sleeper:
    image: debian:trixie-slim
    pull_policy: never
    command: ["sleep", "infinity"]
    init: true
    volumes: [keep:/keep]
volumes:
  keep: {}
"""


def test_a_course_project_is_named_layerlab_and_every_lesson_file_labels_all_it_creates():
    with pytest.raises(ValueError, match="layerlab-"):
        compose.Project("pipeline", [LESSON / "compose.yaml"])
    for f in sorted(LESSON.glob("compose*.yaml")):
        files = [LESSON / "compose.yaml", f] if f.name == "compose.extras.yaml" else [f]  # an override file
        p = compose.Project(f"layerlab-test-{f.stem.replace('.', '-')}", files, env={"OUT_DIR": "/tmp"})
        assert p.unlabelled() == [], f
        ports = [(name, port) for name, svc in p.config()["services"].items() for port in svc.get("ports") or []]
        assert all(
            name == "api" and port["host_ip"] == "127.0.0.1" and not port.get("published") for name, port in ports
        ), (f, ports)


def test_up_refuses_a_file_that_forgets_the_label(engine_client, tmp_path):
    f = tmp_path / "compose.yaml"
    f.write_text(UNLABELLED)
    p = compose.Project("layerlab-test-unlabelled", [f])
    assert p.unlabelled() == ["service sleeper", "network default", "volume keep"]
    with pytest.raises(compose.ComposeError, match="not labelled"):
        compose.up_live(p)
    assert compose.resources_live(p.name).empty


def test_clean_removes_a_course_project_and_leaves_an_unlabelled_one(engine_client, tmp_path):
    mine = tmp_path / "labelled.yaml"
    mine.write_text(LABELLED)
    theirs = tmp_path / "unlabelled.yaml"
    theirs.write_text(UNLABELLED)
    run = uuid.uuid4().hex[:8]
    course_project = compose.Project(f"layerlab-test-clean-{run}", [mine])
    other_name = f"someone-else-{run}"
    other = DockerClient(
        client_call=engine.client().client_config.client_call, compose_files=[theirs], compose_project_name=other_name
    )
    try:
        assert compose.up_live(course_project, timeout_s=60).ok
        other.compose.up(detach=True, wait=True, wait_timeout=60, pull="never", quiet=True)
        made = compose.resources_live(course_project.name)
        assert len(made.containers) == 1 and len(made.networks) == 1 and len(made.volumes) == 1, made
        assert course_project.name in compose.projects_live().names

        # What clean would remove of each project (narrowed to it: other sessions' course work shares this engine).
        planned = clean.clean(dry_run=True, within=(compose.PROJECT_LABEL, course_project.name))
        assert (planned.containers, planned.networks, planned.volumes) == (made.containers, made.networks, made.volumes)
        foreign = compose.resources_live(other_name)
        assert foreign.containers and foreign.networks and foreign.volumes
        untouched = clean.clean(dry_run=True, within=(compose.PROJECT_LABEL, other_name))
        assert not (untouched.containers or untouched.networks or untouched.volumes or untouched.images), untouched

        # The same removal, narrowed to this test's project.
        done = clean.clean(within=(compose.PROJECT_LABEL, course_project.name))
        assert not done.failed, done.failed
        assert compose.resources_live(course_project.name).empty
        assert compose.resources_live(other_name).containers == foreign.containers, (
            "clean touched an unlabelled project"
        )
    finally:
        other.compose.down(volumes=True, timeout=1, quiet=True)
        compose.down_live(course_project, volumes=True)
    assert compose.resources_live(other_name).empty


def test_a_left_anonymous_volume_means_down_left_something():
    # redis's VOLUME /data outlives a plain `down`: the lesson's "nothing left" check must see it
    left = compose.Resources(project="layerlab-test", anonymous=["0f" * 32])
    assert not left.empty and compose.Resources(project="layerlab-test").empty


def test_engine_mode_scopes_root_owned_files_to_rootful_linux():
    from layerlab.engine.compose_probes import EngineMode

    plain = EngineMode(server_version="26.1.5+dfsg1", rootless=False, userns_remap=False, desktop=False)
    assert plain.rootful_linux and plain.major == 26
    for other in ({"rootless": True}, {"userns_remap": True}, {"desktop": True}):
        assert not plain.model_copy(update=other).rootful_linux
    assert EngineMode(server_version="28.0.1", rootless=False, userns_remap=False, desktop=False).major == 28


def test_clean_takes_a_course_containers_anonymous_volume_and_leaves_a_named_one_it_mounts(engine_client):
    from layerlab.engine import catalogue, labels

    run = uuid.uuid4().hex[:8]
    theirs = engine_client.volume.create(f"someone-elses-{run}")  # unlabelled, named: never ours to remove
    c = engine_client.container.create(
        catalogue.DEBIAN_SLIM.ref,
        ["true"],
        volumes=[(theirs.name, "/theirs")],
        labels={**labels.course_labels(None), "test.run": run},
        pull="never",
        mounts=[["type=volume", "destination=/anon"]],
    )
    try:
        anon = [m.name for m in engine_client.container.inspect(c.id).mounts if m.name != theirs.name]
        assert len(anon) == 1
        planned = clean.clean(dry_run=True, within=("test.run", run), count_freed=False)
        assert planned.volumes == anon, planned
        done = clean.clean(within=("test.run", run), count_freed=False)
        assert not done.failed and not engine_client.volume.exists(anon[0])
        assert engine_client.volume.exists(theirs.name), "clean removed a named volume that is not the course's"
    finally:
        if engine_client.container.exists(c.id):
            engine_client.container.remove(c.id, force=True, volumes=True)
        engine_client.volume.remove(theirs.name)


def _spread_of(hits, monkeypatch):
    from layerlab.engine import compose_probes
    from layerlab.measure import replicas

    out = json.dumps({"ips": ["10.0.0.2", "10.0.0.3", "10.0.0.4"], "hits": hits, "predictions": [5.0] * 3})
    monkeypatch.setattr(compose_probes, "run_script", lambda *a, **kw: "log line\n" + out)
    return replicas.spread_live(None, "img", n=len(hits), service="api", port=8000)


def test_lesson_08s_spread_assert_fails_for_an_app_whose_replicas_share_one_counter(monkeypatch):
    """Lesson 08 asserts that the replicas' own counts add up to the requests: each memory saw only its own."""
    hosts = ["a", "b", "c", "a", "a", "b"]
    own: dict[str, int] = {}
    hits = []
    for i, h in enumerate(hosts, 1):
        own[h] = own.get(h, 0) + 1
        hits.append({"host": h, "process": own[h], "shared": i})
    good = _spread_of(hits, monkeypatch)
    assert sum(good.per_replica.values()) == good.requests == good.shared == 6
    # The counter case: an app that keeps its "own" count in the shared store reports 6, 5 and 4 at the end.
    shared_only = _spread_of([dict(h, process=h["shared"]) for h in hits], monkeypatch)
    assert sum(shared_only.per_replica.values()) != shared_only.requests
