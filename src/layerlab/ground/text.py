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


def printable(text: str) -> str:
    """`text` with what a non-UTF-8 file name left in it (surrogate escapes) shown as `\\xNN`: UTF-8 that
    JSON, CSV and HTML writers accept, and still tells two such names apart."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def error_text(e: BaseException) -> str:
    """What a failed command wrote to stderr (python-on-whales' DockerException), else the message."""
    return getattr(e, "stderr", None) or str(e)
