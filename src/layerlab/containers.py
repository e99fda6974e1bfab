"""Run a container with a time limit, resource limits and the course label; time it."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass

from python_on_whales.exceptions import DockerException

from . import engine, labels, replay


@dataclass
class RunResult:
    image: str
    command: list[str]
    exit_code: int
    output: str  # stdout and stderr together, cut to max_output characters
    seconds: float  # from start to exit
    oom_killed: bool = False
    timed_out: bool = False
    platform: str | None = None
    replayed: dict | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunResult":
        return cls(**d)


def _key(image, command=None, **kw) -> str:
    return f"{image}|{' '.join(command or [])}|platform={kw.get('platform')}|memory={kw.get('memory')}"


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
) -> RunResult:
    """Start `image`, wait at most `timeout` seconds, return what happened. Never leaves the container behind.

    `hardened` drops every capability and forbids privilege escalation: for
    code we did not write (the grader runs students' images).
    """
    client = engine.require()
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
        cap_drop=["ALL"] if hardened else [],
        security_options=["no-new-privileges"] if hardened else [],
    )
    timed_out = False
    try:
        start = time.perf_counter()
        client.container.start(container)
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
        output = client.container.logs(container)
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
        )
    finally:
        try:
            client.container.remove(container, force=True)
        except DockerException:
            pass


# Lessons record and replay their runs; the grader calls run_live, which never replays.
run = replay.replayable("run", _key, RunResult)(run_live)


def _wait_quietly(client, container) -> None:
    try:
        client.container.wait(container)
    except DockerException:
        pass
