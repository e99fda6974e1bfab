"""Make sure the course's base images exist for every platform it teaches.

Online: pull the official images. Offline (no registry reachable, the usual
case in a classroom or behind a firewall): build stand-ins from Debian
packages with debootstrap, one multi-platform image per name, labelled as
stand-ins and carrying the host's CA bundle so pip works behind a
TLS-inspecting proxy.

`plan()` is pure (facts in, steps out) so it can be tested without an engine;
`run()` carries a plan out.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field

from layerlab import engine
from layerlab.engine import images, labels, lanes, rootfs
from layerlab.engine.result import Result
from layerlab.engine.rootfs import MIRROR, SUITE, rootfs_tar
from layerlab.ground import machine_lock, settings
from layerlab.ground.text import Printer
from layerlab.ground.text import say as say_line

from .build import build

# The catalogue is what the course needs; this module is how it gets made.
from .catalogue import (  # noqa: F401 - bootstrap.X reads on
    BASE_IMAGES,
    CUDA_IMAGES,
    CUDA_VERSION,
    EXTRA_IMAGES,
    PLATFORMS,
    SERVICE_IMAGES,
    BaseImage,
    base_image,
    family,
)

DOCKERFILES = settings.REPO / "docker" / "standins"


def arch_of(plat: str) -> str:
    return plat.split("/")[1]


class Step(Result):
    action: Literal["keep", "pull", "debootstrap", "build-standin"]
    ref: str
    platforms: list[str]
    reason: str

    def __str__(self) -> str:
        plats = ", ".join(self.platforms)
        return f"{self.action:<14} {self.ref:<22} [{plats}] {self.reason}"


class Plan(Result):
    online: bool
    steps: list[Step] = Field(default_factory=list)

    @property
    def work(self) -> list[Step]:
        return [s for s in self.steps if s.action != "keep"]


def plan(
    present: dict[str, images.ImageFacts],
    online: bool,
    cached_rootfs: set[str],
    platforms: tuple[str, ...] = PLATFORMS,
    force: bool = False,
    images: tuple[BaseImage, ...] = BASE_IMAGES,
) -> Plan:
    """Decide what to do for each base image, parents before children.

    A base image is kept when it exists with every platform. Otherwise it is
    pulled (online) or rebuilt as a stand-in (offline); a stand-in whose
    parent is rebuilt is rebuilt too, so the family stays consistent.
    """
    p = Plan(online=online)
    rebuilt: set[str] = set()
    for b in images:
        plats = tuple(pl for pl in platforms if pl in b.platforms) if b.platforms else platforms
        facts = present.get(b.ref)
        missing = [pl for pl in plats if not (facts and pl in facts.platforms)]
        parent_rebuilt = b.parent in rebuilt
        if facts and not missing and not force and not parent_rebuilt:
            kind = "stand-in" if facts.standin else "official"
            p.steps.append(Step(action="keep", ref=b.ref, platforms=list(plats), reason=f"present ({kind})"))
            continue
        why = (
            "forced"
            if force
            else f"parent {b.parent} is rebuilt"
            if parent_rebuilt and not missing
            else "missing " + ", ".join(missing)
        )
        if online:
            p.steps.append(Step(action="pull", ref=b.ref, platforms=list(plats), reason=why))
            continue
        if b.parent is None:
            need = [pl for pl in plats if arch_of(pl) not in cached_rootfs]
            if need:
                p.steps.append(
                    Step(
                        action="debootstrap", ref=f"{SUITE}-minbase", platforms=need, reason="no cached root filesystem"
                    )
                )
        p.steps.append(Step(action="build-standin", ref=b.ref, platforms=list(plats), reason=why + "; offline"))
        rebuilt.add(b.ref)
    return p


def loadable(platforms: tuple[str, ...], facts: engine.EngineFacts | None = None) -> tuple[str, ...]:
    """The platforms this engine's image store can keep under one tag: all of them with the containerd store
    (or Podman's), the engine's own alone with the classic store, whose tags hold one platform each."""
    f = facts or engine.probe()
    if not f.reachable or f.multiplatform_load or len(platforms) < 2:
        return platforms
    return tuple(p for p in platforms if p == f.native) or platforms[:1]


def missing_bases(facts: engine.EngineFacts | None = None) -> list[str]:
    """The base images (not the extras) that are not in the store for every platform it can keep."""
    platforms = loadable(PLATFORMS, facts)
    return [b.ref for b in BASE_IMAGES if images.facts(b.ref, platforms=b.platforms or platforms) is None]


def current_plan(
    platforms: tuple[str, ...] = PLATFORMS,
    force: bool = False,
    online: bool | None = None,
    needs: tuple[str, ...] = (),
    only_extras: bool = False,
) -> Plan:
    """`needs` adds the images those course.yml needs call for; `only_extras` plans those alone
    (a lesson that needs CUDA checks its three images, not the whole family again)."""
    wanted = tuple(b for b in family(needs) if not (only_extras and b in BASE_IMAGES))
    platforms = loadable(platforms)
    present = {b.ref: f for b in wanted if (f := images.facts(b.ref, platforms=b.platforms or platforms)) is not None}
    if online is None:
        online = engine.registry_reachable()
    cached = {arch_of(pl) for pl in platforms if rootfs_tar(arch_of(pl)).exists()}
    return plan(present, online, cached, platforms, force, images=wanted)


# ---- carrying a plan out -------------------------------------------------


def build_standin(b: BaseImage, platforms: list[str], say: Printer = say_line) -> None:
    recipe = (
        f"layerlab bootstrap: Debian {SUITE} minbase (mmdebstrap chrootless, or debootstrap) from {MIRROR}, "
        f"{b.dockerfile} from the course repository, host CA bundle added"
    )
    if b in CUDA_IMAGES:
        recipe += f"; CUDA from Debian {SUITE} non-free (CUDA 12.4), not NVIDIA's Ubuntu packages"
    if b in SERVICE_IMAGES:
        recipe += f"; recipe {recipe_digest(b)}"
    extra = {
        labels.STANDIN: "true",
        labels.STANDIN_RECIPE: recipe,
        labels.STANDIN_CREATED: datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with tempfile.TemporaryDirectory(prefix="layerlab-standin-") as ctx:
        ctxp = Path(ctx)
        shutil.copyfile(DOCKERFILES / b.dockerfile, ctxp / "Dockerfile")
        # fetch-debs.sh, install-debs.sh: the native half of the python stand-ins (see their Dockerfiles).
        for script in DOCKERFILES.glob("*.sh"):
            shutil.copyfile(script, ctxp / script.name)
        if b.parent is None:
            for pl in platforms:
                tar = rootfs_tar(arch_of(pl))
                # A hard link avoids copying hundreds of MB; fall back to a copy across filesystems.
                try:
                    os.link(tar, ctxp / f"rootfs-{arch_of(pl)}.tar")
                except OSError:
                    shutil.copyfile(tar, ctxp / f"rootfs-{arch_of(pl)}.tar")
        say(f"building stand-in {b.ref} for {', '.join(platforms)}")
        # The default show gives the live line in a terminal; a caller's own printer gets the summary.
        result = build(ctxp, b.ref, platforms=platforms, extra_labels=extra, managed=False, show=say)
        say(f"  {b.ref}: {result.seconds:.0f} s")


def recipe_digest(b: BaseImage) -> str:
    """The first 12 hex digits of the sha256 of a stand-in's Dockerfile: which recipe an image was built from."""
    return "sha256:" + hashlib.sha256((DOCKERFILES / b.dockerfile).read_bytes()).hexdigest()[:12]


def ensure_service_image(b: BaseImage, say: Printer = say_line) -> None:
    """A lesson's service image (catalogue.SERVICE_IMAGES) for this machine: pulled online, else built as a stand-in
    from `b.source`."""
    client = engine.require()
    if client.image.exists(b.ref):
        found = client.image.inspect(b.ref).config.labels or {}
        # A stand-in built from an older recipe (redis:8 before it declared VOLUME /data) is made again.
        if found.get(labels.STANDIN) != "true" or recipe_digest(b) in found.get(labels.STANDIN_RECIPE, ""):
            return
        say(f"the stand-in {b.ref} was built from an older recipe: building it again")
    if engine.registry_reachable():
        say(f"pulling {b.ref}")
        client.pull(b.ref, quiet=True)
    else:
        say(f"offline: building a stand-in {b.ref} from {b.source}")
        build_standin(b, [engine.host_platform()], say)


def pull(ref: str, platforms: list[str], say: Printer = say_line) -> None:
    client = engine.require()
    for pl in platforms:
        say(f"pulling {ref} for {pl}")
        client.pull(ref, platform=pl, quiet=True)


def run(p: Plan, say: Printer = say_line, needs: tuple[str, ...] = (), only_extras: bool = False) -> None:
    """Carry out a plan. Re-plans under the lock, since another run may have done the work meanwhile."""
    # Two racing builds of one tag fail at export.
    with machine_lock.held("bootstrap", say, "another bootstrap is running on this machine; waiting for it to finish"):
        if p.work:
            p = current_plan(
                force=any(s.reason == "forced" for s in p.steps), online=p.online, needs=needs, only_extras=only_extras
            )
        _run_steps(p, say)


def _run_steps(p: Plan, say: Printer) -> None:
    for step in p.steps:
        if step.action == "keep":
            say(f"{step.ref}: {step.reason}, reusing it")
    lanes.run(tasks(p), say)


def tasks(p: Plan) -> list[lanes.Task]:
    """The plan's work as tasks that start once what they build on is done, two at a time (see lanes): the
    native amd64 debootstrap beside the emulated arm64 one, and an image beside its cousins (the CUDA images
    beside the python ones)."""
    out: list[lanes.Task] = []
    rootfs: tuple[str, ...] = ()
    for step in p.steps:
        if step.action == "debootstrap":
            rootfs = tuple(f"rootfs {arch_of(pl)}" for pl in step.platforms)
            out += [lanes.Task(f"rootfs {arch_of(pl)}", _debootstrap_task(arch_of(pl))) for pl in step.platforms]
    planned = {s.ref for s in p.steps if s.action in ("pull", "build-standin")}
    for step in p.steps:
        if step.action not in ("pull", "build-standin"):
            continue
        parent = base_image(step.ref).parent
        after = (parent,) if parent in planned else () if parent else rootfs
        out.append(lanes.Task(step.ref, _image_task(step), after))
    return out


def _debootstrap_task(arch: str) -> Callable[[Printer], None]:
    def work(say: Printer) -> None:
        rootfs.make(arch, say)

    return work


def _image_task(step: Step) -> Callable[[Printer], None]:
    if step.action == "pull":
        return lambda say: pull(step.ref, step.platforms, say)
    return lambda say: build_standin(base_image(step.ref), step.platforms, say)
