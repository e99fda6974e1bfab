"""One holder at a time per machine: processes, notebook kernels and `make test`'s two lanes alike.

A file lock (flock) in the course's cache folder: the kernel drops it when its holder exits, however
it exits, so a crashed run never leaves the course locked.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator

from layerlab.ground import settings
from layerlab.ground.text import Printer


@contextlib.contextmanager
def held(name: str, say: Printer, waiting: str) -> Iterator[None]:
    """Hold the machine's lock `name` for the `with` block; say `waiting` once if another holder is there."""
    path = settings.cache_dir() / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(waiting)
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield
