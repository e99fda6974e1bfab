"""Isolation probes: parsing and accounting offline; the container probe and a memory-limit kill on the engine."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from layerlab.engine import containers, vm
from layerlab.measure import isolation


def test_parse_probe_ignores_other_lines():
    text = "Python banner\r\nLL kernel=6.18\r\nLL os=Debian GNU/Linux 13 (trixie)\nLL eq=a=b\nnoise=1\n"
    assert isolation.parse_probe(text) == {"kernel": "6.18", "os": "Debian GNU/Linux 13 (trixie)", "eq": "a=b"}


def test_probe_runs_under_this_python():
    out = subprocess.run(
        [sys.executable, "-c", isolation.PROBE, "cgroup"], capture_output=True, text=True, check=True
    ).stdout
    f = isolation.parse_probe(out)
    assert f["kernel"] == platform.release()
    assert int(f["processes"]) >= 1 and int(f["peak_rss_kb"]) > 1000
    assert "cgroup_peak" in f and "cgroup_limit" in f


def test_host_probe_sees_this_machine():
    h = isolation.host()
    assert h.kernel == platform.release()
    assert h.hostname == platform.node()
    assert h.first_output_seconds <= h.total_seconds
    assert h.memory_bytes and h.memory_bytes < 500 * 2**20


def test_dir_bytes_counts_links_as_links(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 1000)
    big = tmp_path.parent / f"{tmp_path.name}-outside"
    big.write_bytes(b"y" * 100_000)
    os.symlink(big, tmp_path / "link")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b").write_bytes(b"z" * 10)
    assert 1010 < isolation.dir_bytes(tmp_path) < 2000


def _row(kind, **kw):
    base = dict(
        kind=kind, label=kind, first_output_seconds=0.1, total_seconds=0.2, disk_bytes=None, disk_what="",
        memory_bytes=10 * 2**20, memory_what="", memory_given_bytes=None, kernel="k", pid1="p", hostname="h",
        os_name="o", processes=3,
    )  # fmt: skip
    base.update(kw)
    return isolation.Isolation(**base)


def test_isolation_round_trips_and_tabulates():
    r = _row("container", details={"host_kernel": "k"})
    assert isolation.Isolation.model_validate(json.loads(r.model_dump_json())) == r
    text = isolation.table([_row("venv"), r, _row("vm", memory_given_bytes=256 * 2**20, python_prefix=None)])
    assert "256 MiB" in text and "(no Python)" in text and "PID 1" in text


def test_vm_row_uses_qemu_memory_and_kernel_plus_initramfs():
    r = vm.VMResult(
        command="true", exit_code=0, output="", first_output_seconds=None, total_seconds=4.0, accelerator="tcg",
        accelerator_reason="", kernel="6.1", pid1="init", hostname="(none)", os_name="x", processes=48,
        memory_mb=256, guest_mem_used_bytes=None, qemu_peak_rss_bytes=200, kernel_bytes=10, initramfs_bytes=5,
        kernel_file="vmlinuz",
    )  # fmt: skip
    row = isolation.from_vm(r)
    assert row.label == "VM (tcg)" and row.disk_bytes == 15 and row.memory_bytes == 200
    assert row.memory_given_bytes == 256 * 2**20
    assert row.first_output_seconds == 4.0  # no marker time: fall back to the whole boot


def test_plots_draw(tmp_path):
    from layerlab.course import plots

    rows = [_row("venv", disk_bytes=20 * 2**20), _row("container", first_output_seconds=0.7, disk_bytes=125 * 2**20),
            _row("vm", first_output_seconds=4.0, disk_bytes=15 * 2**20, memory_given_bytes=256 * 2**20)]  # fmt: skip
    for fig in (plots.startup_log_bars(rows), plots.footprint_bars(rows)):
        assert fig.axes[0].get_title()
        fig.savefig(tmp_path / "f.png")
    assert plots.startup_log_bars(rows).axes[0].get_yscale() == "log"


@pytest.mark.usefixtures("engine_client")
def test_container_shares_the_host_kernel_and_runs_as_pid_1():
    c = isolation.container("python:3.13-slim", module="01")
    assert c.kernel == platform.release()
    assert c.pid1 == "python"
    assert c.processes <= 3
    assert c.hostname != platform.node()
    assert c.disk_bytes and c.disk_bytes > 10 * 2**20
    assert 0 < c.first_output_seconds <= c.total_seconds


@pytest.mark.usefixtures("engine_client")
def test_memory_limit_kills_the_container():
    hog = "chunks = [b'x' * (16 * 2**20) for _ in range(8)]; print('survived')"
    r = containers.run("python:3.13-slim", ["python", "-c", hog], memory="48m", module="01", timeout=60)
    assert r.exit_code == 137 and r.oom_killed, r
    assert "survived" not in r.output
