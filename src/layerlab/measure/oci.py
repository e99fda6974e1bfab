"""Read the OCI layout that `docker save` writes: index, per-platform manifests, configs, layers.

With the containerd image store one archive holds every platform of a
multi-platform image, so sizes per platform come from the same file.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

from layerlab.ground.errors import NotFound

from .layers import DIR, FILE, HARDLINK, OTHER, SYMLINK, Entry, entry_from_tar

INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass
class Layer:
    digest: str
    compressed_bytes: int
    media_type: str


@dataclass
class PlatformImage:
    platform: str
    manifest_digest: str
    config: dict
    layers: list[Layer] = field(default_factory=list)

    @property
    def compressed_bytes(self) -> int:
        return sum(layer.compressed_bytes for layer in self.layers)


class Archive:
    """A `docker save` tar opened for random access."""

    def __init__(self, path: Path):
        self.path = path
        self.tar = tarfile.open(path, "r:")
        self.members = {m.name: m for m in self.tar.getmembers()}

    def close(self) -> None:
        self.tar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def blob(self, digest: str) -> IO[bytes]:
        algo, hexd = digest.split(":", 1)
        if f"blobs/{algo}/{hexd}" not in self.members:
            raise NotFound(f"blob {digest} is not in the archive (is that platform's content missing locally?)")
        return self.file(f"blobs/{algo}/{hexd}")

    def file(self, name: str) -> IO[bytes]:
        f = self.tar.extractfile(self.members[name])
        if f is None:
            raise NotFound(f"{name} in the archive is not a file")
        return f

    def json(self, digest: str) -> dict:
        return json.load(self.blob(digest))

    def platforms(self) -> list[PlatformImage]:
        """Every runnable platform image in the archive; attestation manifests are skipped."""
        index = json.load(self.file("index.json"))
        found: list[PlatformImage] = []
        self._walk(index, found)
        return found

    def _walk(self, index: dict, found: list[PlatformImage]) -> None:
        for desc in index.get("manifests", []):
            if desc.get("mediaType") in INDEX_TYPES:
                try:
                    self._walk(self.json(desc["digest"]), found)
                except KeyError:
                    continue
                continue
            plat = desc.get("platform") or {}
            if plat.get("os") == "unknown" or (desc.get("annotations") or {}).get("vnd.docker.reference.type"):
                continue  # BuildKit's provenance attestation, not an image
            try:
                manifest = self.json(desc["digest"])
                config = self.json(manifest["config"]["digest"])
            except KeyError:
                continue  # that platform's content is not held locally
            name = (
                f"{config.get('os', plat.get('os', '?'))}/{config.get('architecture', plat.get('architecture', '?'))}"
            )
            variant = config.get("variant") or plat.get("variant")
            if variant and variant != "v8":
                name += f"/{variant}"
            found.append(
                PlatformImage(
                    platform=name,
                    manifest_digest=desc["digest"],
                    config=config,
                    layers=[
                        Layer(l["digest"], int(l["size"]), l.get("mediaType", "")) for l in manifest.get("layers", [])
                    ],
                )
            )

    def layer_stream(self, layer: Layer) -> IO[bytes]:
        """One layer's tar, uncompressed, to be read once from the start."""
        return uncompressed(self.blob(layer.digest), layer.digest)

    def read_layer(self, layer: Layer) -> tuple[list[Entry], int]:
        """The entries of one layer and its uncompressed tar length.

        A layer the archive holds uncompressed (the classic image store keeps no compressed blobs: `docker
        save` writes plain tars) gets its `compressed_bytes` measured on the way: the length of the gzip
        stream a push would send, at gzip's default level as `docker push` compresses.
        """
        stream = self.layer_stream(layer)
        plain = not isinstance(stream, gzip.GzipFile)
        counter = CountingReader(stream, gzip_too=plain)
        entries: list[Entry] = []
        # A stream ("r|") is only ever read(): the counter is all the file object tarfile needs.
        with tarfile.open(fileobj=cast(IO[bytes], counter), mode="r|") as tar:
            for m in tar:
                entries.append(entry_from_tar(m.name, kind_of(m), m.size))
        counter.drain()
        if plain:
            layer.compressed_bytes = counter.gzipped_bytes()
        return entries, counter.count


def uncompressed(raw: IO[bytes], digest: str) -> IO[bytes]:
    """A layer blob (`raw`, seekable, at its start) as its uncompressed tar."""
    head = raw.read(4)
    raw.seek(0)
    if head.startswith(ZSTD_MAGIC):
        import zstandard

        # Read forwards only, as every reader of a layer here does (tarfile's "r|").
        return cast(IO[bytes], zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True))
    return cast(IO[bytes], gzip.GzipFile(fileobj=raw)) if head.startswith(GZIP_MAGIC) else raw


def kind_of(m: tarfile.TarInfo) -> str:
    if m.isreg():
        return FILE
    if m.isdir():
        return DIR
    if m.issym():
        return SYMLINK
    if m.islnk():
        return HARDLINK
    return OTHER


class CountingReader:
    """Counts the bytes a stream yields, so the uncompressed layer size costs no second pass; with
    `gzip_too`, also what those bytes gzip to."""

    def __init__(self, f: IO[bytes] | io.RawIOBase | gzip.GzipFile, gzip_too: bool = False):
        self.f, self.count = f, 0
        self._gz = zlib.compressobj(6, zlib.DEFLATED, 31) if gzip_too else None  # wbits 31: a gzip stream
        self._gz_bytes = 0

    def read(self, n: int = -1) -> bytes:
        b = self.f.read(n)
        self.count += len(b)
        if self._gz is not None and b:
            self._gz_bytes += len(self._gz.compress(b))
        return b

    def gzipped_bytes(self) -> int:
        if self._gz is None:
            raise ValueError("this reader was not asked to gzip")
        self._gz_bytes += len(self._gz.flush())
        self._gz = None
        return self._gz_bytes

    def drain(self) -> None:
        while self.read(1 << 20):
            pass
