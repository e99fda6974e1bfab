"""The engine layer: everything that talks to the container engine.

This package's own functions find the engine, say what it can do and name
it and its platform (`engine_label`, `platform_label`: the one spelling
of each); `info` reads the engine's own answers once, for what it can do
(`EngineFacts`, `probe`) and for `host`, the machine it runs on; `platforms`
is its native, foreign and emulated platforms, which lessons ask. Its
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
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from pydantic import Field
from python_on_whales import DockerClient
from python_on_whales.components.buildx.models import BuilderInspectResult
from python_on_whales.exceptions import DockerException

from layerlab.engine import info as engine_info
from layerlab.engine.info import ImageStore, image_store_from_driver_status  # noqa: F401 - engine.X for callers
from layerlab.engine.result import Result
from layerlab.ground import settings
from layerlab.ground.errors import Unavailable
from layerlab.ground.text import error_text, last_line

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
REGISTRY_PROBE_URL = "https://registry-1.docker.io/v2/"

# Machine names as `uname -m` prints them inside a Linux container, per OCI platform.
UNAME_BY_PLATFORM = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
# Every spelling of a machine name the course meets, as the OCI architecture it is: `uname -m` and
# `docker info` say x86_64 and aarch64, Windows' Python says AMD64, macOS says arm64.
OCI_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "x64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv8l": "arm64",
    "i386": "386",
    "i686": "386",
    "armv7l": "arm/v7",
}
# qemu binfmt entry that lets this host run a foreign platform.
BINFMT_BY_PLATFORM = {"linux/arm64": "qemu-aarch64", "linux/amd64": "qemu-x86_64"}


class EngineUnavailable(Unavailable):
    """No engine answers; the message says what to do about it, `reason` what the engine's client said."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message.splitlines()[0]


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


# Where scripts/setup-engine.sh records an engine it started on a socket of its own (Podman's), for the
# commands that run after it: make's next recipe, a kernel, a grading.
SETUP_ENGINE_ENV = Path("/etc/layerlab-engine.env")


def adopt_setup_host(env_file: Path = SETUP_ENGINE_ENV) -> None:
    """DOCKER_HOST from the set-up's record when nothing else set it, so every later docker call (ours and
    the CLI's in subprocesses) reaches the engine the set-up started."""
    if os.environ.get("DOCKER_HOST") or not env_file.is_file():
        return
    for line in env_file.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "DOCKER_HOST" and value.strip():
            os.environ["DOCKER_HOST"] = value.strip()


adopt_setup_host()


@functools.cache
def _client(command: str, host: str | None) -> DockerClient:
    return DockerClient(client_call=[command], host=host)


def client() -> DockerClient:
    """The python-on-whales client for the engine this process should use."""
    return _client(engine_command(), os.environ.get("DOCKER_HOST"))


def platform_label(machine: str) -> str:
    """The OCI platform a machine name stands for: 'x86_64' or 'AMD64' -> 'linux/amd64', 'aarch64' -> 'linux/arm64'.

    The one spelling of a platform in the course: a replay's meta, the doctor, the course page and the
    grader all compare and show `linux/arm64`, never `linux/aarch64`. Containers are Linux wherever the
    notebook runs (Docker Desktop runs them in a Linux VM), hence always `linux/`."""
    m = machine.strip()
    return f"linux/{OCI_ARCH.get(m.lower(), m.lower() or 'unknown')}"


def host_platform() -> str:
    """The platform of the machine this Python runs on, which builds default to."""
    return platform_label(platform.machine())


def engine_label(name: str, version: str | None, image_store: str | None = None) -> str:
    """'docker 26.1.5', or 'docker 26.1.5 (containerd image store)': how every page and replay names an engine."""
    label = f"{name} {version or '?'}"
    return f"{label} ({image_store} image store)" if image_store else label


def engine_name(command: str) -> str:
    """What kind of engine a command drives: 'podman', else 'docker' (the default engine command)."""
    return "podman" if command == "podman" else "docker"


def no_engine_help(detail: str) -> str:
    host = os.environ.get("DOCKER_HOST")
    where = f"at DOCKER_HOST={host}" if host else "on the default socket"
    lines = [f"No container engine answers {where}: {last_line(detail, 'no reply')}"]
    if host:
        lines.append("Fix: start the engine behind DOCKER_HOST, or unset DOCKER_HOST to use the local one.")
    else:
        lines.append("Fix: run `make test` or `make course` as root on Debian/Ubuntu (installs and starts one),")
        lines.append(
            "     or start Docker Desktop / Docker Engine / `podman system service`, or open the devcontainer."
        )
    lines.append("Without an engine, lessons replay recorded runs (LAYERLAB_REPLAY=1).")
    return "\n".join(lines)


def require() -> DockerClient:
    """The client, after checking that the engine answers; raises EngineUnavailable otherwise."""
    c = client()
    try:
        c.version()
    except (DockerException, FileNotFoundError) as e:
        # str() of python-on-whales' error ends with a quote line; the client's reason is on its stderr.
        said = error_text(e)
        raise EngineUnavailable(no_engine_help(said), reason=last_line(said, "no reply")) from None
    return c


class EngineFacts(Result):
    """What the engine is and can do (the doctor's checklist); what it runs on is `host.EngineHost`."""

    command: str
    reachable: bool
    error: str | None = None
    name: str | None = None  # "docker" or "podman"
    client_version: str | None = None
    server_version: str | None = None
    api_version: str | None = None
    buildx_version: str | None = None
    compose_version: str | None = None
    image_store: ImageStore | None = None
    storage_driver: str | None = None
    builder_name: str | None = None  # the current buildx builder ("default")
    builder_driver: str | None = None  # its driver: "docker" (the engine's own BuildKit) or "docker-container"
    builder_platforms: list[str] = Field(default_factory=list)
    emulators: list[str] = Field(default_factory=list)
    # The engine's native platform: its machine's (Docker Desktop's VM, a remote DOCKER_HOST), not this Python's.
    host_platform: str = Field(default_factory=host_platform)
    operating_system: str | None = None
    cgroup_version: str | None = None  # "1" or "2", as the engine reports it (docker info CgroupVersion)
    cgroup_driver: str | None = None
    rootless: bool | None = None  # None: not reported (a recording from before it was read)
    runtimes: list[str] = Field(default_factory=list)
    default_runtime: str | None = None
    gpu_runtime: bool = False
    gpu_device: bool = False
    cdi_specs: list[str] = Field(default_factory=list)  # NVIDIA CDI spec files (nvidia-ctk cdi generate)
    cdi_devices: list[str] = Field(default_factory=list)  # CDI devices the engine itself discovered (Docker 28.3+)
    insecure_registries: list[str] = Field(default_factory=list)
    root_dir: str | None = None
    free_disk_bytes: int | None = None

    def label(self) -> str:
        return engine_label(self.name or engine_name(self.command), self.server_version, self.image_store)

    @property
    def multiplatform_load(self) -> bool:
        """Can `buildx build --platform a,b --load` keep both platforms? Only the containerd store can."""
        return self.name == "podman" or self.image_store in ("containerd", "containers/storage")

    @property
    def native(self) -> str:
        return self.host_platform

    @property
    def foreign(self) -> str:
        return foreign_platform(self.host_platform)

    @property
    def emulated(self) -> list[str]:
        """The platforms besides the native one that this engine runs, through a qemu binfmt entry."""
        return [p for p, e in BINFMT_BY_PLATFORM.items() if e in self.emulators and p != self.host_platform]

    @property
    def loopback_registry_insecure(self) -> bool:
        """Does the engine push to `localhost:5000` over plain HTTP? Docker's default; Podman asks registries.conf."""
        return engine_info.LOOPBACK_CIDR in self.insecure_registries


def foreign_platform(native: str) -> str:
    """The other of linux/amd64 and linux/arm64: what this engine emulates in lesson 05 (an arm64 engine: amd64)."""
    return "linux/amd64" if native == "linux/arm64" else "linux/arm64"


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
    except (TimeoutError, urllib.error.URLError, ssl.SSLError, OSError):
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


def gpu_verdict(f: EngineFacts) -> tuple[bool, str]:
    """Can this engine give a container a GPU, and why (not)."""
    nvidia = [r for r in f.runtimes if "nvidia" in r]
    cdi = [d for d in f.cdi_devices if d.startswith("nvidia.com/gpu")]
    if nvidia or f.cdi_specs or cdi:
        how = ", ".join([f"runtime {r}" for r in nvidia] + [f"CDI {c}" for c in f.cdi_specs + cdi])
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


def from_answers(
    command: str,
    info: dict,
    version: dict,
    builder: BuilderInspectResult | None = None,
    binfmt: list[str] | None = None,
) -> EngineFacts:
    """Facts from the engine's own answers: `docker info` and `docker version` as JSON, the current buildx
    builder (`buildx ls`'s entry) and, where binfmt_misc is in sight, its qemu entries. Pure: the unit tests
    feed recorded answers of Docker, Docker Desktop, rootless Docker and Podman through it."""
    raw = engine_info.parse(info, version)
    client = version.get("Client") or {}
    facts = EngineFacts(
        command=command,
        reachable=True,
        name=raw.name,
        client_version=client.get("Version"),
        server_version=raw.server_version,
        api_version=raw.api_version,
        image_store=raw.image_store,
        storage_driver=raw.storage_driver,
        operating_system=raw.operating_system,
        cgroup_version=raw.cgroup_version,
        cgroup_driver=raw.cgroup_driver,
        rootless=raw.rootless,
        runtimes=raw.runtimes,
        default_runtime=raw.default_runtime,
        cdi_devices=raw.cdi_devices,
        insecure_registries=raw.insecure_registries,
        root_dir=raw.root_dir,
    )
    if raw.architecture:
        # Native means native to the engine's machine (Docker Desktop's VM, a remote DOCKER_HOST), not to this Python's.
        facts.host_platform = platform_label(raw.architecture)
    if builder is not None:
        facts.builder_name = builder.name
        facts.builder_driver = builder.driver
        facts.builder_platforms = sorted({p for n in (builder.nodes or []) for p in (n.platforms or [])})
    if binfmt is not None:
        facts.emulators = binfmt
    elif facts.name == "docker":
        # The host's binfmt_misc is out of sight (inside a container, or the engine is remote), but BuildKit
        # listed the platforms it can run by executing a test binary for each: the engine's own answer.
        facts.emulators = sorted(
            e for p, e in BINFMT_BY_PLATFORM.items() if p in facts.builder_platforms and p != facts.host_platform
        )
    if facts.name == "podman" and not facts.builder_platforms:
        # Podman builds with buildah, not BuildKit: any platform that binfmt can run.
        facts.builder_platforms = sorted({facts.host_platform} | set(facts.emulated))
    cdi_gpus = any("nvidia.com/gpu" in d for d in facts.cdi_devices)
    facts.gpu_runtime = any("nvidia" in r for r in facts.runtimes) or cdi_gpus
    return facts


def _builder(c: DockerClient) -> BuilderInspectResult | None:
    """The current buildx builder, booted, as `buildx ls` describes it; None without buildx or BuildKit."""
    try:
        b = c.buildx.inspect(bootstrap=True)
        return BuilderInspectResult(name=b.name, driver=b.driver, nodes=b.nodes)
    except (DockerException, ValueError):
        return None


def probe() -> EngineFacts:
    """Ask the engine what it is. Never raises: an unreachable engine is a fact too."""
    command = engine_command()
    if not shutil.which(command):
        return EngineFacts(command=command, reachable=False, error=f"the `{command}` command is not installed")
    c = client()
    try:
        info, version = engine_info.ask(c)
    except (DockerException, ValueError) as e:
        # `docker info` prints its empty JSON to stdout even then: the reason is on stderr.
        detail = getattr(e, "stderr", None) or str(e)
        return EngineFacts(command=command, reachable=False, error=no_engine_help(detail))
    # The docker CLI has buildx and compose plugins whichever engine answers (Podman's compatible API too).
    docker_cli = engine_name(command) == "docker"
    builder = _builder(c) if docker_cli else None
    # This machine's binfmt_misc speaks for the engine only where the engine runs on this kernel: an engine in a VM
    # or elsewhere (DOCKER_HOST) has its own, and BuildKit's platforms are then its answer (from_answers).
    kernel = info.get("KernelVersion")  # an engine that does not say is taken to be this machine's, as before
    same_kernel = kernel is None or kernel == os.uname().release
    local = binfmt_visible() and same_kernel
    facts = from_answers(command, info, version, builder, binfmt_emulators() if local else None)
    if docker_cli:
        facts.buildx_version = buildx_version_from_text(_cli_version([command, "buildx", "version"]))
        facts.compose_version = _cli_version([command, "compose", "version", "--short"])
    facts.cdi_specs = cdi_specs()
    facts.gpu_runtime = facts.gpu_runtime or bool(facts.cdi_specs)
    # A CDI device the engine discovered is a GPU it can hand out, wherever this Python runs.
    facts.gpu_device = _gpu_device_present() or any("nvidia.com/gpu" in d for d in facts.cdi_devices)
    if same_kernel:
        # Elsewhere (a VM, DOCKER_HOST) this machine's disk says nothing about the engine's: left unmeasured.
        disk_path = facts.root_dir if facts.root_dir and Path(facts.root_dir).exists() else "/"
        facts.free_disk_bytes = shutil.disk_usage(disk_path).free
    return facts


def can_run_platform(facts: EngineFacts, plat: str) -> bool:
    """Native, or emulated through a qemu binfmt entry."""
    if plat == facts.host_platform:
        return True
    return BINFMT_BY_PLATFORM.get(plat) in facts.emulators
