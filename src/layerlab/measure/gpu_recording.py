"""A run on a real GPU, recorded by `scripts/cuda-gpu-bundle.sh`'s gpu-check.sh and read back.

Most machines that run the course have no GPU. The one GPU run the course can show them is a
recording: the bundle (the compiled program, its libraries out of the image, and two -gencode
variants) run on a GPU machine, its output kept word for word. This module parses that output and
says whether it still belongs to the program: the recording names the sha256 of the sources it was
built from, and `stale()` lists the ones that changed since.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from layerlab.engine.result import Result
from layerlab.ground.errors import NotFound


class RecordedRun(Result):
    title: str
    output: str
    exit_status: int

    @property
    def ok(self) -> bool:
        return self.exit_status == 0 and "max error 0: ok" in self.output


class GpuRecording(Result):
    recorded_at: str  # ISO time, UTC
    machine: str  # "NVIDIA H200, driver 580.159.04, compute capability 9.0"
    gpu: str
    driver: str
    compute_capability: str
    kernel: str
    sources: dict[str, str]  # a repository file the bundle was built from -> its sha256 at recording time
    binaries: dict[str, str]  # what ran (the bundle's files, not kept) -> its sha256
    runs: list[RecordedRun]
    libraries: list[str]  # the files the loader initialised libcudart and libcuda from

    def run(self, title_start: str) -> RecordedRun:
        for r in self.runs:
            if r.title.startswith(title_start):
                return r
        raise NotFound(
            f"no recorded run titled {title_start}...; the recording has: " + " | ".join(r.title for r in self.runs)
        )

    def stale(self, repo: Path) -> list[str]:
        """The recorded sources whose content changed since (missing ones too)."""
        return [p for p, digest in self.sources.items() if _sha256(repo / p) != digest]

    def banner(self) -> str:
        return (
            f"Recorded on {self.recorded_at[:10]} on another machine ({self.machine}) by scripts/cuda-gpu-bundle.sh, "
            "not measured here"
        )


# The bundle's own files: "<bundle>/saxpy" as gpu-check.sh names them ("build/cuda-gpu-bundle/saxpy" in the first recording).
_BUNDLE = ("<bundle>/", "build/")


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def load(path: Path) -> GpuRecording:
    text = path.read_text()
    head, *sections = re.split(r"^== ", text, flags=re.M)
    gpu, driver, cap = _csv_row(head)
    digests = {m[2]: m[1] for m in re.finditer(r"^([0-9a-f]{64})  (\S+)$", head, flags=re.M)}
    runs: list[RecordedRun] = []
    libraries: list[str] = []
    for section in sections:
        title, _, body = section.partition("\n")
        status = re.search(r"^exit status (\d+)$", body, flags=re.M)
        if status:
            runs.append(RecordedRun(title=title, output=body[: status.start()].strip(), exit_status=int(status[1])))
        else:
            libraries = [line for line in body.strip().splitlines() if line]
    return GpuRecording(
        recorded_at=_field(head, "recorded"),
        machine=f"{gpu}, driver {driver}, compute capability {cap}",
        gpu=gpu,
        driver=driver,
        compute_capability=cap,
        kernel=_field(head, "kernel"),
        sources={p: d for p, d in digests.items() if not p.startswith(_BUNDLE)},
        binaries={p: d for p, d in digests.items() if p.startswith(_BUNDLE)},
        runs=runs,
        libraries=libraries,
    )


def _field(head: str, name: str) -> str:
    m = re.search(rf"^{name}: (.+)$", head, flags=re.M)
    if not m:
        raise ValueError(f"a GPU recording without its '{name}:' line")
    return m[1].strip()


def _csv_row(head: str) -> tuple[str, str, str]:
    """nvidia-smi's `name, driver_version, compute_cap` answer: the line after its header."""
    lines = head.splitlines()
    i = lines.index("name, driver_version, compute_cap")
    gpu, driver, cap = (x.strip() for x in lines[i + 1].split(","))
    return gpu, driver, cap
