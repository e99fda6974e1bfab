"""Bind-mount sources made inside the devcontainer name the host's folder."""

import pytest

from layerlab.engine import hostpath
from layerlab.ground import settings


def test_outside_the_devcontainer_paths_pass_unchanged(monkeypatch, tmp_path):
    monkeypatch.delenv(settings.WORKSPACE_ENV, raising=False)
    monkeypatch.delenv(settings.HOST_WORKSPACE_ENV, raising=False)
    assert hostpath.host_path(tmp_path / "out") == str(tmp_path / "out")


def test_inside_the_workspace_maps_to_the_hosts_folder(monkeypatch):
    monkeypatch.setenv(settings.WORKSPACE_ENV, "/workspaces/course")
    monkeypatch.setenv(settings.HOST_WORKSPACE_ENV, "/home/ana/course")
    assert hostpath.host_path("/workspaces/course/build/08-bind") == "/home/ana/course/build/08-bind"
    assert hostpath.host_path("/workspaces/course") == "/home/ana/course"
    with pytest.raises(hostpath.NotOnHost, match="named volume"):
        hostpath.host_path("/workspaces/course-old/x")  # a sibling, not under the workspace
    with pytest.raises(hostpath.NotOnHost):
        hostpath.host_path("/tmp/scratch")
