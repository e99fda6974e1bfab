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


# Docker's CLI writes sizes with decimal units (go-units HumanSize): "8.446MB", "512kB", "0B".
_DECIMAL_UNITS = {"B": 1, "kB": 1000, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4, "PB": 1000**5}


def decimal_bytes(text: str) -> int:
    """Bytes in a size the docker CLI printed ("8.446MB", "1.2e+07B", "0B"); ValueError when it is not one."""
    value = text.strip()
    for unit in sorted(_DECIMAL_UNITS, key=len, reverse=True):
        if value.endswith(unit):
            return int(float(value[: -len(unit)]) * _DECIMAL_UNITS[unit])
    raise ValueError(f"not a size: {text!r}")
