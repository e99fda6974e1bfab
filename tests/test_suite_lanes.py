"""`make test` runs its engine tier as two lanes side by side (the root conftest's --lane, scripts/beside.sh --both)."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent  # this checkout, whichever layerlab is installed


def _root_conftest():
    spec = importlib.util.spec_from_file_location("layerlab_root_conftest", REPO / "conftest.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Item:
    def __init__(self, path: str, *markers: str, lane: str | None = None):
        self.path = Path(path)
        self.markers = set(markers)
        self.lane = lane

    def get_closest_marker(self, name):
        if name == "lane":
            return pytest.mark.lane(self.lane).mark if self.lane else None
        return name if name in self.markers else None


def test_the_lessons_lane_holds_every_notebook_and_the_tests_that_read_them():
    root = _root_conftest()
    assert root.lane_of(_Item("notebooks/05-multi-arch.ipynb")) == "lessons"
    assert root.lane_of(_Item("tests/test_lesson_output.py", root.READS_EXECUTED)) == "lessons"
    # The replays need no engine: they run in the set-up, beside the base images' build.
    assert root.lane_of(_Item("tests/test_replay_lessons.py", "replay")) == "replays"
    # Everything else is the other lane's: one test is in exactly one lane.
    assert root.lane_of(_Item("tests/test_grade_engine.py", "engine")) == "tests"
    # Whole files move to balance the lanes.
    assert all(root.lane_of(_Item(f"tests/{name}", "engine")) == "lessons" for name in root.LESSONS_LANE_TESTS)
    assert all((REPO / "tests" / name).is_file() for name in root.LESSONS_LANE_TESTS), "a moved file was renamed"
    # One test moves alone by its marker.
    assert root.lane_of(_Item("tests/test_grade_multiarch.py", "engine", lane="tests")) == "tests"
    assert set(root.LANES) == {"replays", "lessons", "tests"}


def _beside(tmp_path, *flags: str) -> tuple[subprocess.CompletedProcess, Path]:
    done = tmp_path / "long-finished"
    long = f"echo started; sleep 1; touch {done}; echo finished"
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "beside.sh"), *flags, "half", long, "sleep 0.2; exit 3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out, done


def test_with_both_a_failed_half_lets_the_other_finish_and_the_run_fails(tmp_path):
    out, done = _beside(tmp_path, "--both")
    assert out.returncode == 3, out.stdout + out.stderr
    assert done.exists(), "the background half ran to its end"
    assert "[half] finished" in out.stdout
    assert "the foreground half failed (status 3)" in out.stdout


def test_without_both_a_failed_foreground_stops_the_background(tmp_path):
    out, done = _beside(tmp_path)
    assert out.returncode == 3, out.stdout + out.stderr
    assert not done.exists(), "the background half was stopped"
    assert "stopping half" in out.stdout


def test_make_test_runs_both_lanes_with_the_tier_expression_intact():
    """What `make test` hands beside.sh, read back as bash reads it: a quote too many once made it `-m "not"`."""
    import shlex

    dry = subprocess.run(["make", "-n", "test"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    line = next(x for x in dry.stdout.replace("\\\n", " ").splitlines() if "beside.sh --both" in x)
    words = shlex.split(line)
    assert words[words.index("--both") + 1] == "lessons"
    lanes = {}
    for command in words[-2:]:
        args = shlex.split(command)
        marker = args.index("-m", args.index("pytest"))  # the tier expression, not `python -m pytest`
        assert args[marker + 1] == "not unit", command
        assert {"tests", "notebooks", "--engine-required", "--nbval-lax"} <= set(args), command
        lanes[args[args.index("--lane") + 1]] = args
    assert set(lanes) == {"lessons", "tests"}


def test_a_failed_background_half_says_what_failed_again_at_the_end():
    """CI keeps a log's tail: the lessons lane's summary, printed minutes before the other lane ends, was lost."""
    long = "echo 'notebooks/09.ipynb::Cell 13 F'; echo 'FAILED notebooks/09.ipynb::Cell 13 - AssertionError: x'; exit 1"
    short = "sleep 0.5; for i in $(seq 200); do echo other lane line $i; done"
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "beside.sh"), "--both", "half", long, short],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    tail = out.stdout.splitlines()[-3:]
    assert tail == [
        "[beside] what failed in half:",
        "[half] FAILED notebooks/09.ipynb::Cell 13 - AssertionError: x",
        "[beside] half failed (status 1)",
    ], tail
