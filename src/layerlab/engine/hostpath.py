"""Folders as the engine's host names them, for bind mounts made from inside the devcontainer.

The devcontainer talks to the host's engine through its socket
(docker-outside-of-docker). A bind mount's source is resolved by the engine,
on the host, so `/workspaces/course/build/x` names a folder that does not
exist there: the engine would create an empty one and the container would
see nothing of ours. .devcontainer/devcontainer.json passes both names of
the workspace (LAYERLAB_WORKSPACE inside, LAYERLAB_HOST_WORKSPACE on the
host), and every bind mount the course makes goes through `host_path`.
Outside the devcontainer neither is set and paths pass unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from layerlab.ground import settings
from layerlab.ground.errors import LayerlabError


class NotOnHost(LayerlabError, ValueError):
    """A folder that exists only inside the devcontainer: the host's engine cannot mount it."""


def host_path(path: str | os.PathLike[str]) -> str:
    """`path` (absolute, or relative to here) as the engine's host sees it."""
    local = Path(path).absolute()
    both = settings.devcontainer_workspace()
    if both is None:
        return str(local)
    inside, host = both
    try:
        rel = PurePosixPath(local).relative_to(PurePosixPath(inside))
    except ValueError:
        raise NotOnHost(
            f"{local} exists only inside the devcontainer, so the host's engine cannot bind-mount it: "
            f"use a folder under {inside} (the host's {host}) or a named volume"
        ) from None
    # The host's own separator stays as given (a Windows host passes C:\...); Docker Desktop accepts '/' after it.
    return host.rstrip("/\\") + ("/" + rel.as_posix() if rel.parts else "")
