"""Where the course lives and what the environment asks for: every LAYERLAB_* variable, typed, in one place.

Each variable is read when asked, never cached at import: the CLI sets
LAYERLAB_RECORD for `layerlab run --record`, lessons run headless under nbval,
tests set them with monkeypatch.

| variable                 | what it does                                                        |
|--------------------------|---------------------------------------------------------------------|
| LAYERLAB_REPLAY=1        | never call the engine: return recorded results                      |
| LAYERLAB_RECORD=1        | call the engine and record each result under the replay folder      |
| LAYERLAB_REPLAY_DIR      | where recorded results live (default: replays/ in the repository)   |
| LAYERLAB_CACHE           | the cache folder (default: $XDG_CACHE_HOME/layerlab)                |
| LAYERLAB_ENGINE          | the engine command, docker or podman (default: whichever exists)    |
| LAYERLAB_OFFLINE=1       | never probe a registry: build stand-ins                             |
| LAYERLAB_DEBIAN_MIRROR   | debootstrap's mirror                                                |
| LAYERLAB_CA_BUNDLE       | the CA bundle the stand-ins carry                                   |
| LAYERLAB_LOG_DIR         | where build logs go (default: build/logs, else the cache)           |
| LAYERLAB_HEADLESS=1      | nobody watches: no live progress line (CI=true does the same)       |
| LAYERLAB_REGISTRY_PORT   | the local registry's port (default 5000)                            |
| LAYERLAB_REGISTRY_API    | host:port where this process reaches that registry, when the engine |
|                          | runs elsewhere (default 127.0.0.1:PORT; an engine VM sets it)       |
| LAYERLAB_REGISTRY_BIND   | the address the registry publishes on, on the engine's machine      |
|                          | (default 127.0.0.1; an engine VM sets 0.0.0.0, behind its NAT)      |
| LAYERLAB_VM_KERNEL       | a VM kernel to boot instead of Debian's cloud kernel                |
| LAYERLAB_VM_ACCEL        | kvm or tcg: force the VM's accelerator                              |
| LAYERLAB_BASE_<NAME>     | the image a lesson uses for base NAME (PYTHON_SLIM, ...)            |
| LAYERLAB_WORKSPACE       | the devcontainer's workspace folder, as the devcontainer names it   |
| LAYERLAB_HOST_WORKSPACE  | the same folder as the engine's host names it (for bind mounts)     |
| LAYERLAB_GRADE_JOB       | a label value for all a grading makes (set by `layerlab grade-many`) |
| LAYERLAB_TIME_FACTOR     | multiplies grading time limits, for an engine slower than the ones  |
|                          | they were sized on (an emulated VM; default 1)                      |
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from layerlab.ground.errors import BadSetting

# src/layerlab/ground/settings.py -> the repository (an editable install; a wheel has no course files).
REPO: Path = Path(__file__).resolve().parents[3]
COURSE_FILE: Path = REPO / "course.yml"
# Written at the root of a student release (`layerlab release --student`): the answers are not in this copy.
STUDENT_MARKER = "student-release.json"

ReplayMode = Literal["live", "record", "replay"]
HEADLESS_ENV = "LAYERLAB_HEADLESS"
LOG_DIR_ENV = "LAYERLAB_LOG_DIR"
# .devcontainer/devcontainer.json sets both (containerEnv); engine/hostpath.py maps one onto the other.
WORKSPACE_ENV = "LAYERLAB_WORKSPACE"
HOST_WORKSPACE_ENV = "LAYERLAB_HOST_WORKSPACE"
GRADE_JOB_ENV = "LAYERLAB_GRADE_JOB"


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def _flag(name: str) -> bool:
    return os.environ.get(name) == "1"


def replay_mode() -> ReplayMode:
    if _flag("LAYERLAB_REPLAY"):
        return "replay"
    if _flag("LAYERLAB_RECORD"):
        return "record"
    return "live"


def student_release(root: Path = REPO) -> bool:
    """Whether `root` is a student release: a copy of the course without solutions, fixtures or answers."""
    return (root / STUDENT_MARKER).is_file()


def replay_dir() -> Path:
    return Path(_env("LAYERLAB_REPLAY_DIR") or REPO / "replays")


def user_cache() -> Path:
    """$XDG_CACHE_HOME, else ~/.cache."""
    return Path(_env("XDG_CACHE_HOME") or Path.home() / ".cache")


def cache_dir() -> Path:
    """What the course keeps between runs: debootstrap tarballs, inspect results, the VM kernel."""
    return Path(_env("LAYERLAB_CACHE") or user_cache() / "layerlab")


def engine_override() -> str | None:
    return _env("LAYERLAB_ENGINE")


def offline() -> bool:
    return _flag("LAYERLAB_OFFLINE")


def debian_mirror() -> str:
    return _env("LAYERLAB_DEBIAN_MIRROR") or "http://deb.debian.org/debian"


def ca_bundle() -> Path:
    return Path(_env("LAYERLAB_CA_BUNDLE") or "/etc/ssl/certs/ca-certificates.crt")


def log_dir() -> Path:
    """$LAYERLAB_LOG_DIR, else build/logs in a writable repository, else the user's cache."""
    if env := _env(LOG_DIR_ENV):
        return Path(env)
    if COURSE_FILE.exists() and os.access(REPO, os.W_OK):
        return REPO / "build" / "logs"
    return user_cache() / "layerlab" / "logs"


def headless() -> bool:
    """Headless execution (nbval, `layerlab run`, CI): nobody watches a live line."""
    return (os.environ.get(HEADLESS_ENV, "").lower() in ("1", "true", "yes")) or os.environ.get("CI") == "true"


def registry_port() -> int:
    return int(_env("LAYERLAB_REGISTRY_PORT") or "5000")


def registry_api() -> str:
    """host:port of the registry's API as this process reaches it. The engine pushes to localhost:PORT on its
    own machine; when that machine is a VM, this process reaches the registry through a forwarded port."""
    return _env("LAYERLAB_REGISTRY_API") or f"127.0.0.1:{registry_port()}"


def registry_bind() -> str:
    """The address the registry container publishes on: loopback, unless the engine's machine is a VM whose
    loopback this process cannot reach (its NAT keeps it private)."""
    return _env("LAYERLAB_REGISTRY_BIND") or "127.0.0.1"


def time_factor() -> float:
    """How many times slower than the machines course.yml's time limits were sized on this engine is: an engine in
    an emulated VM translates every instruction. Limits are multiplied by it, never shortened."""
    raw = _env("LAYERLAB_TIME_FACTOR")
    try:
        factor = float(raw) if raw else 1.0
    except ValueError:
        factor = 0.0
    if not 1.0 <= factor <= 100.0:
        raise BadSetting(f"LAYERLAB_TIME_FACTOR={raw!r}: want a number from 1 to 100")
    return factor


def grade_job() -> str | None:
    """The job `layerlab grade-many` gave this grading: every resource it makes carries it as a label, so a
    grading killed at its time limit is cleaned up from outside. Letters, digits, '-' and '_' only."""
    job = _env(GRADE_JOB_ENV)
    if job is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", job):
        raise BadSetting(f"{GRADE_JOB_ENV}={job!r}: want 1-64 letters, digits, '-' or '_'")
    return job


def vm_kernel() -> Path | None:
    env = _env("LAYERLAB_VM_KERNEL")
    return Path(env) if env else None


def vm_accel() -> Literal["kvm", "tcg"] | None:
    forced = _env("LAYERLAB_VM_ACCEL")
    return "kvm" if forced == "kvm" else "tcg" if forced == "tcg" else None


def base_override(key: str) -> str | None:
    """LAYERLAB_BASE_<KEY>: the image a lesson uses for a base, instead of the official name."""
    return _env(f"LAYERLAB_BASE_{key}")


def devcontainer_workspace() -> tuple[str, str] | None:
    """(inside, on the host): both names of the devcontainer's workspace; None outside a devcontainer."""
    inside, host = _env(WORKSPACE_ENV), _env(HOST_WORKSPACE_ENV)
    return (inside, host) if inside and host else None
