"""Record real results, and replay them where no engine is reachable.

Modes (environment):
- LAYERLAB_RECORD=1: call the engine and store each result under replays/.
- LAYERLAB_REPLAY=1: never call the engine; return the stored result.
- neither: call the engine; if none answers, fall back to the stored result.

A replayed result carries `replayed = {engine, recorded_at, platform}` and
says so when shown, so a reader on Binder still sees real numbers and knows
where they came from.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

from layerlab import engine
from layerlab.engine.result import Replayable
from layerlab.ground import settings
from layerlab.ground.errors import LayerlabError, Unavailable

P = ParamSpec("P")
R = TypeVar("R", bound=Replayable)


class NoRecording(LayerlabError, LookupError):
    pass


def mode() -> settings.ReplayMode:
    return settings.replay_mode()


RUN_ID = re.compile(r"\br[0-9a-f]{10}\b")


def stable(key: str) -> str:
    """A key without the run ids (`r` + 10 hex digits, `cicache.new_run_id`) that name a lesson run's own
    repositories and cache records, so a replay finds the recording of another run."""
    return RUN_ID.sub("RUN", key)


def _slug(key: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "_", key).strip("_")[:80]
    return f"{clean}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def path_for(kind: str, key: str) -> Path:
    # gzip: inspect results carry whole file lists; compressed they stay small in git.
    # Asked on every call (LAYERLAB_REPLAY_DIR), as every setting is: a test or a CLI flag may move it after import.
    return settings.replay_dir() / kind / f"{_slug(key)}.json.gz"


def engine_label() -> str:
    try:
        v = engine.client().version()
        return engine.engine_label(engine.engine_name(engine.engine_command()), v.server.version if v.server else None)
    except Exception:  # noqa: BLE001 - a label, never a failure
        return "unknown engine"


def save(kind: str, key: str, result: Replayable) -> Path:
    p = path_for(kind, key)
    p.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        # A result that was not made by the container engine (a VM boot) names its own maker.
        "engine": result.replay_label() if hasattr(result, "replay_label") else engine_label(),
        "platform": engine.host_platform(),
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    data = result.model_dump(mode="json", exclude={"replayed"})
    # The envelope's keys are written in a fixed order; the result's keep their own, since some are an order
    # (a manifest's layers, bottom to top) and sorting them recorded a different image than the one measured.
    text = json.dumps({"kind": kind, "key": key, "meta": meta, "result": data}, indent=1) + "\n"
    with open(p, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
        gz.write(text.encode())
    return p


def load(kind: str, key: str, cls: type[R]) -> R:
    p = path_for(kind, key)
    if not p.exists():
        raise NoRecording(
            f"no recorded run of {kind} {key!r} (looked for {p}); run it once with an engine and LAYERLAB_RECORD=1"
        )
    stored = json.loads(gzip.decompress(p.read_bytes()))
    result = cls.model_validate(stored["result"])
    result.replayed = stored["meta"]
    print(
        f"[replayed from a recorded run: {stored['meta']['engine']} on {stored['meta']['platform']}, {stored['meta']['recorded_at']}]",
        flush=True,
    )
    return result


_seen: dict[tuple[str, str], int] = {}
# The models recorded under each kind (a folder of replays/), so a test can load every recording.
MODELS: dict[str, list[type[Replayable]]] = {}


def replayable(
    kind: str, key: Callable[..., str], cls: type[R], *, sequence: bool = True
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Wrap a function that returns a `Replayable` model so it records and replays; the wrapped
    function keeps its signature (`key` takes the same arguments and names the recording).

    `sequence=False` is for a fact that does not change between calls (the engine's platforms): every
    call records and replays the one recording, whoever asked first."""
    if cls not in MODELS.setdefault(kind, []):
        MODELS[kind].append(cls)

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            # The n-th call with the same key in this process replays the n-th recording:
            # a lesson that rebuilds one tag after an edit gets each build back in order.
            base = key(*args, **kwargs)
            _seen[(kind, base)] = _seen.get((kind, base), 0) + 1 if sequence else 1
            k = f"{base}#{_seen[(kind, base)]}"
            m = mode()
            if m == "replay":
                return load(kind, k, cls)
            try:
                result = fn(*args, **kwargs)
            except Unavailable:  # no engine, no qemu: what was recorded, where it was
                if path_for(kind, k).exists():
                    return load(kind, k, cls)
                raise
            if m == "record":
                save(kind, k, result)
            return result

        return inner

    return wrap
