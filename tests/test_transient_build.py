"""The engine's known intermittent export error is retried once by `build.build`; nothing else is.

The logs in tests/data/transient/: copy-missing, run-fails and run-quotes-the-race are real
BuildKit output of this engine (Docker 26.1.5, containerd store); export-race and
export-not-found are the same build with the export vertex as moby/buildkit#6521 and
ddev/ddev#8136 report it (and as `build._complete_despite` describes the bare "not found").
The engine-free tests replace only the python-on-whales client, so the real build code runs.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from python_on_whales.exceptions import DockerException

from layerlab import engine
from layerlab.engine import build, labels, transient
from layerlab.engine.buildlog import parse
from layerlab.ground.errors import LayerlabError

DATA = Path(__file__).parent / "data" / "transient"
TAG = "layerlab-test-transient:x"


def log(name: str) -> list[str]:
    return (DATA / f"{name}.log").read_text().replace("TAG", TAG).splitlines()


# --- the classification alone -----------------------------------------------------------


@pytest.mark.parametrize(
    "name, pattern",
    [
        ("export-race", "failed to prepare extraction snapshot"),
        ("export-not-found", "not found after naming the image"),
    ],
)
def test_the_export_race_is_classified(name, pattern):
    race = transient.classify(parse(log(name)))
    assert race is not None and race.pattern.name == pattern and race.step == "exporting to image"


@pytest.mark.parametrize("name", ["copy-missing", "run-fails", "run-quotes-the-race", "ok"])
def test_a_learners_error_or_a_success_is_not(name):
    assert transient.classify(parse(log(name))) is None


def test_parent_snapshot_alone_is_enough_at_export():
    # Some versions word it without the prefix (moby/buildkit#6521's report).
    lines = [re.sub(r'failed to prepare extraction snapshot "[^"]*": ', "", line) for line in log("export-race")]
    race = transient.classify(parse(lines))
    assert race is not None and race.pattern.name == "parent snapshot does not exist"


def test_not_found_at_export_before_naming_is_not_the_race():
    lines = [line for line in log("export-not-found") if "naming to" not in line]
    assert transient.classify(parse(lines)) is None


# --- through build.build, with a stand-in for the python-on-whales client --------------------


class FakeClient:
    """Replays one log per `buildx.build` call; a log that ends in `ERROR:` fails as the CLI does."""

    def __init__(self, *logs: list[str]):
        self.logs = list(logs)
        self.calls = 0
        self.buildx = SimpleNamespace(build=self._build)
        self.image = SimpleNamespace(inspect=lambda tag: SimpleNamespace(id="sha256:" + "0" * 64))

    def _build(self, context: str, **kw: object) -> Iterator[str]:
        assert kw["stream_logs"] is True and kw["tags"] == [TAG]
        lines = self.logs[self.calls]
        self.calls += 1

        def stream() -> Iterator[str]:
            yield from (line + "\n" for line in lines)
            if lines[-1].startswith("ERROR:"):
                raise DockerException(["docker", "buildx", "build"], 1, stderr=("\n".join(lines) + "\n").encode())

        return stream()


@pytest.fixture
def ctx(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LAYERLAB_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.delenv("LAYERLAB_REPLAY", raising=False)
    monkeypatch.delenv("LAYERLAB_RECORD", raising=False)
    monkeypatch.setattr(engine, "engine_command", lambda: "docker")
    (tmp_path / "Dockerfile").write_text("FROM debian:trixie-slim\nRUN echo hi > /hi.txt\n")
    return tmp_path


def run(ctx: Path, monkeypatch, client: FakeClient) -> tuple[list[str], build.BuildResult | Exception]:
    monkeypatch.setattr(engine, "require", lambda: client)
    shown: list[str] = []
    try:
        return shown, build.build(ctx, TAG, platforms=["linux/amd64"], show=shown.append)
    except build.BuildError as e:
        return shown, e


def test_the_export_race_is_retried_once_with_one_line(ctx, monkeypatch):
    # The retry finds every step in the cache (the first attempt finished them before its export failed).
    client = FakeClient(log("export-race"), log("ok-cached"))
    shown, result = run(ctx, monkeypatch, client)
    assert client.calls == 2
    assert isinstance(result, build.BuildResult) and result.image_id
    retry = [line for line in shown if "building again once" in line]
    assert len(retry) == 1
    assert "known intermittent error" in retry[0] and "not a fault in the Dockerfile" in retry[0]
    # Besides that line, the build's one summary.
    assert len(shown) == 2 and shown[1].startswith(f"built {TAG}")
    # What this build ran is the first attempt's: a lesson's "a code edit re-runs one step" still holds.
    assert [s.name for s in result.ran] == ["RUN echo hi > /hi.txt"] and "1 ran, 0 cached" in shown[1]
    assert result.log_path and "RUN echo hi" in Path(result.log_path).read_text()
    assert "#5 CACHED" not in Path(result.log_path).read_text()


def test_a_no_cache_build_is_measured_again_by_its_retry(ctx, monkeypatch):
    client = FakeClient(log("export-race"), log("ok"))
    monkeypatch.setattr(engine, "require", lambda: client)
    shown: list[str] = []
    result = build.build(ctx, TAG, platforms=["linux/amd64"], cache=False, show=shown.append)
    assert client.calls == 2 and [s.name for s in result.ran] == ["RUN echo hi > /hi.txt"]
    assert len(shown) == 2 and "building again once" in shown[0] and shown[1].startswith(f"built {TAG}")
    assert "unpacking to docker.io/library/layerlab-test-transient:x 0.1s done" in Path(result.log_path).read_text()


def test_a_build_that_works_at_once_is_built_once(ctx, monkeypatch):
    client = FakeClient(log("ok"))
    shown, result = run(ctx, monkeypatch, client)
    assert client.calls == 1 and isinstance(result, build.BuildResult)
    assert len(shown) == 1 and shown[0].startswith(f"built {TAG}")


@pytest.mark.parametrize("name", ["copy-missing", "run-fails", "run-quotes-the-race"])
def test_a_learners_error_is_not_retried(ctx, monkeypatch, name):
    client = FakeClient(log(name), log("ok"))
    shown, result = run(ctx, monkeypatch, client)
    assert client.calls == 1
    assert isinstance(result, build.BuildError) and not isinstance(result, build.TransientEngineError)
    assert result.step and result.step.startswith(("COPY", "RUN"))
    assert not [line for line in shown if "building again" in line]
    assert len(shown) == 1 and shown[0].startswith(f"FAILED {TAG}")


def test_the_race_twice_raises_the_typed_engine_error(ctx, monkeypatch):
    client = FakeClient(log("export-race"), log("export-not-found"), log("ok"))
    shown, result = run(ctx, monkeypatch, client)
    assert client.calls == 2  # once more, never a third time
    assert isinstance(result, build.TransientEngineError)
    assert isinstance(result, LayerlabError)  # the CLI and notebooks catch one type
    assert result.attempts == 2 and result.step == "exporting to image"
    assert result.cause == "not found after naming the image"  # what the last attempt hit
    assert len(result.log_paths) == 2 and all(Path(p).is_file() for p in result.log_paths)
    message = str(result)
    assert message.splitlines()[0].endswith("an engine error, not a fault in the Dockerfile.")
    assert "run it again" in message and "layerlab doctor" in message and "restart the engine" in message
    assert len([line for line in shown if "building again once" in line]) == 1
    assert shown[-1].startswith(f"FAILED {TAG}")


def test_silent_builds_retry_silently(ctx, monkeypatch, capsys):
    client = FakeClient(log("export-race"), log("ok"))
    monkeypatch.setattr(engine, "require", lambda: client)
    result = build.build(ctx, TAG, platforms=["linux/amd64"], show=None)
    assert client.calls == 2 and result.image_id
    assert capsys.readouterr().out == ""


# --- a real build through the changed path ---------------------------------------------------


def test_an_ordinary_build_and_a_missing_copy_on_the_engine(engine_client, tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLAB_LOG_DIR", str(tmp_path / "logs"))
    run = f"RUN echo {uuid.uuid4().hex} > /hi.txt"  # new to the build cache, so it runs
    (tmp_path / "Dockerfile").write_text(f"FROM debian:trixie-slim\n{run}\n")
    (tmp_path / "missing.Dockerfile").write_text("FROM debian:trixie-slim\nCOPY missing.txt /missing.txt\n")
    tag = f"layerlab-test-transient:{uuid.uuid4().hex[:8]}"
    shown: list[str] = []
    try:
        r = build.build(tmp_path, tag, show=shown.append)
        assert r.image_id and [s.name for s in r.ran] == [run]
        assert engine_client.image.inspect(tag).config.labels.get(labels.MANAGED) == labels.MANAGED_VALUE
        with pytest.raises(build.BuildError) as failed:
            build.build(tmp_path, tag + "-missing", dockerfile=tmp_path / "missing.Dockerfile", show=shown.append)
        assert type(failed.value) is build.BuildError and failed.value.step.startswith("COPY missing.txt")
        assert not [line for line in shown if "building again" in line]
    finally:
        for t in (tag, tag + "-missing"):
            if engine_client.image.exists(t):
                engine_client.image.remove(t, force=True)
