"""The same questions asked of a venv, a container and a VM, side by side.

Each one runs a small probe and reports, from the inside: how long until its
first line of output, what it costs on disk and in memory, and what the world
looks like (who is PID 1, the hostname, the root filesystem, the kernel).

Times are taken on the host's wall clock. A container shares the host's
clock (same kernel), so the probe's own timestamp tells when it started
printing; a VM keeps its own clock, so its first line is timed as it arrives
on the serial console.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from layerlab import engine
from layerlab.engine import containers, replay, vm
from layerlab.engine.result import Replayable
from layerlab.ground import settings
from layerlab.measure import inspector

# Run by a Python interpreter on the host, in the venv and in the container.
# `cgroup` as the first argument adds the memory counters of the process's
# cgroup, which are the container's own only inside a container.
PROBE = r"""
import os, platform, socket, sys, time
print(f"LL t_first={time.time():.6f}", flush=True)

def read(path):
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return ""

def os_name():
    for line in read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return ""

facts = {
    "kernel": platform.release(),
    "pid1": read("/proc/1/comm"),
    "hostname": socket.gethostname(),
    "os": os_name(),
    "processes": sum(d.isdigit() for d in os.listdir("/proc")),
    "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
}
# VmHWM is the peak of this program's own memory map. getrusage's ru_maxrss is
# not: it keeps the peak of the (much bigger) parent that forked us before exec.
for line in read("/proc/self/status").splitlines():
    if line.startswith("VmHWM:"):
        facts["peak_rss_kb"] = line.split()[1]

if sys.argv[1:] == ["cgroup"]:
    # cgroup v2 names, then v1's.
    facts["cgroup_peak"] = read("/sys/fs/cgroup/memory.peak") or read("/sys/fs/cgroup/memory/memory.max_usage_in_bytes")
    facts["cgroup_limit"] = read("/sys/fs/cgroup/memory.max") or read("/sys/fs/cgroup/memory/memory.limit_in_bytes")
for k, v in facts.items():
    print(f"LL {k}={v}")
"""

# A limit above this is "no limit": cgroup v1 writes 2**63 rounded down to a page.
UNLIMITED = 1 << 60


class Isolation(Replayable):
    """What one runtime costs and what a process inside it sees."""

    kind: str  # host | venv | container | vm
    label: str  # for tables and plots
    first_output_seconds: float  # launch -> first line printed by the program inside
    total_seconds: float  # launch -> finished (and cleaned up)
    disk_bytes: int | None
    disk_what: str
    memory_bytes: int | None  # peak memory it cost
    memory_what: str
    memory_given_bytes: int | None  # a fixed allowance (VM RAM, container limit); None = the host's
    kernel: str
    pid1: str
    hostname: str
    os_name: str
    processes: int  # processes visible from inside
    python_prefix: str | None = None  # where Python packages come from (None: no Python inside)
    details: dict[str, Any] = Field(default_factory=dict)


def parse_probe(text: str) -> dict[str, str]:
    """`LL key=value` lines -> {key: value}; other lines (a banner, warnings) are ignored."""
    out = {}
    for line in text.replace("\r", "").splitlines():
        if line.startswith("LL ") and "=" in line:
            k, v = line[3:].split("=", 1)
            out[k.strip()] = v.strip()
    return out


def dir_bytes(path: Path) -> int:
    """Bytes of the files under `path`; links count as themselves, not as what they point to."""
    total = 0
    for root, dirs, files in os.walk(path):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _int(v: str | None) -> int | None:
    return int(v) if v and v.strip().isdigit() else None


# ---- host and venv: a local interpreter ---------------------------------------


def base_python() -> str:
    """The interpreter outside any venv (the one this venv, if any, was made from)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def _local(python: str, kind: str, label: str, runs: int = 2) -> tuple[Isolation, dict[str, str]]:
    """The fastest of `runs` probes: the first may pay for a cold disk cache, which is not what we compare."""
    results = [_local_once(python, kind, label) for _ in range(runs)]
    return min(results, key=lambda r: r[0].first_output_seconds)


def _local_once(python: str, kind: str, label: str) -> tuple[Isolation, dict[str, str]]:
    start_wall, start = time.time(), time.perf_counter()
    proc = subprocess.Popen([python, "-c", PROBE], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout
    text = proc.stdout.read().decode()
    proc.wait()
    total = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"the probe failed under {python} (exit {proc.returncode}):\n{text}")
    f = parse_probe(text)
    iso = Isolation(
        kind=kind,
        label=label,
        first_output_seconds=round(float(f["t_first"]) - start_wall, 4),
        total_seconds=round(total, 4),
        disk_bytes=None,
        disk_what="",
        memory_bytes=(_int(f.get("peak_rss_kb")) or 0) * 1024,
        memory_what="peak RSS of the Python process",
        memory_given_bytes=None,
        kernel=f["kernel"],
        pid1=f["pid1"],
        hostname=f["hostname"],
        os_name=f["os"],
        processes=int(f["processes"]),
        python_prefix=f["prefix"],
        details={"python": python, "base_prefix": f["base_prefix"]},
    )
    return iso, f


def host() -> Isolation:
    """The probe run by the host's own Python, outside any venv: the reference row."""
    iso, _ = _local(base_python(), "host", "host (no isolation)")
    return iso


def venv_dir() -> Path:
    return settings.cache_dir() / "venv-01"


def make_venv(path: Path | None = None) -> tuple[Path, float | None]:
    """A venv with pip, as `python -m venv` makes it; reused when present. Returns (path, seconds to create it)."""
    path = path or venv_dir()
    done = path / ".layerlab-complete"
    if done.exists():
        return path, None
    print(f"creating a venv in {path} (a few seconds: it installs pip)...", flush=True)
    start = time.perf_counter()
    # --clear: a venv left half-made by an interrupted run is started again, not trusted.
    subprocess.run([base_python(), "-m", "venv", "--clear", str(path)], check=True)
    done.touch()
    return path, round(time.perf_counter() - start, 2)


def venv(path: Path | None = None) -> Isolation:
    """The probe run by a venv's Python. Disk: the venv directory (the interpreter it links to is not in it)."""
    path, made = make_venv(path)
    iso, _ = _local(str(path / "bin" / "python"), "venv", "venv")
    iso.disk_bytes = dir_bytes(path)
    iso.disk_what = "the venv directory (pip included; the Python it links to is shared with the host)"
    iso.details.update(path=str(path), created_seconds=made)
    return iso


# ---- container ------------------------------------------------------------------


def _container_key(image: str, **kw: Any) -> str:
    return f"container|{image}"


@replay.replayable("isolation", _container_key, Isolation)
def container(image: str, *, module: str | None, timeout: float = 120) -> Isolation:
    """The probe run in a container of `image` (started, waited for and removed, as `docker run --rm` does)."""
    engine.require()  # no engine: the replay wrapper serves the recorded run of this whole probe
    start_wall, start = time.time(), time.perf_counter()
    r = containers.run(image, ["python", "-c", PROBE, "cgroup"], module=module, timeout=timeout)
    total = time.perf_counter() - start
    if not r.ok:
        raise RuntimeError(f"the probe container failed (exit {r.exit_code}):\n{r.output}")
    f = parse_probe(r.output)
    report = inspector.inspect(image)
    limit = _int(f.get("cgroup_limit"))
    return Isolation(
        kind="container",
        label="container",
        first_output_seconds=round(float(f["t_first"]) - start_wall, 4),
        total_seconds=round(total, 4),
        disk_bytes=report.size_bytes,
        disk_what=f"the image {image} ({report.platform}, uncompressed)",
        # The program's own peak, as for the venv; the cgroup's count (what a limit
        # is checked against) leaves out pages other cgroups already paid for.
        memory_bytes=(_int(f.get("peak_rss_kb")) or 0) * 1024,
        memory_what="peak RSS of the Python process in the container",
        memory_given_bytes=limit if limit is not None and limit < UNLIMITED else None,
        kernel=f["kernel"],
        pid1=f["pid1"],
        hostname=f["hostname"],
        os_name=f["os"],
        processes=int(f["processes"]),
        python_prefix=f["prefix"],
        details={
            "image": image,
            "run_seconds": r.seconds,
            "cgroup_peak_bytes": _int(f.get("cgroup_peak")),
            # Recorded with the run, so a replay compares with the kernel of the host it ran on.
            "host_kernel": platform.release(),
            "host_hostname": socket.gethostname(),
        },
    )


# ---- VM ---------------------------------------------------------------------------


def from_vm(r: vm.VMResult) -> Isolation:
    return Isolation(
        kind="vm",
        label=f"VM ({r.accelerator})",
        first_output_seconds=r.first_output_seconds if r.first_output_seconds is not None else r.total_seconds,
        total_seconds=r.total_seconds,
        disk_bytes=r.disk_bytes,
        disk_what="kernel + initramfs (busybox, no Python)",
        memory_bytes=r.qemu_peak_rss_bytes,
        memory_what="peak RSS of the qemu process on the host",
        memory_given_bytes=r.memory_mb * 1024 * 1024,
        kernel=r.kernel,
        pid1=r.pid1,
        hostname=r.hostname,
        os_name=r.os_name,
        processes=r.processes,
        python_prefix=None,
        details={
            "accelerator": r.accelerator,
            "accelerator_reason": r.accelerator_reason,
            "kernel_file": r.kernel_file,
            "guest_mem_used_bytes": r.guest_mem_used_bytes,
            "qemu_version": r.qemu_version,
            "host_kernel": r.host_kernel,
        },
        replayed=r.replayed,
    )


def virtual_machine(memory_mb: int = 256, timeout: float = 120) -> Isolation:
    """Boot the tiny VM; its /init reports what it sees."""
    return from_vm(vm.boot("true", memory_mb=memory_mb, timeout=timeout))


# ---- all together --------------------------------------------------------------------


def compare(image: str, *, module: str | None, memory_mb: int = 256) -> list[Isolation]:
    """Host, venv, a container of `image` (labelled for `module`) and a VM, in that order (about 10 s under TCG
    once everything is cached)."""
    rows = []
    for what, fn in (
        ("host", host),
        ("venv", venv),
        ("container", lambda: container(image, module=module)),
        ("VM", lambda: virtual_machine(memory_mb)),
    ):
        print(f"measuring {what}...", flush=True)
        rows.append(fn())
    return rows


MIB = 1024 * 1024


def _mb(n: int | None) -> str:
    # MiB for disk and memory alike, so the VM's "256M" of RAM reads as 256.
    return "-" if n is None else f"{n / MIB:,.0f} MiB"


def table(rows: list[Isolation]) -> str:
    """One column per runtime, one line per question."""
    lines = [
        ("first output", [f"{r.first_output_seconds:.3f} s" for r in rows]),
        ("finished", [f"{r.total_seconds:.3f} s" for r in rows]),
        ("disk", [_mb(r.disk_bytes) for r in rows]),
        ("memory used", [_mb(r.memory_bytes) for r in rows]),
        ("memory given", [_mb(r.memory_given_bytes) if r.memory_given_bytes else "host's" for r in rows]),
        ("PID 1", [r.pid1 for r in rows]),
        ("processes seen", [str(r.processes) for r in rows]),
        ("hostname", [r.hostname for r in rows]),
        ("root filesystem", [r.os_name for r in rows]),
        ("kernel", [r.kernel for r in rows]),
        ("python prefix", [r.python_prefix or "(no Python)" for r in rows]),
    ]
    widths = [max(len(r.label), *(len(v[i]) for _, v in lines)) for i, r in enumerate(rows)]
    out = [" " * 16 + "  ".join(r.label.ljust(w) for r, w in zip(rows, widths))]
    for name, values in lines:
        out.append(f"{name:<16}" + "  ".join(v.ljust(w) for v, w in zip(values, widths)))
    for r in rows:
        if r.replayed:
            out.append(f"({r.label}: replayed from a recorded run, {r.replayed.get('recorded_at')})")
    return "\n".join(out)
