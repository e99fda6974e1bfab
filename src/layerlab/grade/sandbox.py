"""Where a submission is built and run: time limits, no privileges, and a per-run label.

Everything a grading run creates carries the course label *and* this run's
label, so the run removes exactly what it made, and nothing of anyone else's
on a shared engine, also when it fails or is interrupted. A grading started by
`layerlab grade-many` also carries the job label that command gave it
(LAYERLAB_GRADE_JOB): a grading process killed at its time limit cannot clean up
after itself, so grade-many removes what carries its job label (a grading may
open more than one run: grade/regrade.py grades again in a fresh one).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_on_whales.exceptions import DockerException

from layerlab import engine
from layerlab.engine import build as build_mod
from layerlab.engine import clean, containers, labels
from layerlab.ground import settings
from layerlab.measure.serving import ServeResult

from . import regrade

RUN_LABEL = "org.layerlab.grade.run"
JOB_LABEL = "org.layerlab.grade.job"
# What every grading container is given unless a check asks for a GPU: the NVIDIA runtime then
# behaves as runc, so a host whose engine hands out GPUs by default grades as one without.
NO_GPU_ENV = {"NVIDIA_VISIBLE_DEVICES": "void"}


class TimedOut(RuntimeError):
    pass


@dataclass
class Ran:
    exit_code: int
    output: str
    seconds: float
    timed_out: bool = False
    oom_killed: bool = False
    error: str = ""  # the engine refused to start it: its reason, in its own words
    hint: str = ""  # what to do about `error`, where the cause is a known one


def _cut(text: str, limit: int) -> str:
    """Keep the start and the end of a huge log: the cause is usually at one of them."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut ...]\n{text[-half:]}"


class Session:
    """One grading run's resources. Use as a context manager: leaving it removes them."""

    def __init__(
        self,
        exercise_id: str,
        module: str | None,
        *,
        memory: str,
        pids: int,
        max_output: int,
        show: build_mod.Show = None,
    ):
        self.run_id = uuid.uuid4().hex[:12]
        self.job = settings.grade_job()
        self.show = show  # None: builds print nothing (the report says what happened)
        self.exercise_id, self.module = exercise_id, module
        self.memory, self.pids, self.max_output = memory, pids, max_output
        self.tags: list[str] = []
        # What every build of this run is given: build secrets (`id=...,src=...`) and build arguments.
        self.secrets: list[str] = []
        self.build_args: dict[str, str] = {}
        self._scratch: Path | None = None

    @property
    def scratch(self) -> Path:
        """A folder of this run's own (rewritten files), outside the submission; close() removes it."""
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix=f"layerlab-grade-{self.run_id}-"))
        return self._scratch

    @property
    def run_labels(self) -> dict[str, str]:
        """This run's own labels (and its grade-many job's), without the course's."""
        return {RUN_LABEL: self.run_id, **({JOB_LABEL: self.job} if self.job else {})}

    @property
    def labels(self) -> dict[str, str]:
        return {**labels.course_labels(self.module), **self.run_labels}

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- builds ---------------------------------------------------------

    def build(
        self,
        context: Path,
        name: str,
        *,
        timeout: float,
        dockerfile: Path | None = None,
        platforms: list[str] | None = None,
        cache: bool = True,
        output: dict[str, str] | None = None,
        build_args: dict[str, str] | None = None,
    ) -> build_mod.BuildResult:
        """Build, or raise TimedOut / BuildError. The tag is unique to this run. `output` exports elsewhere
        (an OCI archive) instead of loading; `build_args` add to the exercise's own."""
        tag = f"layerlab-grade-{self.exercise_id}:{self.run_id}-{name}"
        self.tags.append(tag)
        fired = threading.Event()

        def kill() -> None:
            fired.set()
            build_mod.stop_clients(tag)

        timer = threading.Timer(timeout, kill)
        timer.daemon = True
        timer.start()
        try:
            return build_mod.build(
                context,
                tag,
                dockerfile=dockerfile,
                platforms=platforms,
                cache=cache,
                extra_labels=self.run_labels,
                module=self.module,
                show=self.show,
                secrets=self.secrets or None,
                build_args={**self.build_args, **(build_args or {})} or None,
                output=output,
            )
        except build_mod.TransientEngineError as e:
            regrade.notice(e)  # the engine's, not the submission's: the entry point grades again
            raise
        except build_mod.BuildError:
            if fired.is_set():
                raise TimedOut(f"the build timed out after {timeout:.0f} s") from None
            raise
        finally:
            timer.cancel()

    # --- containers -------------------------------------------------------

    def run(
        self,
        image: str,
        command: list[str] | None = None,
        *,
        timeout: float,
        entrypoint: str | None = None,
        platform: str | None = None,
        memory: str | None = None,
        cpus: float | None = None,
        gpu: bool = False,
        volumes: list[tuple[str, str, str]] | None = None,
        shm_size: str | None = None,
        tmpfs: list[str] | None = None,
    ) -> Ran:
        """Run to completion without network, within the limits; the container is always removed.

        Without `gpu` the container sees no GPU even on an engine that hands them out by default
        (NO_GPU_ENV): an exercise's expected output is the no-GPU one."""
        try:
            r = containers.run_live(
                image,
                command,
                entrypoint=entrypoint,
                platform=platform,
                network="none",
                # None: the sandbox's own limit; "": none at all (a check that needs to see an unlimited cgroup).
                memory=self.memory if memory is None else (memory or None),
                cpus=cpus,
                envs=None if gpu else dict(NO_GPU_ENV),
                pids_limit=self.pids,
                timeout=timeout,
                # _cut below keeps the head and the tail; give it enough to choose from.
                max_output=self.max_output * 4,
                extra_labels=self.labels,
                hardened=True,
                volumes=volumes,
                shm_size=shm_size,
                tmpfs=tmpfs,
            )
        except containers.ContainerDidNotStart as e:
            return Ran(exit_code=-1, output="", seconds=0.0, error=e.reason, hint=e.hint)
        except DockerException as e:
            return Ran(exit_code=-1, output="", seconds=0.0, error=_why(e))
        return Ran(
            exit_code=r.exit_code,
            output=_cut(r.output, self.max_output),
            seconds=round(r.seconds, 2),
            timed_out=r.timed_out,
            oom_killed=r.oom_killed,
        )

    def serve(self, image: str, **kw: Any) -> ServeResult:
        """Serve `image` on 127.0.0.1 within the sandbox's limits and with this run's label (see serving.serve_live)."""
        from layerlab.measure import serving

        return serving.serve_live(
            image,
            memory=self.memory,
            pids_limit=self.pids,
            hardened=True,
            module=self.module,
            extra_labels=self.run_labels,
            envs=dict(NO_GPU_ENV),
            **kw,
        )

    # --- clean-up ---------------------------------------------------------

    def close(self) -> list[str]:
        """Remove every container, network, volume and image carrying this run's label, and the scratch folder."""
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
        try:
            client = engine.client()
        except Exception:  # noqa: BLE001 - nothing to clean without an engine
            return []
        # Jupyter's "interrupt kernel" signals the kernel alone: a `docker buildx build` it
        # started keeps running, and BuildKit keeps building for it, unless we stop it here.
        for tag in self.tags:
            build_mod.stop_clients(tag)
        # Everything this run made carries the course label and the run's own (see `labels`).
        try:
            failed = clean.clean(within=(RUN_LABEL, self.run_id), count_freed=False).failed
        except engine.EngineUnavailable:
            return []  # no engine: it made nothing of ours to remove
        except DockerException as e:
            failed = [_why(e)]
        # A build that failed half-way may have tagged nothing; one that succeeded is covered
        # by the label, but remove the tags too in case the base image's labels were odd.
        for tag in self.tags:
            try:
                if client.image.exists(tag):
                    client.image.remove(tag, force=True)
            except DockerException:
                pass
        return failed


def _why(e: Exception) -> str:
    """The engine's most informative line (not its last one, which often names only an id)."""
    text = (getattr(e, "stderr", None) or str(e)).strip()
    return containers.start_failure(text)[0] if text else type(e).__name__
