"""What the engine runs on: its operating system, kernel, CPUs and memory (`docker info`).

On Docker Desktop these describe the Linux VM that Desktop starts (LinuxKit,
`OperatingSystem: Docker Desktop`), not the Mac or Windows machine the
notebook runs on; on Linux with a local engine, they describe this machine.
"""

from __future__ import annotations

import platform

from layerlab import engine
from . import replay
from .result import Replayable


class EngineHost(Replayable):
    operating_system: str  # as the engine reports it: "Docker Desktop" inside Desktop's VM
    kernel: str  # the kernel every container of this engine shares
    cpus: int
    memory_bytes: int
    client_kernel: str  # the kernel of the machine this Python runs on
    client_system: str  # "Linux", "Darwin", "Windows"

    @property
    def same_kernel(self) -> bool:
        """Does the engine run on the kernel this Python runs on (no VM, no remote host in between)?"""
        return self.kernel == self.client_kernel


def facts_live() -> EngineHost:
    info = engine.require().info()
    return EngineHost(
        operating_system=info.operating_system or "",
        kernel=info.kernel_version or "",
        cpus=int(info.n_cpu or 0),
        memory_bytes=int(info.mem_total or 0),
        client_kernel=platform.release(),
        client_system=platform.system(),
    )


facts = replay.replayable("engine-host", lambda: "info", EngineHost)(facts_live)
