"""BLAS threads against a container's CPU limit: lesson 10's `threads.py` reports, read into a result.

The report says what the process counts (`os.cpu_count()`: the host's CPUs), what the cgroup allows (the
quota, in CPUs), how many threads the BLAS library started and how long a fixed matrix multiply took.
"""

from __future__ import annotations

import json
import math

from layerlab.engine.containers import RunResult
from layerlab.engine.result import Result
from layerlab.ground.errors import LayerlabError


class ThreadsRun(Result):
    setting: str  # "default" or "OMP_NUM_THREADS=1"
    cpu_count: int
    quota: float | None  # CPUs the cgroup allows; None: no limit
    blas: str | None
    threads: int | None
    seconds: float

    @property
    def sized(self) -> int:
        """The thread count the quota allows: whole CPUs, at least one."""
        return max(1, math.floor(self.quota)) if self.quota else self.cpu_count


class NoReport(LayerlabError, ValueError):
    pass


def read(setting: str, run: RunResult) -> ThreadsRun:
    for line in reversed(run.output.splitlines()):
        try:
            report = json.loads(line)
        except ValueError:
            continue
        if isinstance(report, dict) and "threads" in report:
            return ThreadsRun(
                setting=setting,
                cpu_count=report["cpu_count"],
                quota=report["quota"],
                blas=report["blas"],
                threads=report["threads"],
                seconds=report["seconds"],
            )
    raise NoReport(f"{run.image} printed no thread report (exit {run.exit_code}): {run.output[-300:]}")
