"""Binder: the same locked dependencies, and replay mode switched on."""

from layerlab.course import REPO


def test_binder_installs_the_lock_and_replays():
    reqs = (REPO / "binder/requirements.txt").read_text()
    assert "-r ../requirements.lock" in reqs
    assert "export LAYERLAB_REPLAY=1" in (REPO / "binder/start").read_text()
    assert "layerlab sync" in (REPO / "binder/postBuild").read_text()
    assert (REPO / "replays").is_dir()
