"""Lesson 08's measurements of a running compose project: requests from inside its network, files in its volumes.

A probe is a throwaway container on the project's network, so it reaches the
services by name exactly as they reach each other; it carries the course label
and is removed when it ends.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from pydantic import Field
from python_on_whales.exceptions import DockerException

from layerlab import engine
from layerlab.engine import bootstrap, catalogue, hostpath, labels, replay
from layerlab.engine.compose import Project
from layerlab.engine.result import Replayable

REDIS = "redis:8"
REDIS_STANDIN = catalogue.BaseImage(REDIS, "redis.Dockerfile", "debian:trixie-slim", "redis from Debian's redis-server package")


class Image(Replayable):
    ref: str
    standin: bool  # built from Debian's package because no registry answered
    version: str  # what `redis-server --version` says


def ensure_redis_live(say: Callable[[str], None] = print) -> Image:
    """redis:8, pulled online or built offline as a labelled stand-in from Debian trixie's redis-server."""
    bootstrap.ensure_service_image(REDIS_STANDIN, "Debian's redis-server package (once, under a minute)", say)
    client = engine.require()
    standin = (client.image.inspect(REDIS).config.labels or {}).get(labels.STANDIN) == "true"
    version = client.container.run(REDIS, ["redis-server", "--version"], remove=True, pull="never",
                                   labels=labels.course_labels("08"), networks=["none"]).strip()
    return Image(ref=REDIS, standin=standin, version=version)


ensure_redis = replay.replayable("redis-image", lambda say=print: REDIS, Image)(ensure_redis_live)


def _run(image: str, network: str, script: str, volumes: list[tuple[str, str, str]] | None = None,
         timeout: float = 120) -> str:
    c = engine.require()
    try:
        return c.container.run(image, ["python", "-c", script], networks=[network], volumes=volumes or [], remove=True,
                               labels=labels.course_labels("08"), pull="never", stop_timeout=int(timeout))
    except DockerException as e:
        raise RuntimeError(f"probe failed: {(e.stderr or str(e)).strip()[-400:]}") from None


PROBE = r"""
import json, sys, time, urllib.request
url, limit = sys.argv[1], float(sys.argv[2])
failed, start, status, body = 0, time.monotonic(), None, ""
while time.monotonic() - start < limit:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            status, body = r.status, r.read().decode()
            break
    except Exception as e:  # refused, name not found, reset: all mean "not serving yet"
        failed += 1
        time.sleep(0.2)
print(json.dumps({"failed": failed, "seconds": round(time.monotonic() - start, 2), "status": status, "body": body}))
"""


class Probe(Replayable):
    url: str
    failed: int  # requests that got no answer before the first one did
    seconds: float  # from the first request to the first answer
    status: int | None
    body: str


def probe_live(p: Project, url: str, image: str, limit_s: float = 60) -> Probe:
    """Request `url` from inside the project's network every 0.2 s until it answers (or `limit_s` passes)."""
    c = engine.require()
    try:
        out = c.container.run(image, ["python", "-c", PROBE, url, str(limit_s)], networks=[p.network], remove=True,
                              labels=labels.course_labels("08"), pull="never")
    except DockerException as e:
        raise RuntimeError(f"the probe did not run: {(e.stderr or str(e)).strip()[-400:]}") from None
    return Probe(url=url, **json.loads(out.strip().splitlines()[-1]))


probe = replay.replayable("compose-probe", lambda p, url, image, limit_s=60: f"{p.name}|{url}", Probe)(probe_live)


class VolumeFiles(Replayable):
    volume: str
    exists: bool
    files: list[str] = Field(default_factory=list)


def volume_files_live(volume: str, image: str) -> VolumeFiles:
    """The files in a named volume, listed by a container that mounts it read-only; exists=False when it is gone."""
    c = engine.require()
    if not c.volume.exists(volume):
        return VolumeFiles(volume=volume, exists=False)
    out = c.container.run(image, ["find", "/v", "-type", "f"], volumes=[(volume, "/v", "ro")], remove=True,
                          labels=labels.course_labels("08"), pull="never", networks=["none"])
    return VolumeFiles(volume=volume, exists=True, files=sorted(line[len("/v"):] for line in out.split() if line))


volume_files = replay.replayable("compose-volume", lambda volume, image: volume, VolumeFiles)(volume_files_live)


class Owners(Replayable):
    """Who owns, on the host, the files that containers wrote into a bind-mounted folder."""

    folder: str
    uids: dict[str, int]  # file name -> owner uid as the host sees it
    host_uid: int


def owners_live(folder: str) -> Owners:
    engine.require()
    d = Path(folder)
    return Owners(folder=folder, uids={f.name: f.stat().st_uid for f in sorted(d.iterdir())}, host_uid=os.getuid())


owners = replay.replayable("compose-owners", lambda folder: "bind", Owners)(owners_live)


def empty_folder(folder: str, image: str) -> None:
    """Delete what containers wrote into a bind mount: files owned by root need a root container to go."""
    if replay.mode() == "replay":
        return  # a replayed lesson wrote nothing
    try:
        c = engine.require()
    except engine.EngineUnavailable:
        return
    c.container.run(image, ["sh", "-c", "rm -rf /out/* /out/.[!.]*"], volumes=[(hostpath.host_path(folder), "/out")],
                    remove=True, labels=labels.course_labels("08"), pull="never", networks=["none"])


SPREAD = r"""
import json, socket, sys, urllib.request
n = int(sys.argv[1])
ips = sorted({a[4][0] for a in socket.getaddrinfo("api", 8000, proto=socket.IPPROTO_TCP)})
seen = []
for i in range(n):
    with urllib.request.urlopen(f"http://{ips[i % len(ips)]}:8000/hits", timeout=5) as r:
        seen.append(json.loads(r.read()))
ys = []
for ip in ips:
    with urllib.request.urlopen(f"http://{ip}:8000/predict?x=2.5", timeout=5) as r:
        ys.append(json.loads(r.read())["y"])
print(json.dumps({"ips": ips, "hits": seen, "predictions": ys}))
"""


class Spread(Replayable):
    """n requests spread over every replica of `api`, which each resolve by the service's one name."""

    replicas: int  # addresses the name `api` resolved to
    requests: int
    per_replica: dict[str, int]  # container host name -> requests it counted in its own memory
    shared: int  # the counter kept in redis after the n requests
    predictions: list[float]  # /predict?x=2.5 from each replica


def spread_live(p: Project, image: str, n: int = 30) -> Spread:
    c = engine.require()
    try:
        out = c.container.run(image, ["python", "-c", SPREAD, str(n)], networks=[p.network], remove=True,
                              labels=labels.course_labels("08"), pull="never")
    except DockerException as e:
        raise RuntimeError(f"the client did not run: {(e.stderr or str(e)).strip()[-400:]}") from None
    r = json.loads(out.strip().splitlines()[-1])
    per: dict[str, int] = {}
    for h in r["hits"]:
        per[h["host"]] = max(per.get(h["host"], 0), h["process"])
    return Spread(replicas=len(r["ips"]), requests=n, per_replica=per, shared=max(h["shared"] or 0 for h in r["hits"]), predictions=r["predictions"])


spread = replay.replayable("compose-spread", lambda p, image, n=30: f"{p.name}|{n}", Spread)(spread_live)
