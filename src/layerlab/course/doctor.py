"""What this machine can do for the course, as a checklist with fixes."""

from __future__ import annotations

import shutil
from typing import Literal

from pydantic import Field

from layerlab import course as course_mod
from layerlab import engine
from layerlab.course import needs
from layerlab.engine import EngineFacts, catalogue, images, replay
from layerlab.engine.images import ImageFacts
from layerlab.engine.result import Replayable, Result

Status = Literal["ok", "warn", "FAIL", "info"]
OK: Status = "ok"
WARN: Status = "warn"
FAIL: Status = "FAIL"
INFO: Status = "info"

MIN_DOCKER_MAJOR = 26

# What the course does through Docker/BuildKit that podman does differently or not at all.
PODMAN_LIMITS = (
    (
        "per-step cache records",
        "podman build prints buildah's STEP lines, not BuildKit progress: lesson 03's steps-re-run counts are not measured",
    ),
    ("cache mounts", "RUN --mount=type=cache works in podman 4+, but lesson 03 measures it through BuildKit"),
    (
        "multi-platform --load",
        "podman keeps multi-platform builds as a manifest list (`podman manifest`), not one local image",
    ),
    ("compose", "lesson 08 needs `podman compose` with a compose provider installed"),
)
MIN_FREE_GB = 10


class Check(Result):
    name: str
    status: Status
    value: str
    fix: str | None = None


class Report(Replayable):
    dumped_properties = ("ok",)

    checks: list[Check]
    engine: EngineFacts
    images: dict[str, ImageFacts | None] = Field(default_factory=dict)
    registry_reachable: bool = False
    lessons: list[needs.Readiness] = Field(default_factory=list)  # can each lesson run here, and why not

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    def table(self) -> str:
        w = max(len(c.name) for c in self.checks)
        lines = [f"{'check':<{w}}  {'status':<6}  value", f"{'-' * w}  ------  {'-' * 40}"]
        for c in self.checks:
            lines.append(f"{c.name:<{w}}  {c.status:<6}  {c.value}")
        fixes = [c for c in self.checks if c.fix and c.status in (FAIL, WARN)]
        if fixes:
            lines.append("")
            lines.append("What to do:")
            for c in fixes:
                lines.append(f"- {c.name}: {c.fix}")
        if self.lessons and not self.engine.reachable:
            replay_all = "`LAYERLAB_REPLAY=1 layerlab run` replays their recorded runs"
            lines += ["", f"Lessons: none runs without an engine; {replay_all}."]
        elif self.lessons:
            lines += ["", "Lessons on this engine:"]
            for r in self.lessons:
                lines.append(f"  {r.module}  {r.verdict}")
                for n in r.needs:
                    if not n.met:
                        lines.append(f"        {n.need}: {n.skips}" if n.skips else f"        {n.line()}")
        lines.append("")
        if self.replayed:
            lines.append(f"(replayed from a recorded run: {self.replayed['engine']}, {self.replayed['recorded_at']})")
        lines.append(
            "Ready for the course."
            if self.ok
            else "Not ready: fix the FAIL lines above, then run `layerlab doctor` again."
        )
        return "\n".join(lines)


def _major(version: str | None) -> int | None:
    try:
        return int((version or "").split(".")[0])
    except ValueError:
        return None


def engine_checks(f: engine.EngineFacts, platforms: tuple[str, ...]) -> list[Check]:
    """Turn engine facts into checks. Pure: unit-tested on recorded facts."""
    if not f.reachable:
        return [Check(name="engine", status=FAIL, value="not reachable", fix=f.error or "start a container engine")]
    checks = []
    major = _major(f.server_version)
    if f.name == "docker" and major is not None and major < MIN_DOCKER_MAJOR:
        checks.append(
            Check(
                name="engine",
                status=WARN,
                value=f"docker {f.server_version}",
                fix=f"Docker Engine {MIN_DOCKER_MAJOR}+ is recommended for multi-platform loads",
            )
        )
    else:
        rootless = ", rootless" if f.rootless else ""
        value = f"{f.name} {f.server_version} (API {f.api_version}{rootless})"
        checks.append(Check(name="engine", status=OK, value=value))
    cgroup = f"v{f.cgroup_version} ({f.cgroup_driver or '?'} driver)" if f.cgroup_version else "not reported"
    checks.append(Check(name="cgroup", status=INFO, value=cgroup))
    emulated = ", ".join(f.emulated) or "none"
    where = f"native {f.native}, foreign {f.foreign}; emulated: {emulated}"
    checks.append(Check(name="platforms", status=INFO, value=where))
    if f.name == "docker":
        if f.buildx_version:
            driver = f.builder_driver
            builder = f"builder {f.builder_name} ({driver} driver)" if driver else "no builder answered"
            checks.append(Check(name="buildx", status=OK, value=f"{f.buildx_version}, {builder}"))
        else:
            checks.append(
                Check(
                    name="buildx",
                    status=FAIL,
                    value="missing",
                    fix="install the buildx plugin (Debian/Ubuntu: apt-get install docker-buildx)",
                )
            )
        if f.compose_version:
            checks.append(Check(name="compose", status=OK, value=f.compose_version))
        else:
            checks.append(
                Check(
                    name="compose",
                    status=WARN,
                    value="missing",
                    fix="install compose v2 (apt-get install docker-compose-v2 or docker-compose); module 08 needs it",
                )
            )
    if f.multiplatform_load:
        checks.append(Check(name="image store", status=OK, value=f.image_store or f.name or "?"))
    else:
        checks.append(
            Check(
                name="image store",
                status=WARN,
                value=f"{f.image_store} ({f.storage_driver}): cannot load multi-platform images",
                fix='add {"features": {"containerd-snapshotter": true}} to /etc/docker/daemon.json and restart dockerd '
                "(Docker Desktop: Settings > General > Use containerd for pulling and storing images)",
            )
        )
    for pl in platforms:
        in_builder = pl in f.builder_platforms
        runnable = engine.can_run_platform(f, pl)
        how = "native" if pl == f.host_platform else "emulated (qemu)"
        if in_builder and runnable:
            checks.append(Check(name=f"platform {pl}", status=OK, value=how))
        else:
            checks.append(
                Check(
                    name=f"platform {pl}",
                    status=FAIL,
                    value="builder cannot build it" if not in_builder else "no emulator registered",
                    fix="apt-get install qemu-user-static binfmt-support (as root), then restart dockerd",
                )
            )
    if f.name == "podman":
        for what, why in PODMAN_LIMITS:
            checks.append(
                Check(
                    name=f"podman: {what}",
                    status=WARN,
                    value=why,
                    fix="use Docker Engine 26+ for this part, or read the lesson's replayed run",
                )
            )
    can, why = engine.gpu_verdict(f)
    checks.append(
        Check(
            name="gpu", status=INFO, value=("a container can get a GPU: " if can else "no GPU for containers: ") + why
        )
    )
    if f.free_disk_bytes is not None:
        gb = f.free_disk_bytes / 1e9
        status = OK if gb >= MIN_FREE_GB else (WARN if gb >= 3 else FAIL)
        checks.append(
            Check(
                name="free disk",
                status=status,
                value=f"{gb:.1f} GB at {f.root_dir or '/'}",
                fix=None
                if status == OK
                else "the course needs about 10 GB: `layerlab clean` and `docker system prune` free space",
            )
        )
    else:
        checks.append(
            Check(
                name="free disk",
                status=INFO,
                value="not measured: the engine runs on another kernel (a VM or a remote host); "
                "the course needs about 10 GB free there",
            )
        )
    return checks


def image_checks(found: dict[str, images.ImageFacts | None], platforms: tuple[str, ...]) -> list[Check]:
    checks = []
    for b in catalogue.BASE_IMAGES:
        f = found.get(b.ref)
        if f is None:
            checks.append(Check(name=f"image {b.ref}", status=FAIL, value="missing", fix="run `layerlab bootstrap`"))
            continue
        kind = "stand-in" if f.standin else "official"
        missing = [p for p in platforms if p not in f.platforms]
        value = f"{kind}, runs on {', '.join(f.platforms) or 'nothing'}"
        if missing:
            checks.append(
                Check(
                    name=f"image {b.ref}",
                    status=FAIL,
                    value=value + f"; missing {', '.join(missing)}",
                    fix="run `layerlab bootstrap`",
                )
            )
        else:
            checks.append(Check(name=f"image {b.ref}", status=OK, value=value))
    return checks


def _live_or_replay(platforms: tuple[str, ...] = catalogue.PLATFORMS) -> Report:
    report = _run(platforms)
    # An unreachable engine is a fact the doctor reports, not an error; in a
    # notebook with a recording (Binder), replay the recorded machine instead.
    if not report.engine.reachable:
        raise engine.EngineUnavailable(report.engine.error or "no engine")
    return report


def run(platforms: tuple[str, ...] = catalogue.PLATFORMS, replay_if_no_engine: bool = False) -> Report:
    """The report. With replay_if_no_engine (lessons), a machine without an engine gets the recorded one."""
    if replay_if_no_engine or replay.mode() != "live":
        try:
            return _replayable(platforms)
        except engine.EngineUnavailable:
            pass
    return _run(platforms)


def _run(platforms: tuple[str, ...] = catalogue.PLATFORMS) -> Report:
    f = engine.probe()
    online = engine.registry_reachable()
    checks = engine_checks(f, platforms)
    found: dict[str, images.ImageFacts | None] = {}
    if f.reachable:
        checks.append(
            Check(
                name="registry",
                status=INFO,
                value="reachable: official images are pulled"
                if online
                else "not reachable: offline stand-ins are built",
            )
        )
        if not online:
            # BuildKit pulls the `# syntax=` frontend image before the first step; build.build drops the line offline.
            checks.append(
                Check(
                    name="syntax directive",
                    status=INFO,
                    value="offline, a plain `docker build` of a Dockerfile with `# syntax=` fails before its first step: "
                    "drop that line, or build through layerlab, which uses the engine's built-in frontend",
                )
            )
        checks.append(_registry_check())
        runnable = tuple(p for p in platforms if engine.can_run_platform(f, p))
        found = {b.ref: images.facts(b.ref, runnable) for b in catalogue.BASE_IMAGES}
        checks += image_checks(found, platforms)
    vm = shutil.which("qemu-system-x86_64")
    checks.append(
        Check(
            name="vm (qemu)", status=INFO, value=f"found: {vm}" if vm else "not found (module 01's VM column replays)"
        )
    )
    return Report(
        checks=checks,
        engine=f,
        images=found,
        registry_reachable=online,
        lessons=_lessons(f),
    )


def _lessons(f: EngineFacts) -> list[needs.Readiness]:
    try:
        return needs.every_lesson(f)
    except course_mod.CourseFileError:  # an installed package without the course's files: the checks still stand
        return []


def _registry_check() -> Check:
    """The course's local registry (lessons 05 and 09): running, or how to start it."""
    from layerlab.engine import registry

    try:
        st = registry.status_live()
    except Exception as e:  # noqa: BLE001 - a line of the report, never a failure
        return Check(name="local registry", status=INFO, value=f"could not ask: {e}")
    if st.running:
        kind = "stand-in from Debian's docker-registry" if st.standin else f"official {catalogue.REGISTRY.ref}"
        return Check(name="local registry", status=OK, value=f"{st.address} ({kind}), GET /v2/ -> {st.api}")
    return Check(
        name="local registry",
        status=INFO,
        value=f"not running at {st.address}: {st.detail}",
        fix="`layerlab registry up` (lesson 05 starts it itself)",
    )


_replayable = replay.replayable("doctor", lambda platforms=catalogue.PLATFORMS: "report", Report)(_live_or_replay)
