"""Which build failures are the engine's known intermittent errors, worth one more try.

On the containerd image store, BuildKit sometimes loses a snapshot or blob while it
exports the finished image: containerd's garbage collector removes a parent snapshot
that a concurrent export still unpacks onto (containerd/containerd#10835, fixed upstream
in #10723 but still seen with BuildKit 0.13 and Docker 29: moby/buildkit#6521,
ddev/ddev#8136). Every Dockerfile step has succeeded by then; the same build passes
when run again. A fresh-machine `make course` stopped in lesson 03 on it.

Only the export phase counts. A learner's `COPY missing.txt` also ends in "not found"
(`failed to compute cache key: ... "/missing.txt": not found`), and a RUN's error line
quotes the learner's own command, which may say anything: both fail at a Dockerfile
step, never at the export vertex, so neither is ever classified here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .buildlog import BuildLog, Step

# The vertex that writes the built image into the engine's store and unpacks it
# ("naming to ...", "unpacking to ..."): `--load` on the docker driver says "image",
# the docker-container driver "docker image format", an OCI export "oci image format".
_EXPORT = re.compile(r"^exporting to (?:image|docker image format|oci image format)$")


@dataclass(frozen=True)
class Pattern:
    name: str  # what the learner is told happened
    regex: re.Pattern[str]
    why: str  # why it is the engine's, not the Dockerfile's
    after_naming: bool = False  # only once the export has named the image


PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        "failed to prepare extraction snapshot",
        re.compile(r"failed to prepare extraction snapshot"),
        "containerd's unpacker could not create the snapshot of a layer it unpacks into the store: "
        "the snapshot-GC race of containerd#10835 / moby/buildkit#6521",
    ),
    Pattern(
        "parent snapshot does not exist",
        re.compile(r"parent snapshot \S+ does not exist"),
        "the same race worded without its prefix: the layer below the one being unpacked was collected meanwhile",
    ),
    Pattern(
        "not found after naming the image",
        re.compile(r"(?:^|: )not found$"),
        "BuildKit 0.13 on the containerd store loses a content blob between naming and unpacking "
        "(seen here with large CUDA layers while other builds ran); a path a Dockerfile names is "
        "looked up at its COPY step, not here",
        after_naming=True,
    ),
)


@dataclass(frozen=True)
class EngineRace:
    """A failure classified as the engine's known intermittent error."""

    pattern: Pattern
    step: str  # the export vertex's name
    error: str  # BuildKit's error line at that vertex

    def line(self, tag: str) -> str:
        """The one line printed before the build is retried."""
        return (
            f"{tag}: the engine failed at `{self.step}` ({self.pattern.name}), a known intermittent "
            "error of the containerd image store (moby/buildkit#6521), not a fault in the Dockerfile; "
            "building again once"
        )


def classify(log: BuildLog) -> EngineRace | None:
    """The known engine race this failed build hit, or None for any other failure (raised as before).

    Judged on the vertex that failed: it must be the image export, and its error one of `PATTERNS`.
    """
    failed = log.failed()
    if failed is None or failed.error is None or not _EXPORT.match(failed.name.strip()):
        return None
    error = failed.error.strip()
    for p in PATTERNS:
        if p.regex.search(error) and (not p.after_naming or _named(failed)):
            return EngineRace(p, failed.name.strip(), error)
    return None


def _named(step: Step) -> bool:
    return any(line.startswith("naming to ") for line in step.log)
