"""Throwaway containers that look into a running compose project: a request from inside its network, the
files in its volumes, who owns what its services wrote to a bind mount, a script run beside its services.

A probe runs on the project's network, so it reaches the services by name exactly as they reach each
other; it carries the course label (and the project's module) and is removed when it ends.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import Field
from python_on_whales.exceptions import DockerException

from layerlab import engine
from layerlab.engine import hostpath, labels, replay
from layerlab.engine.compose import Project
from layerlab.engine.result import Replayable


def run_script(p: Project, image: str, script: str, args: list[str]) -> str:
    """What a Python `script` printed, run in `image` on the project's network (the caller parses it)."""
    c = engine.require()
    try:
        return str(c.container.run(image, ["python", "-c", script, *args], networks=[p.network], remove=True,
                                   labels=labels.course_labels(p.module), pull="never"))
    except DockerException as e:
        raise RuntimeError(f"the script did not run: {(e.stderr or str(e)).strip()[-400:]}") from None


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
    out = run_script(p, image, PROBE, [url, str(limit_s)])
    return Probe(url=url, **json.loads(out.strip().splitlines()[-1]))


probe = replay.replayable("compose-probe", lambda p, url, image, limit_s=60: f"{p.name}|{url}", Probe)(probe_live)


class VolumeFiles(Replayable):
    volume: str
    exists: bool
    files: list[str] = Field(default_factory=list)


def volume_files_live(p: Project, volume: str, image: str) -> VolumeFiles:
    """The files in the project's named `volume`, listed by a container that mounts it read-only; exists=False
    when it is gone."""
    c = engine.require()
    if not c.volume.exists(volume):
        return VolumeFiles(volume=volume, exists=False)
    out = c.container.run(image, ["find", "/v", "-type", "f"], volumes=[(volume, "/v", "ro")], remove=True,
                          labels=labels.course_labels(p.module), pull="never", networks=["none"])
    return VolumeFiles(volume=volume, exists=True, files=sorted(line[len("/v"):] for line in out.split() if line))


volume_files = replay.replayable("compose-volume", lambda p, volume, image: volume, VolumeFiles)(volume_files_live)


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


def empty_folder(p: Project, folder: str, image: str) -> None:
    """Delete what the project's containers wrote into a bind mount: files owned by root need a root container to go."""
    if replay.mode() == "replay":
        return  # a replayed lesson wrote nothing
    try:
        c = engine.require()
    except engine.EngineUnavailable:
        return
    c.container.run(image, ["sh", "-c", "rm -rf /out/* /out/.[!.]*"], volumes=[(hostpath.host_path(folder), "/out")],
                    remove=True, labels=labels.course_labels(p.module), pull="never", networks=["none"])
