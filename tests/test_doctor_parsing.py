"""Doctor's parsing and judgement on recorded engine facts; no engine needed."""

import json
from pathlib import Path

from layerlab import engine
from layerlab.course import doctor

DATA = Path(__file__).parent / "data"


def recorded(name="engine-docker26-containerd.json") -> engine.EngineFacts:
    return engine.EngineFacts(**json.loads((DATA / name).read_text()))


def by_name(checks):
    return {c.name: c for c in checks}


def test_containerd_store_is_detected_from_driver_status():
    status = [["driver-type", "io.containerd.snapshotter.v1"]]
    assert engine.image_store_from_driver_status("overlayfs", status) == "containerd"
    assert engine.image_store_from_driver_status("overlay2", [["Backing Filesystem", "extfs"]]) == "classic"


def test_buildx_version_is_read_from_its_banner():
    assert engine.buildx_version_from_text("github.com/docker/buildx 0.13.1+ds1 0.13.1+ds1-3") == "0.13.1+ds1"
    assert engine.buildx_version_from_text(None) is None


def test_binfmt_entries_are_read(tmp_path):
    (tmp_path / "qemu-aarch64").write_text(
        "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n"
    )
    (tmp_path / "qemu-riscv64").write_text("disabled\n")
    (tmp_path / "register").write_text("")
    assert engine.binfmt_emulators(tmp_path) == ["qemu-aarch64"]


def test_binfmt_misc_counts_as_seen_only_where_it_is_mounted(tmp_path):
    # A container (the devcontainer) has an empty /proc/sys/fs/binfmt_misc: the probe then asks BuildKit.
    assert not engine.binfmt_visible(tmp_path)
    (tmp_path / "status").write_text("enabled\n")
    assert engine.binfmt_visible(tmp_path)


def test_recorded_engine_passes():
    checks = by_name(doctor.engine_checks(recorded(), ("linux/amd64", "linux/arm64")))
    assert checks["engine"].status == doctor.OK and "26.1" in checks["engine"].value
    assert checks["buildx"].status == doctor.OK
    assert checks["image store"].status == doctor.OK
    assert checks["platform linux/arm64"].status == doctor.OK
    assert "emulated" in checks["platform linux/arm64"].value


def test_classic_store_warns_with_the_daemon_json_fix():
    f = recorded()
    f.image_store = "classic"
    c = by_name(doctor.engine_checks(f, ("linux/amd64",)))["image store"]
    assert c.status == doctor.WARN
    assert "containerd-snapshotter" in c.fix


def test_missing_emulator_fails_arm64_with_a_fix():
    f = recorded()
    f.emulators = []
    c = by_name(doctor.engine_checks(f, ("linux/amd64", "linux/arm64")))["platform linux/arm64"]
    assert c.status == doctor.FAIL
    assert "qemu-user-static" in c.fix


def test_missing_buildx_fails():
    f = recorded()
    f.buildx_version = None
    assert by_name(doctor.engine_checks(f, ()))["buildx"].status == doctor.FAIL


def test_unreachable_engine_is_one_failing_check_with_its_error():
    f = engine.EngineFacts(
        command="docker", reachable=False, error="No container engine answers at DOCKER_HOST=unix:///nowhere"
    )
    checks = doctor.engine_checks(f, ("linux/amd64",))
    assert [c.status for c in checks] == [doctor.FAIL]
    assert "DOCKER_HOST" in checks[0].fix


def test_report_table_lists_fixes_and_verdict():
    f = recorded()
    f.emulators = []
    report = doctor.Report(checks=doctor.engine_checks(f, ("linux/amd64", "linux/arm64")), engine=f)
    assert not report.ok
    text = report.table()
    assert "What to do:" in text and "Not ready" in text
    assert json.loads(report.to_json())["ok"] is False


def test_missing_base_image_fails_with_bootstrap_fix():
    checks = doctor.image_checks({}, ("linux/amd64",))
    assert all(c.status == doctor.FAIL and "layerlab bootstrap" in c.fix for c in checks)


def test_podman_is_accepted_and_its_limits_are_listed():
    f = recorded()
    f.name, f.command, f.buildx_version, f.image_store = "podman", "podman", None, None
    checks = by_name(doctor.engine_checks(f, ("linux/amd64", "linux/arm64")))
    assert "buildx" not in checks  # podman builds without the buildx plugin
    assert checks["image store"].status == doctor.OK
    limits = [c for name, c in checks.items() if name.startswith("podman: ")]
    assert len(limits) == len(doctor.PODMAN_LIMITS)
    assert all(c.status == doctor.WARN and c.fix for c in limits)


def test_an_engine_on_another_kernel_has_its_disk_left_unmeasured_and_said_so():
    f = recorded()
    f.free_disk_bytes = None  # engine.probe leaves it so when the engine's kernel is not this machine's
    c = by_name(doctor.engine_checks(f, ("linux/amd64",)))["free disk"]
    assert c.status == doctor.INFO and "not measured" in c.value and "another kernel" in c.value
