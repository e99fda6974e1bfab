"""Facts about one local image: does it exist, is it a stand-in, which platforms really run."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from python_on_whales.exceptions import DockerException, NoSuchImage

from layerlab import engine
from layerlab.engine import labels, replay
from layerlab.engine.result import Replayable, Result
from layerlab.ground.errors import NotFound


class ImageFacts(Result):
    ref: str
    id: str
    standin: bool
    recipe: str | None = None
    platforms: list[str] = Field(default_factory=list)  # verified by running uname -m
    uname: dict[str, str] = Field(default_factory=dict)  # platform -> what `uname -m` printed
    size_bytes: int | None = None


def uname_m(ref: str, plat: str) -> str | None:
    """What `uname -m` prints in a container of `ref` for `plat`, or None if that variant is absent.

    A real run, not a manifest read: the image store of Docker < 27 cannot list
    the platforms of a local image, and a run also proves emulation works.
    """
    client = engine.client()
    try:
        out = client.run(
            ref,
            ["-m"],
            entrypoint="uname",
            platform=plat,
            pull="never",
            remove=True,
            networks=["none"],
            labels=labels.course_labels("doctor"),
        )
    except DockerException:
        return None
    return str(out).strip() or None


def facts(ref: str, platforms: tuple[str, ...] | list[str] = (), verify: bool = True) -> ImageFacts | None:
    """None when the image is not in the local store."""
    client = engine.client()
    try:
        img = client.image.inspect(ref)
    except (NoSuchImage, DockerException):
        return None
    img_labels = (img.config.labels if img.config else None) or {}
    f = ImageFacts(
        ref=ref,
        id=img.id,
        standin=img_labels.get(labels.STANDIN) == "true",
        recipe=img_labels.get(labels.STANDIN_RECIPE),
        size_bytes=img.size,
    )
    if verify:
        for pl in platforms:
            printed = uname_m(ref, pl)
            if printed:
                f.uname[pl] = printed
                if engine.UNAME_BY_PLATFORM.get(pl) == printed:
                    f.platforms.append(pl)
    return f


def diff_ids(ref: str) -> list[str]:
    """The image config's rootfs.diff_ids: the digests of its uncompressed layers, in order ([] if no such image).

    They name the layers' content, whatever compression a push chose, so equal lists mean the same files.
    """
    try:
        return list(engine.require().image.inspect(ref).root_fs.layers or [])
    except (NoSuchImage, DockerException):
        return []


def save(ref: str, dest: Path) -> Path:
    """`docker save` of `ref` into the tar `dest` (an OCI layout: measure.oci.Archive reads it)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    engine.require().image.save(ref, output=dest)
    return dest


class Pin(Replayable):
    """A base image named by digest: `FROM {ref}@{digest}` builds on exactly these bytes."""

    ref: str
    digest: str  # sha256:..., what the engine's store names the image by (its index, for a multi-platform one)
    standin: bool  # the course's offline stand-in: the digest pins it in this engine, not on Docker Hub

    @property
    def pinned(self) -> str:
        return f"{self.ref}@{self.digest}"


def pin_live(ref: str) -> Pin:
    try:
        img = engine.require().image.inspect(ref)
    except (NoSuchImage, DockerException) as e:
        raise NotFound(f"{ref} is not in the engine's image store: `layerlab bootstrap` puts it there") from e
    # "python@sha256:..." for a pulled image, and, in the containerd image store, for one built here too.
    digests = [d.split("@", 1)[1] for d in img.repo_digests or [] if "@" in d]
    if not digests:
        raise NotFound(
            f"the engine names {ref} by no digest (the classic image store keeps none for an image built here); "
            "pull it, or switch the engine to the containerd image store"
        )
    img_labels = (img.config.labels if img.config else None) or {}
    return Pin(ref=ref, digest=digests[0], standin=img_labels.get(labels.STANDIN) == "true")


pin = replay.replayable("pin", lambda ref: ref, Pin)(pin_live)
