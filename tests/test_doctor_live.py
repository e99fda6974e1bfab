"""`layerlab doctor --json` on the real engine agrees with `docker info` and `docker buildx inspect`, read apart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "layerlab.cli"]
# `uname -m` spellings, written out here rather than taken from the library under test.
ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True, timeout=120).stdout


def test_the_doctor_reports_what_docker_info_says(engine_client):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(CLI + ["doctor", "--json"], capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert out.stdout, out.stderr
    report = json.loads(out.stdout)
    facts = report["engine"]
    info = json.loads(_docker("info", "--format", "{{json .}}"))
    assert facts["server_version"] == info["ServerVersion"]
    snapshotter = any(p[0] == "driver-type" and "snapshotter" in p[1] for p in info.get("DriverStatus") or [])
    assert facts["image_store"] == ("containerd" if snapshotter else "classic")
    assert facts["cgroup_version"] == info["CgroupVersion"]
    assert facts["rootless"] == any("rootless" in s for s in info.get("SecurityOptions") or [])
    native = f"linux/{ARCH[info['Architecture']]}"
    assert facts["host_platform"] == native

    inspect = _docker("buildx", "inspect", "--bootstrap")
    fields = dict(line.split(":", 1) for line in inspect.splitlines() if ":" in line and not line.startswith(" "))
    assert facts["builder_driver"] == fields["Driver"].strip()
    buildkit = {p.strip() for p in fields["Platforms"].split(",")}
    foreign = "linux/amd64" if native == "linux/arm64" else "linux/arm64"
    by_name = {c["name"]: c for c in report["checks"]}
    assert f"native {native}, foreign {foreign}" in by_name["platforms"]["value"]
    # BuildKit runs a test binary per platform: the foreign one is emulated exactly when it lists it.
    assert (foreign in by_name["platforms"]["value"].split("emulated: ")[1]) == (foreign in buildkit)

    verdicts = {r["module"]: r for r in report["lessons"]}
    assert len(verdicts) >= 10 and all(
        r["verdict"] in ("runs", "runs, some cells skip", "cannot run here") for r in verdicts.values()
    )
    qemu = next(n for n in verdicts["05"]["needs"] if n["need"] == "qemu")
    assert qemu["met"] == (foreign in buildkit)
