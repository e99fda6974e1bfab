"""Failures that more than one layer raises or catches.

Every error layerlab raises on purpose derives from `LayerlabError`, so the CLI
and the notebooks catch one type and print its message as it was written. A
subclass carries the facts as fields (the caller reads `e.hint`, never parses
`str(e)`), and `NotFound` is also a `KeyError` for code that catches lookups,
without KeyError's quotes around the message.
"""

from __future__ import annotations


class LayerlabError(Exception):
    """Base of layerlab's own errors; `str(e)` is the message, ready to print."""

    def __str__(self) -> str:
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class NotFound(LayerlabError, KeyError):
    """A name that is not in a catalogue (a module, an exercise, a base image); the message lists the known ones."""

    # KeyError.__str__ quotes its argument; a lookup failure is a sentence for a person.
    __str__ = LayerlabError.__str__


class Unavailable(LayerlabError, RuntimeError):
    """What a result needs does not answer here (no container engine, no qemu for a VM).

    The replay fallback catches this: a lesson shows the recorded result instead. The
    message says what to do about it.
    """


class BadSetting(LayerlabError, ValueError):
    """A LAYERLAB_* variable holds what it cannot mean; the message names the variable and what it wants."""
