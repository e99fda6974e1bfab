"""Loaded for every test path (tests/ and the lessons nbval runs from notebooks/).

Under pytest nobody watches a live progress line: builds, in the test process
and in the kernels nbval starts (they inherit the environment), print their
summary line only, and no progress widget lands in a lesson's outputs.

nbval executes every lesson once; what each cell printed is kept in
build/nbval/ (`NBVAL_RECORD`), so the tests that read executed lessons
(tests/executed.py) check that run instead of executing the lessons again.
Those tests are moved after the notebooks for that reason.

`--lane` splits one run in three. `replays` (the lessons from their recordings, no engine) runs in
`make test`'s set-up beside the base images' build, which leaves part of a core idle. `lessons` is every
notebook and the tests that read them, `tests` everything else; those two run side by side on the same
engine (its builds leave one of two cores idle for most of a lesson). Each collects the same items and keeps
its own.
"""

import os
import shutil
from pathlib import Path

import nbformat
import pytest

from layerlab.engine import progress

NBVAL_RECORD = Path(__file__).parent / "build" / "nbval"
READS_EXECUTED = "reads_executed_lessons"
LANE_MARK = "lane"  # @pytest.mark.lane("tests"): one test moved, where moving its whole file would unbalance
LANES = ("replays", "lessons", "tests")


def pytest_addoption(parser):
    parser.addoption(
        "--lane",
        choices=LANES,
        default=None,
        help="run one part of the suite: the replays, the lessons under nbval and the tests that read them, "
        "or the other tests",
    )


# Test files that join the lessons lane so both lanes take about as long: nbval over the ten lessons and the tests
# that read them took 1110 s beside the other lane's 2210 s (cbe9528, this machine, `--durations=0`); these four
# took 490 s of the other lane's.
LESSONS_LANE_TESTS = frozenset(
    {"test_official_layout.py", "test_devcontainer.py", "test_dive_oracle.py", "test_grade_multiarch.py"}
)


def lane_of(item: pytest.Item) -> str:
    if item.get_closest_marker("replay") is not None:
        return "replays"
    if (moved := item.get_closest_marker(LANE_MARK)) is not None:
        return str(moved.args[0])
    on_lessons = (
        item.path.suffix == ".ipynb"
        or item.get_closest_marker(READS_EXECUTED) is not None
        or item.path.name in LESSONS_LANE_TESTS
    )
    return "lessons" if on_lessons else "tests"


def pytest_configure(config):
    os.environ.setdefault(progress.HEADLESS_ENV, "1")
    config.addinivalue_line("markers", f"{READS_EXECUTED}: reads the lessons nbval executed; runs after them")
    config.addinivalue_line("markers", f"{LANE_MARK}(name): the lane this test runs in, whatever its file's")


def pytest_sessionstart(session):
    # A record is only evidence of this session's run: an old one could hide a lesson that now fails.
    # The other lanes leave it to the lessons lane, which writes it meanwhile.
    if session.config.getoption("--lane") in (None, "lessons"):
        shutil.rmtree(NBVAL_RECORD, ignore_errors=True)


def pytest_collection_modifyitems(session, config, items):
    if lane := config.getoption("--lane"):
        other = [i for i in items if lane_of(i) != lane]
        if other:
            config.hook.pytest_deselected(items=other)
            items[:] = [i for i in items if lane_of(i) == lane]
    late = [i for i in items if i.get_closest_marker(READS_EXECUTED)]
    if late:
        items[:] = [i for i in items if not i.get_closest_marker(READS_EXECUTED)] + late


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    yield
    outputs = getattr(item, "test_outputs", None)
    nb = getattr(item.parent, "nb", None)
    if call.when != "call" or outputs is None or nb is None:
        return
    # nbval's own copy of the notebook: its cell objects are the items' cells.
    item.cell.outputs = outputs
    meta = nb.metadata.setdefault("layerlab_nbval", {"cells_run": 0, "failed": None})
    meta["cells_run"] += 1
    if call.excinfo is not None and not call.excinfo.errisinstance(pytest.skip.Exception) and meta["failed"] is None:
        meta["failed"] = f"cell {item.cell_num}: {call.excinfo.typename}"
    meta["code_cells"] = sum(c.cell_type == "code" for c in nb.cells)
    NBVAL_RECORD.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, NBVAL_RECORD / Path(str(item.parent.path)).name)
