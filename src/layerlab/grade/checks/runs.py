"""`runs_and_prints`: the container runs and prints what the solution printed."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from ..fixture import Fixture, Section
from ..subject import Subject
from .base import Context, Failed, NotRun, RecordError, check, excerpt, lines, records
from .ship import index_hint
from .spec import CheckBase


class RunsAndPrints(CheckBase):
    check: Literal["runs_and_prints"]
    command: list[str] | None = Field(
        default=None, description="arguments after the entrypoint (default: the image's CMD)"
    )


class Printed(Section):
    """What the solution's container printed, run to completion with the check's command."""

    name = "runs"
    output: str
    exit_code: int


@check(RunsAndPrints)
def runs_and_prints(ctx: Context, spec: RunsAndPrints) -> str:
    s = ctx.need_subject()
    s.build()
    fx = ctx.need_fixture().section(Printed)
    if fx is None:
        raise NotRun(f"the fixture holds no recorded output: run `layerlab record {ctx.exercise.id}`")
    ran = s.run(tuple(spec.command) if spec.command else None)
    if ran.error:
        raise Failed(
            f"the container did not start: {ran.error}",
            ran.hint or "check ENTRYPOINT and CMD: do they name a program that exists in the image?",
        )
    if ran.timed_out:
        raise Failed(
            f"timed out after {ctx.exercise.limits.run_timeout_s} s",
            "the program waits for input or loops; it should print and exit",
        )
    if ran.oom_killed:
        raise Failed(
            f"stopped by the memory limit ({ctx.exercise.limits.memory})",
            "the program uses more memory than the exercise allows",
        )
    if ran.exit_code != fx.exit_code:
        from layerlab.engine.containers import start_failure

        # runc reports some failures to exec the program (a CRLF script, a missing #! interpreter)
        # from inside the started container, as its only log line: `exec /run.sh: no such file or directory`.
        first = (lines(ran.output) or [""])[0]
        exec_failed = (
            len(lines(ran.output)) == 1
            and first.startswith("exec ")
            and first.endswith(("no such file or directory", "exec format error", "permission denied"))
        )
        raise Failed(
            f"exit code {ran.exit_code} (expected {fx.exit_code})\n{excerpt(ran.output)}",
            start_failure(first)[1]
            if exec_failed
            else index_hint(ctx.exercise, ran.output)
            or missing_library_hint(ran.output)
            or "the program failed: is every file and package it needs in the image?",
        )
    got, want = lines(ran.output), lines(fx.output)
    if got != want:
        n = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        yours = got[n] if n < len(got) else "(no more output)"
        raise Failed(
            f"output differs from the reference at line {n + 1} of {len(want)}: yours reads {yours!r}",
            "the image runs other code or data than the exercise's: keep the program, its input and CMD as given",
        )
    return f"prints the expected {len(want)} line(s)"


_MISSING_LIBRARY = re.compile(r"(\S+\.so(?:\.\d+)*): cannot open shared object file")


def missing_library_hint(output: str) -> str:
    """The hint for a program whose compiled module loads a library the image lacks, else "".

    The typical multi-stage miss: a builder stage got the library with the compiler
    (gcc brings libgomp1) and the slim final stage never had it."""
    m = _MISSING_LIBRARY.search(output)
    if not m:
        return ""
    return (
        f"a compiled module needs {m.group(1)}, which the final image lacks: find which package "
        f"holds it where the build worked (`dpkg -S {m.group(1)}` in the builder stage) and install "
        "that runtime package in the final stage, not the compiler"
    )


@records(RunsAndPrints)
def record(s: Subject, spec: RunsAndPrints, f: Fixture) -> None:
    ran = s.run(tuple(spec.command) if spec.command else None)
    if ran.error or ran.timed_out:
        raise RecordError(f"the solution's container did not run: {ran.error or 'timed out'}")
    f.put(Printed(output=ran.output, exit_code=ran.exit_code))
