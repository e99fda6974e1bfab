"""Files as OCI artifacts in the course registry, through the ORAS SDK (the `oras` package).

A model's weights pushed this way are a manifest with one layer, the file itself, named by digest like any
image: a deployment pins `registry/name@sha256:...` and gets those bytes or nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

from layerlab.ground.errors import LayerlabError
from layerlab.ground.text import last_line

from . import registry, replay
from .result import Replayable


class ArtifactError(LayerlabError, RuntimeError):
    pass


class ArtifactPush(Replayable):
    ref: str  # localhost:5000/name:tag
    digest: str  # the manifest's digest: what a deployment pins
    bytes: int  # the file's size
    seconds: float

    @property
    def pinned(self) -> str:
        """The reference by digest, as an app or a deployment names it."""
        return f"{self.ref.rsplit(':', 1)[0]}@{self.digest}"


def push_live(path: Path, name_tag: str) -> ArtifactPush:
    """Push the file `path` to `localhost:PORT/<name_tag>` as an artifact with one layer."""
    import oras.client

    ref = f"{registry.address()}/{name_tag}"
    client = oras.client.OrasClient(hostname=registry.address(), insecure=True)
    start = time.perf_counter()
    try:
        # An absolute path is outside the working folder, which ORAS refuses unless told; it titles the layer by name.
        answer = client.push(target=ref, files=[str(path.resolve())], disable_path_validation=True)
    except Exception as e:  # noqa: BLE001 - the SDK raises requests' and its own errors alike
        raise ArtifactError(f"push of {path.name} to {ref} failed: {last_line(str(e))}") from None
    seconds = time.perf_counter() - start
    digest = answer.headers.get("Docker-Content-Digest") or registry.fetch(ref)[1]
    return ArtifactPush(ref=ref, digest=digest, bytes=path.stat().st_size, seconds=round(seconds, 3))


push = replay.replayable("artifact-push", lambda path, name_tag: replay.stable(name_tag), ArtifactPush)(push_live)
