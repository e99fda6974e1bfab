"""Lessons run where no engine exists (Binder, a laptop without Docker) by replaying recorded runs."""

import json
import os
import subprocess
import sys

import pytest

from layerlab import course
from layerlab.course import REPO

# Their own tier (`make test` runs it after `make unit`): ten lessons from their recordings take minutes.
pytestmark = pytest.mark.replay

# Every module course.yml lists, so a new module cannot ship without recordings of its own.
MODULES = [m.id for m in course.load().modules]


@pytest.mark.parametrize("module", MODULES)
def test_lesson_replays_without_an_engine(module, tmp_path):
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock", "LAYERLAB_CACHE": str(tmp_path / "cache")}
    out = subprocess.run(
        [sys.executable, "-m", "layerlab.cli", "run", module, "--replay", "--out", str(tmp_path / "build")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    runs = json.loads((tmp_path / "build" / "runs.json").read_text())
    assert [r["ok"] for r in runs] == [True]
    html = next((tmp_path / "build" / "html").glob(f"{module}-*.html")).read_text()
    assert "replayed from a recorded run" in html
    # The course page says so too, and names no engine for a run that had none.
    page = (tmp_path / "build" / "index.html").read_text()
    assert "result(s) on this page were replayed" in page and "no engine (replayed)" in page
