"""Grade once more when the engine, not the submission, failed a build.

`build.build` already retries the engine's known intermittent export error once
(engine/transient.py); when the retry hits it too, the build raises
TransientEngineError. The checks turn every BuildError into a verdict on the
submission (`builds` fails, the checks after it do not run), so the error is noted
where every grading build passes (`sandbox.Session.build` calls `notice`), and the
grading entry point, wrapped in `once_more`, then grades the whole submission again,
once, in a fresh session. If the engine fails that one too, the report says so as a
problem and judges nothing that did not pass: those checks are "not run", 0 points.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec

from layerlab.engine.build import TransientEngineError

from .report import Report

P = ParamSpec("P")

ENGINE_ERROR = "engine error, not your submission"
_noticed: ContextVar[list[TransientEngineError] | None] = ContextVar("layerlab_grade_engine_errors", default=None)


def notice(e: TransientEngineError) -> None:
    """Remember that a build of this grading hit the engine's error (outside `once_more`: nothing to do)."""
    seen = _noticed.get()
    if seen is not None:
        seen.append(e)


@contextmanager
def _watching() -> Iterator[list[TransientEngineError]]:
    seen: list[TransientEngineError] = []
    token = _noticed.set(seen)
    try:
        yield seen
    finally:
        _noticed.reset(token)


def _what(e: TransientEngineError) -> str:
    retried = " and its retry" if e.attempts > 1 else ""
    return f"the container engine's known intermittent error ({e.cause}) at `{e.step}` stopped a build{retried}"


def once_more(grade: Callable[P, Report]) -> Callable[P, Report]:
    """Wrap the grading entry point: grade again once when a build hit the engine's error."""

    @functools.wraps(grade)
    def graded(*args: P.args, **kwargs: P.kwargs) -> Report:
        with _watching() as seen:
            report = grade(*args, **kwargs)
        if not seen:
            return report
        # stderr: `layerlab grade --json` keeps stdout for the report
        print(f"{ENGINE_ERROR}: {_what(seen[0])}; grading it again", file=sys.stderr, flush=True)
        with _watching() as again:
            report = grade(*args, **kwargs)
        if not again:
            report.notes.append(
                f"{ENGINE_ERROR}: {_what(seen[0])}, so the submission was graded again; "
                "this report is of that second grading"
            )
            return report
        return engine_failed(report, again[0])

    return graded


def engine_failed(report: Report, e: TransientEngineError) -> Report:
    """The second grading hit the engine's error too: say so, and judge nothing that did not pass."""
    report.problems.append(
        f"{ENGINE_ERROR}: {_what(e)}, in this grading and in a second one, so what needed that build was not judged. "
        "Grade again; if it keeps failing, run `layerlab doctor` and restart the engine"
    )
    for r in report.results:
        if r.status != "passed":
            r.status, r.points, r.detail, r.hint = "not run", 0, "", ""
            r.why = f"{ENGINE_ERROR}: not judged (see PROBLEM above)"
    return report
