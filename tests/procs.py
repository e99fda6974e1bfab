"""What is running on this machine, read from /proc: for tests that interrupt builds and runs."""

from __future__ import annotations

from pathlib import Path


def building(tag_part: str) -> bool:
    """A `docker buildx build` client whose arguments name `tag_part` is running."""
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0") if proc.name.isdigit() else []
        except OSError:
            continue
        if b"build" in cmd and any(tag_part.encode() in part for part in cmd):
            return True
    return False


def sleep_seconds() -> str:
    """A duration no other test sleeps for: a step left running by an earlier test (or an earlier failure of
    this one) must not count as this test's step, nor hide that this one stopped."""
    import secrets

    return str(600 + secrets.randbelow(400))


def sleeping(seconds: str) -> bool:
    """A `sleep <seconds>` runs on this machine (in a container or a build step: their processes are ours to see)."""
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", seconds.encode()]:
                return True
        except OSError:
            continue
    return False
