"""The instructor's kit: warm a demo up, read its timings, reset it to cold, and each lesson's instructor note.

`warm` executes a lesson headless twice, the way `layerlab run` does: the first
run builds what the demo builds (after the base images its `needs` call for),
the second is timed as the class will see it. Both times are measured; nothing
here is an estimate. `timings` reads what runs left in build/: runs.json and the
executed notebooks, whose cells carry nbclient's start and end stamps, so a cell
that keeps a class waiting is found from a real run. `reset` removes what one
module created, by its labels, and nothing else.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jupytext
import nbformat
from pydantic import Field

from layerlab.engine import clean, labels
from layerlab.engine.result import Result

from . import Course, Module, lesson_times, notebooks
from .lesson_times import RecordedTime
from .notebooks import RunResult

WAIT_LIMIT_S = 30.0  # a cell longer than this, warm, keeps a class waiting
WARM_FILE = "warm.json"
Printer = Callable[[str], None]


def _say(line: str) -> None:
    print(line, flush=True)


def run_name(m: Module) -> str:
    """The name `layerlab run` gives a module's run (runs.json's `module`, the executed notebook's stem)."""
    return f"{m.id}-{m.slug}"


# --- per-cell times, from an executed notebook --------------------------------------------


class CellTime(Result):
    cell: int  # code cell number, from 1, as `layerlab run` counts them
    seconds: float
    heading: str  # the section the cell is in (the markdown heading above it)
    first_line: str


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


HEADING = re.compile(r"^#{1,6}\s+(.*)$", re.M)  # a markdown heading, the section a cell is in


def cell_times(nb: nbformat.NotebookNode) -> list[CellTime]:
    """Each code cell's run time from the stamps nbclient records (`metadata.execution`); cells without them are skipped."""
    out: list[CellTime] = []
    heading, n = "", 0
    for c in nb.cells:
        if c.cell_type == "markdown":
            found = HEADING.findall(c.source)
            if found:
                heading = found[-1].strip()
            continue
        if c.cell_type != "code":
            continue
        n += 1
        ex = c.get("metadata", {}).get("execution", {})
        start, end = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
        if not (start and end):
            continue
        lines = [line for line in c.source.splitlines() if line.strip()]
        out.append(
            CellTime(
                cell=n,
                seconds=round((_stamp(end) - _stamp(start)).total_seconds(), 2),
                heading=heading,
                first_line=lines[0][:100] if lines else "",
            )
        )
    return out


def read_cell_times(path: Path) -> list[CellTime]:
    return cell_times(nbformat.read(path, as_version=4)) if path.exists() else []


# --- instructor notes ----------------------------------------------------------------------

_NOTE = re.compile(r"\*\*Instructor note\.?\*\*\s*")


def instructor_notes(m: Module) -> list[str]:
    """The lesson's instructor notes: each markdown blockquote that starts with **Instructor note.**, as plain text."""
    nb = jupytext.read(notebooks.source_path(m))
    notes: list[str] = []
    for c in nb.cells:
        if c.cell_type != "markdown":
            continue
        quote: list[str] = []
        for line in c.source.splitlines() + [""]:
            if line.startswith(">"):
                quote.append(line[1:].strip())
                continue
            text = " ".join(q for q in quote if q)
            if _NOTE.search(text):
                notes.append(_NOTE.sub("", text, count=1).strip())
            quote = []
    return notes


# --- warm ----------------------------------------------------------------------------------


class WarmRun(Result):
    """One module warmed: its first run (cold when none of its images existed) and a second, warm run."""

    dumped_properties = ("cold",)

    module: str
    title: str
    images_before: int  # the module's labelled images present before the first run
    first_s: float
    first_ok: bool
    images_after: int = 0  # ... and after it: 0 for a lesson that builds no image of its own (00, 01)
    warm_s: float | None = None  # None: the second run was not asked for (--once) or the first failed
    warm_ok: bool | None = None
    warm_cells: list[CellTime] = Field(default_factory=list)
    first_cells: list[CellTime] = Field(default_factory=list)
    error: str | None = None
    at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    load_1m: float | None = None  # this machine's load average as the warm run ended: a shared engine is slower

    @property
    def cold(self) -> bool:
        """The first run built every image of the module (BuildKit's shared cache aside)."""
        return self.images_before == 0 and self.images_after > 0

    @property
    def slow_cells(self) -> list[CellTime]:
        return [c for c in self.warm_cells if c.seconds > WAIT_LIMIT_S]

    def line(self) -> str:
        state = (
            "cold: none of its images existed"
            if self.cold
            else "it builds no image of its own"
            if self.images_after == 0
            else f"{self.images_before} of its {self.images_after} images existed"
        )
        first = f"first run {self.first_s:.1f} s ({state})"
        if not self.first_ok:
            return f"{self.module}: {first} FAILED: {self.error}"
        if self.warm_s is None:
            return f"{self.module}: {first}; warm run not measured"
        warm = f"warm {self.warm_s:.1f} s" + ("" if self.warm_ok else f" FAILED: {self.error}")
        slow = ", ".join(f"cell {c.cell} {c.seconds:.0f} s" for c in self.slow_cells)
        return f"{self.module}: {first}, {warm}" + (f"; over {WAIT_LIMIT_S:.0f} s warm: {slow}" if slow else "")


class WarmReport(Result):
    dumped_properties = ("ok",)

    base_images_s: float  # making sure the base images the modules need exist (bootstrap)
    total_s: float = 0.0  # the whole warm-up: base images and both runs of every module
    base_steps: list[str]
    runs: list[WarmRun] = Field(default_factory=list)
    # The warm runs as `layerlab run` reports them, for the caller to keep as a run (site.record_runs):
    # the pages sit above this module. Not in the JSON: warm.json keeps its own rows.
    recorded: list[RunResult] = Field(default_factory=list, exclude=True)

    @property
    def ok(self) -> bool:
        return all(r.first_ok and r.warm_ok is not False for r in self.runs)


def module_images(module_id: str) -> int:
    """How many images carry the course label and this module's label."""
    from layerlab import engine

    return len(
        engine.require().image.list(
            filters=[("label", f"{labels.MANAGED}={labels.MANAGED_VALUE}"), ("label", f"{labels.MODULE}={module_id}")]
        )
    )


def load_warm(out_dir: Path) -> dict[str, WarmRun]:
    path = out_dir / WARM_FILE
    if not path.exists():
        return {}
    try:
        return {k: WarmRun.model_validate(v) for k, v in json.loads(path.read_text()).items()}
    except (ValueError, TypeError):
        return {}


def _save_warm(out_dir: Path, runs: list[WarmRun]) -> None:
    merged = {**load_warm(out_dir), **{r.module: r for r in runs}}
    (out_dir / WARM_FILE).write_text(json.dumps({k: v.model_dump(mode="json") for k, v in merged.items()}, indent=1))


def base_needs(modules: list[Module]) -> tuple[str, ...]:
    from layerlab.engine import bootstrap

    return tuple(sorted({n for m in modules for n in m.needs if n in bootstrap.EXTRA_IMAGES}))


def warm(course: Course, modules: list[Module], out_dir: Path, say: Printer = _say, once: bool = False) -> WarmReport:
    """Build everything a live demo of `modules` builds, and measure the first run next to a warm one.

    The warm run is what `layerlab run` would execute: its executed notebook and HTML land in
    out_dir, and its row is `report.recorded` (`site.record_runs` keeps it in runs.json, as
    `layerlab warm` does); the first run's pages go to out_dir/warm/first-run/.
    """
    from layerlab.engine import bootstrap

    needs = base_needs(modules)
    start = time.perf_counter()
    plan = bootstrap.current_plan(needs=needs)
    if plan.work:
        bootstrap.run(plan, say=say, needs=needs)
    report = WarmReport(base_images_s=round(time.perf_counter() - start, 1), base_steps=[str(s) for s in plan.steps])
    say(
        f"base images: {len(plan.work)} to make, {len(plan.steps) - len(plan.work)} present ({report.base_images_s:.1f} s)"
    )
    first_dir = out_dir / "warm" / "first-run"
    for m in modules:
        before = module_images(m.id)
        first = notebooks.execute(m, first_dir, say)
        run = WarmRun(
            module=run_name(m),
            title=m.title,
            images_before=before,
            first_s=first.seconds,
            first_ok=first.ok,
            images_after=module_images(m.id),
            error=first.error,
            first_cells=read_cell_times(first_dir / first.executed),
        )
        if first.ok and not once:
            second = notebooks.execute(m, out_dir, say)
            report.recorded.append(second)
            run.warm_s, run.warm_ok, run.error = second.seconds, second.ok, second.error
            run.warm_cells = read_cell_times(out_dir / second.executed)
            run.load_1m = round(os.getloadavg()[0], 2)
        report.runs.append(run)
        say(run.line())
    report.total_s = round(time.perf_counter() - start, 1)
    _save_warm(out_dir, report.runs)
    return report


def record_times(course: Course, report: WarmReport) -> list[RecordedTime]:
    """Keep each warm-measured lesson's times and quote them in its instructor note (`warm --record`)."""
    from layerlab.engine import host

    machine = host.facts_live().where()
    by_name = {run_name(m): m for m in course.modules}
    rows = [
        RecordedTime(
            **{k: getattr(r, k) for k in ("module", "first_s", "warm_s", "at")},
            cold=r.cold,
            machine=machine,
            load_1m=r.load_1m or 0.0,
        )
        for r in report.runs
        if r.warm_ok and r.warm_s is not None
    ]
    lesson_times.save(rows)
    for rec in rows:
        lesson_times.write_note(by_name[rec.module], rec)
    return rows


# --- timings -------------------------------------------------------------------------------


class ModuleTiming(Result):
    dumped_properties = ("slow_cells", "over_time", "over_recorded")

    module: str
    title: str
    teaching_minutes: int
    exercise_minutes: int
    run_s: float | None  # the last `layerlab run` (runs.json); None: never run
    run_ok: bool | None
    first_s: float | None  # from `layerlab warm` (warm.json)
    warm_s: float | None
    cells_from: str  # "warm run", "last run (warm or cold unknown)" or "" (no run)
    cells: list[CellTime] = Field(default_factory=list)
    recorded: RecordedTime | None = None  # what the instructor note quotes (docs/lesson-times.json)

    @property
    def slow_cells(self) -> list[CellTime]:
        return [c for c in self.cells if c.seconds > WAIT_LIMIT_S]

    @property
    def over_time(self) -> bool:
        """The lesson's cells alone (warm when measured warm) take longer than its teaching minutes."""
        s = self.seconds
        return s is not None and s > self.teaching_minutes * 60

    @property
    def seconds(self) -> float | None:
        """The run to judge: the warm one when measured, else the last `layerlab run`."""
        return self.warm_s if self.warm_s is not None else self.run_s

    @property
    def over_recorded(self) -> bool:
        """Slower than the recorded warm run the instructor note quotes, by more than quiet runs differ."""
        return self.recorded is not None and self.seconds is not None and self.recorded.overrun(self.seconds)


def load_runs(out_dir: Path) -> dict[str, dict[str, Any]]:
    path = out_dir / "runs.json"
    if not path.exists():
        return {}
    try:
        return {r["module"]: r for r in json.loads(path.read_text())}
    except (ValueError, TypeError, KeyError):
        return {}


def timings(course: Course, out_dir: Path, modules: list[Module] | None = None) -> list[ModuleTiming]:
    runs, warmed, recorded = load_runs(out_dir), load_warm(out_dir), lesson_times.load()
    out = []
    for m in modules or course.modules:
        name = run_name(m)
        r, w = runs.get(name), warmed.get(name)
        t = ModuleTiming(
            module=name,
            title=m.title,
            teaching_minutes=m.teaching_minutes,
            exercise_minutes=m.exercise_minutes,
            run_s=r["seconds"] if r else None,
            run_ok=r["ok"] if r else None,
            first_s=w.first_s if w else None,
            warm_s=w.warm_s if w else None,
            cells_from="",
            recorded=recorded.get(name),
        )
        if w and w.warm_cells:
            t.cells, t.cells_from = w.warm_cells, "warm run"
        elif r:
            t.cells = read_cell_times(out_dir / r["executed"])
            t.cells_from = "last run (warm or cold unknown)" if t.cells else ""
        out.append(t)
    return out


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def timings_table(rows: list[ModuleTiming]) -> str:
    lines = [
        f"{'module':<24} {'teach min':>9} {'last run s':>10} {'first s':>8} {'warm s':>7} {'recorded s':>10}"
        f"  cells over {WAIT_LIMIT_S:.0f} s"
    ]
    for t in rows:
        slow = ", ".join(f"#{c.cell} {c.seconds:.0f} s ({c.heading or c.first_line})" for c in t.slow_cells) or "none"
        if not t.cells_from:
            slow = "not run yet"
        elif t.cells_from != "warm run":
            slow += "  [not known warm: run `layerlab warm " + t.module[:2] + "`]"
        flag = "  OVER TIME" if t.over_time else ""
        if t.over_recorded and t.recorded:
            flag += (
                f"  OVERRUN: over {lesson_times.OVERRUN_FACTOR:g}x the recorded warm run the note quotes"
                f" ({t.recorded.warm_s:.0f} s, {t.recorded.at[:10]})"
            )
        rec = _s(t.recorded.warm_s if t.recorded else None)
        lines.append(
            f"{t.module:<24} {t.teaching_minutes:>9} {_s(t.run_s):>10} {_s(t.first_s):>8} {_s(t.warm_s):>7} {rec:>10}"
            f"  {slow}{flag}"
        )
    return "\n".join(lines)


# --- reset ---------------------------------------------------------------------------------


def reset(module_id: str, dry_run: bool = False) -> clean.CleanReport:
    """Remove the containers, networks, volumes and images that carry the course label and this module's label.

    BuildKit's cache is shared by every module and is left alone: the lessons that show a
    cold build build with --no-cache. Base images carry no course label and stay.
    """
    return clean.clean(dry_run=dry_run, within=(labels.MODULE, module_id))
