"""Serve an image's HTTP app and measure it: start-up, answers, bounded load, a timed stop.

One call starts one container with its port published on 127.0.0.1 only,
does what it is asked in order (wait for /health and the engine's `healthy`,
send requests, run commands inside, put a bounded load on it, read its memory,
stop it with a request in flight), always removes it, and returns one typed,
JSON-serialisable result. Lessons replay that result where no engine exists;
the grader calls `serve_live` with its sandbox's limits and labels.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
from pydantic import Field
from python_on_whales import Container
from python_on_whales.exceptions import DockerException
from python_on_whales.utils import run

from layerlab import engine
from layerlab.engine import containers, labels, replay
from layerlab.engine.result import Replayable, Result

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


# --- load and latency maths (no engine needed) --------------------------------


class LoadStats(Result):
    requests: int  # answered with a 2xx
    errors: int  # refused, timed out or not 2xx
    seconds: float  # wall time of the whole load
    concurrency: int
    capped: bool  # the time cap ended the load before every request was sent
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    rps: float  # answered requests per second of wall time
    latencies_ms: list[float] = Field(default_factory=list)

    def line(self) -> str:
        if not self.requests:
            return f"no request answered ({self.errors} errors)"
        return (
            f"{self.requests} requests in {self.seconds:.1f} s, {self.rps:.0f} req/s; "
            f"p50 {self.p50_ms:.1f} ms, p95 {self.p95_ms:.1f} ms, p99 {self.p99_ms:.1f} ms"
            + (f"; {self.errors} errors" if self.errors else "")
            + (" (time cap reached)" if self.capped else "")
        )


def summarize(
    latencies_s: list[float], seconds: float, *, errors: int = 0, concurrency: int = 1, capped: bool = False
) -> LoadStats:
    """Percentiles (numpy's, linear interpolation) and throughput of one load run."""
    ms = np.asarray(latencies_s, dtype=float) * 1000
    p50, p95, p99 = (float(v) for v in np.percentile(ms, [50, 95, 99])) if ms.size else (None, None, None)
    return LoadStats(
        requests=int(ms.size),
        errors=errors,
        seconds=round(seconds, 3),
        concurrency=concurrency,
        capped=capped,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        rps=ms.size / seconds if seconds > 0 else 0.0,
        latencies_ms=[round(float(v), 3) for v in ms],
    )


def require_loopback(url: str) -> None:
    """Load is only ever sent to this machine: a typo must not aim it at someone's server."""
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"{url}: load goes to 127.0.0.1 only, not to {host}")


async def _load(
    url: str, method: str, body: Any, requests: int, concurrency: int, time_cap_s: float, timeout_s: float
) -> LoadStats:
    latencies: list[float] = []
    errors = 0
    sent = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    # trust_env=False: a proxy from the environment must never see requests to 127.0.0.1.
    async with httpx.AsyncClient(timeout=timeout_s, limits=limits, trust_env=False) as client:
        start = time.perf_counter()
        deadline = start + time_cap_s

        async def worker() -> None:
            nonlocal sent, errors
            while sent < requests and time.perf_counter() < deadline:
                sent += 1
                t = time.perf_counter()
                try:
                    r = await client.request(method, url, json=body)
                    if 200 <= r.status_code < 300:
                        latencies.append(time.perf_counter() - t)
                    else:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    return summarize(latencies, seconds, errors=errors, concurrency=concurrency, capped=sent < requests)


def bounded_load(
    url: str,
    *,
    method: str = "GET",
    body: Any = None,
    requests: int = 500,
    concurrency: int = 8,
    time_cap_s: float = 20,
    timeout_s: float = 5,
) -> LoadStats:
    """A fixed number of requests from `concurrency` clients at once, stopped by `time_cap_s` at the latest.

    Runs its own event loop in a thread, so it works inside Jupyter's running loop too.
    """
    require_loopback(url)
    out: dict = {}

    def run() -> None:
        try:
            out["stats"] = asyncio.run(_load(url, method, body, requests, concurrency, time_cap_s, timeout_s))
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(time_cap_s + timeout_s + 10)
    if "error" in out:
        raise out["error"]
    if "stats" not in out:
        raise TimeoutError(f"the load on {url} did not finish within its time cap")
    return out["stats"]


# --- one served container ---------------------------------------------------------


def warm_load(base: str, load: dict) -> tuple[LoadStats | None, LoadStats]:
    """`load` (bounded_load's arguments plus `path`, `method`, `body`) against `base`, after `load["warmup"]`
    requests whose figures are kept apart: the warm-up, if any, and the measured load."""
    plan = dict(load)
    path, method, body = plan.pop("path"), plan.pop("method", "GET"), plan.pop("body", None)
    warmup = int(plan.pop("warmup", 0))
    warm = bounded_load(base + path, method=method, body=body, **{**plan, "requests": warmup}) if warmup else None
    return warm, bounded_load(base + path, method=method, body=body, **plan)


class Response(Result):
    """One HTTP request's answer: status None when none came (`error` says why)."""

    status: int | None
    body: Any  # the JSON answer, else the first 500 characters of the text
    error: str
    seconds: float


class Exec(Result):
    """One `docker exec` in the running container."""

    exit_code: int | None
    output: str  # stdout and stderr, the last 2000 characters


class HealthProbe(Result):
    """One run of the image's HEALTHCHECK, as the engine logged it (it keeps the last five)."""

    start: str
    end: str
    exit_code: int | None


class Process(Result):
    """One process of the running container, as the engine lists it (`docker top`): host pids."""

    pid: int
    ppid: int
    args: str


class ServeResult(Replayable):
    image: str
    options: dict[str, Any]  # how it was run: command, init, read_only, tmpfs, memory ...
    started: bool
    error: str = ""  # the engine's reason when it did not start
    hint: str = ""
    has_healthcheck: bool = False
    first_ok_s: float | None = None  # from `docker run` to the first 200 on the health path
    healthy_s: float | None = None  # from `docker run` to the engine's health state `healthy`
    health: str | None = None  # the last health state seen (None: the image has no HEALTHCHECK)
    unhealthy_s: float | None = None  # from `docker run` to the engine's `unhealthy`, when it said so (waiting stops)
    exited: bool = False  # the container ended on its own before it was stopped
    exit_code: int | None = None
    responses: dict[str, Response] = Field(default_factory=dict)  # by the name the call gave the request
    execs: dict[str, Exec] = Field(default_factory=dict)
    ready_s: float | None = None  # from `docker run` to the `ready_count`-th `ready_line` in the logs
    warmup: LoadStats | None = None  # the load's unmeasured warm-up
    main_pid: int | None = None  # the container's first process (host pid), when `processes` was asked
    processes: list[Process] | None = None  # the container's processes once it answered (None: not asked or unreadable)
    load: LoadStats | None = None
    health_log: list[HealthProbe] = Field(default_factory=list)  # read just before the stop
    memory_bytes: int | None = None  # the engine's stats, after the load
    stop_s: float | None = None  # SIGTERM to exit, from the engine's events (else `docker stop`'s wall time)
    stop_wall_s: float | None = None  # `docker stop` from call to return, the CLI's own start included
    stop_signals: list[str] = Field(
        default_factory=list
    )  # what the engine sent: ["15"], or ["15", "9"] after the grace
    stop_exit_code: int | None = None
    inflight: Response | None = None  # the request in flight during the stop
    # The request sent the moment the health path first answered 200: what a load balancer's first request meets.
    at_first_ok: Response | None = None
    logs: str = ""  # the container's last log lines

    @property
    def serving(self) -> bool:
        return self.first_ok_s is not None

    @property
    def inflight_answered(self) -> bool:
        return bool(self.inflight and self.inflight.status == 200)


def _key(image: str, **kw: Any) -> str:
    shown = {k: v for k, v in sorted(kw.items()) if v not in (None, False, (), [], {}) and k not in ("module",)}
    return f"{image}|{shown}"


def _request(client: httpx.Client, base: str, method: str, path: str, body: Any = None) -> Response:
    t = time.perf_counter()
    try:
        r = client.request(method, base + path, json=body)
        try:
            content = r.json()
        except ValueError:
            content = r.text[:500]
        return Response(status=r.status_code, body=content, error="", seconds=round(time.perf_counter() - t, 4))
    except httpx.HTTPError as e:
        return Response(
            status=None, body=None, error=f"{type(e).__name__}: {e}"[:300], seconds=round(time.perf_counter() - t, 4)
        )


def _execute(container: Container, command: list[str]) -> Exec:
    try:
        out = container.execute(command)
        return Exec(exit_code=0, output=str(out or "")[-2000:])
    except DockerException as e:
        text = ((e.stdout or "") + (e.stderr or "")) if hasattr(e, "stdout") else str(e)
        return Exec(exit_code=e.return_code, output=text.strip()[-2000:])


def _processes(client: Any, container: Container) -> tuple[int | None, list[Process] | None]:
    """The container's first process and every process in it, from the engine (no `ps` needed in the image)."""
    try:
        container.reload()
        out = run(client.client_config.docker_cmd + ["top", container.id, "-o", "pid,ppid,args"])
    except DockerException:
        return None, None
    found = []
    for line in str(out or "").splitlines()[1:]:
        parts = line.split(None, 2)
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            found.append(Process(pid=int(parts[0]), ppid=int(parts[1]), args=parts[2] if len(parts) > 2 else ""))
    return (container.state.pid or None), found


def _tail(text: str, n: int) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def _wait_until_serving(
    container: Container,
    result: ServeResult,
    http: httpx.Client,
    url: str,
    *,
    start: float,
    wait_s: float,
    at_first_ok: Callable[[], Response] | None = None,
) -> None:
    """Poll `url` and the engine's health state until both say ready, the container exits, or `wait_s` passes.

    `at_first_ok` is called once, at once, when `url` first answers 200; its answer is kept."""
    deadline = start + wait_s
    while time.perf_counter() < deadline:
        state = containers.state_of(container)
        if not state.running:
            result.exited, result.exit_code = True, state.exit_code
            return
        now = time.perf_counter() - start
        result.health = state.health
        if result.health == "healthy" and result.healthy_s is None:
            result.healthy_s = round(now, 3)
        if result.health == "unhealthy" and result.unhealthy_s is None:
            # The engine's verdict: the image's own check failed its retries. Waiting longer tells nothing new.
            result.unhealthy_s = round(now, 3)
            if result.first_ok_s is None:
                return
        if result.first_ok_s is None:
            try:
                if http.get(url, timeout=1).status_code == 200:
                    result.first_ok_s = round(time.perf_counter() - start, 3)
            except httpx.HTTPError:
                pass
            if result.first_ok_s is not None and at_first_ok is not None:
                result.at_first_ok = at_first_ok()
        done_health = not result.has_healthcheck or result.healthy_s is not None or result.health == "unhealthy"
        if result.first_ok_s is not None and done_health:
            return
        time.sleep(0.05)


def serve_live(
    image: str,
    *,
    command: list[str] | None = None,
    port: int = 8000,
    health_path: str = "/health",
    init: bool = False,
    read_only: bool = False,
    tmpfs: list[str] | None = None,
    user: str | None = None,
    cap_drop_all: bool = False,
    hardened: bool = False,
    memory: str | None = None,
    cpus: float | None = None,
    cpuset_cpus: list[int] | None = None,
    pids_limit: int | None = None,
    wait_s: float = 60,
    ready_line: str | None = None,
    ready_count: int = 1,
    requests: dict | None = None,
    execs: dict | None = None,
    processes: bool = False,
    load: dict | None = None,
    stats: bool = False,
    envs: dict | None = None,
    inflight: str | None = None,
    inflight_lead_s: float = 0.25,
    ready_probe: list | None = None,
    stop_grace_s: int = 10,
    log_lines: int = 20,
    module: str | None = None,
    extra_labels: dict | None = None,
) -> ServeResult:
    """Run `image` serving on `port` (published on 127.0.0.1), measure it, always remove it.

    requests: name -> [method, path] or [method, path, json body], sent once it answers (again while it answers 503).
    execs: name -> command, run inside it (docker exec).
    ready_line: once it answers, wait until the logs hold it `ready_count` times (every worker started).
    load: bounded_load's arguments plus `path` (and `method`, `body`, and `warmup`: that many requests first,
    not measured).
    processes: list the container's processes (from the engine) once it answers, before any request.
    inflight: a path whose request is in flight when `docker stop` (grace `stop_grace_s`) is sent.
    ready_probe: [method, path] or [method, path, json body], sent the moment the health path first answers 200.
    `hardened` drops every capability and forbids privilege escalation (the grader's sandbox).
    """
    options = {
        k: v
        for k, v in dict(
            command=command,
            init=init,
            read_only=read_only,
            tmpfs=tmpfs,
            user=user,
            cap_drop_all=cap_drop_all or hardened,
            memory=memory,
            cpus=cpus,
            cpuset_cpus=cpuset_cpus,
        ).items()
        if v not in (None, False)
    }
    security = containers.hardening(hardened)
    if cap_drop_all:  # lesson 07 drops the capabilities alone, to show the server still serves
        security["cap_drop"] = ["ALL"]
    client = engine.require()
    try:
        container = client.container.create(
            image,
            command or [],
            publish=[("127.0.0.1:", port)],
            init=init,
            read_only=read_only,
            tmpfs=tmpfs or [],
            user=user,
            envs=envs or {},
            memory=memory,
            memory_swap=memory,
            cpus=cpus,
            cpuset_cpus=cpuset_cpus,
            pids_limit=pids_limit,
            **security,
            labels={**labels.course_labels(module), **(extra_labels or {})},
            pull="never",
            # The grace period is the container's own: python-on-whales drops an int `docker stop --time`.
            stop_timeout=stop_grace_s,
        )
    except DockerException as e:
        reason, hint = containers.start_failure(getattr(e, "stderr", None) or str(e))
        return ServeResult(image=image, options=options, started=False, error=reason, hint=hint)
    result = ServeResult(image=image, options=options, started=False)
    http = httpx.Client(timeout=5, trust_env=False)
    try:
        hc = container.config.healthcheck
        result.has_healthcheck = bool(hc and hc.test and hc.test[0] != "NONE")
        start = time.perf_counter()
        try:
            client.container.start(container)
        except DockerException as e:
            result.error, result.hint = containers.start_failure(getattr(e, "stderr", None) or str(e))
            return result
        result.started = True
        container.reload()
        bindings = (container.network_settings.ports or {}).get(f"{port}/tcp") or []
        if not bindings:
            result.error = f"port {port} was not published"
            return result
        base = f"http://127.0.0.1:{bindings[0]['HostPort']}"
        probe = (
            (
                lambda: _request(
                    http, base, ready_probe[0], ready_probe[1], ready_probe[2] if len(ready_probe) > 2 else None
                )
            )
            if ready_probe
            else None
        )
        _wait_until_serving(container, result, http, base + health_path, start=start, wait_s=wait_s, at_first_ok=probe)
        if not result.serving:
            return result
        if ready_line:
            deadline = start + wait_s
            while containers.logs(client, container).count(ready_line) < ready_count:
                if time.perf_counter() > deadline:
                    result.error = f"{ready_line!r} did not appear {ready_count} times in {wait_s:.0f} s"
                    return result
                time.sleep(0.1)
            result.ready_s = round(time.perf_counter() - start, 3)
        if processes:
            result.main_pid, result.processes = _processes(client, container)
        for name, spec in (requests or {}).items():
            # 503 is "not yet" (a model still loading): asked again until `wait_s`, so that the answer judged is
            # the app's answer; whether it was ready when it said so is `ready_probe`'s question.
            while True:
                got = _request(http, base, spec[0], spec[1], spec[2] if len(spec) > 2 else None)
                if got.status != 503 or time.perf_counter() > start + wait_s:
                    break
                time.sleep(0.2)
            result.responses[name] = got
        for name, cmd in (execs or {}).items():
            result.execs[name] = _execute(container, list(cmd))
        if load:
            result.warmup, result.load = warm_load(base, load)
        if stats:
            result.memory_bytes = int(client.container.stats([container])[0].memory_used)
        container.reload()
        health = container.state.health
        result.health_log = [
            HealthProbe(start=str(h.start), end=str(h.end), exit_code=h.exit_code)
            for h in ((health.log or []) if health else [])
        ]
        stop = containers.timed_stop(
            client,
            container,
            lead_s=inflight_lead_s,
            during=(lambda: _request(http, base, "GET", inflight)) if inflight else None,
        )
        result.stop_s, result.stop_wall_s, result.stop_exit_code = stop.seconds, stop.wall_seconds, stop.exit_code
        result.inflight = stop.during if isinstance(stop.during, Response) else None
        result.stop_signals = stop.signals
        return result
    finally:
        http.close()
        try:
            result.logs = _tail(containers.logs(client, container), log_lines)
        except DockerException:
            pass
        try:
            client.container.remove(container, force=True, volumes=True)
        except DockerException:
            pass


# Lessons record and replay their runs; the grader calls serve_live, which never replays.
serve = replay.replayable("serve", _key, ServeResult)(serve_live)
