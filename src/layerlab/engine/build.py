"""Timed builds through python-on-whales, with per-step cache records from BuildKit."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Union, cast

from pydantic import Field
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from layerlab import engine
from layerlab.engine import dockerfile_syntax, labels, progress, replay, transient
from layerlab.engine.result import Replayable
from layerlab.ground.errors import LayerlabError
from layerlab.ground.text import Printer, error_text, say

from .buildlog import BuildLog, Reader, Step

# What `build(show=...)` takes: the default (a live line, or the summary when headless),
# "log" (BuildKit's whole log), a printer (the summary line only), a progress.Renderer, or None (silent).
Show = Union[Printer, str, "progress.Renderer", None]


class BuildError(LayerlabError, RuntimeError):
    """A build failed: names the failing step and carries the end of its log."""

    def __init__(self, tag: str, step: str | None, log_tail: list[str], detail: str = ""):
        self.tag, self.step, self.log_tail = tag, step, log_tail
        where = f"step `{step}`" if step else "the build"
        tail = "\n".join(f"  | {line}" for line in log_tail)
        super().__init__(f"building {tag} failed at {where}.\n{tail}\n{detail}".rstrip())


class TransientEngineError(BuildError, LayerlabError):
    """The engine's known intermittent export error (engine/transient.py) hit the build, and hit it
    again when `build` retried once: the engine's fault, not the Dockerfile's.

    Fields: `cause` (which known error), `error` (BuildKit's line), `attempts`, `log_paths` (one per attempt).
    """

    def __init__(self, tag: str, race: transient.EngineRace, log_tail: list[str], attempts: int, log_paths: list[str]):
        self.tag, self.step, self.log_tail = tag, race.step, log_tail
        self.cause, self.error, self.attempts, self.log_paths = race.pattern.name, race.error, attempts, log_paths
        times = "twice" if attempts == 2 else f"{attempts} time(s)"
        tail = "\n".join(f"  | {line}" for line in log_tail)
        logs = f"\nfull log(s): {', '.join(log_paths)}" if log_paths else ""
        Exception.__init__(
            self,
            (
                f"building {tag} failed {times} at `{race.step}` with a known intermittent engine error "
                f"({race.pattern.name}): an engine error, not a fault in the Dockerfile.\n{tail}\n"
                "What to do: run it again; if it keeps failing, run `layerlab doctor` and restart the engine "
                "(Docker Desktop: Restart; Linux: `sudo systemctl restart docker`)." + logs
            ),
        )


class BuildResult(Replayable):
    tag: str
    image_id: str | None
    platforms: list[str]
    seconds: float
    context_bytes: int | None
    steps: list[Step] = Field(default_factory=list)
    cache: bool = True
    target: str | None = None
    built_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    log_path: str | None = None  # BuildKit's full log of this build
    digest: str | None = None  # the exported image's manifest (or index) digest, from BuildKit's metadata

    @property
    def ran(self) -> list[Step]:
        return [s for s in self.steps if s.index is not None and s.ran and not s.name.upper().startswith("FROM")]

    @property
    def cached(self) -> list[Step]:
        return [s for s in self.steps if s.index is not None and s.cached]

    @property
    def reused(self) -> list[Step]:
        """Cached steps the Dockerfile wrote (a `FROM` is never built, so it does not count)."""
        return [s for s in self.cached if not s.name.upper().startswith("FROM")]

    def platform_seconds(self) -> dict[str, float]:
        """Seconds of step work per target platform, from BuildKit's own step lines (`[linux/arm64 ...]`).

        A cross stage (`[linux/amd64->arm64 ...]`) counts for the platform it builds for. Steps of
        one platform that run in parallel are added, so this is work done, not wall-clock time.
        """
        out: dict[str, float] = {p: 0.0 for p in self.platforms}
        for s in self.steps:
            if s.index is not None and s.ran and s.platform:
                out[s.platform] = round(out.get(s.platform, 0.0) + (s.seconds or 0.0), 3)
        return out

    def emulated(self, platform: str | None = None, host: str | None = None) -> list[Step]:
        """The RUN steps that executed under emulation: built for a platform that is not the host's,
        outside a cross stage (`FROM --platform=$BUILDPLATFORM`). `platform` narrows to one target."""
        host = host or engine.host_platform()
        return [
            s
            for s in self.ran
            if s.name.upper().startswith("RUN")
            and s.platform
            and s.platform != host
            and (s.runs_on or s.platform) != host
            and (platform is None or s.platform == platform)
        ]

    def summary(self) -> str:
        return (
            f"{self.tag}: {self.seconds:.1f} s, {len(self.ran)} step(s) ran, "
            f"{len(self.cached)} cached, platforms {', '.join(self.platforms)}"
        )


def _key(context: str | Path, tag: str, **kw: Any) -> str:
    return (
        f"{tag}|target={kw.get('target')}|platforms={','.join(kw.get('platforms') or [])}|cache={kw.get('cache', True)}"
    )


@replay.replayable("build", _key, BuildResult)
def build(
    context: str | Path,
    tag: str,
    *,
    dockerfile: str | Path | None = None,
    target: str | None = None,
    build_args: dict[str, str] | None = None,
    platforms: list[str] | None = None,
    cache: bool = True,
    load: bool = True,
    extra_labels: dict[str, str] | None = None,
    module: str | None = None,
    managed: bool = True,
    show: Show = say,
    label: str | None = None,
    provenance: bool | dict[str, str] = False,
    cache_from: str | dict | None = None,
    cache_to: str | dict | None = None,
    secrets: list[str] | None = None,
    output: dict[str, str] | None = None,
) -> BuildResult:
    """Build `context` into `tag` and time it.

    `managed` adds the course label so `layerlab clean` can remove the image;
    base-image stand-ins turn it off because labels are inherited.

    `show`: by default one live progress line (a widget in a notebook, a
    rewritten line in a terminal) and a summary line at the end; headless
    runs print the summary only. `show="log"` prints BuildKit's whole log;
    a callable gets the summary line (and notes); a `progress.Renderer` is
    driven as it is; None prints nothing. Every build's full log is written
    to `progress.log_dir()` and the summary line says where. `label` names
    this build of a series in the summary ("cold", "code edit").
    `provenance` keeps buildx's default provenance attestation (off unless a lesson shows it); `{"mode": "max"}` asks for the full one.
    `cache_from`/`cache_to` import and export BuildKit's cache (`type=registry,ref=...`, `type=local,...`);
    `secrets` are `--secret` values (`id=token,src=path`), mounted by `RUN --mount=type=secret` only.
    `output` replaces loading into the engine with another exporter (`{"type": "oci", "dest": ...}`, or
    `{"type": "image", "push": "true", "compression": "zstd", ...}`); the result's `digest` is what it exported.
    """
    client = engine.require()
    all_labels = dict(extra_labels or {})
    if managed:
        all_labels.update(labels.course_labels(module))
    renderer = _renderer(show)
    file, tmp = _offline_dockerfile(context, dockerfile, renderer.note if renderer else None)
    if output is not None:
        load = False  # an exporter of its own: nothing is loaded into the engine's store
    # Only an exporter of its own needs the digest it wrote, read from buildx's metadata file.
    meta_dir = tempfile.mkdtemp(prefix="layerlab-build-meta-") if output is not None else None
    metadata = Path(meta_dir) / "metadata.json" if meta_dir else None
    options: dict[str, Any] = dict(
        # An exporter that names (and pushes) its own image would push the tag too: `tag` then only labels the build.
        tags=[] if output and output.get("name") else [tag],
        file=file,
        target=target,
        build_args=build_args or {},
        platforms=platforms,
        cache=cache,
        load=load,
        labels=all_labels,
        # buildx attaches a provenance attestation by default; the course reads none, and
        # BuildKit 0.13's walk over it panicked dockerd here under concurrent builds.
        provenance=provenance,
        cache_from=cache_from,
        cache_to=cache_to,
        secrets=secrets or [],
        output=output or {},
        metadata_file=metadata,
        progress="plain",
        stream_logs=True,
    )
    state = progress.Progress(tag=tag, platforms=list(platforms or []), label=label)
    # One live line and one summary for the build, however many attempts it takes.
    live = progress.Live(state, renderer) if renderer else None
    log_paths: list[str] = []
    measured: tuple[Reader, float] | None = None  # steps and seconds to report when not the last attempt's
    try:
        with live or contextlib.nullcontext():
            for attempt in (1, 2):
                reader = Reader()
                tail: deque[str] = deque(maxlen=25)
                start = time.perf_counter()
                # After a cached retry only the export is redone: the live line and summary stay the first's.
                current = progress.Progress(tag=tag) if measured else state
                try:
                    _attempt(client, context, options, tag, current, reader, tail, None if measured else live)
                    break
                except DockerException as e:
                    if current.log_path:
                        log_paths.append(str(current.log_path))
                    if load and _complete_despite(tail, tag, client):
                        state.failed = None  # the summary says built: the image is there
                        if live:
                            live.note(
                                f"{tag}: BuildKit named and unpacked the image, then reported "
                                f"`{list(tail)[-1].strip()}`; the image is complete, kept"
                            )
                        break
                    race = transient.classify(reader.log())
                    if race is None:
                        raise _build_error(e, tag, reader, tail, current) from None
                    failed = reader.log().failed()
                    step_tail = (failed.log if failed else list(tail))[-15:]
                    if attempt == 2:
                        raise TransientEngineError(tag, race, step_tail, attempt, log_paths) from None
                    # The one line a retry prints; show=None stays silent, as it promises.
                    if live:
                        live.note(race.line(tag))
                    if cache:
                        # Every step finished before the export failed, so the retry finds them all in the
                        # cache: what this build ran and how long it took is the first attempt's to report.
                        measured = (reader, time.perf_counter() - start)
                        state.failed = None
                        state.end()
                    else:
                        # --no-cache runs every step again: the second attempt is a whole new measurement.
                        state = progress.Progress(tag=tag, platforms=list(platforms or []), label=label)
                        if live:
                            live.restart(state)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        digest = _exported_digest(metadata) if metadata else None
        if meta_dir:
            shutil.rmtree(meta_dir, ignore_errors=True)
    if measured:
        reader, seconds = measured
    else:
        seconds = time.perf_counter() - start
    result = _result(client, tag, reader, state, seconds, platforms, cache, target, load)
    result.digest = digest
    return result


def _exported_digest(metadata: Path) -> str | None:
    """`containerimage.digest` of buildx's `--metadata-file`: the digest of what the exporter wrote or pushed."""
    try:
        value = json.loads(metadata.read_text()).get("containerimage.digest")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _attempt(
    client: DockerClient,
    context: str | Path,
    options: dict[str, Any],
    tag: str,
    state: progress.Progress,
    reader: Reader,
    tail: deque[str],
    live: progress.Live | None,
) -> None:
    """Run `docker buildx build` once, feeding its log to `reader`, `tail`, the log file and the live line.

    The one call into python-on-whales of a build; it raises DockerException when the build fails.
    """
    log_file = None
    try:
        state.log_path = progress.new_log_path(tag)
        log_file = state.log_path.open("w", encoding="utf-8")
    except OSError:
        state.log_path = None  # a read-only checkout still builds; the summary then names no file
    try:
        stream = client.buildx.build(str(context), **options)
        for line in cast(Iterator[str], stream):  # stream_logs=True: the log's lines
            line = line.rstrip("\n")
            tail.append(line)
            if log_file:
                log_file.write(line + "\n")
            ev = reader.feed(line)
            if live:
                live.line(line, ev)
    except KeyboardInterrupt:
        # Only this process got the interrupt when Jupyter sent it ("interrupt kernel"):
        # without this the build client and BuildKit's build would carry on.
        stop_clients(tag)
        raise
    finally:
        if log_file:
            log_file.close()


def _complete_despite(tail: Iterable[str], tag: str, client: DockerClient) -> bool:
    """BuildKit 0.13 on the containerd store sometimes ends an export of a large layer with
    `failed to solve: not found` after it named and unpacked the image (seen here with
    multi-GB CUDA layers while other builds ran): the image is complete then."""
    text = "\n".join(tail)
    name = tag if "/" in tag.split(":")[0] else f"library/{tag}"
    if not (
        "failed to solve: not found" in text
        and f"naming to docker.io/{name} done" in text
        and f"unpacking to docker.io/{name}" in text
        and "done" in text.split(f"unpacking to docker.io/{name}")[-1]
    ):
        return False
    try:
        client.image.inspect(tag)
    except DockerException:
        return False
    return True


def _build_error(
    e: DockerException, tag: str, reader: Reader, tail: Iterable[str], state: progress.Progress
) -> BuildError:
    log = reader.log()
    failed = log.failed()
    step_tail = [l for l in (failed.log if failed else [])][-15:] or list(tail)[-15:]
    detail = _short(e)
    if state.log_path:
        detail = f"{detail}\nfull log: {state.log_path}".strip()
    return BuildError(tag, failed.name if failed else None, step_tail, detail)


def _result(
    client: DockerClient,
    tag: str,
    reader: Reader,
    state: progress.Progress,
    seconds: float,
    platforms: list[str] | None,
    cache: bool,
    target: str | None,
    load: bool,
) -> BuildResult:
    log: BuildLog = reader.log()
    image_id = None
    if load:
        try:
            image_id = client.image.inspect(tag).id
        except DockerException:
            image_id = None
    return BuildResult(
        tag=tag,
        image_id=image_id,
        platforms=platforms or [engine.host_platform()],
        seconds=round(seconds, 3),
        context_bytes=log.context_bytes,
        steps=log.steps,
        cache=cache,
        target=target,
        log_path=str(state.log_path) if state.log_path else None,
    )


def _renderer(show: Show) -> progress.Renderer | None:
    if show is None:
        return None
    if show is say:
        return progress.auto()
    if isinstance(show, str):
        if show == "log":
            return progress.RawLog(say)
        raise ValueError(f"show={show!r}: use None, 'log', a printer or a progress.Renderer")
    if all(hasattr(show, m) for m in ("start", "update", "finish", "note", "raw")):
        return cast(progress.Renderer, show)
    return progress.Summary(cast(Printer, show))


@functools.cache
def _offline() -> bool:
    # The probe takes up to 4 s; a process asks once.
    return not engine.registry_reachable()


@functools.cache
def _buildkit_version() -> str | None:
    try:
        nodes = engine.client().buildx.inspect().nodes or []
    except (DockerException, ValueError):
        return None
    v = next((n.version for n in nodes if n.version), None)
    if v and not v.startswith("v0.0.0"):
        return f"BuildKit {v}"
    # Distribution builds of the engine (Debian's docker.io) report v0.0.0+unknown: name the engine instead.
    try:
        server = engine.client().version().server
        return f"the one built into engine {server.version}" if server and server.version else None
    except (DockerException, AttributeError):
        return None


def _offline_dockerfile(
    context: str | Path, dockerfile: str | Path | None, show: Printer | None
) -> tuple[str | None, str | None]:
    """The Dockerfile to build from, and a temporary directory to remove after the build (or None).

    `# syntax=` makes BuildKit pull that frontend image first, so offline every
    build would fail; the engine's built-in frontend does what the course needs.
    The copy lives outside the context, so the context the build sends is unchanged.
    """
    file = str(dockerfile) if dockerfile else None
    path = Path(dockerfile) if dockerfile else Path(context) / "Dockerfile"
    # Podman (buildah) treats `# syntax=` as a comment already.
    if file == "-" or engine.engine_command() == "podman":
        return file, None
    try:
        text, value = dockerfile_syntax.without_syntax(dockerfile_syntax.read(path))
    except OSError:
        return file, None  # no such local file: the build itself says so
    if value is None or not _offline():
        return file, None
    tmp = tempfile.mkdtemp(prefix="layerlab-dockerfile-")
    try:
        new_path = dockerfile_syntax.write_copy(path, text, Path(tmp))
        if show:
            version = _buildkit_version()
            show(
                f"offline: `# syntax={value}` ignored; using the engine's built-in Dockerfile frontend "
                f"({version or 'version unknown'})"
            )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return str(new_path), tmp


def _short(e: DockerException) -> str:
    text = error_text(e).strip().splitlines()
    return "\n".join(text[-3:])


def stop_clients(tag: str) -> None:
    """Stop the `docker buildx build` clients building `tag`; BuildKit cancels a build whose client left."""
    stop_processes(tag.encode(), b"build")


def stop_processes(*words: bytes) -> None:
    """SIGTERM this user's processes whose arguments include every one of `words` (whole arguments)."""
    me = os.getuid()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if proc.stat().st_uid != me:
                continue
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(w in cmd for w in words):
            try:
                os.kill(int(proc.name), signal.SIGTERM)
            except OSError:
                pass
