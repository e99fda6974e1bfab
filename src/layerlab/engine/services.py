"""Service images a lesson runs beside its own (catalogue.SERVICE_IMAGES): made when first needed, and
what each one is on this machine (the official image or a stand-in, and the version it reports)."""

from __future__ import annotations

from layerlab import engine
from layerlab.engine import bootstrap, catalogue, labels, replay
from layerlab.engine.result import Replayable
from layerlab.ground.text import Printer
from layerlab.ground.text import say as say_line


class ServiceImage(Replayable):
    ref: str
    standin: bool  # built from a Debian package because no registry answered
    version: str  # what the image's own `--version` says


def ensure_live(
    image: catalogue.BaseImage, version_command: list[str], *, module: str | None, say: Printer = say_line
) -> ServiceImage:
    """`image`, pulled online or built offline as a labelled stand-in, and what `version_command` prints in it."""
    bootstrap.ensure_service_image(image, say)
    client = engine.require()
    standin = (client.image.inspect(image.ref).config.labels or {}).get(labels.STANDIN) == "true"
    version = client.container.run(
        image.ref, version_command, remove=True, pull="never", labels=labels.course_labels(module), networks=["none"]
    )
    return ServiceImage(ref=image.ref, standin=standin, version=str(version).strip())


# Keyed by the image's name alone: a replay shows the image the recording ran.
ensure = replay.replayable("service-image", lambda image, *a, **kw: image.ref, ServiceImage)(ensure_live)
