"""Layer file lists, their stacking, and dive's waste and efficiency figures.

Pure code: layers come in as lists of entries (from `oci.read_layer`), so the
arithmetic is tested on hand-made layers without an engine.

dive's definitions (wagoodman/dive 0.13, image/efficiency.go and filetree),
followed exactly and checked against dive itself (tests/test_dive_oracle.py):
- For every *leaf* of each layer's tree (a file, link, empty directory, or a
  deletion marker), record its size under its path. A deleted *file* records
  size 0; a deleted *directory* records the size of everything it held.
  Opaque-directory markers (`.wh..wh..opq`) are not nodes in dive's tree: the
  directory they sit in counts as any other directory of the layer.
- A path recorded in two or more layers is an inefficiency; its *cumulative*
  size (every occurrence, the first included) counts as wasted bytes.
- Efficiency = sum over paths of the smallest recorded size / sum of all
  recorded sizes (1.0 for an empty image).

So deleting a file in a later layer wastes its size once (the copy that
still ships); overwriting it wastes both copies.
"""

from __future__ import annotations

import heapq
import posixpath
from dataclasses import dataclass

from pydantic import Field

from layerlab.engine.result import Result

FILE, DIR, SYMLINK, HARDLINK, OTHER, WHITEOUT, OPAQUE = (
    "file",
    "dir",
    "symlink",
    "hardlink",
    "other",
    "whiteout",
    "opaque",
)
WH_PREFIX = ".wh."
WH_OPAQUE = ".wh..wh..opq"


@dataclass(frozen=True)
class Entry:
    path: str  # absolute, normalised: "/usr/bin/gcc"
    kind: str
    size: int = 0


def normalise(name: str) -> str:
    name = name.lstrip("./") if name.startswith("./") else name.lstrip("/")
    return "/" + posixpath.normpath(name) if name not in ("", ".") else "/"


def entry_from_tar(name: str, kind: str, size: int) -> Entry:
    """Turn a tar member into an entry, decoding OCI whiteouts."""
    path = normalise(name)
    base = posixpath.basename(path)
    parent = posixpath.dirname(path)
    if base == WH_OPAQUE:
        return Entry(parent, OPAQUE, 0)
    if base.startswith(WH_PREFIX):
        return Entry(posixpath.join(parent, base[len(WH_PREFIX) :]), WHITEOUT, 0)
    return Entry(path, kind, size if kind == FILE else 0)


class LayerStats(Result):
    index: int
    created_by: str
    size_bytes: int  # sum of the sizes of regular files in the layer
    compressed_bytes: int | None = None
    digest: str | None = None  # of the compressed blob: equal digests are one blob on disk
    added: int = 0
    changed: int = 0
    deleted: int = 0
    biggest: list[tuple[str, int]] = Field(default_factory=list)


class Waste(Result):
    wasted_bytes: int
    efficiency: float
    user_wasted_fraction: float  # wasted / bytes above the first layer, as dive's CI check reports
    top: list[tuple[str, int, int]]  # (path, times seen, cumulative bytes), largest first


def _leaves(entries: list[Entry]) -> list[Entry]:
    """Entries with no child in the same layer: what dive's visitor counts."""
    parents = set()
    for e in entries:
        p = posixpath.dirname(e.path)
        while p not in parents and p != "/":
            parents.add(p)
            p = posixpath.dirname(p)
    return [e for e in entries if e.kind == WHITEOUT or e.path not in parents]


def _under(stack: dict[str, Entry], directory: str) -> list[str]:
    prefix = directory.rstrip("/") + "/"
    return [p for p in stack if p.startswith(prefix)]


class Stack:
    """The union filesystem as layers are applied, bottom to top."""

    def __init__(self) -> None:
        self.files: dict[str, Entry] = {}

    def deleted_size(self, e: Entry) -> int:
        """What dive records for a whiteout: a deleted directory's contents, 0 for a deleted file."""
        prev = self.files.get(e.path)
        if prev is None or prev.kind != DIR:
            return 0
        return sum(self.files[p].size for p in _under(self.files, e.path))

    def apply(self, entries: list[Entry]) -> tuple[int, int, int]:
        """Apply one layer; returns (added, changed, deleted) counts of non-directory paths."""
        added = changed = deleted = 0
        for e in entries:
            if e.kind == WHITEOUT:
                for p in _under(self.files, e.path):
                    del self.files[p]
                if self.files.pop(e.path, None) is not None:
                    deleted += 1
            elif e.kind == OPAQUE:
                gone = _under(self.files, e.path)
                for p in gone:
                    del self.files[p]
                deleted += len([p for p in gone])
        for e in entries:
            if e.kind in (WHITEOUT, OPAQUE):
                continue
            if e.kind != DIR:
                if e.path in self.files:
                    changed += 1
                else:
                    added += 1
            self.files[e.path] = e
        return added, changed, deleted


def analyse(
    layers: list[list[Entry]],
    created_by: list[str],
    compressed: list[int | None] | None = None,
    top: int = 10,
    digests: list[str] | None = None,
) -> tuple[list[LayerStats], Waste, dict[str, Entry]]:
    """Per-layer stats, dive's waste figures and the final filesystem for a stack of layers."""
    stack = Stack()
    cumulative: dict[str, int] = {}
    minimum: dict[str, int] = {}
    seen: dict[str, int] = {}
    stats: list[LayerStats] = []
    for i, entries in enumerate(layers):
        for leaf in _leaves([e for e in entries if e.kind != OPAQUE]):
            size = stack.deleted_size(leaf) if leaf.kind == WHITEOUT else leaf.size
            cumulative[leaf.path] = cumulative.get(leaf.path, 0) + size
            minimum[leaf.path] = min(minimum.get(leaf.path, size), size)
            seen[leaf.path] = seen.get(leaf.path, 0) + 1
        files = [e for e in entries if e.kind == FILE]
        biggest = heapq.nlargest(top, files, key=lambda e: e.size)
        added, changed, deleted = stack.apply(entries)
        stats.append(
            LayerStats(
                index=i,
                created_by=created_by[i] if i < len(created_by) else "?",
                size_bytes=sum(e.size for e in files),
                compressed_bytes=compressed[i] if compressed and i < len(compressed) else None,
                digest=digests[i] if digests and i < len(digests) else None,
                added=added,
                changed=changed,
                deleted=deleted,
                biggest=[(e.path, e.size) for e in biggest],
            )
        )
    repeated = {p: cumulative[p] for p, n in seen.items() if n >= 2}
    wasted = sum(repeated.values())
    discovered = sum(cumulative.values())
    efficiency = 1.0 if discovered == 0 else sum(minimum.values()) / discovered
    total = sum(s.size_bytes for s in stats)
    user = total - (stats[0].size_bytes if stats else 0)
    waste = Waste(
        wasted_bytes=wasted,
        efficiency=efficiency,
        user_wasted_fraction=(wasted / user) if user > 0 else 0.0,
        top=[(p, seen[p], b) for p, b in heapq.nlargest(top, repeated.items(), key=lambda kv: kv[1])],
    )
    return stats, waste, stack.files
