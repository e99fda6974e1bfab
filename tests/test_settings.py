"""The ground floor: one module reads the environment; one exception makes a lesson fall back to a recording."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from layerlab.engine import EngineUnavailable, replay, vm
from layerlab.engine.result import Replayable
from layerlab.ground import settings
from layerlab.ground.errors import Unavailable

SRC = Path(__file__).resolve().parent.parent / "src" / "layerlab"
READS_ENV = re.compile(r"""os\.(environ\.get|getenv)\(\s*f?["'](LAYERLAB_\w*)|os\.environ\[\s*["'](LAYERLAB_\w*)["']\s*\](?!\s*=)""")


def test_only_settings_reads_a_layerlab_variable():
    readers = {
        str(p.relative_to(SRC)): sorted({m.group(2) or m.group(3) for m in READS_ENV.finditer(p.read_text())})
        for p in SRC.rglob("*.py")
        if p != SRC / "ground" / "settings.py"
    }
    assert {k: v for k, v in readers.items() if v} == {}


def test_every_variable_read_is_in_the_settings_table():
    text = (SRC / "ground" / "settings.py").read_text()
    table = set(re.findall(r"^\| (LAYERLAB_\w+)", text, re.M))
    read = set(re.findall(r'"(LAYERLAB_[A-Z_]+?)_?"', text)) - {"LAYERLAB_BASE"}
    assert read <= table, read - table


def test_settings_are_read_when_asked(monkeypatch, tmp_path):
    monkeypatch.delenv("LAYERLAB_REPLAY", raising=False)
    monkeypatch.delenv("LAYERLAB_RECORD", raising=False)
    assert settings.replay_mode() == "live"
    monkeypatch.setenv("LAYERLAB_RECORD", "1")
    assert settings.replay_mode() == "record"
    monkeypatch.setenv("LAYERLAB_REPLAY", "1")
    assert settings.replay_mode() == "replay"  # replaying wins: it never calls the engine
    monkeypatch.setenv("LAYERLAB_CACHE", str(tmp_path))
    assert settings.cache_dir() == tmp_path
    monkeypatch.delenv("LAYERLAB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert settings.cache_dir() == tmp_path / "xdg" / "layerlab"
    monkeypatch.setenv("LAYERLAB_REGISTRY_PORT", "5001")
    assert settings.registry_port() == 5001
    monkeypatch.setenv("LAYERLAB_VM_ACCEL", "warp")
    assert settings.vm_accel() is None
    assert (settings.REPO / "course.yml") == settings.COURSE_FILE and settings.COURSE_FILE.is_file()


def test_engine_and_vm_failures_are_both_unavailable_and_neither_is_the_other():
    assert issubclass(EngineUnavailable, Unavailable) and issubclass(vm.VMUnavailable, Unavailable)
    assert not issubclass(vm.VMUnavailable, EngineUnavailable), "a missing qemu is not a missing engine"


class _Result(Replayable):
    """A result as replay stores it (model_dump / model_validate)."""

    value: int


@pytest.mark.parametrize("error", [Unavailable, EngineUnavailable, vm.VMUnavailable])
def test_the_replay_fallback_catches_whatever_is_unavailable(monkeypatch, tmp_path, error):
    monkeypatch.setenv("LAYERLAB_REPLAY_DIR", str(tmp_path))
    monkeypatch.delenv("LAYERLAB_REPLAY", raising=False)
    monkeypatch.delenv("LAYERLAB_RECORD", raising=False)
    key = f"fallback-{error.__name__}"
    replay.save("test", f"{key}#1", _Result(value=7))

    @replay.replayable("test", lambda: key, _Result)
    def measure() -> _Result:
        raise error("nothing answers here")

    assert measure().value == 7
    with pytest.raises(error):
        measure()  # no second recording: the failure is the learner's to see
