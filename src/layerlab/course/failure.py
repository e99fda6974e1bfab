"""What a failed headless lesson run tells the learner: which cell, the error's own line, what to do.

nbclient's CellExecutionError carries the exception's type and message as fields
(`ename`, `evalue`) next to the traceback; its `str()` is the whole coloured traceback,
whose last line is often the tail of a long message (a build's "full log: ..."). The
summary is read from the fields, never from that text.
"""

from __future__ import annotations

import re

from layerlab.engine.build import TransientEngineError
from layerlab.engine.result import Result

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# IPython marks the line that raised with an arrow: "----> 5 assert HOST == ...".
_ARROW = re.compile(r"^-*>\s*\d+\s+(?P<code>.+)$")


class LessonFailure(Result):
    module: str  # the lesson's id ("03"): what `layerlab run` takes
    cell: int | None  # the failing code cell's number (1-based, as the `cell n/m done` lines count)
    cells: int  # code cells in the lesson
    error_type: str  # the exception's class name
    message: str  # the first line of its message; for a bare exception, the line that raised
    engine_error: bool = False  # the engine's known intermittent error, not the lesson's

    def line(self) -> str:
        where = f"cell {self.cell}/{self.cells}" if self.cell else "a cell"
        what = f"{self.error_type}: {self.message}" if self.message else self.error_type
        return f"{where}: {what}"

    def todo(self) -> str:
        """What to do about it, in one line."""
        again = f"`layerlab run {self.module}`"
        if self.engine_error:
            return (
                f"this is the engine's error, not the lesson's: run the lesson again alone ({again}); "
                "if it fails again, run `layerlab doctor` and restart the engine"
            )
        return f"its page shows the whole traceback; run the lesson again alone: {again}"


def from_cell_error(
    module: str, ename: str, evalue: str, traceback: str, cell: int | None, cells: int
) -> LessonFailure:
    """Summarise nbclient's CellExecutionError (its `ename`, `evalue`, `traceback`) raised at code cell `cell`."""
    message = _first_line(_ANSI.sub("", evalue or ""))
    if not message:
        # `assert x` says nothing of itself: the line that raised is the meaningful one.
        raised = [
            m.group("code").strip()
            for line in _ANSI.sub("", traceback or "").splitlines()
            if (m := _ARROW.match(line.strip()))
        ]
        message = f"at `{raised[-1]}`" if raised else ""
    return LessonFailure(
        module=module,
        cell=cell,
        cells=cells,
        error_type=ename or "error",
        message=message,
        engine_error=ename == TransientEngineError.__name__,
    )


def from_other(module: str, e: BaseException, cell: int | None, cells: int) -> LessonFailure:
    """A run that stopped other than by a cell's exception: a dead kernel, a cell's timeout."""
    return LessonFailure(
        module=module, cell=cell, cells=cells, error_type=type(e).__name__, message=_first_line(str(e))
    )


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
