"""Loaded for every test path (tests/ and the lessons nbval runs from notebooks/).

Under pytest nobody watches a live progress line: builds, in the test process
and in the kernels nbval starts (they inherit the environment), print their
summary line only, and no progress widget lands in a lesson's outputs.
"""

import os

from layerlab import progress


def pytest_configure(config):
    os.environ.setdefault(progress.HEADLESS_ENV, "1")
