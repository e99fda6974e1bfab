"""Can a lesson run on this engine? Each module's `needs` (course.yml) judged against the engine's facts.

A lesson's first cell calls `require("05")`: it returns the verdict when the lesson can run (and says
which cells will skip), and otherwise raises `LessonCannotRun`, one line per unmet need with its fix,
so the lesson stops before its first build instead of deep inside with a traceback. `layerlab doctor`
shows the same verdicts for every lesson. Judging is pure (`judge`, `readiness`): the unit tests feed
the recorded facts of several engines through it.
"""

from __future__ import annotations

import shutil
from typing import Literal

from layerlab import course as course_mod
from layerlab import engine
from layerlab.engine import bootstrap, catalogue, replay
from layerlab.engine.result import Result
from layerlab.ground.errors import LayerlabError

Verdict = Literal["runs", "runs, some cells skip", "cannot run here"]
VM_COMMAND = "qemu-system-x86_64"
# Lesson 06 budgets 6 GB: three CUDA images (the devel one 1.3 GB as a stand-in) and two wheel installs.
CUDA_FREE_BYTES = 6 * 10**9
REPLAY_FIX = "or read its recorded run: LAYERLAB_REPLAY=1 layerlab run MODULE"

# Needs whose absence the lessons' own text handles: the cells that need them skip or replay,
# the rest of the lesson runs (notebooks/06 shows a run recorded on a GPU machine; notebooks/01 replays the VM row).
SKIPPED_WITHOUT = {
    "gpu": "the GPU cell is skipped; everything else runs without a GPU",
    "vm": "the VM row replays a recorded boot; the container and venv rows are measured",
}


class NeedCheck(Result):
    need: str
    met: bool
    why: str
    fix: str | None = None  # one line; None when met
    skips: str | None = None  # unmet, but only some cells skip: which

    @property
    def blocks(self) -> bool:
        return not self.met and self.skips is None

    def line(self) -> str:
        if self.met:
            return f"{self.need}: {self.why}"
        tail = f" ({self.skips})" if self.skips else ""
        return f"{self.need}: {self.why}{tail}. Fix: {self.fix}"


class Readiness(Result):
    """One lesson on one engine."""

    dumped_properties = ("verdict",)

    module: str
    title: str
    needs: list[NeedCheck]

    @property
    def verdict(self) -> Verdict:
        if any(n.blocks for n in self.needs):
            return "cannot run here"
        return "runs, some cells skip" if any(not n.met for n in self.needs) else "runs"

    @property
    def can_run(self) -> bool:
        return self.verdict != "cannot run here"

    def why_not(self) -> str:
        """The unmet needs, on one line: what the doctor's table shows."""
        return "; ".join(f"{n.need}: {n.why}" for n in self.needs if not n.met) or "-"


# What a grading reports, in its problem's first words, when the engine lacks what the exercise's module needs
# (grade/runner.py); the engine matrix counts such a grading as stopped, not failed.
CANNOT_GRADE = "cannot be graded on this engine"


class LessonCannotRun(LayerlabError, RuntimeError):
    """A lesson's needs are not met here: the first line says so, then one line per unmet need with its fix."""

    def __init__(self, readiness: Readiness, engine_label: str) -> None:
        self.readiness = readiness
        blocking = [n for n in readiness.needs if n.blocks]
        head = (
            f"Lesson {readiness.module} cannot run on this engine ({engine_label}): "
            f"{len(blocking)} need{'s' if len(blocking) != 1 else ''} unmet"
        )
        super().__init__("\n".join([head] + [f"- {n.line()}" for n in blocking]))

    def _render_traceback_(self) -> list[str]:
        # IPython shows what this returns instead of a traceback: the lesson stops with the message only.
        return str(self).splitlines()


def _fix(text: str, module: str) -> str:
    return text.replace("MODULE", module)


def judge(need: str, f: engine.EngineFacts, module: str = "MODULE", vm_found: bool | None = None) -> NeedCheck:
    """One need against one engine's facts. `vm_found`: is qemu-system there (None: look on this machine)."""
    if need == "engine":
        if f.reachable:
            return NeedCheck(need=need, met=True, why=f.label())
        return NeedCheck(
            need=need,
            met=False,
            why="no container engine answers",
            fix=_fix("start Docker (`make setup` as root installs and starts one) " + REPLAY_FIX, module),
        )
    if not f.reachable:
        return NeedCheck(need=need, met=False, why="not known: no engine answers", fix="start the engine first")
    if need == "buildx":
        if f.name == "podman":
            return NeedCheck(
                need=need,
                met=False,
                why="Podman builds with buildah: no BuildKit, no buildx builder",
                fix=_fix("use Docker Engine 26+ for this lesson, " + REPLAY_FIX, module),
            )
        if not f.buildx_version:
            return NeedCheck(
                need=need,
                met=False,
                why="the buildx plugin is missing",
                fix="apt-get install docker-buildx (Docker Desktop ships it)",
            )
        return NeedCheck(
            need=need,
            met=True,
            why=f"buildx {f.buildx_version}, builder {f.builder_name or '?'} ({f.builder_driver or '?'} driver)",
        )
    if need == "containerd":
        if f.multiplatform_load:
            return NeedCheck(need=need, met=True, why=f"{f.image_store} image store keeps multi-platform images")
        return NeedCheck(
            need=need,
            met=False,
            why=f"the {f.image_store or '?'} image store ({f.storage_driver}) cannot load a multi-platform "
            "image or export the build cache with the default builder",
            fix='add {"features": {"containerd-snapshotter": true}} to /etc/docker/daemon.json and restart '
            "dockerd (Docker Desktop: Settings > General > Use containerd for pulling and storing images)",
        )
    if need == "qemu":
        if f.foreign in f.emulated:
            return NeedCheck(need=need, met=True, why=f"native {f.native}; {f.foreign} emulated (qemu)")
        return NeedCheck(
            need=need,
            met=False,
            why=f"native {f.native}; this engine cannot run {f.foreign}",
            fix="apt-get install qemu-user-static binfmt-support (as root), then restart dockerd "
            "(Docker Desktop emulates it out of the box)",
        )
    if need == "registry":
        if f.loopback_registry_insecure:
            return NeedCheck(
                need=need, met=True, why="the engine pushes to localhost:5000 over HTTP (127.0.0.0/8 insecure)"
            )
        if f.name == "podman":
            return NeedCheck(
                need=need,
                met=False,
                why="Podman asks for TLS from localhost:5000",
                fix='add [[registry]] location = "localhost:5000" insecure = true to /etc/containers/registries.conf',
            )
        return NeedCheck(
            need=need,
            met=False,
            why=f"127.0.0.0/8 is not among the insecure registries ({', '.join(f.insecure_registries) or 'none'})",
            fix='add "insecure-registries": ["127.0.0.0/8"] to /etc/docker/daemon.json and restart dockerd',
        )
    if need == "cuda":
        cuda = catalogue.CUDA_IMAGES[0].platforms or catalogue.PLATFORMS
        where = next((p for p in cuda if p == f.native or p in f.emulated), None)
        if where is None:
            return NeedCheck(
                need=need,
                met=False,
                why=f"the CUDA images are {', '.join(cuda)} only and this {f.native} engine cannot run it",
                fix="register amd64 emulation (apt-get install qemu-user-static binfmt-support; Docker "
                "Desktop: on by default) " + _fix(REPLAY_FIX, module),
            )
        if f.free_disk_bytes is not None and f.free_disk_bytes < CUDA_FREE_BYTES:
            return NeedCheck(
                need=need,
                met=False,
                why=f"{f.free_disk_bytes / 1e9:.1f} GB free at {f.root_dir or '/'}; the CUDA images need about 6 GB",
                fix="`layerlab clean` and `docker system prune` free space",
            )
        how = "native" if where == f.native else "emulated: nvcc and the CUDA packages run under qemu, slowly"
        return NeedCheck(need=need, met=True, why=f"CUDA images for {where} ({how})")
    if need == "gpu":
        can, why = engine.gpu_verdict(f)
        return NeedCheck(
            need=need,
            met=can,
            why=why,
            skips=None if can else SKIPPED_WITHOUT["gpu"],
            fix=None
            if can
            else "a GPU machine with the NVIDIA driver and the NVIDIA container toolkit "
            "(nvidia-ctk runtime configure, or nvidia-ctk cdi generate)",
        )
    if need == "compose":
        if f.compose_version:
            return NeedCheck(need=need, met=True, why=f"compose {f.compose_version}")
        return NeedCheck(
            need=need,
            met=False,
            why="the compose plugin is missing",
            fix="apt-get install docker-compose (or docker-compose-v2; Docker Desktop ships it)",
        )
    if need == "vm":
        found = shutil.which(VM_COMMAND) is not None if vm_found is None else vm_found
        if found:
            return NeedCheck(need=need, met=True, why=f"{VM_COMMAND} found")
        return NeedCheck(
            need=need,
            met=False,
            why=f"{VM_COMMAND} not found",
            skips=SKIPPED_WITHOUT["vm"],
            fix="apt-get install qemu-system-x86 (`make setup` installs it)",
        )
    raise LayerlabError(f"no judgement for the need {need!r}: add one to layerlab/course/needs.py")


def readiness(module: course_mod.Module, f: engine.EngineFacts, vm_found: bool | None = None) -> Readiness:
    # `engine` first; without one every other need is unknown, and only the engine's line says what to do.
    ordered = ["engine"] + [n for n in module.needs if n != "engine"] if f.reachable else ["engine"]
    return Readiness(module=module.id, title=module.title, needs=[judge(n, f, module.id, vm_found) for n in ordered])


def every_lesson(
    f: engine.EngineFacts, course: course_mod.Course | None = None, vm_found: bool | None = None
) -> list[Readiness]:
    c = course or course_mod.load()
    return [readiness(m, f, vm_found) for m in c.modules]


def require(module: str, facts: engine.EngineFacts | None = None) -> Readiness | None:
    """A lesson's first cell: stop here, in one line per unmet need with its fix, if it cannot run on this engine.

    Returns the verdict (printed when some cells will skip); None when the lesson replays its recorded run,
    where the recorded engine's needs were met."""
    m = course_mod.load().module(module)
    if replay.mode() == "replay":
        print(f"[lesson {m.id} replays its recorded run: this machine's engine is not asked]")
        return None
    f = facts or engine.probe()
    r = gate(m, f)
    if not r.can_run:
        raise LessonCannotRun(r, f.label() if f.reachable else "no engine")
    for n in r.needs:
        if not n.met:
            print(f"[lesson {m.id} runs here, except: no {n.need} ({n.skips})]")
    return r


def gate(m: course_mod.Module, f: engine.EngineFacts) -> Readiness:
    """What a lesson's first cell judges: its needs (course.yml), then the base images every lesson builds on."""
    r = readiness(m, f)
    if r.can_run and (missing := bootstrap.missing_bases(f)):
        # Every lesson builds on the base images; without them it would fail at its first build, not here.
        r.needs.append(
            NeedCheck(
                need="base images",
                met=False,
                why=f"{', '.join(missing)} not in the engine's image store",
                fix=(
                    "run `layerlab bootstrap` (`make setup` does it)"
                    if judge("buildx", f).met
                    else "online, `layerlab bootstrap` pulls them; offline it builds stand-ins with buildx, "
                    "which this engine lacks: use Docker Engine 26+"
                ),
            )
        )
    return r
