"""Run a container with a time limit, resource limits and the course label; time it."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

from python_on_whales import Container, DockerClient
from python_on_whales.exceptions import DockerException

from layerlab import engine
from layerlab.engine import labels, replay
from layerlab.engine.result import Replayable
from layerlab.ground.errors import LayerlabError


class RunResult(Replayable):
    image: str
    command: list[str]
    exit_code: int
    output: str  # stdout and stderr together, cut to max_output characters
    seconds: float  # from start to exit
    oom_killed: bool = False
    timed_out: bool = False
    platform: str | None = None
    container_id: str | None = None
    created_at: float | None = None  # the engine's clock (Unix seconds) when it created the container
    started_at: float | None = None  # the engine's clock (Unix seconds) at the start and the exit of the process
    finished_at: float | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class ContainerDidNotStart(LayerlabError, RuntimeError):
    """The engine created or started no running container; `reason` is the engine's own words."""

    def __init__(self, image: str, reason: str, hint: str, stderr: str = ""):
        super().__init__(f"{image} did not start: {reason}\nhint: {hint}")
        self.image, self.reason, self.hint = image, reason, hint
        self.stderr = stderr  # everything the engine said, for whoever needs more


# Wrappers the engine puts around the cause of a failed start, outermost first
# (Docker + runc, Docker + crun, Podman). Stripped one after another.
_WRAPPERS = [
    r"Error response from daemon:\s*",
    r"Error:\s*",
    r"(?:Cannot|unable to) start container \"?[0-9a-f]{12,64}\"?:\s*",
    r"failed to create task for container:\s*",
    r"failed to create shim task:\s*",
    r"OCI runtime (?:create|start|exec) failed:\s*",
    r"(?:runc|crun) (?:create|start) failed:\s*",
    r"crun:\s*",
    r"unable to start container process:\s*",
    r"error during container init:\s*",
]
_USELESS = re.compile(r"^Error: failed to start containers?:?\s*[0-9a-f,\s]*$")

_HINTS: list[tuple[re.Pattern, str]] = [
    (
        re.compile(r"unable to find (?:user|group) ([^\s:]+)|no matching entries in (?:passwd|group) file"),
        "USER names a user{who} that the image does not have: create it in an earlier step "
        "(RUN useradd --create-home {name}) or use a numeric UID such as USER 1000",
    ),
    (
        re.compile(r"executable file not found|not found in \$PATH|command not found"),
        "ENTRYPOINT or CMD names a program that is not in the image: install it in an earlier step, "
        'or fix the name or path (the exec form ["prog", ...] runs no shell and needs the program\'s exact name)',
    ),
    (
        re.compile(r"exec format error|does not match the specified platform|no matching manifest"),
        "the image or its program is built for another CPU architecture than the one asked for: "
        "build it for that platform (docker build --platform), or install the binary for it",
    ),
    (
        re.compile(r"permission denied"),
        "the program is not executable: give it the x bit (RUN chmod +x FILE, or COPY --chmod=755), "
        "or it lies on a mount that forbids executing (noexec)",
    ),
    (
        re.compile(r"no such file or directory"),
        "the path to the program is wrong, or it is a script with Windows (CRLF) line endings "
        "or a #! line naming an interpreter the image lacks",
    ),
]
_GENERIC_HINT = (
    "the engine refused to start the container: check USER, ENTRYPOINT, CMD and WORKDIR against what the image contains"
)


class Hardening(TypedDict):
    cap_drop: list[str]
    security_options: list[str]


def hardening(on: bool = True) -> Hardening:
    """The create options of a hardened container, the one definition the course uses for code it did
    not write (the grader's runs, lesson 07's production-shaped server): every capability dropped
    and no privilege escalation through setuid binaries."""
    return Hardening(cap_drop=["ALL"] if on else [], security_options=["no-new-privileges"] if on else [])


def _strip_wrappers(line: str) -> str:
    changed = True
    while changed:
        changed = False
        for w in _WRAPPERS:
            m = re.match(w, line)
            if m and m.end() < len(line):
                line, changed = line[m.end() :], True
    line = re.sub(r":\s*unknown$", "", line.strip())
    return line.strip()


def start_failure(stderr_text: str) -> tuple[str, str]:
    """(reason, hint) from what the engine printed when a container would not start.

    The engine's last line (`Error: failed to start containers: <id>`) names only the
    container; the cause is on a daemon line, wrapped in the runtime's layers of prefixes.
    """
    lines = [ln.strip() for ln in (stderr_text or "").strip().splitlines() if ln.strip()]
    daemon = [ln for ln in lines if "Error response from daemon:" in ln]
    useful = [ln for ln in lines if not _USELESS.match(ln)]
    errors = [ln for ln in useful if ln.startswith("Error")]
    pick = (daemon or errors or useful or lines or ["the engine gave no reason"])[-1]
    if "Error response from daemon:" in pick:
        pick = pick[pick.index("Error response from daemon:") :]
    reason = _strip_wrappers(pick) or pick
    low = reason.lower()
    for pattern, hint in _HINTS:
        m = pattern.search(low)
        if m:
            name = m.group(1) if m.groups() and m.group(1) else ""
            return reason, hint.format(who=f" ({name})" if name else "", name=name or "NAME")
    return reason, _GENERIC_HINT


def _did_not_start(image: str, e: DockerException) -> ContainerDidNotStart:
    text = getattr(e, "stderr", None) or str(e)
    reason, hint = start_failure(text)
    return ContainerDidNotStart(image, reason, hint, stderr=text)


def _key(image: str, command: list[str] | str | None = None, **kw: Any) -> str:
    key = f"{image}|{' '.join(command or [])}|platform={kw.get('platform')}|memory={kw.get('memory')}"
    key += f"|gpus={kw['gpus']}" if kw.get("gpus") else ""
    key += f"|devices={','.join(kw['devices'])}" if kw.get("devices") else ""
    return key + (f"|cpus={kw['cpus']}" if kw.get("cpus") is not None else "")  # old recordings keep their keys


def run_live(
    image: str,
    command: list[str] | None = None,
    *,
    platform: str | None = None,
    memory: str | None = None,
    cpus: float | None = None,
    pids_limit: int | None = None,
    network: str | None = None,
    user: str | None = None,
    entrypoint: str | None = None,
    envs: dict[str, str] | None = None,
    timeout: float = 300,
    module: str | None = None,
    max_output: int = 20_000,
    extra_labels: dict[str, str] | None = None,
    hardened: bool = False,
    gpus: str | None = None,
    devices: list[str] | None = None,
    volumes: list[tuple[str, str, str]] | None = None,
    shm_size: str | None = None,
    ipc: str | None = None,
    tmpfs: list[str] | None = None,
) -> RunResult:
    """Start `image`, wait at most `timeout` seconds, return what happened. Never leaves the container behind.

    `hardened` drops every capability and forbids privilege escalation: for
    code we did not write (the grader runs students' images). `gpus` goes
    through the NVIDIA container runtime; `devices` takes CDI names
    (`nvidia.com/gpu=all`) for engines that have CDI specs and no such runtime.
    `volumes` are (source, target, mode) binds: a host folder or a named volume.
    `shm_size` sizes the container's /dev/shm (Docker's default is 64 MB); `ipc="host"` shares the host's;
    `tmpfs` mounts ("/dev/shm:size=160m") replace the engine's own /dev/shm when one targets it.
    """
    client = engine.require()
    try:
        container = client.container.create(
            image,
            command or [],
            platform=platform,
            memory=memory,
            # Without this, Docker gives the container as much swap as memory and
            # a memory limit only slows the process down instead of stopping it.
            memory_swap=memory,
            cpus=cpus,
            pids_limit=pids_limit,
            networks=[network] if network else [],
            user=user,
            entrypoint=entrypoint,
            envs=envs or {},
            labels={**labels.course_labels(module), **(extra_labels or {})},
            pull="never",
            gpus=gpus,
            devices=devices or [],
            volumes=list(volumes or []),
            shm_size=shm_size,
            ipc=ipc,
            tmpfs=list(tmpfs or []),
            **hardening(hardened),
        )
    except DockerException as e:
        # Nothing was created (a missing image, a bad option): no container to remove.
        raise _did_not_start(image, e) from None
    timed_out = False
    try:
        start = time.perf_counter()
        try:
            client.container.start(container)
        except DockerException as e:
            # The container exists but never ran (no such USER, no such program):
            # `finally` below removes it; the engine's words say why.
            raise _did_not_start(image, e) from None
        # `docker wait` blocks until exit; a thread lets us give up after `timeout`.
        waiter = threading.Thread(target=_wait_quietly, args=(client, container), daemon=True)
        waiter.start()
        waiter.join(timeout)
        if waiter.is_alive():
            timed_out = True
            client.container.kill(container)
            waiter.join(10)
        seconds = time.perf_counter() - start
        container.reload()
        output = logs(client, container)
        state = container.state
        return RunResult(
            image=image,
            command=list(command or []),
            exit_code=int(state.exit_code if state.exit_code is not None else -1),
            output=output[-max_output:],
            seconds=round(seconds, 3),
            oom_killed=bool(state.oom_killed),
            timed_out=timed_out,
            platform=platform,
            container_id=container.id,
            created_at=_unix(container.created),
            started_at=_unix(state.started_at),
            finished_at=_unix(state.finished_at),
        )
    finally:
        try:
            client.container.remove(container, force=True)
        except DockerException:
            pass


# Lessons record and replay their runs; the grader calls run_live, which never replays.
run = replay.replayable("run", _key, RunResult)(run_live)


def _unix(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None and moment.year > 1 else None


def logs(client: DockerClient, container: Container | str) -> str:
    """A container's log so far, as text (python-on-whales types the call as text or a stream)."""
    return cast(str, client.container.logs(container))


def _wait_quietly(client: DockerClient, container: Container) -> None:
    try:
        client.container.wait(container)
    except DockerException:
        pass


# --- long-running containers: health and stop ---------------------------------


@dataclass
class State:
    running: bool
    exit_code: int | None
    health: str | None  # starting, healthy, unhealthy; None when the image has no HEALTHCHECK


def state_of(container: Container) -> State:
    """What the engine says about a container now (one `docker inspect`)."""
    container.reload()
    s = container.state
    return State(running=bool(s.running), exit_code=s.exit_code, health=s.health.status if s.health else None)


@dataclass
class Stopped:
    seconds: float  # SIGTERM to exit, from the engine's own events; else `docker stop` from call to return
    wall_seconds: float  # `docker stop` from call to return, CLI start-up included
    exit_code: int | None  # 137: killed (SIGKILL) after the grace period; 0 or 143: it exited on SIGTERM
    during: object = None  # what the call running during the stop returned
    signals: list[str] = field(default_factory=list)  # the signals the engine sent, in order: ["15", "9"]


def stop_events(client: DockerClient, container_id: str, since: datetime) -> tuple[float | None, list[str]]:
    """Seconds from the engine's first `kill` (SIGTERM) to `die`, and the signals it sent, from `docker events`.

    The engine stamps both, so a busy machine's slow CLI start does not count. None when the
    engine reports no such pair (an engine without events, a container that was already gone).
    """
    try:
        events = list(client.system.events(since=since, until=datetime.now(), filters={"container": container_id}))
    except (DockerException, ValueError):
        return None, []
    kills = [e.time_nano for e in events if e.action == "kill" and e.time_nano]
    # `stop` marks the container stopped; `die` may be stamped a moment after `docker stop` returns.
    dies = [e.time_nano for e in events if e.action in ("die", "stop") and e.time_nano]
    signals = [
        str((e.actor.attributes or {}).get("signal", "?"))
        for e in events
        if e.action == "kill" and e.time_nano and e.actor
    ]
    if not kills or not dies:
        return None, signals
    return max(0.0, (dies[0] - kills[0]) / 1e9), signals


def timed_stop(
    client: DockerClient,
    container: Container,
    *,
    during: Callable[[], Any] | None = None,
    lead_s: float = 0.25,
    join_s: float = 40,
) -> Stopped:
    """`docker stop`, timed; `during()` (a request in flight) starts `lead_s` before it.

    The grace period before SIGKILL is the container's stop timeout (`docker run --stop-timeout`,
    10 s by default): python-on-whales's `stop(time=<int>)` passes no --time at all.
    """
    box: dict = {}
    worker = None
    if during is not None:
        worker = threading.Thread(target=lambda: box.setdefault("r", during()), daemon=True)
        worker.start()
        time.sleep(lead_s)
    since = datetime.now() - timedelta(seconds=1)
    t = time.perf_counter()
    try:
        client.container.stop(container)
    except DockerException:
        pass
    wall = time.perf_counter() - t
    if worker is not None:
        worker.join(join_s)
    engine_seconds, signals = stop_events(client, container.id, since)
    return Stopped(
        seconds=round(engine_seconds if engine_seconds is not None else wall, 3),
        wall_seconds=round(wall, 3),
        exit_code=state_of(container).exit_code,
        during=box.get("r"),
        signals=signals,
    )
