"""The engine VM of the cgroup v2 matrix leg: what it boots and what it refuses, without booting it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from layerlab.course import matrix
from layerlab.engine import engine_vm


def _disk(tmp_path: Path) -> engine_vm.Disk:
    return engine_vm.Disk(tmp_path / "root.img", tmp_path / "vmlinuz", tmp_path / "initrd.img", 0.0)


def test_the_vm_keeps_its_disk_unchanged_and_its_engine_on_this_machines_loopback(tmp_path):
    cmd = engine_vm.qemu_command(_disk(tmp_path), "tcg", 2, 4096, 41234, tmp_path / "console.log")
    assert "-snapshot" in cmd, "a run must not write into the cached disk"
    netdev = cmd[cmd.index("-netdev") + 1]
    assert f"hostfwd=tcp:127.0.0.1:41234-:{engine_vm.ENGINE_PORT}" in netdev, "reachable from this machine only"
    args = cmd[cmd.index("-append") + 1]
    assert "systemd.unified_cgroup_hierarchy=1" in args and "root=/dev/vda" in args


def test_dockerd_in_the_vm_listens_where_the_port_is_forwarded_with_the_default_image_store():
    daemon = json.loads(engine_vm.FILES["etc/docker/daemon.json"])
    assert f"tcp://0.0.0.0:{engine_vm.ENGINE_PORT}" in daemon["hosts"]
    assert "fd://" in daemon["hosts"], "the unix socket of docker.socket, which Debian's docker.service requires"
    assert daemon["features"] == {"containerd-snapshotter": True}
    # dockerd refuses -H next to "hosts": the override must clear Debian's ExecStart before setting its own.
    unit = engine_vm.FILES["etc/systemd/system/docker.service.d/layerlab.conf"].splitlines()
    assert unit[1:] == ["ExecStart=", "ExecStart=/usr/sbin/dockerd"]


def test_without_mmdebstrap_the_disk_is_refused_with_the_install_line(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(engine_vm.shutil, "which", lambda tool: None)
    with pytest.raises(engine_vm.EngineVMUnavailable, match="apt-get install mmdebstrap e2fsprogs"):
        engine_vm.disk(say=lambda line: None)


def test_a_cached_disk_is_used_as_it_is(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLAB_CACHE", str(tmp_path))
    for name in ("root.img", "vmlinuz", "initrd.img"):
        (engine_vm.disk_dir() / name).write_bytes(b"x")
    monkeypatch.setattr(engine_vm.subprocess, "run", lambda *a, **k: pytest.fail("nothing to make"))
    got = engine_vm.disk(say=lambda line: None)
    assert got.image == tmp_path / "engine-vm" / "root.img" and got.seconds == 0.0


def test_the_cgroup_v2_leg_is_a_vm_running_lesson_01_and_its_exercise():
    leg = matrix.leg("cgroup-v2-vm")
    assert leg.machine == "vm" and leg.vm_arch == "amd64"
    assert leg.lessons == ["01"] and leg.exercises == ["01-limits"]


def test_the_arm64_vm_boots_an_arm64_kernel_on_qemus_virt_board_with_amd64_emulation_inside(tmp_path):
    cmd = engine_vm.qemu_command(_disk(tmp_path), "tcg", 2, 4096, 41234, tmp_path / "c.log", arch="arm64")
    assert cmd[0] == "qemu-system-aarch64" and cmd[1:5] == ["-M", "virt", "-cpu", "max"]
    assert "console=ttyAMA0" in cmd[cmd.index("-append") + 1]
    t = engine_vm.TARGETS["arm64"]
    assert t.kernel_package == "linux-image-cloud-arm64" and "qemu-user-static" in t.extra
    leg = matrix.leg("arm64-vm")
    assert leg.vm_arch == "arm64" and leg.lessons == ["00", "05"] and leg.exercises == ["02-slim", "05-multiarch"]


def test_the_course_registry_in_the_vm_is_reached_through_a_forward_of_its_own(tmp_path, monkeypatch):
    monkeypatch.delenv("LAYERLAB_REGISTRY_PORT", raising=False)
    cmd = engine_vm.qemu_command(_disk(tmp_path), "tcg", 2, 4096, 41234, tmp_path / "c.log", registry_port=41235)
    netdev = cmd[cmd.index("-netdev") + 1]
    assert "hostfwd=tcp:127.0.0.1:41235-:5000" in netdev and "hostfwd=tcp:127.0.0.1:41234-:" in netdev
    box = engine_vm.EngineVM("tcp://127.0.0.1:41234", "tcg", 2, 4096, 1.0, tmp_path / "c.log", "127.0.0.1:41235")
    env = box.env()
    # The forward lands on the VM's network address: a registry published on the VM's loopback would not answer.
    assert env["LAYERLAB_REGISTRY_API"] == "127.0.0.1:41235" and env["LAYERLAB_REGISTRY_BIND"] == "0.0.0.0"
    for name in ("LAYERLAB_REGISTRY_API", "LAYERLAB_REGISTRY_BIND"):
        monkeypatch.setenv(name, env[name])
    from layerlab.engine import registry

    assert registry.api_url("/v2/") == "http://127.0.0.1:41235/v2/"
    assert registry.address() == "localhost:5000", "image references still name the engine's own localhost"


def test_an_engine_on_this_machine_keeps_the_registry_on_loopback(monkeypatch):
    for name in ("LAYERLAB_REGISTRY_API", "LAYERLAB_REGISTRY_BIND", "LAYERLAB_REGISTRY_PORT"):
        monkeypatch.delenv(name, raising=False)
    from layerlab.ground import settings

    assert (settings.registry_api(), settings.registry_bind()) == ("127.0.0.1:5000", "127.0.0.1")
