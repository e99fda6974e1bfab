"""What a submission's compose file may reach: its own folder, nothing else of the grading machine.

A build sees only its context, a copy of the submission's folder (submission.py);
a compose file could reach much further: compose itself reads the files it names
(`include`, `extends: {file}`, `env_file`) while it loads the file, and a service
can bind-mount any path, mount one through a volume's driver options, or share the
host's privileges, devices and namespaces. On a machine that grades a class, that
is another student's folder, the solutions, the autograder bundle.

`check_written` reads the file as the student wrote it, before compose loads it;
`check_config` reads what compose made of it (`compose config`: long syntax,
absolute paths). Each raises ComposeProblem for the first thing out of reach,
saying what to change; nothing has run yet.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from layerlab.ground.errors import LayerlabError

# A service's keys that hand it some of the machine: privileges, devices, the host's security settings.
HOST_KEYS = (
    "privileged",
    "cap_add",
    "devices",
    "device_cgroup_rules",
    "security_opt",
    "cgroup_parent",
    "userns_mode",
    "runtime",
    "gpus",
)
# Namespaces a service may share with the host (`host`) or another container (`container:NAME`).
NAMESPACES = ("network_mode", "pid", "ipc", "uts", "cgroup")
STAY = "keep the stack to the exercise folder: name files inside it, use named volumes, no host access"


class ComposeProblem(LayerlabError):
    """The compose file cannot be run as it is; `detail` says why, `hint` what to change."""

    def __init__(self, detail: str, hint: str):
        super().__init__(detail)
        self.detail, self.hint = detail, hint


def _inside(path: str, folder: Path) -> bool:
    """Whether `path` (relative to the folder, or absolute) names something inside it. A path compose would
    expand first (`~`, `${VAR}`) cannot be judged here, so it is not inside."""
    if not path or path.startswith("~") or "$" in path:
        return False
    root = folder.resolve()
    target = Path(os.path.normpath(root / path))  # the name, then where a link inside points
    resolved = target.resolve()
    return all(p == root or root in p.parents for p in (target, resolved))


def _paths(value: Any) -> list[str]:
    """The paths of an `env_file` (a string, a list of strings or of {path: ...})."""
    items = value if isinstance(value, list) else [value]
    return [str(i.get("path", "")) if isinstance(i, dict) else str(i) for i in items]


def check_written(written: dict[str, Any], folder: Path, name: str) -> None:
    """The file as written: what compose would read from elsewhere while loading it."""
    if "include" in written:
        raise ComposeProblem(
            f"{name} includes other compose files (`include`): grading reads one file", "put the whole stack in it"
        )
    for svc_name, svc in (written.get("services") or {}).items():
        if not isinstance(svc, dict):
            continue
        ext = svc.get("extends")
        if isinstance(ext, dict) and "file" in ext and not _inside(str(ext["file"]), folder):
            raise ComposeProblem(f"service {svc_name} extends {ext['file']}, a file outside the exercise folder", STAY)
        for p in _paths(svc.get("env_file")) if svc.get("env_file") is not None else []:
            if not _inside(p, folder):
                raise ComposeProblem(f"service {svc_name} reads env_file {p}, outside the exercise folder", STAY)


def check_config(cfg: dict[str, Any], folder: Path, name: str) -> None:
    """What compose made of the file: mounts, privileges, namespaces and files its services would get."""
    for svc_name, svc in (cfg.get("services") or {}).items():
        for key in HOST_KEYS:
            if svc.get(key):
                raise ComposeProblem(f"service {svc_name} asks for `{key}`: graded stacks get no host access", STAY)
        for key in NAMESPACES:
            mode = str(svc.get(key) or "")
            if mode == "host" or mode.startswith("container:"):
                raise ComposeProblem(f"service {svc_name} shares a namespace ({key}: {mode}) outside its project", STAY)
        for source in svc.get("volumes_from") or []:
            if str(source).startswith("container:"):
                raise ComposeProblem(f"service {svc_name} takes the volumes of {source}, outside its project", STAY)
        for v in svc.get("volumes") or []:
            kind, source = (v.get("type"), str(v.get("source") or "")) if isinstance(v, dict) else ("bind", str(v))
            if kind == "bind" and not _inside(source, folder):
                raise ComposeProblem(f"service {svc_name} bind-mounts {source}, outside the exercise folder", STAY)
            if kind not in ("bind", "volume", "tmpfs"):
                raise ComposeProblem(f"service {svc_name} mounts a {kind}: graded stacks use named volumes", STAY)
    for vol_name, vol in (cfg.get("volumes") or {}).items():
        vol = vol or {}
        if vol.get("driver_opts") or vol.get("driver") not in (None, "local"):
            raise ComposeProblem(
                f"volume {vol_name} sets a driver or driver_opts (which can mount a path of this machine)", STAY
            )
    for net_name, net in (cfg.get("networks") or {}).items():
        if (net or {}).get("driver") not in (None, "bridge"):
            raise ComposeProblem(f"network {net_name} uses the {net['driver']} driver: graded stacks use bridge", STAY)
    for kind in ("secrets", "configs"):
        for item_name, item in (cfg.get(kind) or {}).items():
            item = item or {}
            if "environment" in item:
                raise ComposeProblem(f"{kind[:-1]} {item_name} reads this machine's environment", STAY)
            if "file" in item and not _inside(str(item["file"]), folder):
                raise ComposeProblem(f"{kind[:-1]} {item_name} is the file {item['file']}, outside the folder", STAY)
