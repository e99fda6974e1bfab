"""Lines for people: the default printer, and the one line of a failure worth showing."""

from __future__ import annotations

from collections.abc import Callable

Printer = Callable[[str], None]


def say(line: str) -> None:
    """The default printer: one line, flushed at once (a notebook shows it while the cell runs)."""
    print(line, flush=True)


def last_line(text: str | None, default: str = "") -> str:
    """The last non-empty line of `text`: where a command's stderr says what went wrong."""
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else default


def error_text(e: BaseException) -> str:
    """What a failed command wrote to stderr (python-on-whales' DockerException), else the message."""
    return getattr(e, "stderr", None) or str(e)
