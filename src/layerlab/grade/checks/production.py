"""An image for production (exercise 10-prod): weights supplied at run time, a digest that reproduces, BLAS
threads sized from the CPU quota.

`weights_outside_image`, `weights_at_run_time` and `threads_from_quota` share the weights the grader
generates (`measure.weights`, from course.yml's seed and shape): written into the scratch copy of the
submission, so a Dockerfile that still copies `model.npy` builds and is judged, and mounted read-only where a
deployment mounts them. `reproducible_digest` builds twice more without the cache, as CI builds a release
(`SOURCE_DATE_EPOCH` and the OCI exporter's `rewrite-timestamp=true`), and compares the digests; when they
differ, the layers file by file say why. `loader_shm` runs the exercise's given data loader under the
/dev/shm that the submission's compose file declares for it (compose's own reading of the file).
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..fixture import Fixture, Section
from ..subject import Subject
from .base import Context, Failed, NotRun, RecordError, check, excerpt, lines, records
from .spec import CheckBase

WEIGHTS = ("production", "weights")  # ctx.extras: the grader's weights file
VOLUME = ("production", "volume")  # ctx.extras: the volume that holds them


class Weights(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: int = Field(gt=0, le=8192)
    cols: int = Field(gt=0, le=8192)
    seed: int
    mount: str = Field(
        default="/weights/model.npy",
        pattern=r"^/[^/].*/model\.npy$",
        description="where the deployment's volume puts them, read-only (the volume holds model.npy)",
    )
    file: str = Field(default="model.npy", description="the name the starter copies into the image")


class _WithWeights(CheckBase):
    weights: Weights

    def prepare(self, ctx: Context) -> None:
        if WEIGHTS in ctx.extras or ctx.scratch is None:
            return
        path = self.generate(ctx.scratch)
        shutil.copy(path, ctx.folder / self.weights.file)
        ctx.extras[WEIGHTS] = path

    def provides(self) -> list[str]:
        return [self.weights.file]

    def generate(self, scratch: Path) -> Path:
        """The weights, under `scratch`/weights (written once)."""
        from layerlab.measure import weights

        path = scratch / "weights" / self.weights.file
        if not path.is_file():
            weights.generate(path, self.weights.rows, self.weights.cols, self.weights.seed)
        return path

    def mounted(self, ctx: Context) -> list[tuple[str, str, str]]:
        """The grader's weights as the deployment supplies them: a named volume (filled once per grading run,
        labelled with it, so the run's clean-up removes it) mounted read-only at the mount's folder."""
        path = ctx.extras.get(WEIGHTS)
        if path is None:
            raise NotRun("the grader's weights were not generated (no scratch folder)")
        s = ctx.need_subject()
        volume = ctx.extras.get(VOLUME) or self.volume(s, path)
        ctx.extras[VOLUME] = volume
        return [(volume, str(PurePosixPath(self.weights.mount).parent), "ro")]

    def volume(self, s: Subject, path: Path) -> str:
        from layerlab.engine import volumes

        name = f"layerlab-grade-weights-{s.session.run_id}"
        volumes.fill_live(name, [path], image=s.tag, module=s.session.module, extra_labels=s.session.run_labels)
        return name


class WeightsOutsideImage(_WithWeights):
    check: Literal["weights_outside_image"]


class WeightsAtRunTime(_WithWeights):
    check: Literal["weights_at_run_time"]
    output_from: str = Field(default="scores:", description="the output line the solution's run is compared by")


class ThreadsFromQuota(_WithWeights):
    check: Literal["threads_from_quota"]
    # Two quotas: a count written into the program or the image (OMP_NUM_THREADS=1) is right under one of them only.
    cpus: list[Annotated[float, Field(gt=0)]] = Field(
        default=[1.0, 2.0],
        min_length=1,
        description="each --cpus the image runs under (one above the engine's CPUs is left out)",
    )
    line: str = Field(default="blas threads:", description="the line that reports BLAS's threads")


class LoaderShm(CheckBase):
    """The data loader runs under the /dev/shm that the compose file gives its service."""

    check: Literal["loader_shm"]
    compose_file: str = "compose.yaml"
    service: str = Field(default="loader", description="the compose service that runs the loader")
    program: str = Field(
        default="loader.py",
        pattern=r"^[A-Za-z0-9_.-]+\.py$",
        description="the given loader: the grader writes the starter's copy over the submission's, so the "
        "workload it runs is the exercise's",
    )
    args: list[Annotated[str, Field(pattern=r"^[1-9][0-9]{0,3}$")]] = Field(
        default=["4", "2", "16"], min_length=3, max_length=3, description="workers, batches each, MiB a batch"
    )
    most: float = Field(default=4.0, ge=1.5, description="the declared size may be at most this many times the need")

    def prepare(self, ctx: Context) -> None:
        from ..fixture import solution_dir

        given = (ctx.starter or solution_dir(ctx.exercise.id)) / self.program
        if given.is_file():
            shutil.copy(given, ctx.folder / self.program)

    def provides(self) -> list[str]:
        return [self.program]


class ReproducibleDigest(CheckBase):
    check: Literal["reproducible_digest"]
    epoch: str = Field(default="1767225600", pattern=r"^[0-9]+$", description="SOURCE_DATE_EPOCH of both builds")
    # Two builds seconds apart: a build that writes the time needs the clock to have moved to show it.
    apart_s: ClassVar[float] = 2.0


class Scored(Section):
    """What the solution printed with the grader's weights mounted."""

    name = "production"
    output: str


def _weights_bytes(ctx: Context) -> int:
    path: Path | None = ctx.extras.get(WEIGHTS)
    return path.stat().st_size if path else 0


@check(WeightsOutsideImage)
def weights_outside_image(ctx: Context, spec: WeightsOutsideImage) -> str:
    s = ctx.need_subject()
    s.build()
    size = _weights_bytes(ctx)
    found = [p for p, n in s.image.files.items() if n == size]
    if found:
        raise Failed(
            f"the image holds a file of the weights' size ({size / 2**20:.0f} MiB): {', '.join(found[:3])}",
            f"copy no weights into the image: the deployment mounts them at {spec.weights.mount}; list "
            f"{spec.weights.file} in .dockerignore so the build context does not carry them either",
        )
    above = s.above_base
    fx = ctx.need_fixture()
    if above is not None and fx.added_bytes is not None and above.added_bytes > fx.added_bytes + size * 0.9:
        raise Failed(
            f"the layers above the base add {above.added_bytes / 1e6:.0f} MB, the weights' size more than the "
            f"reference's {fx.added_bytes / 1e6:.0f} MB",
            "a layer still carries the weights though the final image hides them (copied, then deleted in a "
            "later step): a deleted file stays in the layer that added it; do not copy them at all",
        )
    return f"no file of the weights' size; {above.added_bytes / 1e6:.0f} MB above the base" if above else "no weights"


def _program_hint(ran_output: str, spec: _WithWeights) -> str:
    if "Traceback" in ran_output and "model.npy" in ran_output:
        return f"the program still loads its own copy: read the weights from {spec.weights.mount}"
    return "the program failed with the weights mounted: is everything it needs in the image?"


@check(WeightsAtRunTime)
def weights_at_run_time(ctx: Context, spec: WeightsAtRunTime) -> str:
    s = ctx.need_subject()
    s.build()
    fx = ctx.need_fixture().section(Scored)
    if fx is None:
        raise NotRun(f"the fixture holds no recorded output: run `layerlab record {ctx.exercise.id}`")
    t = ctx.exercise.limits.run_timeout_s
    with_w = s.session.run(s.tag, timeout=t, volumes=spec.mounted(ctx))
    want = [l for l in lines(fx.output) if l.startswith(spec.output_from)]
    got = [l for l in lines(with_w.output) if l.startswith(spec.output_from)]
    if with_w.exit_code != 0 or got != want:
        raise Failed(
            f"with the weights mounted at {spec.weights.mount}: exit {with_w.exit_code}\n{excerpt(with_w.output)}",
            _program_hint(with_w.output, spec)
            if with_w.exit_code
            else "the scores differ from the reference's: score with the mounted weights, as given",
        )
    without = s.session.run(s.tag, timeout=t)
    text = without.output.strip()
    if without.exit_code == 0:
        raise Failed(
            f"without weights the program exits 0\n{excerpt(text)}",
            "the image still carries weights, or the program goes on without them: with nothing mounted at "
            f"{spec.weights.mount} it must stop with an error (exit code not 0)",
        )
    if "Traceback" in text or spec.weights.mount not in text:
        raise Failed(
            f"without weights, exit {without.exit_code}:\n{excerpt(text)}",
            f"say what is missing in one line that names {spec.weights.mount} (sys.exit('no weights at ...')), "
            "not a traceback",
        )
    return f"scores match with the weights mounted; without them: exit {without.exit_code}, {lines(text)[-1][:80]!r}"


@check(ThreadsFromQuota)
def threads_from_quota(ctx: Context, spec: ThreadsFromQuota) -> str:
    from layerlab import engine
    from layerlab.engine import info

    s = ctx.need_subject()
    s.build()
    host_cpus = info.parse(*info.ask(engine.require())).cpus or 1
    quotas = [q for q in spec.cpus if q <= host_cpus] or [min(spec.cpus)]
    said_all = []
    for q in quotas:
        ran = s.session.run(s.tag, timeout=ctx.exercise.limits.run_timeout_s, cpus=q, volumes=spec.mounted(ctx))
        said = [l for l in lines(ran.output) if l.startswith(spec.line)]
        want = max(1, int(q))
        if not said:
            raise Failed(
                f"under --cpus={q:g} no `{spec.line}` line (exit {ran.exit_code})\n{excerpt(ran.output)}",
                _program_hint(ran.output, spec) if ran.exit_code else f"keep the program's `{spec.line} N` line",
            )
        got = said[-1].split(":", 1)[1].strip()
        if got != str(want):
            raise Failed(
                f"under --cpus={q:g} BLAS runs {got} threads; the quota allows {want}",
                "BLAS counts the host's CPUs, not the container's quota, and a fixed count is right under one "
                "quota only: read the quota from /sys/fs/cgroup/cpu.max (cgroup v1: cpu.cfs_quota_us / "
                "cpu.cfs_period_us) and set OMP_NUM_THREADS to the whole CPUs it allows, at least 1, before "
                "numpy is imported",
            )
        said_all.append(f"--cpus={q:g}: {got}")
    return f"BLAS threads follow the quota ({'; '.join(said_all)})"


# The kernel's tmpfs size= (memparse): whole bytes with an optional binary suffix, as compose passes it on.
_TMPFS_SIZE = re.compile(r"^(\d+)([kmgtpe]?)$", re.IGNORECASE)


@dataclass(frozen=True)
class ShmDeclared:
    """The /dev/shm a compose service declares, read from compose's own normalised config."""

    size: int | None  # bytes; None: Docker's default (64 MB)
    tmpfs: str | None = None  # the --tmpfs option when a tmpfs is mounted on /dev/shm, else shm_size is used

    @property
    def option(self) -> str:
        if self.size is None:
            return "Docker's default /dev/shm"
        return f"{'a tmpfs of' if self.tmpfs else 'shm_size'} {self.size / 2**20:.0f} MiB" + (
            " on /dev/shm" if self.tmpfs else ""
        )


def _tmpfs_size(text: str, where: str) -> int:
    if text.endswith("%"):
        raise Failed(
            f"{where} sizes its /dev/shm tmpfs as {text} of the host's memory",
            "give it an absolute size (size=160m): a share of the host's memory is another size on every machine",
        )
    m = _TMPFS_SIZE.match(text.strip())
    if not m:
        raise Failed(f"{where}: {text!r} is not a tmpfs size", "write the size as bytes or with k, m or g: size=160m")
    return int(m.group(1)) * 1024 ** " kmgtpe".index(m.group(2).lower() or " ")


def declared_shm(svc: dict, where: str) -> ShmDeclared:
    """The service's /dev/shm: `shm_size`, or a tmpfs mounted on /dev/shm (`tmpfs:` or a `volumes:` entry of
    type tmpfs), which replaces Docker's own; Failed when a tmpfs there has no absolute size."""
    short = svc.get("tmpfs") or []
    for entry in [short] if isinstance(short, str) else short:
        target, _, opts = str(entry).partition(":")
        if target.rstrip("/") != "/dev/shm":
            continue
        sizes = [o.split("=", 1)[1] for o in opts.split(",") if o.startswith("size=")]
        if not sizes:
            raise Failed(
                f"{where} mounts a tmpfs on /dev/shm without a size",
                "give it one (tmpfs: /dev/shm:size=160m) or use shm_size: a tmpfs without size= may grow to half "
                "the host's memory",
            )
        return ShmDeclared(_tmpfs_size(sizes[-1], where), tmpfs=str(entry))
    for v in svc.get("volumes") or []:
        if isinstance(v, dict) and v.get("type") == "tmpfs" and str(v.get("target", "")).rstrip("/") == "/dev/shm":
            size = (v.get("tmpfs") or {}).get("size")
            if size in (None, "", 0, "0"):
                raise Failed(
                    f"{where} mounts a tmpfs volume on /dev/shm without a size",
                    "give it tmpfs: size: 160m, or use shm_size: a tmpfs without a size may grow to half the "
                    "host's memory",
                )
            n = _tmpfs_size(str(size), where)
            return ShmDeclared(n, tmpfs=f"/dev/shm:size={n}")
    raw = svc.get("shm_size")
    return ShmDeclared(int(raw) if raw not in (None, "") else None)


def judge_shm(declared: int | None, ipc: str | None, need: int, spec: LoaderShm) -> Failed | None:
    """What is wrong with the loader service's shared memory before it runs: None when nothing is."""
    where = f"service {spec.service} in {spec.compose_file}"
    if ipc == "host":
        return Failed(
            f"{where} shares the host's IPC namespace (ipc: host)",
            "size the container's own /dev/shm with shm_size: instead; with ipc: host the loader sees every "
            "other process's shared memory and gets only as much as the host has",
        )
    if declared is not None and declared > spec.most * need:
        return Failed(
            f"{where} declares a /dev/shm of {declared / 2**20:.0f} MiB for a loader that holds {need / 2**20:.0f} MiB",
            f"size it from what the loader holds at once (workers x batches x batch size) with a little room, "
            f"at most {spec.most:g} times that: /dev/shm pages count against the container's memory",
        )
    return None


@check(LoaderShm)
def loader_shm(ctx: Context, spec: LoaderShm) -> str:
    from layerlab.measure import shm

    from ..composed import ComposeProblem, ComposeRun

    s = ctx.need_subject()
    s.build()
    try:
        svc = ComposeRun(s, spec.compose_file).service(spec.service)
    except ComposeProblem as e:
        raise Failed(e.detail, e.hint) from None
    declared = declared_shm(svc, f"service {spec.service} in {spec.compose_file}")
    workers, batches, mib = (int(a) for a in spec.args)
    need = workers * batches * mib * 2**20
    if (problem := judge_shm(declared.size, svc.get("ipc"), need, spec)) is not None:
        raise problem
    option = declared.option
    ran = s.session.run(
        s.tag,
        ["python", spec.program, *spec.args],
        timeout=ctx.exercise.limits.run_timeout_s,
        shm_size=str(declared.size) if declared.size and not declared.tmpfs else None,
        tmpfs=[declared.tmpfs] if declared.tmpfs else None,
    )
    got = shm.parse(option, ran.output, ran.exit_code)
    if got.needed_bytes is None:
        raise Failed(
            f"the loader did not report (exit {ran.exit_code})\n{excerpt(ran.output)}",
            f"keep `COPY {spec.program}` into the image's working folder: the grader runs `python {spec.program}` there",
        )
    if not got.ok:
        raise Failed(
            f"with {option} the loader failed: {got.error}",
            f"give service {spec.service} `shm_size:` in {spec.compose_file}: its workers hold "
            f"{workers} x {batches} x {mib} MiB in /dev/shm at once, plus a little room (Docker's default is 64 MB)",
        )
    return f"the loader's {got.needed_bytes / 2**20:.0f} MiB of batches fit in {option}"


@check(ReproducibleDigest)
def reproducible_digest(ctx: Context, spec: ReproducibleDigest) -> str:
    from layerlab.measure import repro

    s = ctx.need_subject()
    s.build()
    scratch = ctx.scratch or ctx.folder.parent
    digests, archives = [], []
    for n in (1, 2):
        if n == 2:
            time.sleep(spec.apart_s)
        archive = scratch / f"repro-{n}.tar"
        b = s.session.build(
            ctx.folder,
            f"repro-{n}",
            timeout=ctx.exercise.limits.build_timeout_s,
            dockerfile=s.dockerfile,
            cache=False,
            output={"type": "oci", "dest": str(archive), "rewrite-timestamp": "true"},
            build_args={"SOURCE_DATE_EPOCH": spec.epoch},
        )
        digests.append(b.digest)
        archives.append(archive)
    if digests[0] and digests[0] == digests[1]:
        return f"two builds without the cache, one digest: {digests[0][:19]}…"
    diff = repro.compare(archives[0], archives[1])
    changed = [f for f in diff.files() if f.change != "mtime only"]
    pyc = [f for f in changed if f.change == "pyc source mtime"]
    other = [f for f in changed if f.change != "pyc source mtime"]
    shown = "\n".join(f"| layer {f.layer}: {f.path} ({f.change})" for f in (other + pyc)[:6])
    causes = []
    if other:
        causes.append(
            f"a step writes something new on every build ({other[0].path}): the time, a random id or a "
            "download without a pinned version; leave it out or make it the same each time"
        )
    if pyc:
        causes.append(
            "pip's .pyc files record their sources' install times: declare `ARG SOURCE_DATE_EPOCH` before the "
            "pip install, so pip sees it and writes hash-checked .pyc files"
        )
    if not causes:
        causes.append("the image's config differs between the builds: " + "; ".join(d.field for d in diff.config[:3]))
    hint = "; and ".join(causes)
    raise Failed(f"two builds without the cache gave two digests ({len(changed)} files differ)\n{shown}", hint)


@records(WeightsAtRunTime)
def record(s: Subject, spec: WeightsAtRunTime, f: Fixture) -> None:
    volume = spec.volume(s, spec.generate(s.context.parent))
    ran = s.session.run(
        s.tag,
        timeout=s.limits.run_timeout_s,
        volumes=[(volume, str(PurePosixPath(spec.weights.mount).parent), "ro")],
    )
    if ran.exit_code != 0:
        raise RecordError(f"the solution failed with the weights mounted: {ran.error or ran.output[-300:]}")
    f.put(Scored(output=ran.output))
