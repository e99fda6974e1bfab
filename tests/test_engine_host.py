"""One description of the machine and its engine, with one platform label and one engine label."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from layerlab import engine
from layerlab.engine import host
from layerlab.engine.host import EngineHost

SRC = Path(__file__).resolve().parent.parent / "src" / "layerlab"


@pytest.mark.parametrize(
    "machine,label",
    [
        ("x86_64", "linux/amd64"),  # uname -m, docker info's Architecture on Linux
        ("AMD64", "linux/amd64"),  # Python's platform.machine() on Windows
        ("amd64", "linux/amd64"),
        ("aarch64", "linux/arm64"),  # uname -m on an arm64 Linux (the course page once showed linux/aarch64)
        ("arm64", "linux/arm64"),  # macOS on Apple silicon
        ("riscv64", "linux/riscv64"),  # one the course never meets passes through, in OCI's lower case
    ],
)
def test_the_platform_label_normalises_machine_names(machine, label):
    assert engine.platform_label(machine) == label


def test_this_python_is_labelled_by_the_same_function(monkeypatch):
    monkeypatch.setattr(engine.platform, "machine", lambda: "aarch64")
    assert engine.host_platform() == "linux/arm64"
    assert host.this_python("no engine (replayed)").platform == "linux/arm64"


def test_one_engine_label():
    assert engine.engine_label("docker", "26.1.5") == "docker 26.1.5"
    assert engine.engine_label("podman", None, "containerd") == "podman ? (containerd image store)"
    facts = engine.EngineFacts(
        command="docker", reachable=True, name="docker", server_version="26.1.5", image_store="containerd"
    )
    assert facts.label() == "docker 26.1.5 (containerd image store)"


def test_only_the_engine_layer_names_a_platform_from_a_machine_name():
    """Any other module that reads platform.machine() makes a label of its own (linux/aarch64 on the page)."""
    readers = sorted(
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if re.search(r"\bplatform\.machine\(\)", p.read_text()) and p != SRC / "engine" / "__init__.py"
    )
    assert readers == []


def test_a_lesson_01_recording_from_before_the_engine_label_still_loads():
    """replays/engine-host holds the shape without engine, platform, mode and at."""
    old = {
        "client_kernel": "6.1.0",
        "client_system": "Linux",
        "cpus": 2,
        "kernel": "6.1.0",
        "memory_bytes": 25276510208,
        "operating_system": "Debian GNU/Linux 12 (bookworm)",
    }
    m = EngineHost.model_validate(old)
    assert m.same_kernel and m.engine is None and "an engine not recorded" in m.where()


def test_a_replayed_run_describes_this_machine_without_asking_an_engine(monkeypatch):
    monkeypatch.setenv("LAYERLAB_REPLAY", "1")
    monkeypatch.setattr(host, "facts_live", lambda: pytest.fail("a replayed run asked the engine"))
    m = host.describe()
    assert (m.engine, m.mode, m.platform) == ("no engine (replayed)", "replay", engine.host_platform())
    assert m.cpus > 0 and m.memory_bytes > 0 and m.at
