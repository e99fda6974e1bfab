"""A real, tiny virtual machine: a Debian kernel, a busybox initramfs, qemu.

The VM boots its own kernel, runs one shell command as part of its /init,
prints what it sees between markers on the serial console and powers off.
That is all a lesson needs to compare a VM with a container honestly.

- The kernel comes from Debian's `linux-image-*-cloud-amd64` package (small,
  made for VMs), fetched with `apt-get download` once and cached.
- The initramfs is written here, in Python (cpio "newc" + gzip): no root is
  needed for the /dev/console node and the archive is byte-for-byte
  reproducible, so it is cached by content.
- KVM is used only when a short probe boot proves it works; otherwise TCG
  (qemu's instruction translator), which is slower but runs anywhere.

`boot()` is replayable: where qemu cannot run (Binder, macOS) the result of a
recorded boot comes back, marked as such.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import platform
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, cast

from layerlab.engine import replay
from layerlab.engine.result import Replayable
from layerlab.ground import settings
from layerlab.ground.errors import Unavailable
from layerlab.ground.text import last_line

QEMU = "qemu-system-x86_64"
KERNEL_METAPACKAGE = "linux-image-cloud-amd64"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
BEGIN, OUTPUT, END = "@@LAYERLAB-BEGIN@@", "@@LAYERLAB-OUTPUT@@", "@@LAYERLAB-END"
KERNEL_ARGS = "console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init"
# A working KVM guest reaches /init in well under a second; a hung one never does.
KVM_PROBE_TIMEOUT = 8.0

# What the VM's /init does before and after the command: enough of a system
# for `uname`, `ps` and `hostname`, then facts on lines the host can parse.
INIT_SCRIPT = f"""#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "{BEGIN}"
echo "LL kernel=$(uname -r)"
echo "LL pid1=$(cat /proc/1/comm)"
echo "LL hostname=$(hostname)"
. /etc/os-release; echo "LL os=$PRETTY_NAME"
echo "LL processes=$(ls -d /proc/[0-9]* | wc -l)"
echo "LL mem_total_kb=$(awk '/^MemTotal/ {{print $2}}' /proc/meminfo)"
echo "LL mem_used_kb=$(awk '/^MemTotal/ {{t=$2}} /^MemAvailable/ {{a=$2}} END {{print t-a}}' /proc/meminfo)"
echo "{OUTPUT}"
sh /command
echo "{END} rc=$?@@"
poweroff -f
"""
OS_RELEASE = 'PRETTY_NAME="layerlab tiny VM (busybox initramfs)"\nID=layerlab-vm\n'


class VMUnavailable(Unavailable):
    """qemu, a kernel or busybox is missing; the message says how to get them."""


# ---- the initramfs ----------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One member of the initramfs archive."""

    path: str  # without a leading slash, as cpio stores it
    kind: str  # dir | file | chardev
    mode: int
    data: bytes = b""
    major: int = 0
    minor: int = 0


def initramfs_plan(busybox: bytes, command: str) -> list[Entry]:
    """The archive's members, in order: directories first, then /dev/console, then files."""
    entries = [Entry(d, "dir", 0o755) for d in ("bin", "dev", "etc", "proc", "sys", "tmp")]
    # The kernel opens /dev/console for /init's stdout before /init can mount
    # devtmpfs; without this node the command's output would go nowhere.
    entries.append(Entry("dev/console", "chardev", 0o600, major=5, minor=1))
    entries.append(Entry("bin/busybox", "file", 0o755, busybox))
    entries.append(Entry("bin/sh", "file", 0o755, busybox))  # the shebang of /init needs it before --install
    entries.append(Entry("etc/os-release", "file", 0o644, OS_RELEASE.encode()))
    entries.append(Entry("command", "file", 0o644, (command.rstrip("\n") + "\n").encode()))
    entries.append(Entry("init", "file", 0o755, INIT_SCRIPT.encode()))
    return entries


def _cpio_member(ino: int, e: Entry) -> bytes:
    kind_bits = {"dir": stat.S_IFDIR, "file": stat.S_IFREG, "chardev": stat.S_IFCHR}[e.kind]
    name = e.path.encode() + b"\0"
    fields = [
        ino,
        kind_bits | e.mode,
        0,
        0,
        2 if e.kind == "dir" else 1,
        0,
        len(e.data),
        0,
        0,
        e.major,
        e.minor,
        len(name),
        0,
    ]
    header = b"070701" + b"".join(f"{f:08x}".encode() for f in fields)
    out = header + name
    out += b"\0" * (-len(out) % 4)  # newc pads the name and the data to 4 bytes
    out += e.data + b"\0" * (-len(e.data) % 4)
    return out


def cpio_newc(entries: list[Entry]) -> bytes:
    """The uncompressed cpio archive; mtime 0 and uid 0 so equal plans give equal bytes."""
    body = b"".join(_cpio_member(i + 1, e) for i, e in enumerate(entries))
    return body + _cpio_member(0, Entry("TRAILER!!!", "file", 0))


def find_busybox() -> Path:
    for c in BUSYBOX_CANDIDATES:
        p = Path(c)
        if p.is_file() and _is_static(p):
            return p
    raise VMUnavailable(
        "no statically linked busybox found (the VM has no C library to load a dynamic one).\n"
        "Fix: apt-get install busybox-static (scripts/setup-engine.sh installs it)."
    )


def _is_static(p: Path) -> bool:
    # A dynamic ELF names its loader in a PT_INTERP segment; the path shows up in the first few KB.
    with open(p, "rb") as fh:
        head = fh.read(8192)
    return head[:4] == b"\x7fELF" and b"/ld-linux" not in head and b"ld-musl" not in head


def vm_dir() -> Path:
    d = settings.cache_dir() / "vm"
    d.mkdir(parents=True, exist_ok=True)
    return d


def initramfs(command: str) -> Path:
    """Build (or reuse) the gzip'd initramfs that runs `command`; named by its content hash."""
    data = cpio_newc(initramfs_plan(find_busybox().read_bytes(), command))
    path = vm_dir() / f"initramfs-{hashlib.sha256(data).hexdigest()[:12]}.cpio.gz"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as gz:
            gz.write(data)
        tmp.replace(path)
    return path


# ---- the kernel -------------------------------------------------------------


def kernel_package_from_depends(text: str) -> str | None:
    """`apt-cache depends linux-image-cloud-amd64` output -> 'linux-image-6.1.0-56-cloud-amd64'."""
    m = re.search(r"Depends:\s*(linux-image-[0-9][^\s<>]*-cloud-amd64)", text)
    return m.group(1) if m else None


def kernel() -> Path:
    """The cached VM kernel, fetched from Debian on first use (about 27 MB download, a few seconds)."""
    override = settings.vm_kernel()
    if override:
        return override
    cached = sorted(vm_dir().glob("vmlinuz-*"))
    if cached:
        return cached[-1]
    if not shutil.which("apt-get"):
        raise VMUnavailable("no cached VM kernel and no apt-get to fetch one; set LAYERLAB_VM_KERNEL=/path/to/vmlinuz")
    deps = subprocess.run(["apt-cache", "depends", KERNEL_METAPACKAGE], capture_output=True, text=True)
    package = kernel_package_from_depends(deps.stdout)
    if not package:
        raise VMUnavailable(f"apt knows no {KERNEL_METAPACKAGE}; run `apt-get update`, or set LAYERLAB_VM_KERNEL")
    print(f"fetching the VM kernel: apt-get download {package} (once; cached in {vm_dir()})", flush=True)
    with tempfile.TemporaryDirectory(prefix="layerlab-kernel-") as tmp:
        # apt's sandbox user cannot write into a private temp dir; the download is signed and checked anyway.
        os.chmod(tmp, 0o755)
        got = subprocess.run(["apt-get", "download", package], cwd=tmp, capture_output=True, text=True)
        debs = list(Path(tmp).glob("*.deb"))
        if got.returncode != 0 or not debs:
            raise VMUnavailable(f"apt-get download {package} failed:\n{got.stderr.strip()}")
        return _extract_vmlinuz(debs[0], vm_dir())


def _extract_vmlinuz(deb: Path, into: Path) -> Path:
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    assert proc.stdout
    found = None
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        # Read to the end even after the kernel is found: stopping early makes dpkg-deb die of a broken pipe.
        for member in tar:
            if not found and re.fullmatch(r"\./boot/vmlinuz-.*", member.name) and member.isfile():
                src = tar.extractfile(member)
                assert src
                found = into / Path(member.name).name
                found.write_bytes(src.read())
    proc.stdout.close()
    proc.wait()
    if not found:
        raise VMUnavailable(f"{deb.name} holds no /boot/vmlinuz-*")
    return found


# ---- the serial console -----------------------------------------------------


@dataclass
class Console:
    facts: dict[str, str]
    output: str  # what the command printed
    exit_code: int | None  # None when the END marker never came
    began: bool


def parse_console(text: str) -> Console:
    """Split the serial log into the /init facts, the command's output and its exit code.

    Anything outside the markers (firmware, kernel messages) is ignored.
    """
    lines = text.replace("\r", "").split("\n")
    facts: dict[str, str] = {}
    out: list[str] = []
    state, code = "before", None
    for line in lines:
        if state == "before" and BEGIN in line:
            state = "facts"
        elif state == "facts" and OUTPUT in line:
            state = "output"
        elif state == "facts" and line.startswith("LL ") and "=" in line:
            k, v = line[3:].split("=", 1)
            facts[k.strip()] = v.strip()
        elif state == "output" and END in line:
            m = re.search(r"rc=(\d+)", line)
            code = int(m.group(1)) if m else None
            state = "after"
        elif state == "output":
            out.append(line)
    return Console(facts, "\n".join(out).strip("\n"), code, state != "before")


# ---- accelerator ------------------------------------------------------------

Accel = Literal["kvm", "tcg"]


@dataclass
class Accelerator:
    name: Accel
    reason: str


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def choose_accelerator(vmlinuz: Path) -> Accelerator:
    """KVM when a probe boot reaches /init in time, TCG otherwise. Cached per host boot.

    /dev/kvm can exist and still hang (a VM without nested virtualisation),
    so its presence proves nothing; only a boot does. LAYERLAB_VM_ACCEL=tcg|kvm forces one.
    """
    forced = settings.vm_accel()
    if forced:
        return Accelerator(forced, "forced by LAYERLAB_VM_ACCEL")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return Accelerator("tcg", "no usable /dev/kvm")
    memo = vm_dir() / "kvm-probe.json"
    try:
        seen = json.loads(memo.read_text())
        if seen.get("boot_id") == _boot_id():
            return Accelerator(**seen["accelerator"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    print(f"probing KVM (a {KVM_PROBE_TIMEOUT:.0f} s test boot)...", flush=True)
    probe = _qemu(vmlinuz, initramfs("true"), "kvm", 128, KVM_PROBE_TIMEOUT)
    if probe.console.exit_code == 0:
        acc = Accelerator("kvm", f"/dev/kvm works (probe boot {probe.total_seconds:.1f} s)")
    else:
        why = "hung" if probe.timed_out else f"failed ({last_line(probe.log, 'no output')[:120]})"
        acc = Accelerator("tcg", f"/dev/kvm exists but a KVM boot {why}, e.g. no nested virtualisation")
    memo.write_text(json.dumps({"boot_id": _boot_id(), "accelerator": asdict(acc)}))
    return acc


# ---- booting ----------------------------------------------------------------


@dataclass
class _Run:
    console: Console
    log: str
    first_byte_seconds: float | None
    first_output_seconds: float | None
    total_seconds: float
    timed_out: bool
    peak_rss_bytes: int | None


def _vm_hwm(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def qemu_command(vmlinuz: Path, initrd: Path, accel: str, memory_mb: int) -> list[str]:
    return [
        QEMU,
        "-accel", accel,
        "-m", f"{memory_mb}M",
        "-smp", "1",
        # No default NIC, VGA or option ROMs to load: less to emulate before the kernel starts.
        "-nodefaults", "-display", "none", "-serial", "stdio",
        "-no-reboot",  # poweroff or panic ends qemu instead of looping
        "-kernel", str(vmlinuz), "-initrd", str(initrd),
        "-append", KERNEL_ARGS,
    ]  # fmt: skip


def _qemu(vmlinuz: Path, initrd: Path, accel: str, memory_mb: int, timeout: float) -> _Run:
    cmd = qemu_command(vmlinuz, initrd, accel, memory_mb)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    chunks: list[bytes] = []
    marks: dict[str, float] = {}

    def read() -> None:
        # Unbuffered bytes from a pipe: read1 returns what is there without waiting for 4096 bytes.
        stdout = cast(io.BufferedReader, proc.stdout)
        buf = b""
        while True:
            block = stdout.read1(4096)
            if not block:
                return
            marks.setdefault("byte", time.perf_counter())
            chunks.append(block)
            buf = (buf + block)[-4096:]
            if "begin" not in marks and BEGIN.encode() in buf:
                marks["begin"] = time.perf_counter()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    # qemu's peak memory, sampled while it runs: VmHWM only grows, so the last
    # sample is the peak to within 20 ms. (wait4's ru_maxrss would also count
    # the memory of the big process that forked qemu.)
    rss = None
    timed_out = False
    while proc.poll() is None:
        rss = _vm_hwm(proc.pid) or rss
        if time.perf_counter() - start > timeout:
            timed_out = True
            proc.kill()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass  # a qemu stuck in the kernel (a hung KVM) may not even die; do not wait forever
            break
        time.sleep(0.02)
    total = time.perf_counter() - start
    reader.join(2)
    log = b"".join(chunks).decode("utf-8", "replace")
    return _Run(
        console=parse_console(log),
        log=log,
        first_byte_seconds=round(marks["byte"] - start, 3) if "byte" in marks else None,
        first_output_seconds=round(marks["begin"] - start, 3) if "begin" in marks else None,
        total_seconds=round(total, 3),
        timed_out=timed_out,
        peak_rss_bytes=rss,
    )


class VMResult(Replayable):
    command: str
    exit_code: int | None
    output: str  # what the command printed on the VM's console
    first_output_seconds: float | None  # qemu started -> /init's first line on the console
    total_seconds: float  # qemu started -> qemu exited (power off)
    accelerator: Accel
    accelerator_reason: str
    kernel: str  # `uname -r` inside the VM
    pid1: str  # /proc/1/comm inside the VM
    hostname: str
    os_name: str  # PRETTY_NAME of the VM's /etc/os-release
    processes: int  # entries in the VM's /proc (kernel threads included)
    memory_mb: int  # RAM given to the VM
    guest_mem_used_bytes: int | None  # MemTotal - MemAvailable inside the VM
    qemu_peak_rss_bytes: int | None  # what qemu really took from the host
    kernel_bytes: int
    initramfs_bytes: int
    kernel_file: str
    timed_out: bool = False
    qemu_version: str = ""
    first_byte_seconds: float | None = None
    host_kernel: str = ""  # the host's `uname -r` at boot time, so a replayed run still compares like with like

    def replay_label(self) -> str:
        """What made this result, for a recording: the VM, not the container engine."""
        return f"qemu {self.qemu_version or '?'} ({self.accelerator})"

    @property
    def disk_bytes(self) -> int:
        return self.kernel_bytes + self.initramfs_bytes

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def _qemu_version() -> str:
    try:
        out = subprocess.run([QEMU, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    m = re.search(r"version (\S+)", out)
    return m.group(1) if m else ""


def _key(command: str = "uname -a", memory_mb: int = 256, **kw: Any) -> str:
    return f"{command}|memory={memory_mb}"


@replay.replayable("vm", _key, VMResult)
def boot(command: str = "uname -a", memory_mb: int = 256, timeout: float = 120) -> VMResult:
    """Boot the tiny VM with `memory_mb` of RAM, run `command` in it (busybox sh), power off.

    Under TCG this takes a few seconds; raises VMUnavailable (a replayable
    failure) when qemu, busybox or a kernel is missing.
    """
    if not shutil.which(QEMU):
        raise VMUnavailable(f"{QEMU} is not installed. Fix: apt-get install qemu-system-x86 (make setup does it).")
    vmlinuz = kernel()
    initrd = initramfs(command)
    acc = choose_accelerator(vmlinuz)
    print(f"booting the VM ({acc.name}, {memory_mb} MB)...", flush=True)
    r = _qemu(vmlinuz, initrd, acc.name, memory_mb, timeout)
    if not r.console.began:
        tail = "\n".join(r.log.strip().splitlines()[-15:])
        what = f"did not reach /init within {timeout:.0f} s" if r.timed_out else "stopped before /init ran"
        raise RuntimeError(f"the VM {what} ({acc.name}). Last console lines:\n{tail or '(none)'}")
    f = r.console.facts

    def kb(key: str) -> int | None:
        return int(f[key]) * 1024 if f.get(key, "").isdigit() else None

    return VMResult(
        command=command,
        exit_code=r.console.exit_code,
        output=r.console.output,
        first_output_seconds=r.first_output_seconds,
        total_seconds=r.total_seconds,
        accelerator=acc.name,
        accelerator_reason=acc.reason,
        kernel=f.get("kernel", ""),
        pid1=f.get("pid1", ""),
        hostname=f.get("hostname", ""),
        os_name=f.get("os", ""),
        processes=int(f.get("processes", "0") or 0),
        memory_mb=memory_mb,
        guest_mem_used_bytes=kb("mem_used_kb"),
        qemu_peak_rss_bytes=r.peak_rss_bytes,
        kernel_bytes=vmlinuz.stat().st_size,
        initramfs_bytes=initrd.stat().st_size,
        kernel_file=vmlinuz.name,
        timed_out=r.timed_out,
        qemu_version=_qemu_version(),
        first_byte_seconds=r.first_byte_seconds,
        host_kernel=platform.release(),
    )


__all__ = [
    "VMResult",
    "VMUnavailable",
    "boot",
    "cpio_newc",
    "initramfs_plan",
    "kernel_package_from_depends",
    "parse_console",
    "qemu_command",
]
