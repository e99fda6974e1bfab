"""Failures that more than one layer raises or catches."""

from __future__ import annotations


class Unavailable(RuntimeError):
    """What a result needs does not answer here (no container engine, no qemu for a VM).

    The replay fallback catches this: a lesson shows the recorded result instead. The
    message says what to do about it.
    """
