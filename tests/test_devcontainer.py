"""The devcontainer's Dockerfile builds with the local engine and has what post-create needs."""

import json
import uuid

import pytest

from layerlab.engine import build, containers
from layerlab.course import REPO

pytestmark = pytest.mark.engine


def test_devcontainer_json_points_at_our_dockerfile_and_runs_setup():
    cfg = json.loads((REPO / ".devcontainer/devcontainer.json").read_text())
    dockerfile = (REPO / ".devcontainer" / cfg["build"]["dockerfile"]).resolve()
    assert dockerfile == REPO / "docker/devcontainer/Dockerfile"
    assert cfg["postCreateCommand"] == "make setup"
    assert any("docker.sock" in m for m in cfg["mounts"])


def test_devcontainer_image_builds_and_has_python_docker_buildx_compose(engine_client):
    tag = f"layerlab-devcontainer-test:{uuid.uuid4().hex[:8]}"
    result = build.build(REPO / "docker/devcontainer", tag, module="devcontainer", show=None)
    try:
        r = containers.run(
            tag,
            ["sh", "-c", "python3 --version && docker --version && docker buildx version && docker compose version && make --version"],
            network="none",
        )
        assert r.ok, r.output
        assert "Python 3.13" in r.output and "buildx" in r.output and "Docker Compose" in r.output
    finally:
        engine_client.image.remove(result.tag, force=True)
