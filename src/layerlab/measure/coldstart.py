"""A cold start, phase by phase: pull (download, unpack), create, interpreter start-up, imports, weights, answer.

The pull is measured here as a server with an empty store meets it: each layer downloaded from the registry
(bytes and seconds) and unpacked (decompressed and extracted to a scratch folder). The engine that built the
image cannot show this itself: its store keeps the layers its build cache holds, so `docker pull` on it
downloads nothing. The container's phases come from the engine's own timestamps (created, started) and from
the app's marks: JSON lines `{"event": ..., "t": <wall clock>}` (the container reads the host's clock).
"""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from layerlab.engine import registry, replay
from layerlab.engine.containers import RunResult
from layerlab.engine.result import Replayable, Result
from layerlab.ground.errors import LayerlabError

from .oci import GZIP_MAGIC, ZSTD_MAGIC, uncompressed

APP_EVENTS = ("start", "imported", "loaded", "answer")


class LayerPull(Result):
    digest: str
    compression: str  # "gzip", "zstd" or "uncompressed", read from the blob's first bytes
    bytes: int  # as sent by the registry
    download_seconds: float
    unpack_seconds: float  # decompress and extract every file


class Pull(Replayable):
    ref: str
    layers: list[LayerPull]

    @property
    def bytes(self) -> int:
        return sum(l.bytes for l in self.layers)

    @property
    def download_seconds(self) -> float:
        return round(sum(l.download_seconds for l in self.layers), 3)

    @property
    def unpack_seconds(self) -> float:
        return round(sum(l.unpack_seconds for l in self.layers), 3)

    @property
    def largest(self) -> LayerPull:
        """The layer with the most bytes on the wire (in lesson 10's baked image, the weights)."""
        return max(self.layers, key=lambda l: l.bytes)


class Phase(Result):
    name: str
    seconds: float


class ColdStart(Result):
    variant: str
    pull_bytes: int
    phases: list[Phase]
    pull: Pull | None = None

    @property
    def seconds(self) -> float:
        return round(sum(p.seconds for p in self.phases), 3)

    def phase(self, name: str) -> float:
        return next(p.seconds for p in self.phases if p.name == name)

    def line(self) -> str:
        parts = ", ".join(f"{p.name} {p.seconds:.2f} s" for p in self.phases)
        return (
            f"{self.variant}: {self.seconds:.1f} s to the first answer ({self.pull_bytes / 1e6:.0f} MB pulled): {parts}"
        )


def _compression(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "uncompressed"


def _unpack(blob: Path, digest: str, into: Path) -> None:
    """Decompress and write every file and folder of a layer under `into`, as a snapshotter unpacks it."""
    root = into.resolve()
    root.mkdir(parents=True, exist_ok=True)
    with blob.open("rb") as raw, tarfile.open(fileobj=cast(Any, uncompressed(raw, digest)), mode="r|") as tar:
        for member in tar:
            # Files and folders are what a layer's bytes are; devices, links and owners do not change the cost.
            target = (root / member.name.lstrip("/")).resolve()
            if not target.is_relative_to(root):
                continue  # a name that climbs out of the layer ("../x"): no layer a build makes has one
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isreg():
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is not None:
                    with target.open("wb") as out:
                        shutil.copyfileobj(source, out, 1 << 20)


def pull_live(ref: str) -> Pull:
    """Download every layer of `ref` (this machine's platform) from the course registry and unpack it, timed."""
    manifest, _ = registry.platform_manifest(ref)
    name, _ = registry.split(ref)
    scratch = Path(tempfile.mkdtemp(prefix="layerlab-pull-"))
    layers = []
    try:
        for i, layer in enumerate(manifest.get("layers", [])):
            blob = scratch / f"{i}.blob"
            start = time.perf_counter()
            registry.download_blob(name, layer["digest"], blob)
            downloaded = time.perf_counter() - start
            with blob.open("rb") as fh:
                kind = _compression(fh.read(4))
            start = time.perf_counter()
            _unpack(blob, layer["digest"], scratch / "rootfs")
            unpacked = time.perf_counter() - start
            layers.append(
                LayerPull(
                    digest=layer["digest"],
                    compression=kind,
                    bytes=blob.stat().st_size,
                    download_seconds=round(downloaded, 3),
                    unpack_seconds=round(unpacked, 3),
                )
            )
            blob.unlink()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Pull(ref=ref, layers=layers)


pull = replay.replayable("cold-pull", lambda ref: registry._no_digests(ref), Pull)(pull_live)


def marks(output: str) -> dict[str, float]:
    """The app's phase marks: event -> wall-clock time, from its JSON lines (other lines are skipped)."""
    found: dict[str, float] = {}
    for line in output.splitlines():
        try:
            mark = json.loads(line)
        except ValueError:
            continue
        if isinstance(mark, dict) and isinstance(mark.get("event"), str) and isinstance(mark.get("t"), (int, float)):
            found.setdefault(mark["event"], float(mark["t"]))
    return found


class MissingMark(LayerlabError, ValueError):
    pass


def container_phases(run: RunResult) -> list[Phase]:
    """create (the engine's created -> started), then interpreter start-up, imports, weight load and the
    first answer, from the app's marks."""
    seen = marks(run.output)
    missing = [e for e in APP_EVENTS if e not in seen]
    if missing or run.created_at is None or run.started_at is None:
        what = ", ".join(missing) or "the engine's created/started times"
        raise MissingMark(f"the run of {run.image} lacks {what}; its output ends: {run.output[-300:]}")
    points = [("created", run.created_at), ("started", run.started_at)] + [(e, seen[e]) for e in APP_EVENTS]
    # Each phase ends at its point: the engine starts the process, the interpreter reaches the app's first line...
    names = {
        "started": "create",
        "start": "interpreter",
        "imported": "imports",
        "loaded": "weights",
        "answer": "first answer",
    }
    return [
        Phase(name=names[event], seconds=round(max(0.0, at - before), 3))
        for (_, before), (event, at) in zip(points, points[1:])
    ]


def cold_start(variant: str, pulled: Pull | None, run: RunResult) -> ColdStart:
    """The whole cold start of one variant: its pull (None: nothing to pull, the image was there) and its run."""
    phases = []
    if pulled is not None:
        phases = [
            Phase(name="download", seconds=pulled.download_seconds),
            Phase(name="unpack", seconds=pulled.unpack_seconds),
        ]
    return ColdStart(
        variant=variant, pull_bytes=pulled.bytes if pulled else 0, phases=phases + container_phases(run), pull=pulled
    )
