"""Why two builds of the same source have different digests: compare two saved images file by file.

A digest is the hash of the manifest, which names the config and each layer by hash, so one changed byte
anywhere changes it. The usual culprits in a Python image are timestamps (each file's mtime in a layer's tar,
`created` in the config and in every history entry) and bytecode (a `.pyc` records its source's mtime).
This reads two `docker save` archives (or OCI layouts in a tar) and says, per layer, which files differ and
how, and which config fields differ, so a learner sees the cause before fixing it.
"""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path
from typing import IO, Literal

from layerlab.engine import replay
from layerlab.engine.result import Replayable, Result

from .layers import normalise
from .oci import Archive, Layer, PlatformImage, kind_of

Change = Literal["only in first", "only in second", "content", "mode or owner", "pyc source mtime", "mtime only"]


class FileDiff(Result):
    layer: int
    path: str
    change: Change
    detail: str = ""


class LayerDiff(Result):
    index: int
    created_by: str
    same_digest: bool
    # Same uncompressed bytes, different compressed ones: the compressor (its level, a gzip header) differs.
    same_files: bool
    files: list[FileDiff] = []

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            out[f.change] = out.get(f.change, 0) + 1
        return out


class ConfigDiff(Result):
    field: str
    first: str
    second: str


class Comparison(Replayable):
    platform: str
    first_digest: str
    second_digest: str
    layers: list[LayerDiff]
    config: list[ConfigDiff]

    @property
    def identical(self) -> bool:
        return self.first_digest == self.second_digest

    def files(self, change: Change | None = None) -> list[FileDiff]:
        return [f for layer in self.layers for f in layer.files if change is None or f.change == change]

    def summary(self) -> str:
        if self.identical:
            return f"{self.platform}: identical ({self.first_digest[:19]})"
        lines = [f"{self.platform}: {self.first_digest[:19]} vs {self.second_digest[:19]}"]
        for d in self.config:
            lines.append(f"  config {d.field}: {d.first} -> {d.second}")
        for layer in self.layers:
            if layer.same_digest:
                continue
            what = (
                "same files, different compression"
                if layer.same_files
                else ", ".join(f"{n} {c}" for c, n in sorted(layer.counts().items()))
            )
            lines.append(f"  layer {layer.index} ({layer.created_by[:50]}): {what}")
        return "\n".join(lines)


# (kind, mode, uid, gid, link target, content hash), the mtime, and for a bytecode file the source mtime
# its header records: what a tar member carries that ends up in a digest.
_Member = tuple[tuple[str, int, int, int, str, str], float, int | None]  # mtime: PAX headers keep its fraction


def _pyc_source_mtime(data: bytes) -> tuple[bytes, int | None]:
    """A timestamp-based .pyc (PEP 552: flags 0) with its recorded source mtime zeroed, and that mtime.

    Python compiles the same source to the same bytes; the header also records the source file's mtime,
    which an install stamps anew each time it runs: that alone is a timestamp, not other content.
    """
    if len(data) >= 16 and data[4:8] == bytes(4):
        return data[:8] + bytes(4) + data[12:], int.from_bytes(data[8:12], "little")
    return data, None


def compare(first: Path, second: Path, platform: str | None = None) -> Comparison:
    """Compare one platform (default: the only or first one) of two saved images."""
    with Archive(first) as a, Archive(second) as b:
        pa, pb = _pick(a, platform), _pick(b, platform)
        history = [h for h in pa.config.get("history", []) if not h.get("empty_layer")]
        layers: list[LayerDiff] = []
        ids_a = pa.config.get("rootfs", {}).get("diff_ids", [])
        ids_b = pb.config.get("rootfs", {}).get("diff_ids", [])
        for i in range(max(len(pa.layers), len(pb.layers))):
            la = pa.layers[i] if i < len(pa.layers) else None
            lb = pb.layers[i] if i < len(pb.layers) else None
            step = history[i].get("created_by", "") if i < len(history) else ""
            if la is not None and lb is not None and la.digest == lb.digest:
                layers.append(LayerDiff(index=i, created_by=step, same_digest=True, same_files=True))
                continue
            same_files = i < len(ids_a) and i < len(ids_b) and ids_a[i] == ids_b[i]
            files = [] if same_files else _file_diffs(i, _members(a, la), _members(b, lb))
            layers.append(LayerDiff(index=i, created_by=step, same_digest=False, same_files=same_files, files=files))
        return Comparison(
            platform=pa.platform,
            first_digest=pa.manifest_digest,
            second_digest=pb.manifest_digest,
            layers=layers,
            config=_config_diffs(pa.config, pb.config),
        )


# A lesson compares archives its builds exported to its own scratch folder; a replay has no such files.
archives = replay.replayable(
    "repro-compare", lambda first, second, platform=None: f"{Path(first).name}|{Path(second).name}", Comparison
)(compare)
"""`compare`, recorded and replayed: what lessons call."""


def _pick(archive: Archive, platform: str | None) -> PlatformImage:
    found = archive.platforms()
    if not found:
        raise ValueError(f"{archive.path} holds no image")
    if platform is None:
        return found[0]
    for p in found:
        if p.platform == platform:
            return p
    raise ValueError(f"{archive.path} has no {platform} image (it has {', '.join(p.platform for p in found)})")


def _members(archive: Archive, layer: Layer | None) -> dict[str, _Member]:
    return {} if layer is None else members(archive.layer_stream(layer))


def members(layer_tar: IO[bytes]) -> dict[str, _Member]:
    """Each path of an uncompressed layer tar: what it is and holds, and its mtime."""
    out: dict[str, _Member] = {}
    with tarfile.open(fileobj=layer_tar, mode="r|") as tar:
        for m in tar:
            digest, source_mtime = "", None
            if m.isreg():
                f = tar.extractfile(m)
                data = f.read() if f else b""
                if m.name.endswith(".pyc"):
                    data, source_mtime = _pyc_source_mtime(data)
                digest = hashlib.sha256(data).hexdigest()
            kind = kind_of(m)
            out[normalise(m.name)] = ((kind, m.mode, m.uid, m.gid, m.linkname, digest), float(m.mtime), source_mtime)
    return out


def layer_file_diffs(index: int, first: IO[bytes], second: IO[bytes]) -> list[FileDiff]:
    """How two uncompressed layer tars differ, file by file (empty when only their order or packing does)."""
    return _file_diffs(index, members(first), members(second))


def _file_diffs(index: int, a: dict[str, _Member], b: dict[str, _Member]) -> list[FileDiff]:
    diffs: list[FileDiff] = []
    for path in sorted(a.keys() | b.keys()):
        if path not in b:
            diffs.append(FileDiff(layer=index, path=path, change="only in first"))
        elif path not in a:
            diffs.append(FileDiff(layer=index, path=path, change="only in second"))
        else:
            (what_a, mtime_a, pyc_a), (what_b, mtime_b, pyc_b) = a[path], b[path]
            if what_a[0] != what_b[0] or what_a[4:] != what_b[4:]:
                diffs.append(FileDiff(layer=index, path=path, change="content"))
            elif what_a[1:4] != what_b[1:4]:
                diffs.append(
                    FileDiff(layer=index, path=path, change="mode or owner", detail=f"{what_a[1:4]} -> {what_b[1:4]}")
                )
            elif pyc_a != pyc_b:
                diffs.append(FileDiff(layer=index, path=path, change="pyc source mtime", detail=f"{pyc_a} -> {pyc_b}"))
            elif mtime_a != mtime_b:
                diffs.append(FileDiff(layer=index, path=path, change="mtime only", detail=f"{mtime_a} -> {mtime_b}"))
    return diffs


def _config_diffs(a: object, b: object, where: str = "") -> list[ConfigDiff]:
    if where == ".rootfs":
        return []  # the layers' hashes: compared layer by layer above
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(a.keys() | b.keys()) for d in _config_diffs(a.get(k), b.get(k), f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _config_diffs(x, y, f"{where}[{i}]")]
    if a == b:
        return []
    return [ConfigDiff(field=where.lstrip("."), first=str(a)[:80], second=str(b)[:80])]
