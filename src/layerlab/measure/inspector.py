"""`layerlab inspect`: sizes, layers, waste, platforms and files of one image.

The engine exports the image once (`docker save`); everything else is read
from that archive. Results are cached by image id, a content address, so a
second look at an unchanged image costs one `image inspect`.
"""

from __future__ import annotations

import fnmatch
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import Field
from python_on_whales.exceptions import DockerException, NoSuchImage

from layerlab import engine
from layerlab.engine import labels, replay
from layerlab.engine.result import Replayable, Result
from layerlab.ground import settings
from layerlab.ground.errors import LayerlabError

from .layers import DIR, LayerStats, analyse
from .oci import Archive

CACHE_VERSION = 4  # 4: plain-tar layers (classic store) measured gzipped, as a push sends them


class ImageNotFound(LayerlabError, LookupError):
    pass


class PlatformSize(Result):
    platform: str
    compressed_bytes: int
    layers: int


class ImageReport(Replayable):
    ref: str
    image_id: str
    platform: str  # the platform whose layers were analysed
    size_bytes: int  # uncompressed: sum of the files of every layer
    compressed_bytes: int  # what a pull downloads for this platform
    layers: list[LayerStats]
    wasted_bytes: int
    efficiency: float
    user_wasted_fraction: float
    top_waste: list[tuple[str, int, int]]
    platforms: list[PlatformSize]
    user: str
    entrypoint: list[str] | None
    cmd: list[str] | None
    workdir: str
    env: list[str]
    exposed_ports: list[str]
    labels: dict[str, str]
    files: dict[str, int] = Field(repr=False)  # final filesystem: path -> size (directories excluded)
    seconds: float = 0.0  # how long the analysis took (0 when served from the cache)

    @property
    def hidden_bytes(self) -> int:
        """Bytes the layers ship that the final filesystem does not show: files deleted or overwritten later.

        Unlike dive's wasted bytes, this counts a file under a directory deleted as a whole.
        """
        return self.size_bytes - sum(self.files.values())

    def has(self, path: str) -> bool:
        """Is `path` a file or link in the final image?"""
        return path in self.files

    def find(self, pattern: str) -> list[str]:
        """Paths of the final image matching a glob (`*` crosses directories: '*/gcc*')."""
        return sorted(p for p in self.files if fnmatch.fnmatchcase(p, pattern))

    def table(self) -> str:
        lines = [
            f"{self.ref}  ({self.image_id[:19]}, {self.platform})",
            f"  size {mb(self.size_bytes)} uncompressed, {mb(self.compressed_bytes)} compressed",
            f"  wasted {mb(self.wasted_bytes)}, efficiency {self.efficiency:.1%}",
            f"  user {self.user or 'root (default)'}, entrypoint {self.entrypoint}, cmd {self.cmd}",
        ]
        if self.exposed_ports:
            lines.append(f"  ports {', '.join(self.exposed_ports)}")
        lines.append(
            "  platforms: " + ", ".join(f"{p.platform} ({mb(p.compressed_bytes)} compressed)" for p in self.platforms)
        )
        lines.append("")
        lines.append(f"  {'#':>2}  {'size':>10}  {'+':>6} {'~':>5} {'-':>5}  created by")
        for layer in self.layers:
            lines.append(
                f"  {layer.index:>2}  {mb(layer.size_bytes):>10}  {layer.added:>6} {layer.changed:>5} {layer.deleted:>5}  "
                f"{short_instruction(layer.created_by)}"
            )
        if self.top_waste:
            lines.append("")
            lines.append("  paths in two or more layers (dive's waste):")
            for path, count, size in self.top_waste[:5]:
                lines.append(f"    {mb(size):>10}  x{count}  {path}")
        if self.replayed:
            lines.append(
                f"\n  (replayed from a recorded run: {self.replayed.get('engine')}, {self.replayed.get('recorded_at')})"
            )
        return "\n".join(lines)


def mb(n: int | float) -> str:
    return f"{n / 1e6:.1f} MB"


def short_instruction(created_by: str, width: int = 70) -> str:
    """History lines read `RUN /bin/sh -c apt-get ... # buildkit`; keep the instruction."""
    text = created_by.replace("/bin/sh -c #(nop) ", "").replace("|1 ", "").strip()
    text = text.removesuffix("# buildkit").strip()
    text = text.replace("RUN /bin/sh -c ", "RUN ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _cache_file(image_id: str, plat: str) -> Path:
    # Bump CACHE_VERSION when ImageReport changes shape.
    return (
        settings.cache_dir()
        / "inspect"
        / f"v{CACHE_VERSION}-{image_id.replace(':', '-')}-{plat.replace('/', '-')}.json"
    )


def _image_id(ref: str) -> str:
    client = engine.require()
    try:
        return client.image.inspect(ref).id
    except (NoSuchImage, DockerException):
        raise ImageNotFound(
            f"no image {ref!r} in the local store; build it first, or `docker pull {ref}` when online "
            f"(`docker image ls` lists what is here)"
        ) from None


def _key(ref: str, platform: str | None = None, **kw: Any) -> str:
    return f"{ref}|{platform or engine.host_platform()}"


@replay.replayable("inspect", _key, ImageReport)
def inspect(ref: str, platform: str | None = None, use_cache: bool = True) -> ImageReport:
    """Analyse `ref` for `platform` (default: this machine's, else the first in the image)."""
    image_id = _image_id(ref)
    want = platform or engine.host_platform()
    cached = _cache_file(image_id, want)
    if use_cache and cached.exists():
        report = ImageReport.model_validate_json(cached.read_text())
        report.ref, report.seconds = ref, 0.0
        return report
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="layerlab-inspect-") as tmp:
        archive_path = Path(tmp) / "image.tar"
        engine.client().image.save(ref, output=archive_path)
        report = report_from_archive(archive_path, ref, image_id, want, strict=platform is not None)
    report.seconds = round(time.perf_counter() - start, 2)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp_file = cached.with_suffix(f".{os.getpid()}.tmp")
    tmp_file.write_text(report.model_dump_json())
    tmp_file.replace(cached)
    return report


def report_from_archive(archive_path: Path, ref: str, image_id: str, want: str, strict: bool = False) -> ImageReport:
    """Analyse one platform of a saved image (`docker save` output); no engine needed.

    `want` is the platform to read; unless `strict`, the first platform stands in when it is absent.
    """
    with Archive(archive_path) as archive:
        images = archive.platforms()
        if not images:
            raise ImageNotFound(f"{ref} holds no runnable platform image")
        chosen = next((i for i in images if i.platform == want), None)
        if chosen is None:
            if strict:
                raise ImageNotFound(f"{ref} has no {want} variant; it has {', '.join(i.platform for i in images)}")
            chosen = images[0]
        entries = [archive.read_layer(layer)[0] for layer in chosen.layers]
    history = [h.get("created_by", "") for h in chosen.config.get("history", []) if not h.get("empty_layer")]
    stats, waste, files = analyse(
        entries,
        history,
        [layer.compressed_bytes for layer in chosen.layers],
        digests=[layer.digest for layer in chosen.layers],
    )
    cfg = chosen.config.get("config", {}) or {}
    return ImageReport(
        ref=ref,
        image_id=image_id,
        platform=chosen.platform,
        size_bytes=sum(s.size_bytes for s in stats),
        compressed_bytes=chosen.compressed_bytes,
        layers=stats,
        wasted_bytes=waste.wasted_bytes,
        efficiency=waste.efficiency,
        user_wasted_fraction=waste.user_wasted_fraction,
        top_waste=waste.top,
        platforms=[
            PlatformSize(platform=i.platform, compressed_bytes=i.compressed_bytes, layers=len(i.layers)) for i in images
        ],
        user=cfg.get("User", "") or "",
        entrypoint=cfg.get("Entrypoint"),
        cmd=cfg.get("Cmd"),
        workdir=cfg.get("WorkingDir", "") or "",
        env=cfg.get("Env") or [],
        exposed_ports=sorted((cfg.get("ExposedPorts") or {}).keys()),
        labels=cfg.get("Labels") or {},
        files={p: e.size for p, e in files.items() if e.kind != DIR},
    )


class AboveBase(Result):
    """What an image adds above the base image it was built FROM, so a figure does not depend on
    which build of the base (the official image, a stand-in, last month's) the learner has."""

    base_ref: str
    base_image_id: str
    base_standin: bool  # built offline by `layerlab bootstrap`, not pulled
    base_layers: int  # the image's first layers that are the base's (same content digests)
    base_bytes: int
    added_bytes: int  # the image's layers above the base, uncompressed
    base_wasted_bytes: int
    added_wasted_bytes: int  # the image's wasted bytes (dive's) minus the base's own


def above_base(report: ImageReport, base_ref: str) -> AboveBase:
    """Split `report` at its base: the longest run of leading layers whose content digests equal the base's."""
    client = engine.require()
    try:
        mine = client.image.inspect(report.image_id).root_fs.layers or []
        theirs = client.image.inspect(base_ref).root_fs.layers or []
    except (NoSuchImage, DockerException):
        raise ImageNotFound(f"the base image {base_ref!r} is not in the local store") from None
    shared = 0
    for a, b in zip(mine, theirs):
        if a != b:
            break
        shared += 1
    base = inspect(base_ref, platform=report.platform) if shared else None
    base_bytes = sum(layer.size_bytes for layer in report.layers[:shared])
    base_wasted = base.wasted_bytes if base and shared == len(theirs) else 0
    return AboveBase(
        base_ref=base_ref,
        base_image_id=base.image_id if base else _image_id(base_ref),
        base_standin=bool(base and base.labels.get(labels.STANDIN) == "true"),
        base_layers=shared,
        base_bytes=base_bytes,
        added_bytes=report.size_bytes - base_bytes,
        base_wasted_bytes=base_wasted,
        added_wasted_bytes=report.wasted_bytes - base_wasted,
    )


def added_bytes(report: ImageReport, base: ImageReport) -> int:
    """What `report` adds above `base`, both of one platform: its bytes past the leading layers whose blob
    digests equal the base's. Where nothing is shared (another build of the base), the whole image counts."""
    shared = 0
    for a, b in zip(report.layers, base.layers):
        if a.digest is None or a.digest != b.digest:
            break
        shared += 1
    return report.size_bytes - sum(layer.size_bytes for layer in report.layers[:shared])


class DiskUse(Result):
    """What several images cost together: layers with the same digest are stored once."""

    images: list[str]
    separate_bytes: int  # the sum of each image's own size
    actual_bytes: int  # each distinct layer counted once
    shared_bytes: int  # bytes of layers that two or more images use


def disk_use(reports: list[ImageReport]) -> DiskUse:
    sizes: dict[str, int] = {}
    users: dict[str, int] = {}
    for r in reports:
        for layer in r.layers:
            key = layer.digest or f"{r.image_id}:{layer.index}"
            sizes[key] = layer.size_bytes
            users[key] = users.get(key, 0) + 1
    return DiskUse(
        images=[r.ref for r in reports],
        separate_bytes=sum(r.size_bytes for r in reports),
        actual_bytes=sum(sizes.values()),
        shared_bytes=sum(sizes[k] for k, n in users.items() if n > 1),
    )
