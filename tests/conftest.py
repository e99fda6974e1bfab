"""Test tiers, derived from what a test asks for, never set by hand.

- engine: a test that asks for the `engine_client` fixture (an argument, a fixture of its own that
  asks for it, or `pytest.mark.usefixtures("engine_client")`) gets the `engine` marker here, as
  python-on-whales' tests/conftest.py derives its marker. Without --engine-required (or CI=true)
  it skips when no engine answers; with it, it fails, so CI cannot go green by testing nothing.
  `qemu_system` (a real VM boot, which set-up installs with the engine) puts a test there too.
- replay: lessons run from recordings (tests/test_replay_lessons.py), marked by hand: no fixture
  tells them apart, and they take minutes.
- unit: every other test function. It runs with the engine out of reach (DOCKER_HOST and
  CONTAINER_HOST point at a socket that does not exist), so a test that needs an engine and forgot
  to ask for one fails in every tier, on every machine, instead of passing where an engine happens
  to run. `make unit` runs this tier (`-m unit`), `make test` the rest after it (`-m "not unit"`).

Across the tiers, a test that reads the answers (solutions/, fixtures, challenge answers) carries the
`answers` marker, which a student release deselects (tests/answers.py checks it on every run).

A hand-written `engine` marker is an error: it is what leaked before (tests that needed an engine
and carried no marker), and the fixture says the same thing and cannot be forgotten.
"""

from __future__ import annotations

import os

import pytest

ENGINE_FIXTURE = "engine_client"
# Fixtures of what the machine's set-up installs beside the engine: a test that asks for one is in the engine tier.
SETUP_FIXTURES = (ENGINE_FIXTURE, "qemu_system")
NO_ENGINE = "unix:///nonexistent/layerlab-unit-tier-has-no-engine.sock"
HIDDEN = ("DOCKER_HOST", "CONTAINER_HOST")


def pytest_addoption(parser):
    parser.addoption(
        "--engine-required",
        action="store_true",
        default=False,
        help="fail, rather than skip, engine tests when no container engine answers",
    )


def engine_required(config: pytest.Config) -> bool:
    return bool(config.getoption("--engine-required")) or os.environ.get("CI") == "true"


def pytest_configure(config):
    import answers  # tests/answers.py: the `answers` marker, deselected in a student release, and its guard

    config.pluginmanager.register(answers, "layerlab-answers")


@pytest.fixture(scope="session")
def engine_client(request):
    from layerlab import engine

    try:
        return engine.require()
    except engine.EngineUnavailable as e:
        if engine_required(request.config):
            pytest.fail(f"engine required but unavailable:\n{e}", pytrace=False)
        pytest.skip("no container engine answers (pass --engine-required to fail instead)")


@pytest.fixture(scope="session")
def qemu_system(request) -> str:
    """qemu-system-x86_64 for a real VM boot. Set-up installs it with the engine: in CI its absence is a broken
    set-up, not a reason to skip. A boot takes about 40 s under TCG, too slow for the unit tier."""
    import shutil

    from layerlab.engine import vm

    found = shutil.which(vm.QEMU)
    if found:
        return found
    if engine_required(request.config):
        pytest.fail(f"{vm.QEMU} is not installed: `make setup` installs it", pytrace=False)
    pytest.skip(f"{vm.QEMU} is not installed")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by these markers
def pytest_collection_modifyitems(config, items):
    by_hand = []
    for item in items:
        if not isinstance(item, pytest.Function):
            continue  # nbval's notebook cells: the lessons, run after the unit tier with the engine tier
        if any(f in item.fixturenames for f in SETUP_FIXTURES):
            item.add_marker(pytest.mark.engine)
        elif item.get_closest_marker("engine"):
            by_hand.append(item.nodeid)
        elif item.get_closest_marker("unit") is None and item.get_closest_marker("replay") is None:
            item.add_marker(pytest.mark.unit)
    if by_hand:
        raise pytest.UsageError(
            f"the engine marker is derived from the {ENGINE_FIXTURE} fixture; ask for it instead of marking by hand: "
            + ", ".join(by_hand)
        )
    both = [i.nodeid for i in items if i.get_closest_marker("unit") and i.get_closest_marker("engine")]
    if both:
        raise pytest.UsageError(f"marked unit but asks for an engine ({ENGINE_FIXTURE}): {', '.join(both)}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    # Around the whole protocol, so the fixtures a unit test sets up (module-scoped ones too) see no engine either.
    if not isinstance(item, pytest.Function) or item.get_closest_marker("engine"):
        yield
        return
    saved = {k: os.environ.get(k) for k in HIDDEN}
    os.environ.update({k: NO_ENGINE for k in HIDDEN})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
