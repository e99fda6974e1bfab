"""A data loader's shared memory: what it needs, what the container's /dev/shm holds, and the smallest size that works.

The loader (lesson 10's `loader.py`) prints one JSON line: its workers, batches, the /dev/shm size it saw,
whether every worker lived, and the cause when one did not (SIGBUS: a full tmpfs answers a write to a
mapped page with a signal, not an exception, so the worker dies and the loader reports it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from layerlab.engine.containers import RunResult
from layerlab.engine.result import Result


class LoaderRun(Result):
    shm_option: str  # what the run asked for: "default", "--shm-size=96m", "--ipc=host"
    ok: bool
    exit_code: int
    shm_bytes: int | None = None  # the /dev/shm the loader saw
    needed_bytes: int | None = None  # workers x prefetch x batch
    error: str | None = None  # the loader's own sentence when a worker died

    def line(self) -> str:
        seen = f"/dev/shm {self.shm_bytes / 2**20:.0f} MiB" if self.shm_bytes else "no report"
        return f"{self.shm_option:<16} {seen:<18} {'works' if self.ok else 'fails: ' + (self.error or f'exit {self.exit_code}')}"


def read(shm_option: str, run: RunResult) -> LoaderRun:
    # a run stopped at its timeout did not work, whatever it exited with
    return parse(shm_option, run.output, run.exit_code if not run.timed_out else (run.exit_code or 124))


def parse(shm_option: str, output: str, exit_code: int) -> LoaderRun:
    """The loader's report in `output` (its JSON line), from a run that exited with `exit_code`."""
    report: dict = {}
    for line in output.splitlines():
        try:
            found = json.loads(line)
        except ValueError:
            continue
        if isinstance(found, dict) and "needed_bytes" in found:
            report = found
    ran = exit_code == 0
    return LoaderRun(
        shm_option=shm_option,
        ok=ran and bool(report.get("ok")),
        exit_code=exit_code,
        shm_bytes=report.get("shm_bytes"),
        needed_bytes=report.get("needed_bytes"),
        error=report.get("error") or (None if ran else _last_line(output)),
    )


def _last_line(output: str) -> str | None:
    lines = output.strip().splitlines()
    return lines[-1] if lines else None


def smallest_working(
    sizes_mib: Iterable[int], try_size: Callable[[int], LoaderRun]
) -> tuple[int | None, list[LoaderRun]]:
    """Try `sizes_mib` in increasing order until one works: that size (None if none did) and every run tried."""
    tried = []
    for size in sorted(sizes_mib):
        run = try_size(size)
        tried.append(run)
        if run.ok:
            return size, tried
    return None, tried
