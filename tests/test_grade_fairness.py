"""Graders are fair (issue 25, section 3): a correct variant passes, a wrong one fails with a hint naming the cause.

No engine: each judgement is fed what the engine reported for the variant (sizes from the
image's layers, the process list `docker top` gave for a running 07-serve container,
labels from the image's config), so the point costs milliseconds, not a build.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from layerlab.course import REPO
from layerlab.grade import exercise as exercise_mod
from layerlab.grade import fixture as fixture_mod
from layerlab.grade import sandbox
from layerlab.grade.checks import REGISTRY, Failed
from layerlab.grade.checks.base import Context
from layerlab.grade.checks.limits import CgroupLimits
from layerlab.grade.checks.multiarch import PlatformSizesAtMost
from layerlab.grade.checks.serve import NoReloader, server_tree
from layerlab.grade.checks.ship import OCI_SOURCE, OCI_VERSION, OciLabels
from layerlab.grade.checks.size import SizeAtMost
from layerlab.grade.dockerfile import parse
from layerlab.measure import serving
from layerlab.measure.inspector import AboveBase
from layerlab.measure.serving import Process, ServeResult

MB = 1_000_000


@functools.cache
def _exercise(exercise_id: str) -> exercise_mod.Exercise:
    return exercise_mod.load(exercise_id)  # course.yml read once per exercise, not per case


@functools.cache
def _fixture(exercise_id: str) -> fixture_mod.Fixture:
    return fixture_mod.load(exercise_id)


def _ctx(exercise_id: str, subject) -> Context:
    return Context(
        exercise=_exercise(exercise_id),
        folder=Path("."),
        dockerfile=parse("FROM scratch\n"),
        subject=subject,
        fixture=_fixture(exercise_id),
    )


def _spec(exercise_id: str, model: type):
    return next(c for c in _exercise(exercise_id).checks if isinstance(c, model))


# --- size: the text says the bound the check applies ---------------------------------------------


def _layer(mb: float, step: str):
    return SimpleNamespace(size_bytes=int(mb * MB), created_by=step)


def _sized(exercise_id: str, added: list[tuple[float, str]], base_ref: str | None = None):
    """A subject whose image is the fixture's base (its own layers) plus `added` layers."""
    fx = _fixture(exercise_id)
    base = [_layer(70, "COPY /t/ / # the base's"), _layer(fx.base_bytes / MB - 70, "RUN the base's own")]
    layers = base + [_layer(mb, step) for mb, step in added]
    above = AboveBase(
        base_ref=base_ref or fx.base_ref,
        base_image_id=fx.base_image_id,
        base_standin=True,
        base_layers=len(base),
        base_bytes=fx.base_bytes,
        added_bytes=int(sum(mb for mb, _ in added) * MB),
        base_wasted_bytes=0,
        added_wasted_bytes=0,
    )
    image = SimpleNamespace(layers=layers, size_bytes=sum(l.size_bytes for l in layers))
    return SimpleNamespace(image=image, above_base=above)


@pytest.mark.answers
def test_07_keeping_pip_in_the_venv_passes_size():
    # Issue 25: pip kept in the venv adds 25.5 MB above python:3.13-slim, 1.07x the reference's total.
    subject = _sized("07-serve", [(12.7, "RUN python -m venv /opt/venv"), (12.8, "RUN /opt/venv/bin/pip install ...")])
    detail = REGISTRY["size_at_most"](_ctx("07-serve", subject), _spec("07-serve", SizeAtMost))
    assert "adds 25.5 MB above its base" in detail


@pytest.mark.answers
def test_07_a_full_python_base_fails_size_and_lists_only_its_own_layers():
    subject = _sized("07-serve", [(850, "RUN apt-get install build-essential"), (12.8, "RUN pip install ...")])
    with pytest.raises(Failed) as e:
        REGISTRY["size_at_most"](_ctx("07-serve", subject), _spec("07-serve", SizeAtMost))
    own = e.value.detail.split("your largest layers:\n", 1)[1]
    assert "build-essential" in own and "the base's" not in own, "the base's layers are not the submission's"
    assert "build tools" in e.value.hint


@pytest.mark.answers
def test_02_stays_tight_where_the_lesson_teaches_size():
    # Leaving apt's lists and recommended packages in (a few MB above the reference's 1.1 MB) fails 02.
    subject = _sized("02-slim", [(4.5, "RUN apt-get update && apt-get install ...")])
    with pytest.raises(Failed) as e:
        REGISTRY["size_at_most"](_ctx("02-slim", subject), _spec("02-slim", SizeAtMost))
    assert "apt's package lists" in e.value.hint


def _exercise_text(exercise_id: str) -> str:
    # The exercise's text, as the student reads it (generated from the solution's, outside its answer).
    text = (REPO / "exercises" / exercise_id / f"{exercise_id}.py").read_text()
    return re.sub(r"\s*\n#\s*", " ", text)  # the markdown's lines joined


@pytest.mark.parametrize(
    "exercise_id, model",
    [
        ("02-slim", SizeAtMost),
        ("04-multistage", SizeAtMost),
        ("05-multiarch", PlatformSizesAtMost),
        ("06-cuda", SizeAtMost),
        ("07-serve", SizeAtMost),
    ],
)
def test_the_exercise_text_states_the_size_bound_the_check_applies(exercise_id, model):
    spec = _spec(exercise_id, model)
    text = _exercise_text(exercise_id)
    times = "2 times" if spec.factor == 2 else f"{spec.factor:g} times"
    assert re.search(rf"adds at most {re.escape(times)} what the reference( solution)? adds above", text), text[:900]
    assert f"plus {spec.allowance_mb:g} MB" in text
    assert "times the reference's size" not in text and "times the size of the reference" not in text


# --- 07: one server process, no reloader -----------------------------------------------------------

SHIM, MAIN = 900, 1000
UVICORN = "/opt/venv/bin/python /opt/venv/bin/uvicorn serve:app --host 0.0.0.0 --port 8000"
TRACKER = "/opt/venv/bin/python -B -c from multiprocessing.resource_tracker import main;main(4)"
SPAWN = "/opt/venv/bin/python -B -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, pipe_handle=7) --multi"
HEALTH = "python -c import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=1)"


def _procs(*rows: tuple[int, int, str]) -> list[Process]:
    return [Process(pid=pid, ppid=ppid, args=args) for pid, ppid, args in rows]


# What `docker top` listed for the variants (exec-form, non-root, with a health check, like the reference).
RELOAD = _procs((MAIN, SHIM, UVICORN + " --reload"), (1001, MAIN, TRACKER), (1002, MAIN, SPAWN))
RELOAD_BY_ENV = _procs((MAIN, SHIM, UVICORN), (1001, MAIN, TRACKER), (1002, MAIN, SPAWN))  # UVICORN_RELOAD=true
SINGLE = _procs((MAIN, SHIM, UVICORN), (1500, SHIM, HEALTH))  # the health check is exec'd beside it, not under it
WORKERS = _procs(
    (MAIN, SHIM, UVICORN + " --workers 2"), (1001, MAIN, TRACKER), (1002, MAIN, SPAWN), (1003, MAIN, SPAWN)
)
UNDER_INIT = _procs((MAIN, SHIM, "/sbin/docker-init -- uvicorn serve:app"), (1001, MAIN, UVICORN))


def _reloader_verdict(processes: list[Process]) -> str:
    served = ServeResult(image="x", options={}, started=True, first_ok_s=1.0, main_pid=MAIN, processes=processes)
    subject = SimpleNamespace(build=lambda: None, once=lambda key, fn: served)
    return REGISTRY["no_reloader"](_ctx("07-serve", subject), _spec("07-serve", NoReloader))


@pytest.mark.answers
@pytest.mark.parametrize("processes", [SINGLE, WORKERS, UNDER_INIT], ids=["single", "workers", "under-init"])
def test_a_production_server_passes_no_reloader(processes):
    assert "no reloader" in _reloader_verdict(processes)


@pytest.mark.answers
@pytest.mark.parametrize("processes", [RELOAD, RELOAD_BY_ENV], ids=["flag", "env"])
def test_a_reloader_fails_with_a_hint_naming_reload(processes):
    with pytest.raises(Failed) as e:
        _reloader_verdict(processes)
    assert "--reload" in e.value.hint and "resource_tracker" not in e.value.detail


def test_the_server_tree_skips_a_shell_that_wraps_the_server_alone():
    server, children = server_tree(
        MAIN, _procs((MAIN, SHIM, "/bin/sh -c uvicorn serve:app --reload"), (1001, MAIN, UVICORN + " --reload"))
    )
    assert server.pid == 1001 and children == []


# --- 07: the engine's "unhealthy" ends the wait ------------------------------------------------------


def test_waiting_stops_when_the_engine_says_unhealthy(monkeypatch):
    states = iter(["starting", "starting", "unhealthy"] + ["unhealthy"] * 1000)
    monkeypatch.setattr(
        serving.containers, "state_of", lambda c: SimpleNamespace(running=True, exit_code=None, health=next(states))
    )
    monkeypatch.setattr(serving.time, "sleep", lambda s: None)

    class Refused:
        def get(self, url, timeout):
            raise serving.httpx.ConnectError("refused")

    result = ServeResult(image="x", options={}, started=True, has_healthcheck=True)
    start = serving.time.perf_counter()
    serving._wait_until_serving(None, result, Refused(), "http://127.0.0.1:1/health", start=start, wait_s=60)
    assert result.unhealthy_s is not None and serving.time.perf_counter() - start < 5
    assert not result.serving and result.health == "unhealthy"


# --- 09: OCI labels carry answers, not placeholders ----------------------------------------------------


def _labelled(**labels: str):
    return SimpleNamespace(image=SimpleNamespace(labels=labels))


@pytest.mark.answers
@pytest.mark.parametrize(
    "source,version",
    [
        ("https://github.com/org/churn", "1.0.0"),
        ("git@github.com:org/churn.git", "v2.1-rc1"),
        ("https://example.org/churn", "3f2a9c1"),
    ],
)
def test_oci_labels_with_a_url_and_a_version_pass(source, version):
    ctx = _ctx("09-ship", _labelled(**{OCI_SOURCE: source, OCI_VERSION: version}))
    assert source in REGISTRY["oci_labels"](ctx, _spec("09-ship", OciLabels))


@pytest.mark.answers
@pytest.mark.parametrize(
    "source,version,named",
    [
        ("TODO", "1.0.0", OCI_SOURCE),
        ("https://x.org/r", "TODO", OCI_VERSION),
        ("github.com/org/churn", "1.0", OCI_SOURCE),
        ("https://x.org/r", "latest", OCI_VERSION),
    ],
)
def test_oci_label_placeholders_fail_with_what_the_value_must_be(source, version, named):
    ctx = _ctx("09-ship", _labelled(**{OCI_SOURCE: source, OCI_VERSION: version}))
    with pytest.raises(Failed) as e:
        REGISTRY["oci_labels"](ctx, _spec("09-ship", OciLabels))
    assert named in e.value.detail and "placeholder" in e.value.hint
    assert ("URL" if named == OCI_SOURCE else "version") in e.value.detail


# --- 06: grading containers see no GPU unless a check asks for one ---------------------------------------


def test_grading_containers_get_no_gpu_by_default(monkeypatch):
    seen: dict = {}

    def run_live(image, command, **kw):
        seen.update(kw)
        return SimpleNamespace(exit_code=0, output="", seconds=0.1, timed_out=False, oom_killed=False)

    monkeypatch.setattr(sandbox.containers, "run_live", run_live)
    session = sandbox.Session("06-cuda", "06", memory="256m", pids=64, max_output=1000)
    session.run("img", timeout=5)
    assert seen["envs"] == {"NVIDIA_VISIBLE_DEVICES": "void"}
    session.run("img", timeout=5, gpu=True)
    assert not seen["envs"]
    monkeypatch.setattr(serving, "serve_live", lambda image, **kw: seen.update(served=kw))
    session.serve("img", port=8000)
    assert seen["served"]["envs"] == {"NVIDIA_VISIBLE_DEVICES": "void"}


# --- 01: a run without limits, and hints that name the actual cause -----------------------------------

HOST_KIB, HOST_CPUS = 24_684_000, 2


def _limits_subject(report):
    """A subject whose program prints `report(memory bytes | None, cpus | None)` under the limits it is run with;
    the probe's lines are what cgroup v2 and the host show for those limits."""

    def run(tag, command, *, entrypoint, memory, cpus, timeout):
        mem = int(memory[:-1]) * 2**20 if memory else None
        probe = (
            f"cgroup v2 {mem if mem else 'max'} {int(cpus * 100_000) if cpus else 'max'} 100000\n"
            f"host {HOST_KIB} {HOST_CPUS}\n---\n"
        )
        try:
            return sandbox.Ran(exit_code=0, output=probe + report(mem, cpus), seconds=0.1)
        except Exception as e:  # noqa: BLE001 - the program crashed
            return sandbox.Ran(
                exit_code=1, output=probe + f"Traceback (most recent call last):\n{type(e).__name__}: {e}", seconds=0.1
            )

    image = SimpleNamespace(entrypoint=None, cmd=["python", "limits.py"])
    return SimpleNamespace(build=lambda: None, image=image, tag="t", session=SimpleNamespace(run=run))


def _lines(memory: str, cpus: str, workers: int) -> str:
    return f"memory limit: {memory}\ncpu limit: {cpus}\nworkers: {workers}\n"


def _right(mem, cpus):
    return _lines(
        f"{mem // 2**20} MiB" if mem else "unlimited",
        f"{cpus:g} CPUs" if cpus else "unlimited",
        max(1, int(cpus)) if cpus else HOST_CPUS,
    )


def _crashes_unlimited(mem, cpus):
    if mem is None:
        int("max")  # memory.max read as a number
    return _right(mem, cpus)


WRONG_LIMITS = {
    "host": (lambda mem, cpus: _lines(f"{HOST_KIB // 1024} MiB", f"{HOST_CPUS} CPUs", HOST_CPUS), "/proc/meminfo"),
    "crash without limits": (_crashes_unlimited, "unlimited"),
    "units (10**6)": (
        lambda mem, cpus: (
            _right(mem, cpus).replace(f"{mem // 2**20} MiB", f"{mem // 10**6} MiB") if mem else _right(mem, cpus)
        ),
        "2**20",
    ),
    "usage": (
        lambda mem, cpus: _right(mem, cpus).replace(f"{mem // 2**20} MiB", "31 MiB") if mem else _right(mem, cpus),
        "memory.current",
    ),
    "quota": (
        lambda mem, cpus: (
            _right(mem, cpus).replace(f"{cpus:g} CPUs", f"{int(cpus * 100_000)} CPUs") if cpus else _right(mem, cpus)
        ),
        "quota / period",
    ),
    "workers": (lambda mem, cpus: _right(mem, cpus).replace("workers: 1", "workers: 0"), "one worker per whole CPU"),
}


@pytest.mark.answers
def test_01_a_correct_report_passes_with_and_without_limits():
    detail = REGISTRY["cgroup_limits"](_ctx("01-limits", _limits_subject(_right)), _spec("01-limits", CgroupLimits))
    assert "no limits -> unlimited, unlimited" in detail


@pytest.mark.answers
@pytest.mark.parametrize("case", list(WRONG_LIMITS))
def test_01_a_wrong_report_fails_with_its_own_cause(case):
    report, cause = WRONG_LIMITS[case]
    with pytest.raises(Failed) as e:
        REGISTRY["cgroup_limits"](_ctx("01-limits", _limits_subject(report)), _spec("01-limits", CgroupLimits))
    assert cause in e.value.hint, e.value.hint
    if case != "host":
        assert "/proc/meminfo" not in e.value.hint, "the host is not the cause"


# --- 08: the cause first, compose's progress lines left out --------------------------------------------


def test_08_a_failed_up_shows_the_cause_before_what_compose_said():
    from layerlab.grade.checks.compose import up_failure

    error = (
        "Container layerlab-08-g-api-1  Waiting | Container layerlab-08-g-train-1  Exited | "
        "dependency failed to start: container layerlab-08-g-train-1 exited (1)"
    )
    trouble = "train: exited, exit 1\n  | FileNotFoundError: /data/clean.csv"
    text = up_failure("`compose up --wait` failed after 9 s (limit 60 s)", error, trouble)
    assert text.index("FileNotFoundError") < text.index("dependency failed")
    assert "Waiting" not in text and "  Exited" not in text
    assert text.splitlines()[0].endswith("(limit 60 s):")
