"""The tiny VM: initramfs layout, cpio bytes, serial console parsing (offline), and a real boot (engine)."""

from __future__ import annotations

import gzip
import json
import platform
import shutil
import subprocess

import pytest

from layerlab.engine import replay, vm

SERIAL = (
    "SeaBIOS noise\r\n"
    "[    0.812] some kernel warning\r\n"
    "@@LAYERLAB-BEGIN@@\r\n"
    "LL kernel=6.1.0-56-cloud-amd64\r\n"
    "LL pid1=init\r\n"
    "LL hostname=(none)\r\n"
    "LL os=layerlab tiny VM (busybox initramfs)\r\n"
    "LL processes=48\r\n"
    "@@LAYERLAB-OUTPUT@@\r\n"
    "hello\r\n"
    "LL not=a fact, just output\r\n"
    "@@LAYERLAB-END rc=3@@\r\n"
    "[    2.1] reboot: Power down\r\n"
)


def test_parse_console_splits_facts_output_and_exit_code():
    c = vm.parse_console(SERIAL)
    assert c.began
    assert c.facts["kernel"] == "6.1.0-56-cloud-amd64"
    assert c.facts["pid1"] == "init"
    assert c.facts["os"] == "layerlab tiny VM (busybox initramfs)"
    assert "not" not in c.facts  # LL lines after OUTPUT belong to the command
    assert c.output == "hello\nLL not=a fact, just output"
    assert c.exit_code == 3


def test_parse_console_without_markers():
    assert not vm.parse_console("Kernel panic - not syncing: no init found\r\n").began
    cut = vm.parse_console("@@LAYERLAB-BEGIN@@\nLL kernel=x\n@@LAYERLAB-OUTPUT@@\npartial")
    assert cut.began and cut.exit_code is None and cut.output == "partial"


def test_initramfs_plan_has_init_console_and_command():
    entries = {e.path: e for e in vm.initramfs_plan(b"\x7fELF-busybox", "echo hi")}
    assert entries["init"].mode & 0o111 and entries["init"].data.startswith(b"#!/bin/sh")
    assert vm.BEGIN.encode() in entries["init"].data and b"poweroff -f" in entries["init"].data
    console = entries["dev/console"]
    assert (console.kind, console.major, console.minor) == ("chardev", 5, 1)
    assert entries["bin/sh"].data == entries["bin/busybox"].data == b"\x7fELF-busybox"
    assert entries["command"].data == b"echo hi\n"
    assert b"PRETTY_NAME=" in entries["etc/os-release"].data


def test_cpio_is_newc_aligned_and_reproducible():
    plan = vm.initramfs_plan(b"abc", "true")
    data = vm.cpio_newc(plan)
    assert data == vm.cpio_newc(plan)
    assert data.startswith(b"070701") and b"TRAILER!!!" in data[-200:]
    assert len(data) % 4 == 0


@pytest.mark.skipif(not shutil.which("cpio"), reason="cpio is not installed")
def test_cpio_tool_reads_our_archive():
    names = (
        subprocess.run(
            ["cpio", "-it", "--quiet"],
            input=vm.cpio_newc(vm.initramfs_plan(b"abc", "true")),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split()
    )
    assert names[:1] == ["bin"] and {"init", "dev/console", "bin/busybox", "command"} <= set(names)


def test_initramfs_is_gzip_and_cached_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(vm, "find_busybox", lambda: _fake_busybox(tmp_path))
    a, b, c = vm.initramfs("true"), vm.initramfs("true"), vm.initramfs("false")
    assert a == b and a != c
    assert gzip.decompress(a.read_bytes()).startswith(b"070701")
    assert a.parent == tmp_path / "vm"


def _fake_busybox(tmp_path):
    p = tmp_path / "busybox"
    p.write_bytes(b"\x7fELF static")
    return p


def test_kernel_package_from_apt_cache_depends():
    text = "linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n"
    assert vm.kernel_package_from_depends(text) == "linux-image-6.1.0-56-cloud-amd64"
    assert vm.kernel_package_from_depends("linux-image-cloud-amd64\n") is None


def test_qemu_command_is_bounded_and_serial_only(tmp_path):
    cmd = vm.qemu_command(tmp_path / "vmlinuz", tmp_path / "initrd", "tcg", 256)
    assert cmd[0] == vm.QEMU
    assert cmd[cmd.index("-accel") + 1] == "tcg" and cmd[cmd.index("-m") + 1] == "256M"
    assert "-no-reboot" in cmd and cmd[cmd.index("-serial") + 1] == "stdio"
    assert "console=ttyS0" in cmd[cmd.index("-append") + 1]


def test_accelerator_can_be_forced(monkeypatch, tmp_path):
    monkeypatch.setenv("LAYERLAB_VM_ACCEL", "tcg")
    assert vm.choose_accelerator(tmp_path / "vmlinuz").name == "tcg"


def _result(**kw) -> vm.VMResult:
    base = dict(
        command="true", exit_code=0, output="", first_output_seconds=3.9, total_seconds=4.0, accelerator="tcg",
        accelerator_reason="test", kernel="6.1.0-56-cloud-amd64", pid1="init", hostname="(none)", os_name="x",
        processes=48, memory_mb=256, guest_mem_used_bytes=1, qemu_peak_rss_bytes=2, kernel_bytes=10,
        initramfs_bytes=5, kernel_file="vmlinuz-x",
    )  # fmt: skip
    base.update(kw)
    return vm.VMResult(**base)


def test_result_round_trips_through_json():
    r = _result()
    assert vm.VMResult.model_validate(json.loads(r.model_dump_json())) == r
    assert r.disk_bytes == 15 and r.ok


def test_boot_replays_a_recording(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAYERLAB_REPLAY_DIR", str(tmp_path))
    monkeypatch.setenv("LAYERLAB_REPLAY", "1")
    command = "echo replay-test-unique-1"
    replay.save("vm", vm._key(command, 64) + "#1", _result(command=command, memory_mb=64))
    r = vm.boot(command, memory_mb=64)
    assert r.replayed and r.memory_mb == 64
    assert "replayed from a recorded run" in capsys.readouterr().out


def test_vm_boots_its_own_kernel(qemu_system):
    r = vm.boot("echo inside; cat /proc/1/comm", memory_mb=256, timeout=180)
    assert r.ok, r
    assert r.output.splitlines() == ["inside", "init"]
    assert r.pid1 == "init"
    assert r.kernel and r.kernel != platform.release(), "the VM must run its own kernel"
    assert r.accelerator in ("kvm", "tcg")
    assert 0 < r.first_output_seconds <= r.total_seconds
    assert r.qemu_peak_rss_bytes and r.disk_bytes > 1_000_000
