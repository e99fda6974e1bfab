"""A Docker engine in a virtual machine of its own: Debian's kernel, cgroup v2, reached over TCP.

The course's engine runs on the kernel of the machine it is set up on, and on this one that kernel
mounts cgroup v1. Most learners' engines see cgroup v2 (Docker Desktop, Ubuntu 22.04+, Debian 11+,
Fedora), where a container's limits live in other files. A container cannot change the kernel it
shares, so the engine-matrix leg that checks cgroup v2 boots one:

- the disk: Debian trixie made by mmdebstrap (in a chroot; an arm64 one runs its package scripts
  under qemu-user) with systemd, the cloud kernel and trixie's docker.io, the same engine version as
  the default set-up, so an amd64 leg differs from it by the kernel's cgroup hierarchy alone; written
  into an ext4 image once and cached (amd64 took 30 s here, arm64 418 s);
- arm64: the same engine on qemu's `virt` board, what an Apple-silicon laptop runs, with qemu-user
  inside for its foreign platform, amd64 (the amd64 host translates the whole VM: booting took 100 s);
- the boot: qemu with that kernel and initrd, KVM where a probe boot works and TCG otherwise
  (`vm.choose_accelerator`), the disk opened with `-snapshot` so a run never changes the cache;
- the engine: dockerd listens on TCP inside the VM, and qemu forwards a port on the host's loopback
  to it; `DOCKER_HOST=tcp://127.0.0.1:PORT` points every docker call (the course's, the grader's,
  buildx's) at it. The base images go in with `docker save | docker load`: no registry is needed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from layerlab import engine
from layerlab.engine import vm
from layerlab.engine.rootfs import MIRROR
from layerlab.ground import settings
from layerlab.ground.errors import Unavailable
from layerlab.ground.text import Printer
from layerlab.ground.text import say as say_line

SUITE = "trixie"
DISK_BYTES = 24 * 1024**3  # sparse: the base images and what the lessons build stay well under it
PACKAGES = "systemd-sysv,udev,dbus,kmod,iproute2,docker.io,containerd,runc,iptables,ca-certificates"
# systemd.unified_cgroup_hierarchy=1 is trixie's default; named so that a reader sees what is asked for.
KERNEL_ARGS = "root=/dev/vda rw net.ifnames=0 systemd.unified_cgroup_hierarchy=1"


@dataclass(frozen=True)
class Target:
    """What differs between the VM of each architecture: its kernel, its qemu and board, its console."""

    arch: str  # Debian's name
    kernel_package: str
    qemu: str
    board: tuple[str, ...]
    console: str
    extra: str = ""  # more packages


TARGETS = {
    "amd64": Target("amd64", "linux-image-cloud-amd64", "qemu-system-x86_64", (), "ttyS0"),
    # An arm64 engine, as on an Apple-silicon laptop: amd64 is its foreign platform, run by qemu-user.
    "arm64": Target(
        "arm64",
        "linux-image-cloud-arm64",
        "qemu-system-aarch64",
        ("-M", "virt", "-cpu", "max"),
        "ttyAMA0",
        extra="qemu-user-static,binfmt-support",
    ),
}
ENGINE_PORT = 2375

# Written into the root before the disk is made (path -> content).
FILES = {
    "etc/fstab": "/dev/vda / ext4 defaults 0 1\n",
    "etc/hostname": "layerlab-engine-vm\n",
    "etc/systemd/network/10-eth0.network": "[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n",
    # The same image store as the course's default set-up (scripts/setup-engine.sh).
    "etc/docker/daemon.json": json.dumps(
        {
            # fd://: the unix socket systemd's docker.socket holds (docker.service requires it).
            "hosts": ["fd://", f"tcp://0.0.0.0:{ENGINE_PORT}"],
            "features": {"containerd-snapshotter": True},
        }
    )
    + "\n",
    # Debian's unit passes -H fd://, which dockerd refuses next to "hosts" in daemon.json.
    "etc/systemd/system/docker.service.d/layerlab.conf": "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd\n",
}


class EngineVMUnavailable(Unavailable):
    """The VM's disk could not be made or its engine did not answer; the message says why and what to do."""


@dataclass(frozen=True)
class Disk:
    image: Path
    vmlinuz: Path
    initrd: Path
    seconds: float  # how long making it took (0.0 when it came from the cache)


@dataclass(frozen=True)
class EngineVM:
    docker_host: str
    accelerator: str
    cpus: int
    memory_mb: int
    boot_seconds: float  # qemu started -> the engine answered
    console: Path  # the VM's serial console, kept for a failure's post-mortem
    registry_api: str = ""  # host:port here, forwarded to the course registry's port in the VM

    def env(self) -> dict[str, str]:
        env = {**os.environ, "DOCKER_HOST": self.docker_host}
        if self.registry_api:
            # The engine pushes to localhost:PORT in the VM; this machine reads the registry's API through the
            # forward, which reaches the VM's network address, not its loopback.
            env |= {"LAYERLAB_REGISTRY_API": self.registry_api, "LAYERLAB_REGISTRY_BIND": "0.0.0.0"}
        return env


def disk_dir(arch: str = "amd64") -> Path:
    d = settings.cache_dir() / ("engine-vm" if arch == "amd64" else f"engine-vm-{arch}")
    d.mkdir(parents=True, exist_ok=True)
    return d


def disk(say: Printer = say_line, arch: str = "amd64") -> Disk:
    """The VM's disk and boot files, made once (30 s for amd64 here; a foreign one runs its package scripts
    under qemu-user, which takes longer)."""
    t = TARGETS[arch]
    d = disk_dir(arch)
    found = Disk(d / "root.img", d / "vmlinuz", d / "initrd.img", 0.0)
    if all(p.is_file() for p in (found.image, found.vmlinuz, found.initrd)):
        return found
    for tool in ("mmdebstrap", "mkfs.ext4"):
        if not shutil.which(tool):
            raise EngineVMUnavailable(f"making the engine VM's disk needs {tool}: apt-get install mmdebstrap e2fsprogs")
    if os.geteuid() != 0:
        raise EngineVMUnavailable("making the engine VM's disk needs root (mmdebstrap in a chroot): run it as root")
    start = time.perf_counter()
    work = d / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    root = work / "root"
    say(f"engine VM: mmdebstrap {SUITE} {arch} with systemd, the cloud kernel and docker.io (once)")
    packages = ",".join(p for p in (PACKAGES, t.kernel_package, t.extra) if p)
    cmd = ["mmdebstrap", "--quiet", "--mode=root", "--variant=minbase", f"--arch={arch}", f"--include={packages}"]
    cmd += ["--format=directory"]
    _must(subprocess.run(cmd + [SUITE, str(root), MIRROR], capture_output=True, text=True, timeout=1800), "mmdebstrap")
    for rel, content in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content)
    enable = ["chroot", str(root), "systemctl", "enable", "systemd-networkd", "docker"]
    _must(subprocess.run(enable, capture_output=True, text=True), "systemctl enable in the VM's root")
    kernels, initrds = sorted((root / "boot").glob("vmlinuz-*")), sorted((root / "boot").glob("initrd.img-*"))
    if not kernels or not initrds:
        raise EngineVMUnavailable(f"the engine VM's root has no kernel or initrd under {root / 'boot'}")
    shutil.copy(kernels[-1], work / "vmlinuz")
    shutil.copy(initrds[-1], work / "initrd.img")
    say(f"engine VM: writing the ext4 disk ({DISK_BYTES / 1024**3:.0f} GiB, sparse)")
    made = subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(root), str(work / "root.img"), f"{DISK_BYTES // 1024}k"],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        raise EngineVMUnavailable(f"mkfs.ext4 -d failed: {made.stderr.strip()}")
    for name in ("vmlinuz", "initrd.img", "root.img"):
        (work / name).replace(d / name)
    shutil.rmtree(work, ignore_errors=True)
    return Disk(found.image, found.vmlinuz, found.initrd, round(time.perf_counter() - start, 1))


def _must(proc: subprocess.CompletedProcess[str], what: str) -> None:
    if proc.returncode != 0:
        tail = " / ".join((proc.stdout + proc.stderr).strip().splitlines()[-4:])
        raise EngineVMUnavailable(f"{what} for the engine VM failed: {tail}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def qemu_command(
    dk: Disk,
    accel: str,
    cpus: int,
    memory_mb: int,
    port: int,
    console: Path,
    arch: str = "amd64",
    registry_port: int | None = None,
) -> list[str]:
    t = TARGETS[arch]
    forwards = f"hostfwd=tcp:127.0.0.1:{port}-:{ENGINE_PORT}"
    if registry_port is not None:
        forwards += f",hostfwd=tcp:127.0.0.1:{registry_port}-:{settings.registry_port()}"
    return [
        t.qemu, *t.board,
        "-accel", accel,
        "-smp", str(cpus),
        "-m", f"{memory_mb}M",
        "-nodefaults", "-display", "none",
        "-serial", f"file:{console}",
        "-no-reboot",
        "-kernel", str(dk.vmlinuz), "-initrd", str(dk.initrd), "-append", f"{KERNEL_ARGS} console={t.console}",
        # -snapshot: the VM's writes go to a temporary file that qemu drops at exit; the cached disk stays as made.
        "-drive", f"file={dk.image},format=raw,if=virtio", "-snapshot",
        "-netdev", f"user,id=n0,{forwards}",
        "-device", "virtio-net-pci,netdev=n0",
    ]  # fmt: skip


def engine_answers(docker_host: str) -> str | None:
    """The engine's version when it answers at `docker_host`, else None."""
    try:
        p = subprocess.run(
            ["docker", "-H", docker_host, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        return None
    return p.stdout.strip() if p.returncode == 0 and p.stdout.strip() else None


@contextmanager
def running(
    say: Printer = say_line, cpus: int = 2, memory_mb: int = 6144, boot_timeout: float = 1800, arch: str = "amd64"
) -> Iterator[EngineVM]:
    """Boot the engine VM and yield it once its engine answers; power it off (and drop its writes) after."""
    if not shutil.which(TARGETS[arch].qemu):
        raise EngineVMUnavailable(f"no {TARGETS[arch].qemu} here: apt-get install qemu-system-{_qemu_package(arch)}")
    dk = disk(say, arch)
    # KVM runs only a guest of the host's own architecture; any other is translated (TCG).
    acc = vm.choose_accelerator(dk.vmlinuz) if arch == host_arch() else vm.Accelerator("tcg", f"an {arch} guest")
    port, registry_port = free_port(), free_port()
    console = disk_dir(arch) / "console.log"
    host = f"tcp://127.0.0.1:{port}"
    say(f"engine VM: booting ({acc.name}: {acc.reason}; {cpus} CPUs, {memory_mb} MB); the engine at {host}")
    start = time.perf_counter()
    proc = subprocess.Popen(
        qemu_command(dk, acc.name, cpus, memory_mb, port, console, arch, registry_port),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        version = None
        while version is None:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise EngineVMUnavailable(f"qemu exited ({proc.returncode}) before the engine answered: {err.strip()}")
            if time.perf_counter() - start > boot_timeout:
                raise EngineVMUnavailable(
                    f"the VM's engine did not answer within {boot_timeout:.0f} s; its console: {console}"
                )
            time.sleep(5)
            version = engine_answers(host)
        booted = round(time.perf_counter() - start, 1)
        say(f"engine VM: docker {version} answered after {booted:.0f} s")
        yield EngineVM(host, acc.name, cpus, memory_mb, booted, console, f"127.0.0.1:{registry_port}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def host_arch() -> str:
    return engine.host_platform().split("/", 1)[1]


def _qemu_package(arch: str) -> str:
    return {"amd64": "x86", "arm64": "arm"}[arch]


def load_images(refs: list[str], into: EngineVM, say: Printer = say_line) -> float:
    """Copy images from this machine's engine into the VM's (`docker save | docker load`); the seconds it took."""
    start = time.perf_counter()
    say(f"engine VM: loading {', '.join(refs)} from this machine's engine")
    # The save reads this process's engine (DOCKER_HOST as set here, if at all); the load names the VM's.
    save = subprocess.Popen(["docker", "save", *refs], stdout=subprocess.PIPE)
    load = subprocess.run(
        ["docker", "-H", into.docker_host, "load", "--quiet"],
        stdin=save.stdout,
        capture_output=True,
        text=True,
    )
    if save.stdout:
        save.stdout.close()
    if save.wait() != 0 or load.returncode != 0:
        raise EngineVMUnavailable(f"docker save | docker load into the VM failed: {load.stderr.strip()[-300:]}")
    return round(time.perf_counter() - start, 1)
