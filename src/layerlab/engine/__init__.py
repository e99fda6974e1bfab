"""The engine layer: everything that talks to the container engine.

This package's own functions find the engine and say what it can do; its
modules build (`build`, `buildlog`, `progress`, and `dockerfile_syntax`, which
drops `# syntax=` for offline builds), run (`containers`, `compose`, `vm`, and
`compose_probes`, throwaway containers that look into a running compose project), hold images
(`images`, `catalogue`, the base and service images the course needs, `bootstrap`,
which makes them, `services`, `registry`), label and clean up (`labels`, `clean`,
and `cicache`, which forgets one CI run's build cache), and record or replay
every answer (`replay`).

The other layers ask it for results and facts. Outside this package, these
modules still call the client that `require()` or `client()` returns:
`measure/inspector.py` (image inspect and `docker save`), `measure/leaks.py`
(`docker save`), `grade/sandbox.py` (the grading run's containers, networks,
volumes and images) and `grade/runner.py` (`ship` removes its own tags).
`measure/isolation.py`, `measure/cuda.py`, `grade/runner.py` and `cli.py` call
`require()` only to check that an engine answers; `course/` calls neither.
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from pydantic import Field
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from layerlab.engine.result import Result
from layerlab.ground import settings
from layerlab.ground.errors import Unavailable
from layerlab.ground.text import last_line

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
REGISTRY_PROBE_URL = "https://registry-1.docker.io/v2/"

# Machine names as `uname -m` prints them, per OCI platform.
UNAME_BY_PLATFORM = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
PLATFORM_BY_UNAME = {v: k for k, v in UNAME_BY_PLATFORM.items()}
# qemu binfmt entry that lets this host run a foreign platform.
BINFMT_BY_PLATFORM = {"linux/arm64": "qemu-aarch64", "linux/amd64": "qemu-x86_64"}


class EngineUnavailable(Unavailable):
    """No engine answers; the message says what to do about it."""


def engine_command() -> str:
    """`docker`, or `podman` where that is all there is (LAYERLAB_ENGINE overrides)."""
    chosen = settings.engine_override()
    if chosen:
        return chosen
    if shutil.which("docker"):
        return "docker"
    if shutil.which("podman"):
        return "podman"
    return "docker"


@functools.lru_cache(maxsize=None)
def _client(command: str, host: str | None) -> DockerClient:
    return DockerClient(client_call=[command], host=host)


def client() -> DockerClient:
    """The python-on-whales client for the engine this process should use."""
    return _client(engine_command(), os.environ.get("DOCKER_HOST"))


def host_platform() -> str:
    return PLATFORM_BY_UNAME.get(platform.machine(), f"linux/{platform.machine()}")


def no_engine_help(detail: str) -> str:
    host = os.environ.get("DOCKER_HOST")
    where = f"at DOCKER_HOST={host}" if host else "on the default socket"
    lines = [f"No container engine answers {where}: {last_line(detail, 'no reply')}"]
    if host:
        lines.append("Fix: start the engine behind DOCKER_HOST, or unset DOCKER_HOST to use the local one.")
    else:
        lines.append("Fix: run `make test` or `make course` as root on Debian/Ubuntu (installs and starts one),")
        lines.append("     or start Docker Desktop / Docker Engine / `podman system service`, or open the devcontainer.")
    lines.append("Without an engine, lessons replay recorded runs (LAYERLAB_REPLAY=1).")
    return "\n".join(lines)


def require() -> DockerClient:
    """The client, after checking that the engine answers; raises EngineUnavailable otherwise."""
    c = client()
    try:
        c.version()
    except (DockerException, FileNotFoundError) as e:
        raise EngineUnavailable(no_engine_help(str(e))) from None
    return c


class EngineFacts(Result):
    """What the engine on this machine is and can do."""

    command: str
    reachable: bool
    error: str | None = None
    name: str | None = None  # "docker" or "podman"
    client_version: str | None = None
    server_version: str | None = None
    api_version: str | None = None
    buildx_version: str | None = None
    compose_version: str | None = None
    image_store: str | None = None  # "containerd" or "classic"
    storage_driver: str | None = None
    builder_platforms: list[str] = Field(default_factory=list)
    emulators: list[str] = Field(default_factory=list)
    host_platform: str = Field(default_factory=host_platform)
    runtimes: list[str] = Field(default_factory=list)
    gpu_runtime: bool = False
    gpu_device: bool = False
    cdi_specs: list[str] = Field(default_factory=list)  # NVIDIA CDI spec files (nvidia-ctk cdi generate)
    root_dir: str | None = None
    free_disk_bytes: int | None = None

    @property
    def multiplatform_load(self) -> bool:
        """Can `buildx build --platform a,b --load` keep both platforms? Only the containerd store can."""
        return self.name == "podman" or self.image_store == "containerd"


def image_store_from_driver_status(driver: str | None, driver_status: list | None) -> str:
    """Docker reports the containerd store as driver-type io.containerd.snapshotter.v1."""
    for pair in driver_status or []:
        if len(pair) == 2 and pair[0] == "driver-type" and "containerd.snapshotter" in str(pair[1]):
            return "containerd"
    return "classic"


def binfmt_emulators(binfmt_dir: Path = BINFMT_DIR) -> list[str]:
    """Enabled qemu entries in binfmt_misc, e.g. ['qemu-aarch64']."""
    found: list[str] = []
    if not binfmt_dir.is_dir():
        return found
    for entry in sorted(binfmt_dir.glob("qemu-*")):
        try:
            if entry.read_text().startswith("enabled"):
                found.append(entry.name)
        except OSError:
            continue
    return found


def binfmt_visible(binfmt_dir: Path = BINFMT_DIR) -> bool:
    """binfmt_misc is mounted here; in a container (the devcontainer too) it is not, whatever the host has."""
    return (binfmt_dir / "status").exists()


def registry_reachable(url: str = REGISTRY_PROBE_URL, timeout: float = 4.0) -> bool:
    """Any HTTP answer (Docker Hub says 401) means a registry is reachable."""
    if settings.offline():
        return False
    try:
        urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - fixed https URL
        return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, socket.timeout, ssl.SSLError, OSError):
        return False


CDI_DIRS = (Path("/etc/cdi"), Path("/var/run/cdi"))


def cdi_specs(dirs: tuple[Path, ...] = CDI_DIRS) -> list[str]:
    """CDI spec files that describe NVIDIA devices (what `--device nvidia.com/gpu=all` needs)."""
    found = []
    for d in dirs:
        for f in sorted(d.glob("*.y*ml")) + sorted(d.glob("*.json")) if d.is_dir() else []:
            try:
                if "nvidia.com/gpu" in f.read_text(errors="replace"):
                    found.append(str(f))
            except OSError:
                continue
    return found


def gpu_verdict(f: "EngineFacts") -> tuple[bool, str]:
    """Can this engine give a container a GPU, and why (not)."""
    nvidia = [r for r in f.runtimes if "nvidia" in r]
    if nvidia or f.cdi_specs:
        how = ", ".join([f"runtime {r}" for r in nvidia] + [f"CDI {c}" for c in f.cdi_specs])
        dev = "a GPU device is present" if f.gpu_device else "but no /dev/nvidiactl or nvidia-smi on this host"
        return f.gpu_device, f"{how}; {dev}"
    why = f"runtimes {', '.join(f.runtimes) or 'none'} (no nvidia), no CDI spec in {' or '.join(map(str, CDI_DIRS))}"
    if f.gpu_device:
        return False, why + "; a GPU is present: install the NVIDIA container toolkit"
    return False, why + "; no GPU device (/dev/nvidiactl) on this host"


def _gpu_device_present() -> bool:
    return Path("/dev/nvidiactl").exists() or shutil.which("nvidia-smi") is not None


def _cli_version(args: list[str]) -> str | None:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip().split("\n")[0] or None


def buildx_version_from_text(text: str | None) -> str | None:
    """'github.com/docker/buildx 0.13.1+ds1 0.13.1+ds1-3' -> '0.13.1+ds1'."""
    if not text:
        return None
    parts = text.split()
    return parts[1] if len(parts) >= 2 else parts[0]


def probe() -> EngineFacts:
    """Ask the engine what it is. Never raises: an unreachable engine is a fact too."""
    command = engine_command()
    facts = EngineFacts(command=command, reachable=False)
    if not shutil.which(command):
        facts.error = f"the `{command}` command is not installed"
        return facts
    c = client()
    try:
        version = c.version()
        info = c.info()
    except DockerException as e:
        facts.error = no_engine_help(str(e))
        return facts
    facts.reachable = True
    facts.name = "podman" if command == "podman" else "docker"
    facts.client_version = version.client.version if version.client else None
    if version.server:
        facts.server_version = version.server.version
        facts.api_version = version.server.api_version
    facts.storage_driver = info.driver
    facts.image_store = image_store_from_driver_status(info.driver, info.driver_status)
    facts.runtimes = sorted((info.runtimes or {}).keys())
    facts.cdi_specs = cdi_specs()
    facts.gpu_runtime = any("nvidia" in r for r in facts.runtimes) or bool(facts.cdi_specs)
    facts.gpu_device = _gpu_device_present()
    facts.root_dir = str(info.docker_root_dir) if info.docker_root_dir else None
    disk_path = facts.root_dir if facts.root_dir and Path(facts.root_dir).exists() else "/"
    facts.free_disk_bytes = shutil.disk_usage(disk_path).free
    facts.emulators = binfmt_emulators()
    if facts.name == "docker":
        facts.buildx_version = buildx_version_from_text(_cli_version([command, "buildx", "version"]))
        facts.compose_version = _cli_version([command, "compose", "version", "--short"])
        if facts.buildx_version:
            try:
                builder = c.buildx.inspect(bootstrap=True)
                facts.builder_platforms = sorted({p for n in (builder.nodes or []) for p in (n.platforms or [])})
            except DockerException:
                pass
        if not binfmt_visible():
            # Inside a container the host's binfmt_misc is out of sight, but the engine runs on the host:
            # BuildKit there listed the platforms it can run by executing a test binary for each.
            facts.emulators = sorted(e for p, e in BINFMT_BY_PLATFORM.items()
                                     if p in facts.builder_platforms and p != facts.host_platform)
    else:
        # Podman builds any platform that binfmt can run.
        facts.builder_platforms = sorted(
            {facts.host_platform} | {p for p, e in BINFMT_BY_PLATFORM.items() if e in facts.emulators}
        )
    return facts


def can_run_platform(facts: EngineFacts, plat: str) -> bool:
    """Native, or emulated through a qemu binfmt entry."""
    if plat == facts.host_platform:
        return True
    return BINFMT_BY_PLATFORM.get(plat) in facts.emulators
