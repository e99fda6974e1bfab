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


def sleeping_600() -> bool:
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", b"600"]:
                return True
        except OSError:
            continue
    return False
