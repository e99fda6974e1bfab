"""The lessons' asserts hold on a base laid out like the official python images.

The offline stand-ins install Debian's Python under /usr without headers; the
official python:3.13(-slim) images build CPython into /usr/local and keep its
headers in /usr/local/include/python3.13. A lesson that asserted on one
layout (say, "no Python.h in the image") would fail for a learner online.

This test builds official-like bases under throw-away tags (the shared
python:3.13-slim and python:3.13 are never retagged), points the lessons at
them through LAYERLAB_BASE_* (see layerlab.course.lesson.base) and runs the lesson
whose asserts depend on the layout. Slow: about two minutes on two cores.
"""

import json
import os
import subprocess
import sys
import uuid

import nbformat
import pytest

from executed import Executed
from layerlab import course
from layerlab.course import REPO, lesson
from layerlab.measure import inspector
from test_lesson_output import check_summary_lines

pytestmark = pytest.mark.usefixtures("engine_client")

# Python under /usr/local with its headers, as the official images have it.
# Where the base already has that layout (the official image itself) it is left alone.
LAYOUT = r"""
ARG BASE
FROM ${BASE}
RUN set -e; \
    if [ ! -e /usr/local/include/python3.13/Python.h ]; then \
      if [ ! -e /usr/include/python3.13/Python.h ]; then \
        apt-get update; \
        apt-get install -y --no-install-recommends python3.13-dev; \
        cp -a /usr/include/python3.13 /tmp/py-include; \
        apt-get purge -y --auto-remove -o APT::AutoRemove::RecommendsImportant=false \
          -o APT::AutoRemove::SuggestsImportant=false python3.13-dev; \
        rm -rf /var/lib/apt/lists/*; \
      else \
        cp -a /usr/include/python3.13 /tmp/py-include; \
      fi; \
      mkdir -p /usr/local/include; \
      mv /tmp/py-include /usr/local/include/python3.13; \
      ln -sf /usr/bin/python3.13 /usr/local/bin/python3.13; \
      ln -sf python3.13 /usr/local/bin/python3; \
      ln -sf python3 /usr/local/bin/python; \
    fi; \
    test -e /usr/local/include/python3.13/Python.h; \
    /usr/local/bin/python3 -c 'import sys; assert sys.version_info[:2] == (3, 13)'
"""

# The lessons that build on the python bases through lesson.build_args. Lesson 04 asserts on the layout
# (no header or compiler above the slim base). Lessons 02 and 03 build on the bases too but assert nothing
# that depends on where Python lives; they cost 3.5 and 2 minutes more on two cores, over make test's budget:
# LAYERLAB_LAYOUT_ALL=1 adds them (02 passed so on 2026-11-27, 03 on 2026-12-03 at cbe9528). Lessons 00 and
# 01 build nothing; they run `python -c` in the slim image, whatever its layout.
LAYOUT_LESSONS = ["04"] + (["02", "03"] if os.environ.get("LAYERLAB_LAYOUT_ALL") == "1" else [])


def _docker(*args, **kw):
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True, timeout=900, **kw)


@pytest.fixture(scope="module")
def official_like(tmp_path_factory):
    folder = tmp_path_factory.mktemp("official-like")
    (folder / "Dockerfile").write_text(LAYOUT)
    run = uuid.uuid4().hex[:8]
    tags = {}
    try:
        for name in ("python-slim", "python-full"):
            tag = f"layerlab-test/official-like-{name}:{run}"
            _docker(
                "buildx",
                "build",
                "--load",
                "--label",
                "org.layerlab.managed=true",
                "--build-arg",
                f"BASE={lesson.BASES[name.upper().replace('-', '_')]}",
                "-t",
                tag,
                str(folder),
            )
            tags[name] = tag
        yield tags
    finally:
        for tag in tags.values():
            subprocess.run(["docker", "image", "rm", tag], capture_output=True, timeout=120)


def test_official_like_bases_have_the_official_layout(official_like):
    for name, tag in official_like.items():
        report = inspector.inspect(tag)
        assert report.has("/usr/local/include/python3.13/Python.h"), name
        assert report.has("/usr/local/bin/python3.13"), name
    full = inspector.inspect(official_like["python-full"])
    assert full.has("/usr/bin/gcc")


@pytest.mark.parametrize("module", LAYOUT_LESSONS)
def test_lesson_holds_on_an_official_layout(module, official_like, tmp_path):
    env = {
        **os.environ,
        "LAYERLAB_BASE_PYTHON_SLIM": official_like["python-slim"],
        "LAYERLAB_BASE_PYTHON_FULL": official_like["python-full"],
    }
    out = subprocess.run(
        [sys.executable, "-m", "layerlab.cli", "run", module, "--out", str(tmp_path / "build")],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-3000:]
    runs = json.loads((tmp_path / "build" / "runs.json").read_text())
    assert [r["ok"] for r in runs] == [True]
    executed = next((tmp_path / "build" / "notebooks").glob(f"{module}-*.ipynb"))
    if module == "04":
        # The lesson really ran on the official-like base: its first cell prints where Python.h is.
        assert "/usr/local/include/python3.13/Python.h" in executed.read_text()
    # This is also the suite's run of a lesson the way `layerlab run` runs it (nbval runs the others): its page
    # and notebook carry build summary lines, not BuildKit's raw log.
    page = next((tmp_path / "build" / "html").glob(f"{module}-*.html")).read_text(encoding="utf-8")
    check_summary_lines(
        Executed(course.load().module(module), nbformat.read(executed, as_version=4), page, None, "layerlab run")
    )
