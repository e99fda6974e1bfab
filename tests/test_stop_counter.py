"""Counter-runs for lesson 07's stop and process asserts: the measurements they read tell the cases apart.

Lesson 07 asserts that its shell-form server needs SIGKILL (signals 15 then 9, exit 137), that under `--init` a
SIGTERM is enough (exit 143), and how many processes each server runs. Here the same measurements
(`containers.timed_stop`, the lesson's /proc count) meet the opposite cases on a plain python image: a PID 1
with no SIGTERM handler, the same under docker-init, and a lone command under dash. Each lesson assert would
fail on the case it does not describe."""

from __future__ import annotations

import time
import uuid

import pytest

from layerlab.engine import containers, labels

pytestmark = pytest.mark.usefixtures("engine_client")
IMAGE = "python:3.13-slim"
SLEEP = "import time; print('up', flush=True); time.sleep(600)"
# Lesson 07's count of the container's processes, less the python that counts.
COUNT = ["python", "-c", "import os; print(sum(p.isdigit() for p in os.listdir('/proc')) - 1)"]


def _started(client, command: list[str], **kw):
    c = client.container.run(
        IMAGE,
        command,
        detach=True,
        name=f"layerlab-test-stop-{uuid.uuid4().hex[:8]}",
        labels=labels.course_labels(),
        stop_timeout=2,
        **kw,
    )
    for _ in range(100):
        if "up" in containers.logs(client, c):
            return c
        time.sleep(0.1)
    raise AssertionError(f"{command} never started: {containers.logs(client, c)}")


def test_a_pid_1_without_a_sigterm_handler_is_killed_and_init_stops_it_with_sigterm(engine_client):
    ignores = _started(engine_client, ["python", "-c", SLEEP])
    under_init = _started(engine_client, ["python", "-c", SLEEP], init=True)
    try:
        killed = containers.timed_stop(engine_client, ignores)
        termed = containers.timed_stop(engine_client, under_init)
    finally:
        engine_client.container.remove([ignores, under_init], force=True)
    # The lesson's shell-form assert reads this; its "SIGTERM was enough" assert would fail on it.
    assert killed.signals == ["15", "9"] and killed.exit_code == 137 and killed.seconds >= 1.5
    # docker-init forwards SIGTERM; python's default action ends it: the lesson's exit 143 under --init.
    assert termed.signals == ["15"] and termed.exit_code == 143 and termed.seconds < 1.5
    assert killed.seconds / termed.seconds >= 3


def test_the_process_count_sees_dashs_wrapper_that_exec_form_does_not_have(engine_client):
    exec_form = _started(engine_client, ["python", "-c", SLEEP])
    shell_form = _started(engine_client, ["sh", "-c", f'python -c "{SLEEP}"'])
    try:
        counts = {name: int(c.execute(COUNT).strip()) for name, c in (("exec", exec_form), ("shell", shell_form))}
    finally:
        engine_client.container.remove([exec_form, shell_form], force=True)
    # Lesson 07's "1 worker: 1 process" holds for exec form and fails with a shell kept as PID 1.
    assert counts == {"exec": 1, "shell": 2}
