"""Each lesson's recorded run times: the figures its instructor note quotes, and what `timings` holds a run to.

`layerlab warm --record` runs a lesson twice (the first run builds what it builds, the second is
what a class sees), keeps both times in docs/lesson-times.json with the machine and its load,
and writes the one line of the lesson's instructor note that quotes them. A note therefore never
states a time that no run produced, and a test holds every note to its recording.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from layerlab.engine.result import Result
from layerlab.ground.settings import REPO

from . import Module, notebooks

RECORD_FILE = REPO / "docs" / "lesson-times.json"
# Quiet runs of one lesson on the course's shared 2-core machine differ by up to about this factor;
# a warm run beyond it has found something new (a cold cache, a slower engine, a regression).
OVERRUN_FACTOR = 1.5
_PREFIX = "# > Recorded by `layerlab warm --record`"
_LINE = re.compile(r"^" + re.escape(_PREFIX) + r".*$", re.M)
_NOTE_START = "# > **Instructor note"


class RecordedTime(Result):
    module: str  # the run name, "05-multi-arch"
    first_s: float
    warm_s: float
    cold: bool  # the first run built every image of the lesson
    at: str  # UTC, when the warm run ended
    machine: str  # EngineHost.where(): engine, platform, CPUs, memory
    load_1m: float  # this machine's load average as the warm run ended: a shared engine runs slower

    def note_line(self) -> str:
        first = f"first run {self.first_s:.0f} s" + (" (cold: none of its images existed)" if self.cold else "")
        return (
            f"{_PREFIX} on {self.at[:10]}, {self.machine}, load average {self.load_1m:.1f}: "
            f"{first}, warm run {self.warm_s:.0f} s."
        )

    def overrun(self, seconds: float) -> bool:
        """A run of `seconds` is slower than this recording allows for."""
        return seconds > self.warm_s * OVERRUN_FACTOR


def load(path: Path | None = None) -> dict[str, RecordedTime]:
    path = path or RECORD_FILE
    if not path.exists():
        return {}
    return {k: RecordedTime.model_validate(v) for k, v in json.loads(path.read_text()).items()}


def save(rows: list[RecordedTime], path: Path | None = None) -> None:
    path = path or RECORD_FILE
    merged = {**load(path), **{r.module: r for r in rows}}
    path.write_text(json.dumps({k: merged[k].model_dump(mode="json") for k in sorted(merged)}, indent=1) + "\n")


def quoted(m: Module) -> list[str]:
    """The recorded-time lines in the lesson's source (one, when the note is in step)."""
    return _LINE.findall(notebooks.source_path(m).read_text())


def write_note(m: Module, rec: RecordedTime) -> None:
    """Put the recording's line into the lesson's instructor note: in place of the old one, else as its last line."""
    path = notebooks.source_path(m)
    text = path.read_text()
    if _LINE.search(text):
        path.write_text(_LINE.sub(lambda _: rec.note_line(), text, count=1))
        return
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith(_NOTE_START)), None)
    if start is None:
        raise ValueError(f"{path.name} has no '**Instructor note.**' block to quote the recording in")
    end = start
    while end + 1 < len(lines) and lines[end + 1].startswith("# >"):
        end += 1
    lines.insert(end + 1, rec.note_line())
    path.write_text("\n".join(lines))
