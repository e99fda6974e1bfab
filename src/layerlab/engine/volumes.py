"""Named volumes for lessons: created with the course's labels (so `layerlab clean` finds them), removed by name."""

from __future__ import annotations

from python_on_whales.exceptions import DockerException

from layerlab import engine

from . import labels, replay
from .result import Replayable


class Volume(Replayable):
    name: str


def create_live(name: str, module: str | None = None) -> Volume:
    engine.require().volume.create(name, labels=labels.course_labels(module))
    return Volume(name=name)


create = replay.replayable("volume", lambda name, module=None: replay.stable(name), Volume)(create_live)


def remove(name: str) -> bool:
    """Remove the volume `name`; False when there was none to remove (or nothing to do: a replay)."""
    if replay.mode() == "replay":
        return False
    try:
        engine.require().volume.remove(name)
    except (DockerException, engine.EngineUnavailable):
        return False
    return True
