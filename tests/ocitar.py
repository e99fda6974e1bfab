"""Write a saved image by hand: an OCI layout with Docker's manifest.json beside it,
as `docker save` writes it with the containerd image store, so layerlab and dive can
read the same file without an engine."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

# One layer: (path, kind, payload) with kind "file" (payload: bytes), "dir", "symlink" (payload: target),
# "hardlink" (payload: target path) or "whiteout"/"opaque" (the OCI markers for a deletion).
Member = tuple[str, str, bytes | str | None]


def _layer_tar(members: list[Member], mtime: int = 1_700_000_000) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, kind, payload in members:
            name = path.lstrip("/")
            if kind == "whiteout":
                head, _, base = name.rpartition("/")
                name = f"{head}/.wh.{base}" if head else f".wh.{base}"
            elif kind == "opaque":
                name = f"{name.rstrip('/')}/.wh..wh..opq"
            info = tarfile.TarInfo(name)
            info.mtime = mtime
            data = b""
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, str(payload)
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, str(payload).lstrip("/")
            else:
                data = payload if isinstance(payload, bytes) else b""
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def _digest(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def write_image(
    path: Path,
    layers: list[list[Member]],
    created_by: list[str] | None = None,
    tag: str = "handmade:latest",
    mtime: int = 1_700_000_000,
    created: str | None = None,
    gzip_level: int | None = 9,
) -> Path:
    """`mtime`: every layer member's; `created`: the config's and each history entry's time (none by default);
    `gzip_level`: the layers' compression, which changes their digests and not their files; None writes
    plain tars, as `docker save` does from the classic image store."""
    blobs: dict[str, bytes] = {}

    def add(b: bytes) -> str:
        d = _digest(b)
        blobs[d] = b
        return d

    diff_ids, layer_descs = [], []
    for members in layers:
        raw = _layer_tar(members, mtime)
        blob = raw if gzip_level is None else gzip.compress(raw, compresslevel=gzip_level, mtime=0)
        kind = "application/vnd.oci.image.layer.v1.tar" + ("" if gzip_level is None else "+gzip")
        diff_ids.append(_digest(raw))
        layer_descs.append({"mediaType": kind, "digest": add(blob), "size": len(blob)})
    created_by = created_by or [f"RUN step {i}" for i in range(len(layers))]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": c} | ({"created": created} if created else {}) for c in created_by],
    }
    if created:
        config["created"] = created
    config_d = add(json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_d,
            "size": len(blobs[config_d]),
        },
        "layers": layer_descs,
    }
    manifest_b = json.dumps(manifest).encode()
    manifest_d = add(manifest_b)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": manifest["mediaType"],
                "digest": manifest_d,
                "size": len(manifest_b),
                "platform": {"os": "linux", "architecture": "amd64"},
                "annotations": {"io.containerd.image.name": f"docker.io/library/{tag}"},
            }
        ],
    }
    docker_manifest = [
        {
            "Config": "blobs/sha256/" + config_d.split(":")[1],
            "RepoTags": [tag],
            "Layers": ["blobs/sha256/" + d["digest"].split(":")[1] for d in layer_descs],
        }
    ]
    with tarfile.open(path, "w") as out:

        def put(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000
            out.addfile(info, io.BytesIO(data))

        put("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        put("index.json", json.dumps(index).encode())
        put("manifest.json", json.dumps(docker_manifest).encode())
        for d, b in blobs.items():
            put("blobs/sha256/" + d.split(":")[1], b)
    return path
