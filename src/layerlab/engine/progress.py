"""Build progress a learner can read: one live line per build, one summary line when it ends.

The state (`Progress`) is fed by BuildKit's own step events (`buildlog.Reader`):
a step starts (`#7 [3/6] RUN ...`), is taken from the cache (`#7 CACHED`),
finishes (`#7 DONE 2.1s`) or fails (`#7 ERROR: ...`). Steps done / total come
from those events and the `[n/m]` tags, never from timers; only the seconds
shown while a step runs tick with the clock.

Renderers decide what a learner sees:

- `Terminal`: one line rewritten in place with `\\r` when the stream is a TTY;
  otherwise (a log file, CI) only the summary line.
- `Notebook`: an ipywidgets progress bar and label updated in place while a
  live frontend shows it; replaced by the summary line when the build ends,
  so a saved notebook keeps text, not a widget.
- `Summary`: the summary line only (headless runs: nbval, `layerlab run`, CI).
- `RawLog`: every line of BuildKit's log, then the summary (`show="log"`).

`auto()` picks one for where the code runs. Any object with the `Renderer`
methods can be passed to `build.build(show=...)`: a warm-up that builds many
images can reuse the state and the renderers.

Every build's full log is written to `log_dir()` (`build/logs/` in the
repository, or `$LAYERLAB_LOG_DIR`), and the summary line says where.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Protocol, TextIO

from layerlab.ground import settings
from layerlab.ground.text import Printer, say

from .buildlog import Event, Step

HEADLESS_ENV, LOG_DIR_ENV = settings.HEADLESS_ENV, settings.LOG_DIR_ENV
KEEP_LOGS = 10  # per tag: the newest ten builds of an image keep their logs
MAX_LOGS = 400  # in all: graders build a new tag each run, so the oldest logs go


# --- state ---------------------------------------------------------------


@dataclass
class Progress:
    """Where one build stands, from BuildKit's step events."""

    tag: str
    platforms: list[str] = field(default_factory=list)
    label: str | None = None  # e.g. "cold", "code edit": which build of a series
    log_path: Path | None = None
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None
    # (platform, stage) -> m of its "n/m" tags: the total grows as stages appear.
    stages: dict[tuple[str | None, str | None], int] = field(default_factory=dict)
    indices: dict[tuple[str | None, str | None], set[int]] = field(default_factory=dict)  # n seen per tag
    instructions: dict[int, Step] = field(default_factory=dict)  # by vertex
    finished: set[int] = field(default_factory=set)
    running: list[int] = field(default_factory=list)  # started, not finished, in start order
    failed: Step | None = None
    outcome: str = "running"  # running | built | failed | interrupted

    def event(self, ev: Event | None) -> bool:
        """Take one event; True when what a learner sees changed."""
        if ev is None:
            return False
        s = ev.step
        if ev.kind == "error" and self.failed is None:
            self.failed = s
        if not s.is_instruction:
            return ev.kind == "error"
        if ev.kind == "start":
            self.instructions[s.vertex] = s
            key = (s.platform, s.stage)
            m = _total_of(s.tag)
            if m:
                self.stages[key] = max(self.stages.get(key, 0), m)
                if s.index is not None:
                    self.indices.setdefault(key, set()).add(s.index)
            self.running.append(s.vertex)
            return True
        if ev.kind in ("done", "cached", "error"):
            self.instructions.setdefault(s.vertex, s)
            self.finished.add(s.vertex)
            if s.vertex in self.running:
                self.running.remove(s.vertex)
            return True
        return False

    def end(self, outcome: str | None = None) -> None:
        if self.ended is None:
            self.ended = time.perf_counter()
        if outcome and self.outcome == "running":
            self.outcome = outcome

    # what it adds up to

    @property
    def total(self) -> int:
        """Instructions in the stages seen so far (a stage is known once one of its steps starts)."""
        # BuildKit may tag a FROM apart from the rest of its stage: `[linux/amd64 1/4] FROM`
        # then `[2/4] RUN`, or `[1/7] FROM` for a stage whose other steps read `[runtime 2/5]`.
        # A tag seen on a FROM alone does not count once other tags carry steps.
        keys = [k for k, seen in self.indices.items() if seen != {1}] or list(self.indices)
        if len({plat for plat, _ in keys if plat}) > 1:
            total = sum(self.stages[k] for k in keys)
        else:  # one platform: a stage is a stage whether or not its tag names the platform
            by_stage: dict[str | None, int] = {}
            for plat, stage in keys:
                by_stage[stage] = max(by_stage.get(stage, 0), self.stages[(plat, stage)])
            total = sum(by_stage.values())
        return max(total, self.done)

    @property
    def done(self) -> int:
        """Steps finished well: ran or taken from the cache (a failed step is not done)."""
        return sum(1 for v in self.finished if self.instructions[v].error is None)

    @property
    def cached(self) -> int:
        return sum(1 for v in self.finished if self.instructions[v].cached)

    @property
    def ran(self) -> int:
        """Steps that executed; a FROM is not counted (as in `BuildResult.ran`)."""
        return sum(1 for v in self.finished if (s := self.instructions[v]).ran and s.instruction != "FROM")

    @property
    def current(self) -> Step | None:
        """The step that started last among those still running."""
        return self.instructions[self.running[-1]] if self.running else None

    @property
    def seconds(self) -> float:
        return (self.ended or time.perf_counter()) - self.started

    @property
    def name(self) -> str:
        return f"{self.tag} ({self.label})" if self.label else self.tag

    def line(self, width: int = 100) -> str:
        """The live line: image, steps done/total, the step running now, seconds, cached/ran."""
        cur = self.current
        if cur:
            now = f"[{cur.tag}] {cur.name}"
        elif self.total and self.done >= self.total:
            now = "exporting"
        else:
            now = "starting" if not self.done else "next step"
        head = f"building {self.name}: {self.done}/{self.total or '?'} steps"
        tail = f"{self.seconds:.1f} s, {self.cached} cached, {self.ran} ran"
        room = width - len(head) - len(tail) - 6
        if room < 10:
            now = ""
        elif len(now) > room:
            now = now[: room - 1] + "…"
        return f"{head} | {now} | {tail}" if now else f"{head} | {tail}"

    def summary(self) -> str:
        """One line when the build ends: the image, seconds, steps ran/cached, where the full log is."""
        where = f"; full log: {_shown_path(self.log_path)}" if self.log_path else ""
        plats = f" for {', '.join(self.platforms)}" if len(self.platforms) > 1 else ""
        if self.outcome == "interrupted":
            return (
                f"INTERRUPTED {self.name}{plats} after {self.seconds:.1f} s "
                f"({self.done}/{self.total} steps done){where}"
            )
        if self.failed is not None or self.outcome == "failed":
            at = ""
            if self.failed is not None:
                at = f" at [{self.failed.tag}] {self.failed.name}" if self.failed.tag else f" at {self.failed.name}"
            return (
                f"FAILED {self.name}{plats} after {self.seconds:.1f} s{at} ({self.done}/{self.total} steps done){where}"
            )
        return (
            f"built {self.name}{plats} in {self.seconds:.1f} s: {self.total} steps, "
            f"{self.ran} ran, {self.cached} cached{where}"
        )


def _total_of(tag: str | None) -> int | None:
    m = re.search(r"(\d+)/(\d+)$", tag or "")
    return int(m.group(2)) if m else None


def _shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(settings.REPO))
    except ValueError:
        return str(path)


# --- where logs go ---------------------------------------------------------


def log_dir() -> Path:
    """`$LAYERLAB_LOG_DIR`, else `build/logs` in the repository, else `~/.cache/layerlab/logs`."""
    return settings.log_dir()


def sanitise(tag: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", tag).strip("._") or "build"


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:  # another build pruned it meanwhile
        return 0.0


def new_log_path(tag: str) -> Path:
    """A fresh file for one build of `tag`; older logs of the tag beyond the newest KEEP_LOGS are removed."""
    d = log_dir()
    d.mkdir(parents=True, exist_ok=True)
    stem = sanitise(tag)
    old = sorted(d.glob(f"{stem}-2*.log"))  # the names sort by time
    for p in old[: max(0, len(old) - KEEP_LOGS + 1)]:
        p.unlink(missing_ok=True)
    every = list(d.glob("*.log"))
    if len(every) >= MAX_LOGS:
        every.sort(key=_mtime)
        for p in every[: len(every) - MAX_LOGS + 1]:
            p.unlink(missing_ok=True)
    when = datetime.now(UTC)
    while (path := d / f"{stem}-{when:%Y%m%dT%H%M%S.%f}.log").exists():
        when += timedelta(microseconds=1)  # two builds of one tag in one microsecond
    return path


# --- renderers ---------------------------------------------------------------


class Renderer(Protocol):
    live: bool  # True when it redraws while the build runs (a ticker may call update)

    def start(self, p: Progress) -> None: ...
    def update(self, p: Progress) -> None: ...
    def raw(self, line: str) -> None: ...
    def note(self, text: str) -> None: ...
    def finish(self, p: Progress) -> None: ...


class Summary:
    """The summary line only (and notes such as the offline `# syntax=` one)."""

    live = False

    def __init__(self, printer: Printer = say):
        self.printer = printer

    def start(self, p: Progress) -> None:
        pass

    def update(self, p: Progress) -> None:
        pass

    def raw(self, line: str) -> None:
        pass

    def note(self, text: str) -> None:
        self.printer(text)

    def finish(self, p: Progress) -> None:
        self.printer(p.summary())


class RawLog(Summary):
    """BuildKit's whole log as it streams, then the summary (`show="log"`)."""

    def raw(self, line: str) -> None:
        self.printer(line)


class Terminal:
    """One line rewritten with `\\r` on a TTY; on anything else the summary line only."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None, min_interval: float = 0.1):
        self.stream = stream or sys.stdout
        if live is None:
            try:
                live = self.stream.isatty()
            except (AttributeError, ValueError):
                live = False
        self.live = live
        self.min_interval = min_interval
        self._last = 0.0
        self._shown = 0

    def _width(self) -> int:
        try:
            cols = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, AttributeError, ValueError):
            cols = 0
        return max(40, cols - 1) if cols else 100

    def _draw(self, text: str) -> None:
        pad = max(0, self._shown - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._shown = len(text)

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self._shown = 0

    def start(self, p: Progress) -> None:
        if self.live:
            self._draw(p.line(self._width()))

    def update(self, p: Progress) -> None:
        now = time.monotonic()
        if self.live and now - self._last >= self.min_interval:
            self._last = now
            self._draw(p.line(self._width()))

    def raw(self, line: str) -> None:
        pass

    def note(self, text: str) -> None:
        self._clear()
        self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self, p: Progress) -> None:
        self._clear()
        self.stream.write(p.summary() + "\n")
        self.stream.flush()


class Notebook:
    """A progress bar and a label in a live notebook; the summary line replaces them at the end."""

    live = True

    def __init__(self, min_interval: float = 0.2):
        self.min_interval = min_interval
        self._last = 0.0
        self._box = self._bar = self._label = self._handle = None

    def start(self, p: Progress) -> None:
        import ipywidgets as w
        from IPython.display import display

        self._bar = w.IntProgress(value=0, min=0, max=max(1, p.total), bar_style="info", layout=w.Layout(width="12em"))
        self._label = label = w.Label(value=p.line(), layout=w.Layout(width="auto"))
        label.add_class("layerlab-progress-text")
        self._box = box = w.HBox([self._bar, label])
        box.add_class("layerlab-progress")
        self._handle = display(self._box, display_id=True)

    def update(self, p: Progress) -> None:
        now = time.monotonic()
        if self._box is None or now - self._last < self.min_interval:
            return
        self._last = now
        self._bar.max = max(1, p.total)
        self._bar.value = min(p.done, self._bar.max)
        self._label.value = p.line(100)

    def raw(self, line: str) -> None:
        pass

    def note(self, text: str) -> None:
        print(text, flush=True)

    def finish(self, p: Progress) -> None:
        if self._box is None:
            print(p.summary(), flush=True)
            return
        # Replace the widget's output by plain text: the saved notebook and its HTML keep the
        # summary line, not a widget view that would read "Loading widget..." elsewhere.
        self._handle.update({"text/plain": p.summary()}, raw=True)
        self._box.close()
        self._box = None


def headless() -> bool:
    """Headless execution (nbval, `layerlab run`, CI): nobody watches a live line."""
    return settings.headless()


def in_kernel() -> bool:
    """Running in a Jupyter kernel (a frontend may display widgets)."""
    ip = sys.modules.get("IPython")
    if ip is None:
        return False
    shell = ip.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def auto(stream: TextIO | None = None) -> Renderer:
    """The renderer for where this runs: headless -> summary only; a kernel -> widget; else the terminal."""
    if headless():
        return Summary(say) if stream is None else Terminal(stream, live=False)
    if in_kernel() and stream is None:
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            return Summary(say)
        return Notebook()
    return Terminal(stream)


# --- driving a renderer ----------------------------------------------------------


class Live:
    """Feed events to a renderer, and tick the seconds of a live one while a long step is quiet."""

    def __init__(self, p: Progress, renderer: Renderer, tick: float = 0.5):
        self.p, self.renderer, self.tick = p, renderer, tick
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Live:
        self.renderer.start(self.p)
        if getattr(self.renderer, "live", False):
            self._thread = threading.Thread(target=self._ticker, name="layerlab-progress", daemon=True)
            self._thread.start()
        return self

    def _ticker(self) -> None:
        while not self._stop.wait(self.tick):
            with self._lock:
                self.renderer.update(self.p)

    def line(self, raw: str, ev: Event | None) -> None:
        with self._lock:
            self.renderer.raw(raw)
            if self.p.event(ev):
                self.renderer.update(self.p)

    def note(self, text: str) -> None:
        with self._lock:
            self.renderer.note(text)

    def restart(self, p: Progress) -> None:
        """Follow `p` from now on: a build retried after an engine error counts its steps again,
        and the one summary at the end is the last attempt's."""
        with self._lock:
            self.p = p
            self.renderer.update(p)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        if exc_type is None:
            self.p.end("built")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.p.end("interrupted")
        else:
            self.p.end("failed")
        with self._lock:
            self.renderer.finish(self.p)
