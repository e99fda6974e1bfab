"""The engine matrix: which engines the course is run on, and what happened on each.

A leg is one engine set up as a learner would have it (its set-up variables go to
scripts/setup-engine.sh in a throw-away machine, engine/machine.py). On it every lesson
runs headless and every exercise is graded twice: the reference solution must pass and
the untouched starter must fail. Each of those is one `Outcome`: passed, stopped (the
lesson or grader refused at its first step, in one line with the fix), or failed.
The recorded matrix is docs/matrix.json; the course page and the README show it as a table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import Field

from layerlab.engine.result import Result
from layerlab.ground.errors import NotFound
from layerlab.ground.settings import REPO

MATRIX_FILE = REPO / "docs" / "matrix.json"
README = REPO / "README.md"
BLOCK = ("<!-- matrix:begin -->", "<!-- matrix:end -->")
Status = Literal["passed", "stopped", "failed"]
Kind = Literal["setup", "lesson", "solution", "starter"]
# One notebook cell and one grading on an engine as fast as this machine's; a leg's time_factor multiplies them.
CELL_LIMIT_S = 900
GRADE_LIMIT_S = 1200


class Leg(Result):
    id: str
    title: str
    env: dict[str, str] = Field(default_factory=dict)  # the set-up's variables (scripts/setup-engine.sh)
    lessons: list[str] | None = None  # None: every module
    exercises: list[str] | None = None  # None: every exercise
    # "container": a throw-away machine sharing this kernel (engine/machine.py); "vm": an engine in a VM with a
    # kernel of its own (engine/engine_vm.py), for what a container cannot change, such as the cgroup hierarchy.
    machine: Literal["container", "vm"] = "container"
    vm_arch: Literal["amd64", "arm64"] = "amd64"  # a VM leg's architecture: arm64 is emulated on an amd64 host
    # How many times slower than this machine the leg's engine is: its cells, its gradings and the gradings' own
    # limits (LAYERLAB_TIME_FACTOR) get that many times longer. An emulated VM translates every instruction, and
    # what the course emulates besides (the foreign platform) is translated a second time inside it.
    time_factor: float = 1.0

    @property
    def cell_limit_s(self) -> int:
        return round(CELL_LIMIT_S * self.time_factor)

    @property
    def grade_limit_s(self) -> int:
        return round(GRADE_LIMIT_S * self.time_factor)


LEGS: tuple[Leg, ...] = (
    Leg(id="docker-26.1", title="Docker 26.1 (Debian trixie), containerd image store: the default set-up"),
    Leg(
        id="docker-28.5",
        title="Docker 28.5 (Debian sid), containerd image store",
        env={"LAYERLAB_SETUP_SUITE": "sid"},
    ),
    Leg(
        id="docker-28.5-classic",
        title="Docker 28.5 (Debian sid), classic overlay2 image store",
        env={"LAYERLAB_SETUP_SUITE": "sid", "LAYERLAB_SETUP_STORE": "classic"},
    ),
    Leg(
        id="podman-5.4",
        title="Podman 5.4 (Debian trixie) through its Docker-compatible socket",
        env={"LAYERLAB_SETUP_ENGINE": "podman"},
    ),
    Leg(
        id="cgroup-v2-vm",
        title="Docker 26.1 (Debian trixie) in a VM with Debian's kernel and cgroup v2: lesson 01 and 01-limits",
        lessons=["01"],
        exercises=["01-limits"],
        machine="vm",
    ),
    Leg(
        id="arm64-vm",
        title="Docker 26.1 (Debian trixie) on linux/arm64, an emulated arm64 VM: lessons 00 and 05, 02-slim, 05-multiarch",
        lessons=["00", "05"],
        exercises=["02-slim", "05-multiarch"],
        machine="vm",
        vm_arch="arm64",
        # Measured on 4a94272: lesson 00 took 246 s there against 33 s on a fresh machine here (7.5x); lesson 05's
        # amd64 gcc step 461 s under qemu inside the VM (33 s for arm64). At factor 1 every build-heavy part hit
        # its limit (docs/matrix.json).
        time_factor=8.0,
    ),
)


def leg(key: str) -> Leg:
    for candidate in LEGS:
        if candidate.id == key:
            return candidate
    raise NotFound(f"no matrix leg {key!r}; known: {', '.join(x.id for x in LEGS)}")


class Outcome(Result):
    kind: Kind
    id: str  # the module ("03") or the exercise ("02-slim"); "make setup" for the set-up
    status: Status
    reason: str = ""  # one line: why it stopped (with the fix) or where it failed; empty when it passed
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return {"setup": "set-up", "lesson": f"lesson {self.id}"}.get(self.kind, f"{self.id} {self.kind}")


class LegResult(Result):
    leg: str
    title: str
    engine: str  # the engine's label, as the doctor names it
    native: str  # the engine's platform
    cgroup: str  # "1", "2" or "?"
    builder: str  # the buildx builder's driver, or "none"
    commit: str  # the course's commit that ran
    ran_at: str  # ISO time the leg started
    seconds: float
    outcomes: list[Outcome]

    def counts(self) -> dict[str, int]:
        out = {"passed": 0, "stopped": 0, "failed": 0}
        for o in self.outcomes:
            out[o.status] += 1
        return out


class Matrix(Result):
    legs: list[LegResult] = Field(default_factory=list)


def load(path: Path = MATRIX_FILE) -> Matrix:
    if not path.exists():
        return Matrix()
    return Matrix.model_validate(json.loads(path.read_text()))


def save(m: Matrix, path: Path = MATRIX_FILE) -> None:
    order = [x.id for x in LEGS]
    m.legs.sort(key=lambda r: order.index(r.leg) if r.leg in order else len(order))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(m.model_dump(mode="json"), indent=1) + "\n")


def merge(m: Matrix, result: LegResult) -> Matrix:
    """The matrix with this leg's newest run in place of its older one."""
    return Matrix(legs=[r for r in m.legs if r.leg != result.leg] + [result])


_LESSON_RUN = re.compile(r"layerlab run \d\d\b")
# What a stopped reason must carry: the need that was not met and what to do about it.
FIX_MARK = "Fix:"


def problems(m: Matrix) -> list[str]:
    """What a recorded matrix must not hold: a stop without its one-line fix, a traceback as a reason."""
    out = []
    for r in m.legs:
        for o in r.outcomes:
            where = f"{r.leg}, {o.name}"
            if "\n" in o.reason:
                out.append(f"{where}: the reason is {len(o.reason.splitlines())} lines, not one")
            if "Traceback (most recent call last)" in o.reason:
                out.append(f"{where}: the reason is a traceback")
            if o.status == "stopped" and FIX_MARK not in o.reason:
                out.append(f"{where}: stopped without saying what to do ({FIX_MARK!r} missing): {o.reason!r}")
            if o.status != "passed" and not o.reason.strip():
                out.append(f"{where}: {o.status} without a reason")
    return out


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


def _cell(r: LegResult, kinds: tuple[str, ...]) -> str:
    picked = [o for o in r.outcomes if o.kind in kinds]
    if not picked:
        return "not run"
    n = {s: sum(o.status == s for o in picked) for s in ("passed", "stopped", "failed")}
    return " / ".join(f"{v} {k}" for k, v in n.items() if v) or "-"


HEADER = ("leg", "engine", "platform", "cgroup", "set-up", "lessons", "solutions pass", "starters fail", "time")


def rows(m: Matrix) -> list[tuple[str, ...]]:
    """One row per leg, the columns of HEADER: what the course page and the README show."""
    return [
        (
            r.leg,
            r.engine,
            r.native,
            f"v{r.cgroup}",
            _cell(r, ("setup",)),
            _cell(r, ("lesson",)),
            _cell(r, ("solution",)),
            _cell(r, ("starter",)),
            _minutes(r.seconds),
        )
        for r in m.legs
    ]


def markdown(m: Matrix) -> str:
    """The table, then every outcome that did not pass, with its reason."""
    if not m.legs:
        return "No matrix leg has run yet: `layerlab matrix LEG`.\n"
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows(m)]
    for r in m.legs:
        groups = not_passed(r)
        missing = not_run(r)
        if groups or missing:
            lines.append("")
            lines.append(f"{r.leg} (commit {r.commit}, {r.ran_at[:10]}):")
            lines += [f"- {', '.join(names)}: {status}: {reason}" for names, status, reason in groups]
        if missing:
            names = ", ".join(f"lesson {i}" for i in missing)
            lines.append(f"- {names}: not run: added after commit {r.commit}; `make matrix LEGS={r.leg}` runs it")
    return "\n".join(lines) + "\n"


def not_run(r: LegResult) -> list[str]:
    """The course's lessons (for this leg) that the leg has no outcome for: added to course.yml after it ran,
    or left out because its set-up failed (which its set-up outcome says)."""
    from layerlab.course import load

    setup = next((o for o in r.outcomes if o.kind == "setup"), None)
    if setup is None or setup.status != "passed":
        return []
    wanted = leg(r.leg).lessons if r.leg in {x.id for x in LEGS} else None
    ran = {o.id for o in r.outcomes if o.kind == "lesson"}
    return [m.id for m in load().modules if (wanted is None or m.id in wanted) and m.id not in ran]


def not_passed(r: LegResult) -> list[tuple[list[str], str, str]]:
    """What did not pass, one entry per status and reason: twenty gradings refused for one reason are one line."""
    groups: dict[tuple[str, str], list[str]] = {}
    for o in r.outcomes:
        if o.status != "passed":
            # A grading's refusal names its exercise first; the rest of the line is the engine's story.
            reason = _LESSON_RUN.sub("layerlab run <lesson>", o.reason.removeprefix(f"{o.id} "))
            groups.setdefault((o.status, reason), []).append(o.name)
    return [(names, status, reason) for (status, reason), names in groups.items()]


def readme_with(m: Matrix, text: str) -> str:
    """The README's text with the matrix block between its markers rewritten from `m`."""
    begin, end = BLOCK
    if begin not in text or end not in text:
        raise ValueError(f"the README has no {begin} ... {end} block for the matrix table")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{markdown(m)}{end}{tail}"
