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
from layerlab.engine import info as engine_info
from layerlab.engine.compose import Project
from layerlab.engine.result import Replayable


def run_script(p: Project, image: str, script: str, args: list[str]) -> str:
    """What a Python `script` printed, run in `image` on the project's network (the caller parses it)."""
    c = engine.require()
    try:
        return str(
            c.container.run(
                image,
                ["python", "-c", script, *args],
                networks=[p.network],
                remove=True,
                labels=labels.course_labels(p.module),
                pull="never",
            )
        )
    except DockerException as e:
        raise RuntimeError(f"the script did not run: {(e.stderr or str(e)).strip()[-400:]}") from None


def seed_volume(project: str, volume: str, image: str, script: str, extra_labels: dict[str, str]) -> None:
    """The project's named volume `volume` as an earlier run left it, before the project's first `up`: `script`
    runs as root in `image` with the volume at /seed. It carries compose's own labels, so `up` takes it for the
    project's volume and, finding it not empty, copies nothing from the image into it."""
    c = engine.require()
    name = f"{project}_{volume}"
    try:
        c.volume.create(
            name,
            labels={"com.docker.compose.project": project, "com.docker.compose.volume": volume, **extra_labels},
        )
        c.container.run(
            image,
            ["sh", "-c", script],
            volumes=[(name, "/seed")],
            user="0",
            remove=True,
            labels=extra_labels,
            pull="never",
        )
    except DockerException as e:
        raise RuntimeError(f"the volume {name} could not be prepared: {(e.stderr or str(e)).strip()[-400:]}") from None


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
    out = c.container.run(
        image,
        ["find", "/v", "-type", "f"],
        volumes=[(volume, "/v", "ro")],
        remove=True,
        labels=labels.course_labels(p.module),
        pull="never",
        networks=["none"],
    )
    return VolumeFiles(volume=volume, exists=True, files=sorted(line[len("/v") :] for line in out.split() if line))


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
    c.container.run(
        image,
        ["sh", "-c", "rm -rf /out/* /out/.[!.]*"],
        volumes=[(hostpath.host_path(folder), "/out")],
        remove=True,
        labels=labels.course_labels(p.module),
        pull="never",
        networks=["none"],
    )


class EngineMode(Replayable):
    """What decides who owns, on the host, what a container's root writes to a bind mount; and the version."""

    server_version: str
    rootless: bool  # rootless Docker or Podman: the container's root is the user who started the engine
    userns_remap: bool  # dockerd --userns-remap: the container's root is a subordinate uid of the host
    desktop: bool  # Docker Desktop: the files cross a VM's file sharing, which shows them as the user's

    @property
    def rootful_linux(self) -> bool:
        """The container's root is the host's root: a file it writes to a bind mount is owned by uid 0."""
        return not (self.rootless or self.userns_remap or self.desktop)

    @property
    def major(self) -> int:
        head = self.server_version.split(".", 1)[0]
        return int(head) if head.isdigit() else 0


def engine_mode_live() -> EngineMode:
    raw_info, raw_version = engine_info.ask(engine.require())
    parsed = engine_info.parse(raw_info, raw_version)
    security = [str(s) for s in raw_info.get("SecurityOptions") or []]
    return EngineMode(
        server_version=parsed.server_version or "?",
        rootless=parsed.rootless,
        userns_remap=any("name=userns" in s for s in security),
        desktop="Docker Desktop" in (parsed.operating_system or ""),
    )


engine_mode = replay.replayable("engine-mode", lambda: "mode", EngineMode)(engine_mode_live)


RIGHTS = r"""
import json, os, shutil, sys
out, target, folder = sys.argv[1], sys.argv[2], sys.argv[3]
def attempt(action):
    try:
        action()
        return "ok"
    except OSError as e:
        return e.strerror or type(e).__name__
edit = attempt(lambda: open(os.path.join(out, target), "a").write("mine"))
delete = attempt(lambda: os.remove(os.path.join(out, target)))
clean = attempt(lambda: shutil.rmtree(os.path.join(out, folder)))
print(json.dumps({"uid": os.getuid(), "edit": edit, "delete": delete, "clean": clean}))
"""


class Rights(Replayable):
    """What a non-root user could do with root's file and root's folder in a bind mount it may write to."""

    uid: int
    edit: str  # "ok" or the error, e.g. "Permission denied"
    delete: str
    clean: str  # remove a folder root created, with what root wrote in it


def rights_live(p: Project, folder: str, image: str, user: str, target: str, subfolder: str) -> Rights:
    """As `user` (uid:gid), try to append to `target`, delete it, and remove `subfolder`, in the host `folder`."""
    c = engine.require()
    out = c.container.run(
        image,
        ["python", "-c", RIGHTS, "/out", target, subfolder],
        user=user,
        remove=True,
        volumes=[(hostpath.host_path(folder), "/out")],
        labels=labels.course_labels(p.module),
        pull="never",
        networks=["none"],
    )
    return Rights(**json.loads(str(out).strip().splitlines()[-1]))


rights = replay.replayable("compose-rights", lambda p, folder, image, user, *a: user, Rights)(rights_live)
