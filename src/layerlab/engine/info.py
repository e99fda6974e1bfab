"""What the engine says about itself, read once from `docker info` and `docker version` as JSON.

Not a description of its own: `EngineFacts` (what the engine can do, the doctor's) and `host.EngineHost`
(what it runs on, the pages') are both made from this one reading.

python-on-whales' `SystemInfo` drops fields the course judges on (`CgroupVersion`, `CDISpecDirs`,
`DiscoveredDevices`, Podman's `Rootless`), and `podman info` answers in Podman's own shape
(`host.cgroupVersion`, `store.graphDriverName`), so both are read here from the engine's own JSON:
Docker's, Podman's Docker-compatible API behind the docker CLI, and the podman CLI's. Pure parsing
(`parse`) is apart from asking (`ask`), so the unit tests feed recorded answers of several engines.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException
from python_on_whales.utils import run

from layerlab.engine.result import Result
from layerlab.ground.errors import LayerlabError

ImageStore = Literal["containerd", "classic", "containers/storage"]
# Docker's default insecure range: `localhost:5000` (the course's registry) is pushed to over plain HTTP.
LOOPBACK_CIDR = "127.0.0.0/8"


class EngineInfo(Result):
    """The engine's own answers, before any judgement."""

    name: Literal["docker", "podman"]
    server_version: str | None = None
    api_version: str | None = None
    architecture: str | None = None  # as the engine spells it: x86_64, aarch64 (Docker), amd64, arm64 (Podman)
    operating_system: str | None = None
    kernel: str | None = None  # the kernel every container of this engine shares
    cpus: int | None = None
    memory_bytes: int | None = None
    storage_driver: str | None = None
    image_store: ImageStore | None = None
    cgroup_version: str | None = None  # "1" or "2": the engine's hierarchy, not this container's /proc
    cgroup_driver: str | None = None
    rootless: bool = False
    runtimes: list[str] = Field(default_factory=list)
    default_runtime: str | None = None
    cdi_spec_dirs: list[str] = Field(default_factory=list)
    cdi_devices: list[str] = Field(default_factory=list)  # Docker 28.3+: DiscoveredDevices from CDI
    insecure_registries: list[str] = Field(default_factory=list)
    root_dir: str | None = None


def image_store_from_driver_status(driver: str | None, driver_status: list | None) -> ImageStore:
    """Docker reports the containerd store as driver-type io.containerd.snapshotter.v1."""
    for pair in driver_status or []:
        if len(pair) == 2 and pair[0] == "driver-type" and "containerd.snapshotter" in str(pair[1]):
            return "containerd"
    return "classic"


def _cgroup(value: Any) -> str | None:
    """'1', '2', 'v2' (podman) -> '1' or '2'."""
    text = str(value or "").strip().lower().removeprefix("v")
    return text if text in ("1", "2") else None


def is_podman(version: dict) -> bool:
    """Podman's compatible API names itself in `docker version`'s server components ('Podman Engine')."""
    server = version.get("Server") or {}
    names = [str(c.get("Name", "")) for c in server.get("Components") or []]
    return (
        any("podman" in n.lower() for n in names)
        or "podman" in str((server.get("Platform") or {}).get("Name", "")).lower()
    )


def _podman_native(info: dict, version: dict) -> EngineInfo:
    """`podman info --format json`: host / store / version sections."""
    host, store = info.get("host") or {}, info.get("store") or {}
    runtime = (host.get("ociRuntime") or {}).get("name")
    server = version.get("Server") or version.get("Client") or info.get("version") or {}
    return EngineInfo(
        name="podman",
        server_version=server.get("Version"),
        api_version=server.get("APIVersion") or server.get("ApiVersion"),
        architecture=host.get("arch"),
        operating_system=(host.get("distribution") or {}).get("distribution"),
        kernel=host.get("kernel"),
        cpus=host.get("cpus"),
        memory_bytes=host.get("memTotal"),
        storage_driver=store.get("graphDriverName"),
        image_store="containers/storage",
        cgroup_version=_cgroup(host.get("cgroupVersion")),
        cgroup_driver=host.get("cgroupManager"),
        rootless=bool((host.get("security") or {}).get("rootless")),
        runtimes=[runtime] if runtime else [],
        default_runtime=runtime,
        root_dir=store.get("graphRoot"),
    )


def parse(info: dict, version: dict) -> EngineInfo:
    """Read `docker info` and `docker version` (`--format '{{json .}}'`), or podman's `info`/`version`."""
    if "host" in info and "store" in info:
        return _podman_native(info, version)
    podman = is_podman(version)
    server = version.get("Server") or {}
    security = [str(s) for s in info.get("SecurityOptions") or []]
    registries = info.get("RegistryConfig") or {}
    devices = info.get("DiscoveredDevices") or []
    return EngineInfo(
        name="podman" if podman else "docker",
        server_version=info.get("ServerVersion") or server.get("Version"),
        api_version=server.get("ApiVersion"),
        architecture=info.get("Architecture"),
        operating_system=info.get("OperatingSystem"),
        kernel=info.get("KernelVersion"),
        cpus=info.get("NCPU"),
        memory_bytes=info.get("MemTotal"),
        storage_driver=info.get("Driver"),
        # Podman keeps images in containers/storage whatever its graph driver: manifest lists stay local.
        image_store="containers/storage"
        if podman
        else image_store_from_driver_status(info.get("Driver"), info.get("DriverStatus")),
        cgroup_version=_cgroup(info.get("CgroupVersion")),
        cgroup_driver=info.get("CgroupDriver"),
        rootless=bool(info.get("Rootless")) or any("name=rootless" in s for s in security),
        runtimes=sorted((info.get("Runtimes") or {}).keys()),
        default_runtime=info.get("DefaultRuntime"),
        cdi_spec_dirs=list(info.get("CDISpecDirs") or []),
        cdi_devices=sorted(
            str(d.get("ID")) for d in devices if str(d.get("Source", "")).lower() == "cdi" and d.get("ID")
        ),
        insecure_registries=list(registries.get("InsecureRegistryCIDRs") or []),
        root_dir=info.get("DockerRootDir"),
    )


def _json(client: DockerClient, args: list[str]) -> dict:
    try:
        out = run(client.client_config.docker_cmd + args)
    except DockerException as e:
        # An old podman CLI prints only its client part without a service: an answer, not a failure.
        if args[0] == "version":
            return {}
        raise e
    return json.loads(out or "{}") if isinstance(out, str) else {}


class NoAnswer(LayerlabError, ValueError):
    """The client answered for a server it could not reach (`ServerErrors`); the message is the client's reason."""


def ask(client: DockerClient) -> tuple[dict, dict]:
    """The engine's raw `info` and `version` answers; raises DockerException (or NoAnswer) when it does not answer."""
    info = _json(client, ["info", "--format", "{{json .}}"])
    # Debian's docker CLI 26 exits 0 with a formatted `info` and no daemon, its reason in ServerErrors (CLI 28 exits 1).
    if errors := info.get("ServerErrors"):
        raise NoAnswer("\n".join(str(e) for e in errors))
    return info, _json(client, ["version", "--format", "{{json .}}"])
