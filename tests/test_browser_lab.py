"""The live progress line as a learner sees it: JupyterLab (as `make lab` starts it) in Chromium.

A notebook builds a small image with a few slow steps; the test screenshots the
progress widget while the build runs (build/screens/) and checks that its text
moves on (steps done increase) and that the summary line replaces it at the end.

Needs Debian's `chromium` (`scripts/setup-browser.sh`, run by `make setup`) and
Playwright from the lock; Playwright's own browser download is not used. Like the
engine tests, it skips when they are missing, and fails under --engine-required or CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from layerlab.course import REPO
from layerlab.engine import progress

pytestmark = [pytest.mark.usefixtures("engine_client"), pytest.mark.slow]

CHROMIUM = os.environ.get("LAYERLAB_CHROMIUM", "/usr/bin/chromium")
SCREENS = REPO / "build" / "screens"
STEPS = re.compile(r"(\d+)/(\d+|\?) steps")


@pytest.fixture(scope="module")
def browser_ready(request):
    required = request.config.getoption("--engine-required") or os.environ.get("CI") == "true"
    missing = []
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        missing.append(
            f"no Chromium at {CHROMIUM} (as root on Debian/Ubuntu: bash scripts/setup-browser.sh, "
            "or apt-get install -y chromium; or set LAYERLAB_CHROMIUM)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright is not installed in this venv (bash scripts/setup-python.sh installs the lock)")
    if missing:
        text = "browser test needs:\n  " + "\n  ".join(missing)
        if required:
            pytest.fail(text, pytrace=False)
        pytest.skip(text + "\n(pass --engine-required to fail instead)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(tag: str) -> dict:
    code = f"from layerlab.engine import build\nresult = build.build('ctx', {tag!r}, cache=False, module='test')"
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": "build", "metadata": {}, "outputs": [], "source": code}
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture(scope="module")
def lab(browser_ready, tmp_path_factory, engine_client):
    """JupyterLab as `make lab` starts it, on a free port of 127.0.0.1 with a token, over a scratch folder."""
    root = tmp_path_factory.mktemp("lab")
    tag = f"layerlab-test-browser:{uuid.uuid4().hex[:8]}"
    (root / "ctx").mkdir()
    (root / "ctx" / "Dockerfile").write_text(
        "FROM debian:trixie-slim\nRUN echo one && sleep 2\nRUN echo two && sleep 2\nRUN echo three && sleep 2\n"
    )
    (root / "progress-demo.ipynb").write_text(json.dumps(_notebook(tag)))
    settings = root / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # No news or update toasts over the output.
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    # Start the notebook's kernel without the "Select Kernel" dialog (it showed on a loaded machine).
    docmanager = root / ".settings" / "@jupyterlab" / "docmanager-extension"
    docmanager.mkdir(parents=True)
    (docmanager / "plugin.jupyterlab-settings").write_text('{"autoStartDefaultKernel": true}')
    port, token = _free_port(), uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if k not in (progress.HEADLESS_ENV, "CI")}  # a live frontend
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(root / ".settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(root / ".ws"),
        JUPYTER_RUNTIME_DIR=str(root / ".runtime"),
    )
    jupyter = Path(sys.executable).with_name("jupyter")
    log = (root / "lab.log").open("w")
    proc = subprocess.Popen(
        [
            str(jupyter),
            "lab",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--no-browser",
            f"--IdentityProvider.token={token}",
            f"--notebook-dir={root}",
        ],
        env=env,
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start:\n" + (root / "lab.log").read_text()[-3000:], pytrace=False)
                time.sleep(0.5)
        yield {"url": url, "token": token, "tag": tag, "root": root}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        if engine_client.image.exists(tag):
            engine_client.image.remove(tag, force=True)


def _accept_dialogs(page) -> None:
    """A modal (kernel choice, a server message) would swallow the clicks: take its default."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        dialog.locator(".jp-mod-accept").first.click()
        dialog.first.wait_for(state="detached", timeout=10_000)


def test_the_progress_line_updates_live_in_jupyterlab(lab):
    from playwright.sync_api import sync_playwright

    SCREENS.mkdir(parents=True, exist_ok=True)
    for old in SCREENS.glob("lab-progress-*.png"):
        old.unlink()
    seen: list[tuple[int, str]] = []  # (steps done, label text) at each screenshot
    shots: list[Path] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{lab['url']}/lab/tree/progress-demo.ipynb?token={lab['token']}")
            page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content", timeout=90_000)
            # Wait for the kernel, so the build starts when we run the cell.
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-Toolbar-kernelStatus, .jp-Notebook-ExecutionIndicator')]"
                ".some(e => /idle/i.test(e.getAttribute('data-status') || e.getAttribute('title') || e.textContent))",
                timeout=90_000,
            )
            prompt = page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputPrompt")
            for _ in range(6):  # a kernel that just said idle may not take the first request yet
                _accept_dialogs(page)
                page.click(".jp-Notebook .jp-Cell .cm-content")
                page.click(".jp-NotebookPanel-toolbar [data-command^='notebook:run-cell']")
                try:
                    page.wait_for_function(
                        "e => /[*0-9]/.test(e.textContent)", arg=prompt.element_handle(), timeout=10_000
                    )
                    break
                except Exception:
                    continue
            label = page.locator(".layerlab-progress-text")
            label.wait_for(timeout=90_000)
            deadline = time.monotonic() + 240
            settle: float | None = None  # until when to wait for the next step's name after one ends
            while time.monotonic() < deadline:
                try:
                    text = label.inner_text(timeout=1000)
                except Exception:
                    break  # the widget was replaced by the summary line
                m = STEPS.search(text)
                done = int(m.group(1)) if m else -1
                if not seen or done > seen[-1][0]:
                    between = done > 0 and "RUN" not in text and "exporting" not in text
                    settle = settle or time.monotonic() + 1.0
                    if between and time.monotonic() < settle:
                        time.sleep(0.1)  # a step just ended: show the next one running
                        continue
                    shot = SCREENS / f"lab-progress-{len(shots) + 1}-step{done}.png"
                    page.screenshot(path=str(shot))
                    shots.append(shot)
                    seen.append((done, text))
                    settle = None
                time.sleep(0.2)
            summary = page.locator(".jp-OutputArea-output", has_text=f"built {lab['tag']}")
            summary.wait_for(timeout=120_000)
            final = SCREENS / "lab-progress-summary.png"
            page.screenshot(path=str(final))
            summary_text = summary.inner_text()
            widget_left = page.locator(".layerlab-progress").count()
        except Exception:
            page.screenshot(path=str(SCREENS / "lab-progress-failure.png"))
            raise
        finally:
            browser.close()
    assert len(shots) >= 2, f"the progress line never changed while the build ran: {seen}"
    assert [d for d, _ in seen] == sorted({d for d, _ in seen}) and seen[-1][0] > seen[0][0], seen
    assert all(t.startswith(f"building {lab['tag']}: ") for _, t in seen), seen
    assert any("RUN echo" in t for _, t in seen), seen  # it names the step that runs now
    assert re.search(
        rf"built {re.escape(lab['tag'])} in \d+\.\d s: 4 steps, 3 ran, \d cached; full log: ", summary_text
    ), summary_text
    assert widget_left == 0, "the widget is replaced by the summary line"
