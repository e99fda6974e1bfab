"""The Debian minbase root filesystem each offline stand-in starts from, one tar per architecture.

mmdebstrap's chrootless mode installs the packages with the host's own dpkg, so the foreign
architecture's maintainer scripts need no emulation: the arm64 root took 17 s here against 160 s for
debootstrap, whose second stage runs dpkg under qemu (2026-12-04, 2 cores). The packages of the
minbase set support that mode (DPKG_ROOT), but a script that did not would write to the host, so
mmdebstrap runs where the host's root is read-only: such a script fails the run instead, and
debootstrap makes the root as before. debootstrap is also the way where mmdebstrap is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from layerlab.ground import settings
from layerlab.ground.text import Printer
from layerlab.ground.text import say as say_line

SUITE = "trixie"  # Debian 13: what python:3.13-slim is built on
MIRROR = settings.debian_mirror()
HOST_CA_BUNDLE = settings.ca_bundle()

# The rules the official slim images use to keep docs and locales out.
DPKG_SLIM = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
"""
APT_CLEAN = """\
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
"""

# mmdebstrap runs in its own mount namespace with / read-only and only its work folder writable.
_CONFINED = 'mount --bind "$0" "$0" && mount -o remount,bind,ro / && TMPDIR="$0" exec "$@"'


def rootfs_tar(arch: str) -> Path:
    return settings.cache_dir() / "rootfs" / f"{SUITE}-minbase-{arch}.tar"


def make(arch: str, say: Printer = say_line) -> Path:
    """Make the slimmed minbase root filesystem for `arch` and cache it as a tar."""
    if os.geteuid() != 0:
        raise RuntimeError(
            "a root filesystem needs root; run `sudo .venv/bin/layerlab bootstrap` or use the devcontainer"
        )
    out = rootfs_tar(arch)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"layerlab-rootfs-{arch}-", dir=out.parent))
    start = time.perf_counter()
    try:
        tool = "mmdebstrap" if _mmdebstrap(arch, work, say) else "debootstrap"
        if tool == "debootstrap":
            shutil.rmtree(work / "root", ignore_errors=True)
            _debootstrap(arch, work / "root", say)
        root = work / "root"
        _tidy(root)
        _slim(root)
        _add_ca_bundle(root)
        with tarfile.open(out.with_suffix(".tmp"), "w") as tar:
            for entry in sorted(root.iterdir()):
                tar.add(entry, arcname=entry.name, filter=_tar_filter)
        out.with_suffix(".tmp").rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    say(
        f"  [{arch}] root filesystem by {tool} cached at {out} "
        f"({out.stat().st_size / 1e6:.0f} MB, {time.perf_counter() - start:.0f} s)"
    )
    return out


def _mmdebstrap(arch: str, work: Path, say: Printer) -> bool:
    """The root under work/root by mmdebstrap's chrootless mode; False (and why) where it cannot."""
    if not (shutil.which("mmdebstrap") and shutil.which("unshare")):
        say(f"  [{arch}] no mmdebstrap here (apt-get install mmdebstrap; make setup does it): using debootstrap")
        return False
    say(f"mmdebstrap {SUITE} minbase for {arch}, chrootless (about 20 s)")
    cmd = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", _CONFINED, str(work)]
    cmd += ["mmdebstrap", "--quiet", "--mode=chrootless", "--variant=minbase", f"--arch={arch}"]
    cmd += ["--format=directory", SUITE, str(work / "root"), MIRROR]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        say(f"  [{arch}] mmdebstrap failed ({' / '.join(tail)}): using debootstrap")
        return False
    return True


def _debootstrap(arch: str, root: Path, say: Printer) -> None:
    if not shutil.which("debootstrap"):
        raise RuntimeError("debootstrap is not installed: apt-get install debootstrap (make setup does it)")
    say(f"debootstrap {SUITE} minbase for {arch} (about 30 s native, 2 min emulated)")
    cmd = ["debootstrap", "--variant=minbase", f"--arch={arch}", SUITE, str(root), MIRROR]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    phases: set[str] = set()
    tail: list[str] = []
    assert proc.stdout
    for line in proc.stdout:
        tail = (tail + [line.rstrip()])[-20:]
        # One line per phase (Retrieving, Validating, Extracting, ...), not one per package.
        words = line.split()
        phase = words[1] if len(words) > 1 else line
        if line.startswith("I: ") and phase not in phases:
            say(f"  [{arch}] {line.rstrip()}")
            phases.add(phase)
    if proc.wait() != 0:
        raise RuntimeError(f"debootstrap for {arch} failed:\n" + "\n".join(tail))


def _tidy(root: Path) -> None:
    """What mmdebstrap leaves that a debootstrapped root (and the official image) lacks."""
    # The host's ldconfig leaves a foreign root's cache empty; the root's own, under qemu, takes a second.
    subprocess.run(["chroot", str(root), "/sbin/ldconfig"], check=True, timeout=300)
    # apt's auto-installed marks would let `apt-get autoremove` in a lesson remove what the official image keeps.
    (root / "var/lib/apt/extended_states").unlink(missing_ok=True)
    for log in (root / "var/log/apt").glob("*"):
        log.unlink()


_SKIP_DIRS = ("proc/", "sys/", "dev/", "run/", "tmp/", "var/cache/apt/archives/", "var/lib/apt/lists/")


def _tar_filter(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    # Keep the mount points themselves, drop what the bootstrap left inside them.
    for d in _SKIP_DIRS:
        if info.name.startswith(d) and info.name != d.rstrip("/"):
            if info.name.endswith("/partial") or info.name.endswith("/lock"):
                return info if info.isdir() else None
            return None
    return info


def _slim(root: Path) -> None:
    (root / "etc/dpkg/dpkg.cfg.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/dpkg/dpkg.cfg.d/docker-slim").write_text(DPKG_SLIM)
    (root / "etc/apt/apt.conf.d/docker-clean").write_text(APT_CLEAN)
    for pattern in ("usr/share/man/*", "usr/share/info/*", "usr/share/locale/*", "usr/share/lintian/*"):
        for p in root.glob(pattern):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    for doc in (root / "usr/share/doc").glob("*"):
        for f in doc.rglob("*"):
            if f.is_file() and f.name != "copyright":
                f.unlink(missing_ok=True)


def _add_ca_bundle(root: Path) -> None:
    """The host's bundle goes where update-ca-certificates will keep it, and is live at once."""
    if not HOST_CA_BUNDLE.is_file():
        return
    local = root / "usr/local/share/ca-certificates"
    local.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HOST_CA_BUNDLE, local / "layerlab-host-bundle.crt")
    (root / "etc/ssl/certs").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HOST_CA_BUNDLE, root / "etc/ssl/certs/ca-certificates.crt")
