"""Named volumes for lessons and grading: created with the course's labels (so `layerlab clean` finds them),
filled with files, removed by name.

Files go in with `docker cp` through a container that is created and never started: the copy streams through
the engine's API, so it works where a bind mount would name a path the engine's host does not have (the
devcontainer talks to the host's engine; a pinned autograder runs in a container of its own).
"""

from __future__ import annotations

from pathlib import Path

from python_on_whales.exceptions import DockerException

from layerlab import engine
from layerlab.ground.errors import LayerlabError
from layerlab.ground.text import error_text, last_line

from . import labels, replay
from .result import Replayable


class VolumeError(LayerlabError, RuntimeError):
    pass


class Volume(Replayable):
    name: str
    files: list[str] = []  # what was copied into its root


def fill_live(
    name: str, files: list[Path], image: str, module: str | None = None, extra_labels: dict[str, str] | None = None
) -> Volume:
    """Create volume `name` holding `files` at its root (owned by root, their modes kept). `image` is any image
    the engine has: its container is only created, to hold the volume while the files are copied in."""
    client = engine.require()
    tags = {**labels.course_labels(module), **(extra_labels or {})}
    try:
        client.volume.create(name, labels=tags)
        holder = client.container.create(image, ["true"], volumes=[(name, "/fill")], labels=tags, pull="never")
    except DockerException as e:
        raise VolumeError(f"volume {name} could not be made: {last_line(error_text(e))}") from None
    try:
        for f in files:
            client.container.copy(str(f), (holder, f"/fill/{f.name}"))
    except DockerException as e:
        raise VolumeError(f"copying into volume {name} failed: {last_line(error_text(e))}") from None
    finally:
        client.container.remove(holder, force=True)
    return Volume(name=name, files=[f.name for f in files])


fill = replay.replayable(
    "volume-fill", lambda name, files, image, module=None, extra_labels=None: replay.stable(name), Volume
)(fill_live)


def remove(name: str) -> bool:
    """Remove the volume `name`; False when there was none to remove (or nothing to do: a replay)."""
    if replay.mode() == "replay":
        return False
    try:
        engine.require().volume.remove(name)
    except (DockerException, engine.EngineUnavailable):
        return False
    return True
