"""Compose projects, driven through python-on-whales: up with a time limit, down, what a project left behind.

Every project the course starts is named `layerlab-...` and its compose file
labels each service, network and volume with the course label, so `layerlab
clean` finds them. `Project.labelled()` checks that before anything starts.
The results are typed models that record and replay (lesson 08 on Binder).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from layerlab import engine
from layerlab.engine import build, containers, labels, replay
from layerlab.engine.result import Replayable, Result
from layerlab.ground.errors import LayerlabError, NotFound

PREFIX = "layerlab-"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


class ComposeError(LayerlabError, RuntimeError):
    """A compose command failed; the message is compose's own last lines."""


def why(e: Exception, lines: int = 3) -> str:
    text = (getattr(e, "stderr", None) or str(e)).strip()
    return " | ".join(line.strip() for line in text.splitlines()[-lines:]) or type(e).__name__


def version() -> str | None:
    """compose's version, or None when the engine's client has no compose (v2) plugin."""
    try:
        return engine.client().compose.version()
    except DockerException:
        return None


@dataclass
class Project:
    """A compose file (or several) run under one project name."""

    name: str
    files: list[str | Path]  # kept as str
    env: dict[str, str] = field(default_factory=dict)  # for ${VAR} in the files
    module: str | None = None  # the lesson whose project it is: the containers that probe it carry its label

    def __post_init__(self) -> None:
        if not self.name.startswith(PREFIX):
            raise ValueError(f"a course project's name starts with {PREFIX!r} (got {self.name!r})")
        self.files = [str(f) for f in self.files]

    def client(self, profiles: list[str] | None = None) -> DockerClient:
        env_files: list[str | Path] = []
        if self.env:
            # python-on-whales passes the variables as an --env-file; one file per project, rewritten each time.
            f = Path(tempfile.gettempdir()) / f"{self.name}.env"
            f.write_text("".join(f"{k}={v}\n" for k, v in self.env.items()), encoding="utf-8")
            env_files = [str(f)]
        base = engine.client().client_config
        return DockerClient(
            client_call=base.client_call,
            host=base.host,
            compose_files=self.files,
            compose_project_name=self.name,
            compose_env_files=env_files,
            compose_profiles=profiles or [],
        )

    def config(self) -> dict:
        """The files as compose reads them (`docker compose config`): raises ComposeError when they do not parse."""
        try:
            return self.client().compose.config(return_json=True)
        except DockerException as e:
            raise ComposeError(why(e)) from None

    def unlabelled(self) -> list[str]:
        """Services, networks and volumes of the files that lack the course label ([] when all carry it)."""
        cfg = self.config()
        out = []
        for kind in ("services", "networks", "volumes"):
            for name, spec in (cfg.get(kind) or {}).items():
                if (spec or {}).get("labels", {}).get(labels.MANAGED) != labels.MANAGED_VALUE:
                    out.append(f"{kind[:-1]} {name}")
        return out

    @property
    def network(self) -> str:
        return f"{self.name}_default"


class Up(Replayable):
    project: str
    ok: bool
    seconds: float
    error: str = ""
    scales: dict[str, int] = Field(default_factory=dict)


def _stop(project: str) -> None:
    """Stop the `docker compose ... up` of `project`: a wait that outlived its limit."""
    build.stop_processes(project.encode(), b"compose", b"up")


def not_serving(p: Project | str) -> list[str]:
    """Containers that `up --wait` should not have let through: unhealthy or still starting, restarting, failed."""
    bad = []
    for s in ps_live(p, log_lines=0).services:
        if s.state == "exited" and s.exit_code != 0:
            bad.append(f"{s.service} exited {s.exit_code}")
        elif s.state not in ("running", "exited"):
            bad.append(f"{s.service} is {s.state}")
        elif s.state == "running" and s.health not in (None, "healthy"):
            bad.append(f"{s.service} is {s.health}: its health check has not passed")
    return bad


def up_live(p: Project, *, wait: bool = True, timeout_s: int = 120, scales: dict[str, int] | None = None) -> Up:
    """`compose up -d [--wait --wait-timeout N]`, timed; a failure is a result (ok=False), not an exception.

    compose counts --wait-timeout from when the dependencies are done, so a watchdog stops the
    command at timeout_s in all; and compose 2.26 sometimes returns 0 while a service is still
    `starting`, so a wait is only ok when every container really serves (or exited 0).
    """
    engine.require()
    missing = p.unlabelled()
    if missing:
        raise ComposeError(f"{p.name}: not labelled {labels.MANAGED}={labels.MANAGED_VALUE}: {', '.join(missing)}")
    start = time.perf_counter()
    watchdog = threading.Timer(timeout_s + 2, _stop, args=(p.name,))
    watchdog.daemon = True
    if wait:
        watchdog.start()
    try:
        p.client().compose.up(
            detach=True,
            wait=wait,
            wait_timeout=timeout_s if wait else None,
            scales=scales or {},
            pull="never",
            quiet=True,
            color=False,
        )
    except DockerException as e:
        seconds = round(time.perf_counter() - start, 2)
        stopped = f"stopped at the limit of {timeout_s} s" if seconds >= timeout_s else ""
        return Up(
            project=p.name,
            ok=False,
            seconds=seconds,
            error="; ".join(x for x in (stopped, why(e)) if x),
            scales=scales or {},
        )
    finally:
        watchdog.cancel()
    seconds = round(time.perf_counter() - start, 2)
    if wait and (bad := not_serving(p)):
        return Up(
            project=p.name,
            ok=False,
            seconds=seconds,
            error=f"up --wait returned but {'; '.join(bad)}",
            scales=scales or {},
        )
    return Up(project=p.name, ok=True, seconds=seconds, error="", scales=scales or {})


class Resources(Replayable):
    """What of a project exists in the engine now, by compose's project label."""

    project: str
    containers: list[str] = Field(default_factory=list)
    networks: list[str] = Field(default_factory=list)
    volumes: list[str] = Field(default_factory=list)
    # Anonymous volumes the project's containers had mounted (redis's VOLUME /data) that still exist: they
    # carry neither the project's label nor the course's, so only the containers that mounted them say whose.
    anonymous: list[str] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.containers or self.networks or self.volumes or self.anonymous)


def resources_live(name: str) -> Resources:
    c = engine.require()
    flt = labels.label_filter(PROJECT_LABEL, name)
    return Resources(
        project=name,
        containers=sorted(x.name for x in c.container.list(all=True, filters=flt)),
        networks=sorted(x.name for x in c.network.list(filters=flt)),
        volumes=sorted(x.name for x in c.volume.list(filters=flt)),
    )


class Down(Replayable):
    project: str
    volumes: bool  # was it `down -v`?
    seconds: float
    left: Resources


def down_live(p: Project, *, volumes: bool = False, anonymous: bool = False) -> Down:
    """`compose down [-v]`: containers and networks go; named volumes only with volumes=True.

    anonymous=True also removes the anonymous volumes (an image's `VOLUME /data`,
    `volumes: [/models]`) the project's containers mounted while keeping the named
    ones: no later `up` can find an anonymous volume again, so keeping it only
    leaks disk. `left.anonymous` lists those still there afterwards, whichever was asked.
    """
    c = engine.require()
    mounted = anonymous_volumes(p.name)
    orphans = mounted if anonymous and not volumes else []
    start = time.perf_counter()
    try:
        p.client().compose.down(volumes=volumes, remove_orphans=True, timeout=5, quiet=True)
    except DockerException as e:
        raise ComposeError(f"compose down of {p.name} failed: {why(e)}") from None
    for v in orphans:
        try:
            c.volume.remove(v)
        except DockerException:
            pass  # already gone, or still in use by a container compose did not own
    seconds = round(time.perf_counter() - start, 2)
    left = resources_live(p.name)
    left.anonymous = [v for v in mounted if c.volume.exists(v)]
    return Down(project=p.name, volumes=volumes, seconds=seconds, left=left)


class Forgotten(Replayable):
    project: str
    volumes: list[str]  # the anonymous volumes removed


def forget_live(left: Resources) -> Forgotten:
    """Remove the anonymous volumes a `down` left (`left.anonymous`), and only those the engine marks anonymous."""
    c = engine.require()
    gone = []
    for v in left.anonymous:
        try:
            if "com.docker.volume.anonymous" in (c.volume.inspect(v).labels or {}):
                c.volume.remove(v)
                gone.append(v)
        except DockerException:
            pass  # gone already, or mounted by a container again
    return Forgotten(project=left.project, volumes=gone)


def anonymous_volumes(name: str) -> list[str]:
    """Volumes the project's containers mount that compose did not create by name."""
    c = engine.require()
    found = []
    for ct in c.container.list(all=True, filters=labels.label_filter(PROJECT_LABEL, name)):
        for m in ct.mounts or []:
            if m.type == "volume" and m.name and not (c.volume.inspect(m.name).labels or {}).get(PROJECT_LABEL):
                found.append(m.name)
    return sorted(set(found))


class Service(Result):
    service: str
    container: str
    state: str  # running, exited, restarting
    health: str | None
    exit_code: int | None
    restarts: int
    started_at: str
    finished_at: str
    published: list[str]  # "127.0.0.1:49153->8000/tcp"
    log: str


class Ps(Replayable):
    project: str
    services: list[Service]

    def of(self, service: str) -> list[Service]:
        return [s for s in self.services if s.service == service]

    def one(self, service: str) -> Service:
        found = self.of(service)
        if len(found) != 1:
            raise NotFound(f"{len(found)} containers of service {service!r} in {self.project}")
        return found[0]


def ps_live(p: Project | str, log_lines: int = 20) -> Ps:
    """Every container of the project, stopped ones too, with its restarts, health and published ports."""
    c = engine.require()
    name = p if isinstance(p, str) else p.name
    out = []
    for x in c.container.list(all=True, filters=labels.label_filter(PROJECT_LABEL, name)):
        st = x.state
        ports = []
        for private, binds in (x.network_settings.ports or {}).items():
            ports += [f"{b['HostIp']}:{b['HostPort']}->{private}" for b in binds or []]
        try:
            log = "\n".join(containers.logs(c, x).splitlines()[-log_lines:]) if log_lines else ""
        except DockerException:
            log = ""
        out.append(
            Service(
                service=(x.config.labels or {}).get(SERVICE_LABEL, "?"),
                container=x.name,
                state=st.status or "?",
                health=st.health.status if st.health else None,
                exit_code=st.exit_code,
                restarts=x.restart_count or 0,
                started_at=str(st.started_at),
                finished_at=str(st.finished_at),
                published=sorted(ports),
                log=log,
            )
        )
    return Ps(project=name, services=sorted(out, key=lambda s: s.container))


def published(p: Project, service: str, port: int) -> str:
    """http://127.0.0.1:PORT for a service's published port (the engine chose PORT)."""
    host, hport = p.client().compose.port(service, port)
    if hport is None:
        raise ComposeError(f"{service}:{port} of {p.name} is not published")
    return f"http://{host}:{hport}"


class Config(Replayable):
    """A project's files as `docker compose config` resolves them (profiles applied), or why they do not parse."""

    project: str
    ok: bool
    error: str = ""
    config: dict = Field(default_factory=dict)


def config_live(p: Project, profiles: list[str] | None = None) -> Config:
    """`docker compose [--profile P] config`: validates the files without starting anything."""
    try:
        return Config(project=p.name, ok=True, config=p.client(profiles).compose.config(return_json=True))
    except DockerException as e:
        return Config(project=p.name, ok=False, error=why(e))


class Projects(Replayable):
    names: list[str]


def projects_live() -> Projects:
    """The course's compose projects that have containers, running or not (`compose ls -a`)."""
    engine.require()
    found = engine.client().compose.ls(all=True)
    return Projects(names=sorted(x.name for x in found if x.name and x.name.startswith(PREFIX)))


up = replay.replayable("compose-up", lambda p, **kw: f"{p.name}|{json.dumps(kw, sort_keys=True)}", Up)(up_live)
down = replay.replayable("compose-down", lambda p, **kw: f"{p.name}|{kw.get('volumes', False)}", Down)(down_live)
ps = replay.replayable("compose-ps", lambda p, log_lines=20: p if isinstance(p, str) else p.name, Ps)(ps_live)
projects = replay.replayable("compose-projects", lambda: "ls", Projects)(projects_live)
forget = replay.replayable("compose-forget", lambda left: left.project, Forgotten)(forget_live)
config = replay.replayable("compose-config", lambda p, profiles=None: f"{p.name}|{','.join(profiles or [])}", Config)(
    config_live
)


def run_jobs_live(p: Project, *, timeout_s: float = 60) -> Ps:
    """Start a project of one-shot jobs and wait until every container has exited (`up --wait` is for services)."""
    r = up_live(p, wait=False)
    if not r.ok:
        raise ComposeError(f"{p.name} did not start: {r.error}")
    deadline = time.monotonic() + timeout_s
    while True:
        now = ps_live(p)
        if now.services and all(s.state == "exited" for s in now.services):
            return now
        if time.monotonic() > deadline:
            raise ComposeError(f"{p.name}: jobs still running after {timeout_s:.0f} s")
        time.sleep(0.3)


run_jobs = replay.replayable("compose-jobs", lambda p, **kw: p.name, Ps)(run_jobs_live)
