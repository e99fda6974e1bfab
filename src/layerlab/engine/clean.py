"""Remove what the course created (everything carrying its label) and nothing else."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import TypeVar

from pydantic import Field
from python_on_whales import Container, DockerClient
from python_on_whales.exceptions import DockerException
from python_on_whales.utils import run

from layerlab import engine
from layerlab.engine import catalogue, labels
from layerlab.engine.result import Result
from layerlab.ground.text import decimal_bytes, error_text, last_line


class CleanReport(Result):
    containers: list[str] = Field(default_factory=list)
    networks: list[str] = Field(default_factory=list)
    volumes: list[str] = Field(default_factory=list)
    images: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    freed_bytes: int = 0  # measured: image disk usage before minus after

    def summary(self) -> str:
        parts = [
            f"{len(self.containers)} container(s)",
            f"{len(self.networks)} network(s)",
            f"{len(self.volumes)} volume(s)",
            f"{len(self.images)} image(s)",
        ]
        text = "removed " + ", ".join(parts) + f"; freed {self.freed_bytes / 1e6:.1f} MB of image storage"
        if self.failed:
            text += "\ncould not remove:\n" + "\n".join(f"  {f}" for f in self.failed)
        return text


T = TypeVar("T")


def _image_bytes(client: DockerClient, tries: int = 5) -> int:
    # Read from `docker system df` ourselves, Size only: the engine can print a negative "Reclaimable"
    # ("-5.352e+07B (-633%)", seen on Docker 26 with the containerd store) that python-on-whales' parser rejects.
    # Retried: `docker system df` fails while another session's container is half removed.
    for attempt in range(tries):
        try:
            out = run(client.client_config.docker_cmd + ["system", "df", "--format", "{{json .}}"])
            return image_size(out if isinstance(out, str) else "")
        except DockerException:
            if attempt == tries - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    return 0


def image_size(system_df: str) -> int:
    """The images' size in bytes from `docker system df --format '{{json .}}'` (one JSON object a line)."""
    for line in system_df.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if str(row.get("Type", "")).lower() == "images":
            size = row.get("Size", 0)
            return int(size) if isinstance(size, int | float) else decimal_bytes(str(size))
    return 0


def clean(
    include_base: bool = False, dry_run: bool = False, within: tuple[str, str] | None = None, count_freed: bool = True
) -> CleanReport:
    """Remove labelled containers, networks, volumes and images; base images too with include_base.

    Compose projects need nothing of their own: the course's compose files label every service,
    network and volume, so their containers, networks and volumes are found like any other.
    `within` = (label, value) narrows it to what also carries that label (one compose project, one
    grading run). `count_freed` measures the bytes freed (`docker system df` before and after, about
    a second); the grader's clean-up after every run does without.
    """
    client = engine.require()
    report = CleanReport()
    flt = labels.managed_filter() + (labels.label_filter(*within) if within else [])
    count_freed = count_freed and not dry_run
    before = _image_bytes(client) if count_freed else 0

    for c in _listed(lambda: client.container.list(all=True, filters=flt)):
        report.containers.append(c.name)
        # `rm -v` takes the container's anonymous volumes with it (an image's VOLUME, redis's /data): they carry
        # no label of ours, only the engine's anonymous mark. Named volumes it mounts stay unless labelled ours.
        report.volumes += anonymous_mounts(client, c)
        if not dry_run:
            _try(report, f"container {c.name}", functools.partial(client.container.remove, c, force=True, volumes=True))
    for n in _listed(lambda: client.network.list(filters=flt)):
        report.networks.append(n.name)
        if not dry_run:
            _try(report, f"network {n.name}", functools.partial(client.network.remove, n))
    for v in _listed(lambda: client.volume.list(filters=flt)):
        report.volumes.append(v.name)
        if not dry_run:
            _try(report, f"volume {v.name}", functools.partial(client.volume.remove, v))

    targets: dict[str, str] = {}
    for img in _listed(lambda: client.image.list(filters=flt)):
        targets[img.id] = ", ".join(img.repo_tags) or img.id[:19]
    if include_base:
        # Service images too: their stand-ins carry no course label either, they are base images.
        for b in catalogue.family(tuple(catalogue.EXTRA_IMAGES)) + catalogue.SERVICE_IMAGES:
            if client.image.exists(b.ref):
                targets[client.image.inspect(b.ref).id] = b.ref
    for image_id, name in targets.items():
        report.images.append(name)
        if not dry_run:
            _try(report, f"image {name}", functools.partial(client.image.remove, image_id, force=True))

    if count_freed:
        report.freed_bytes = max(0, before - _image_bytes(client))
    return report


def remaining(key: str, values: set[str]) -> list[str]:
    """The containers, networks, volumes and images whose label `key` has one of `values`, as "kind name":
    what a set of runs left behind, read in one listing per kind however many runs there were."""
    client = engine.require()
    flt: labels.LabelFilter = [("label", key)]

    def ours(found: dict[str, str] | None) -> bool:
        return (found or {}).get(key, "") in values

    return (
        [
            f"container {c.name}"
            for c in _listed(lambda: client.container.list(all=True, filters=flt))
            if ours(c.config.labels)
        ]
        + [f"network {n.name}" for n in _listed(lambda: client.network.list(filters=flt)) if ours(n.labels)]
        + [f"volume {v.name}" for v in _listed(lambda: client.volume.list(filters=flt)) if ours(v.labels)]
        + [
            f"image {', '.join(i.repo_tags) or i.id[:19]}"
            for i in _listed(lambda: client.image.list(filters=flt))
            if ours(i.config.labels)
        ]
    )


def anonymous_mounts(client: DockerClient, container: Container) -> list[str]:
    """The anonymous volumes a container mounts, which `docker rm -v` removes with it (and nothing else):
    volumes its own configuration does not name (an image's VOLUME, `-v /path`, `--mount` without a source)."""
    hc = container.host_config
    named = {str(b).split(":", 1)[0] for b in hc.binds or []}
    named |= {str(m.source) for m in hc.mounts or [] if getattr(m, "source", None)}
    return [m.name for m in container.mounts or [] if m.type == "volume" and m.name and m.name not in named]


def _listed(listing: Callable[[], list[T]], tries: int = 5) -> list[T]:
    """A listing, retried when something in it vanished between the list and its inspect (another session's clean-up)."""
    for attempt in range(tries):
        try:
            return listing()
        except DockerException:
            if attempt == tries - 1:
                raise
    return []


def _try(report: CleanReport, what: str, action: Callable[[], object]) -> None:
    try:
        action()
    except DockerException as e:
        report.failed.append(f"{what}: {last_line(error_text(e))}")
