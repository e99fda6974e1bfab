"""scripts/need-disk.sh: `make test` stops up front, with the fix, when the disk cannot hold what it writes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "need-disk.sh"


def fake_docker(tmp_path: Path, sizes: list[str]) -> dict[str, str]:
    """PATH with a `docker` that answers as a local engine whose store holds `sizes` (docker system df)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    rows = "\\n".join(sizes)
    docker.write_text(
        f'#!/bin/sh\ncase "$*" in info*) echo {tmp_path} ;; "system df"*) printf "{rows}\\n" ;; *) exit 1 ;; esac\n'
    )
    docker.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    return env | {"PATH": f"{bin_dir}:{env['PATH']}"}


def need(tmp_path: Path, env: dict[str, str], engine_gb: float, checkout_gb: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), "make test", str(engine_gb), str(checkout_gb)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def free_gb(path: Path) -> float:
    return shutil.disk_usage(path).free / 1e9


def test_enough_space_passes_silently(tmp_path):
    r = need(tmp_path, fake_docker(tmp_path, ["0B"]), 0, 0)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_too_little_space_stops_with_one_line_and_the_fix(tmp_path):
    r = need(tmp_path, fake_docker(tmp_path, ["0B"]), round(free_gb(tmp_path)) + 50, 1)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[disk] not enough space: ") and "make test needs about" in lines[0]
    assert "Fix:" in lines[1] and "layerlab clean" in lines[1]


def test_what_the_store_already_holds_counts_towards_the_engine_share(tmp_path):
    short = round(free_gb(tmp_path)) + 20  # more than the disk has free: refused on an empty store
    assert need(tmp_path, fake_docker(tmp_path, ["0B"]), short, 0).returncode == 1
    (tmp_path / "again").mkdir()
    # The same store already holding 25 GB (images, build cache, in the engine's units) needs that much less.
    held = fake_docker(tmp_path / "again", ["20GB", "4.5e+09B", "512MB", "0B"])
    assert need(tmp_path, held, short, 0).returncode == 0


def test_a_remote_engine_leaves_only_the_checkout_share_to_check(tmp_path):
    env = fake_docker(tmp_path, ["0B"]) | {"DOCKER_HOST": "tcp://192.0.2.1:2375"}
    assert need(tmp_path, env, round(free_gb(tmp_path)) + 50, 0).returncode == 0
    r = need(tmp_path, env, 0, round(free_gb(tmp_path)) + 50)
    assert r.returncode == 1 and "GB free there" in r.stderr


def test_a_store_that_is_no_folder_here_leaves_only_the_checkout_share(tmp_path):
    """Docker Desktop answers with its VM's /var/lib/docker: that disk is not this machine's."""
    env = fake_docker(tmp_path, ["0B"])
    docker = Path(env["PATH"].split(":")[0]) / "docker"
    docker.write_text(docker.read_text().replace(f"echo {tmp_path}", f"echo {tmp_path}/in-the-vm/var/lib/docker"))
    assert need(tmp_path, env, round(free_gb(tmp_path)) + 50, 0).returncode == 0
    assert need(tmp_path, env, 0, round(free_gb(tmp_path)) + 50).returncode == 1
