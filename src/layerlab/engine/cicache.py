"""A fresh CI runner, simulated on a warm shared engine: lesson 09's cache experiment.

A CI runner starts with an empty build cache; this engine is warm and shared
with other users. So the experiment's Dockerfile starts each stage with a RUN
that names the CI run (`ci-run local` in the file); `runner_dockerfile` writes
a copy with a fresh id there, so none of its steps can match a cache record
made before, and `forget` deletes exactly the records that descend from those
steps (`docker buildx prune --all --filter id=...`, one record at a time; `--all` only lets it
remove a record whose snapshot is shared, the filter still names that one record): what the
run itself built, never the base images' records or anyone else's. A build
after `forget` finds nothing locally, as on a fresh runner, and gets its
cache only from what it imports (`--cache-from`).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from layerlab import engine
from layerlab.engine import replay
from layerlab.engine.result import Replayable

MARK = '"ci-run local"'


def new_run_id() -> str:
    return "r" + uuid.uuid4().hex[:10]


def runner_dockerfile(dockerfile: Path, run_id: str, dest: Path) -> Path:
    """A copy of `dockerfile` whose steps are this run's own (the `ci-run` marker carries `run_id`)."""
    text = dockerfile.read_text(encoding="utf-8")
    if MARK not in text:
        raise ValueError(f"{dockerfile} has no `{MARK}` marker in a RUN: its cache records could not be told apart")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text.replace(MARK, f'"ci-run {run_id}"'), encoding="utf-8")
    return dest


@dataclass
class Record:
    id: str
    parents: list[str]
    description: str
    size: str = ""


def _cli(*args: str, timeout: float = 120) -> str:
    r = subprocess.run([engine.engine_command(), *args], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed: {r.stderr.strip()[-300:]}")
    return r.stdout


def parse_du(text: str) -> list[Record]:
    """`docker buildx du --verbose`: one block of `Key: value` lines per cache record.

    buildx up to 0.20 prints a record's parents on one line (`Parent: a,b`); later ones print the
    `--format pretty` template, where `Parents:` is followed by one `- id` line per parent."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        parents: list[str] = []
        key = ""
        for line in block.splitlines():
            item = re.match(r"^\s*-\s+(\S+)\s*$", line)
            if item and key in ("Parent", "Parents"):
                parents.append(item.group(1))
                continue
            kv = re.match(r"^([A-Za-z ]+):\s*(.*)$", line)
            if kv:
                key = kv.group(1).strip()
                fields[key] = kv.group(2).strip()
                if key in ("Parent", "Parents"):
                    parents += [p.strip() for p in kv.group(2).split(",") if p.strip()]
        if "ID" not in fields:
            continue
        out.append(Record(fields["ID"].rstrip("*"), parents, fields.get("Description", ""), fields.get("Size", "")))
    return out


def parse_du_json(text: str) -> list[Record]:
    """`docker buildx du --format json` (buildx 0.21 and later): a list, or one object per line."""
    text = text.strip()
    if not text:
        return []
    try:
        data = json.loads(text)
        items = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        items = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [
        Record(
            str(d["ID"]),
            [str(p) for p in (d.get("Parents") or ([d["Parent"]] if d.get("Parent") else []))],
            str(d.get("Description") or ""),
            str(d.get("Size") or ""),
        )
        for d in items
        if isinstance(d, dict) and "ID" in d
    ]


def cache_records() -> list[Record]:
    """Every cache record of the current builder, by the most structured answer this buildx gives."""
    try:
        return parse_du_json(_cli("buildx", "du", "--format", "json"))
    except (RuntimeError, json.JSONDecodeError):
        # Before 0.21 buildx has no --format: the verbose text is all there is.
        return parse_du(_cli("buildx", "du", "--verbose"))


def own_records(run_id: str, records: list[Record] | None = None) -> list[Record]:
    """The records this run made: the marked steps and every record below them, children first."""
    records = cache_records() if records is None else records
    mine = [r for r in records if f"ci-run {run_id}" in r.description]
    ids = {r.id for r in mine}
    grew = True
    while grew:
        grew = False
        for r in records:
            if r.id not in ids and any(p in ids for p in r.parents):
                mine.append(r)
                ids.add(r.id)
                grew = True
    return list(reversed(mine))  # descendants were appended last: remove them first


class Forgotten(Replayable):
    run_id: str
    removed: list[str] = Field(default_factory=list)  # descriptions of the records removed
    left: int = 0  # own records still there afterwards (0 unless one was in use)


def _forget_live(run_id: str, images: Sequence[str] = ()) -> Forgotten:
    """Delete this run's cache records (only these) and its own `images`: a fresh runner holds neither.

    The images go first: with the containerd store their layers would otherwise stay in the
    content store, and a "fresh" build would find them there instead of downloading them.
    """
    client = engine.require()
    for tag in images:
        if client.image.exists(tag):
            client.image.remove(tag, force=True)
    out = Forgotten(run_id=run_id)
    # A record the engine still holds for a moment (a lease of the build that just ended) is not
    # pruned on the first pass; a few passes a second apart get it.
    for attempt in range(5):
        left = own_records(run_id)
        if not left:
            break
        if attempt:
            time.sleep(1.0)
        for r in left:
            # --all: a record whose snapshot is shared (the cache export still references it) is kept without it.
            _cli("buildx", "prune", "--force", "--all", "--filter", f"id={r.id}")
            if r.description[:90] not in out.removed:
                out.removed.append(r.description[:90])
    out.left = len(own_records(run_id))
    return out


forget = replay.replayable("cicache", lambda run_id, images=(): "forget", Forgotten)(_forget_live)
