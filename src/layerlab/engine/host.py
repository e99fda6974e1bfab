"""The machine a run measured on: the engine, what it runs on, and the Python that asked (`docker info`).

One description, rendered everywhere: lesson 01 compares kernels with it, the
course page and the instructor's page say "measured on" with it
(build/machines.json), and a replay's meta names the same engine and platform
labels (`engine.engine_label`, `engine.platform_label`).

On Docker Desktop these describe the Linux VM that Desktop starts (LinuxKit,
`OperatingSystem: Docker Desktop`), not the Mac or Windows machine the
notebook runs on; on Linux with a local engine, they describe this machine.
What the engine can do (buildx, emulators, GPU) is the doctor's `EngineFacts`.
"""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import model_validator

from layerlab import engine
from layerlab.ground.settings import ReplayMode

from . import info as engine_info
from . import replay
from .result import Replayable


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class EngineHost(Replayable):
    operating_system: str  # as the engine reports it: "Docker Desktop" inside Desktop's VM
    kernel: str  # the kernel every container of this engine shares
    cpus: int
    memory_bytes: int
    client_kernel: str  # the kernel of the machine this Python runs on
    client_system: str  # "Linux", "Darwin", "Windows"
    # None: not known. Lesson 01's recordings from before these were kept lack them (their replay meta names
    # the engine and platform), and a machine is noted with a run's mode only for the course page.
    engine: str | None = None  # engine.engine_label(): "docker 26.1.5 (containerd image store)", or why none answered
    platform: str | None = None  # engine.platform_label() of the engine's machine: "linux/arm64", never "linux/aarch64"
    cpu_model: str | None = None  # from /proc/cpuinfo, when the engine runs on this kernel
    mode: ReplayMode | None = None  # how the run that noted this machine got its results (LAYERLAB_REPLAY / _RECORD)
    at: str | None = None  # when it was described (UTC)

    @model_validator(mode="before")
    @classmethod
    def _page_record_before_2026_12(cls, data: Any) -> Any:
        """build/machines.json written by the course page's own `Machine` (os, memory_gb, a raw uname platform)."""
        if not (isinstance(data, dict) and "os" in data and "memory_gb" in data):
            return data
        old = dict(data)
        arch = str(old.pop("platform", "")).rpartition("/")[2]
        return {
            **{k: v for k, v in old.items() if k not in ("os", "memory_gb")},
            "operating_system": old["os"],
            "memory_bytes": round(float(old["memory_gb"]) * 1e9),
            "platform": engine.platform_label(arch) if arch else None,
            # That record described this machine only: which kernel it ran was not kept.
            "kernel": "",
            "client_kernel": "",
            "client_system": "",
        }

    @property
    def same_kernel(self) -> bool:
        """Does the engine run on the kernel this Python runs on (no VM, no remote host in between)?"""
        return self.kernel == self.client_kernel

    def where(self) -> str:
        cpu = f" ({self.cpu_model})" if self.cpu_model else ""
        return (
            f"{self.engine or 'an engine not recorded'} on {self.operating_system}, {self.platform or '?'}, "
            f"{self.cpus} CPU{cpu}, {self.memory_bytes / 1e9:.0f} GB memory"
        )

    def line(self) -> str:
        return f"{self.where()}; {self.mode or 'a'} run, {self.at or 'at a time not recorded'}"


def _proc_value(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def _cpu_model() -> str | None:
    return _proc_value("/proc/cpuinfo", "model name") or platform.processor() or None


def facts_live() -> EngineHost:
    # The same reading of the engine's answers as the doctor's facts: Podman behind the docker CLI is named podman.
    raw = engine_info.parse(*engine_info.ask(engine.require()))
    kernel = raw.kernel or ""
    return EngineHost(
        engine=engine.engine_label(raw.name, raw.server_version, raw.image_store),
        platform=engine.platform_label(raw.architecture or ""),
        operating_system=raw.operating_system or "",
        kernel=kernel,
        cpus=int(raw.cpus or 0),
        memory_bytes=int(raw.memory_bytes or 0),
        cpu_model=_cpu_model() if kernel == platform.release() else None,
        client_kernel=platform.release(),
        client_system=platform.system(),
        at=_now(),
    )


facts = replay.replayable("engine-host", lambda: "info", EngineHost)(facts_live)


def this_python(engine_line: str) -> EngineHost:
    """This machine, described without an engine (a replayed run): what the notebook's own machine has."""
    mem_kb = _proc_value("/proc/meminfo", "MemTotal").split()
    return EngineHost(
        engine=engine_line,
        platform=engine.host_platform(),
        operating_system=_os_name(),
        kernel=platform.release(),
        cpus=os.cpu_count() or 0,
        memory_bytes=int(mem_kb[0]) * 1024 if mem_kb else 0,  # meminfo's kB are KiB
        cpu_model=_cpu_model(),
        client_kernel=platform.release(),
        client_system=platform.system(),
        at=_now(),
    )


def describe() -> EngineHost:
    """The machine this run measures on, for a page: the engine's when one answers, else this one's. Never raises."""
    mode = replay.mode()
    if mode == "replay":
        return this_python("no engine (replayed)").model_copy(update={"mode": mode})
    try:
        return facts_live().model_copy(update={"mode": mode})
    except Exception as e:  # noqa: BLE001 - a page line, never a failure
        return this_python(f"no engine answered ({type(e).__name__})").model_copy(update={"mode": mode})
