"""CUDA images, measured: the base/runtime/devel images, what a program links,
which GPU code a binary carries, CUDA libraries shipped twice, driver rules.

Everything here reads a real image or a real container; the results are
typed, serialise to JSON and replay where no engine answers (lesson 06).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from layerlab import engine
from layerlab.engine import bootstrap, catalogue, containers, images, replay
from layerlab.engine.result import Replayable, Result
from layerlab.ground.errors import NotFound

if TYPE_CHECKING:
    from layerlab.measure import inspector

BASE, RUNTIME, DEVEL = (b.ref for b in catalogue.CUDA_IMAGES)
FLAVOURS = {"base": BASE, "runtime": RUNTIME, "devel": DEVEL}


# --- the images -------------------------------------------------------------


class CudaImage(Result):
    standin: bool
    id: str
    size_bytes: int
    recipe: str | None


class CudaImages(Replayable):
    online: bool
    images: dict[str, CudaImage]  # by ref
    built: list[str] = Field(default_factory=list)  # what this call had to build or pull
    seconds: float = 0.0

    def table(self) -> str:
        lines = []
        # In CUDA_IMAGES order: a recording stores the dict with sorted keys.
        for ref, f in sorted(self.images.items(), key=lambda kv: [b.ref for b in catalogue.CUDA_IMAGES].index(kv[0])):
            kind = "stand-in (Debian trixie non-free CUDA 12.4)" if f.standin else "official"
            lines.append(f"{ref:<42} {kind}")
        if self.built:
            lines.append(f"built or pulled now: {', '.join(self.built)} in {self.seconds:.0f} s")
        else:
            lines.append("all present: nothing built")
        return "\n".join(lines)


def _ensure_live(say: Callable[[str], None] = print) -> CudaImages:
    engine.require()
    start = time.perf_counter()
    p = bootstrap.current_plan(platforms=("linux/amd64",), needs=("cuda",), only_extras=True)
    if p.work:
        say(
            f"the CUDA images are missing ({'pulling' if p.online else 'building offline stand-ins'}; "
            "a few minutes the first time)"
        )
        bootstrap.run(p, say=say, needs=("cuda",), only_extras=True)
    found = {}
    for b in catalogue.CUDA_IMAGES:
        f = images.facts(b.ref, verify=False)
        if f is None:
            raise RuntimeError(f"{b.ref} is still missing after bootstrap: run `layerlab bootstrap 06`")
        found[b.ref] = CudaImage(standin=f.standin, id=f.id, size_bytes=f.size_bytes or 0, recipe=f.recipe)
    return CudaImages(
        online=p.online,
        images=found,
        built=[s.ref for s in p.work if s.action != "debootstrap"],
        seconds=round(time.perf_counter() - start, 1),
    )


ensure_images = replay.replayable("cuda", lambda say=print: "images", CudaImages)(_ensure_live)


EXCLUDED_LIST = "/usr/share/doc/nvidia-cuda-dev/layerlab-excluded.txt"
LEFT_OUT = "/usr/share/doc/layerlab-standin/left-out.txt"


def standin_left_out(ref: str, *, module: str | None) -> list[str]:
    """What a CUDA stand-in says it leaves out of the official image, one entry per flavour up to `ref`
    (continuation lines joined); empty for an official image, which has no such file."""
    r = containers.run(ref, ["sh", "-c", f"cat {LEFT_OUT} 2>/dev/null || true"], module=module)
    entries: list[str] = []
    for line in r.output.splitlines():
        if line.startswith(" ") and entries:
            entries[-1] += " " + line.strip()
        elif line.strip():
            entries.append(line.strip())
    return entries


def static_left_out(ref: str, *, module: str | None) -> dict[str, int]:
    """The static archives the devel stand-in did not unpack: path -> bytes, as the package lists them."""
    r = containers.run(ref, ["cat", EXCLUDED_LIST], module=module)
    out = {}
    for line in r.output.splitlines():
        size, _, path = line.strip().partition(" ")
        if size.isdigit() and path:
            out[path] = int(size)
    return out


# --- what a program loads ------------------------------------------------------


@dataclass
class Ldd:
    image: str
    program: str
    libraries: dict[str, str | None]  # soname -> where it resolved, None: not found
    output: str

    @property
    def missing(self) -> list[str]:
        return sorted(k for k, v in self.libraries.items() if v is None)

    @property
    def resolved(self) -> bool:
        return bool(self.libraries) and not self.missing


def parse_ldd(text: str) -> dict[str, str | None]:
    """`ldd` lines -> soname: path (None for 'not found'); the vdso and the loader are left out."""
    libs: dict[str, str | None] = {}
    for line in text.splitlines():
        line = line.strip()
        if "=>" not in line:
            continue
        name, _, where = (part.strip() for part in line.partition("=>"))
        if where.startswith("not found"):
            libs[name] = None
        else:
            libs[name] = where.split(" (")[0].strip() or None
    return libs


def ldd(image: str, program: str, *, module: str | None) -> Ldd:
    """Ask the image's own loader which libraries `program` needs and where it finds them."""
    r = containers.run(image, ["ldd", program], module=module)
    return Ldd(image=image, program=program, libraries=parse_ldd(r.output), output=r.output)


# --- which GPUs a binary has code for ---------------------------------------------


@dataclass
class GpuCode:
    sass: list[str]  # sm_XX: machine code for one GPU generation
    ptx: list[str]  # compute_XX / sm_XX: PTX the driver can compile for newer GPUs
    elf_output: str
    ptx_output: str

    def runs_on(self, sm: int) -> str:
        """How a GPU of compute capability sm (e.g. 90) would run this binary."""
        same_major = [int(a[3:]) for a in self.sass if int(a[3:]) // 10 == sm // 10 and int(a[3:]) <= sm]
        if same_major:
            return f"SASS sm_{max(same_major)}"
        older_ptx = [int(re.sub(r"\D", "", p)) for p in self.ptx if int(re.sub(r"\D", "", p)) <= sm]
        if older_ptx:
            return f"PTX compute_{max(older_ptx)}, compiled by the driver at load time"
        return "no code: cudaErrorNoKernelImageForDevice"


def _archs(text: str, suffix: str) -> list[str]:
    found = re.findall(r"\.(sm_\d+|compute_\d+)\." + suffix, text)
    return sorted(set(found), key=lambda a: int(re.sub(r"\D", "", a)))


def gpu_code(image: str, program: str, *, module: str | None) -> GpuCode:
    """`cuobjdump --list-elf/--list-ptx` in an image that has cuobjdump (the devel one)."""
    elf = containers.run(image, ["cuobjdump", "--list-elf", program], module=module).output
    ptx = containers.run(image, ["cuobjdump", "--list-ptx", program], module=module).output
    return GpuCode(
        sass=_archs(elf, "cubin"),
        ptx=[a.replace("sm_", "compute_") for a in _archs(ptx, "ptx")],
        elf_output=elf,
        ptx_output=ptx,
    )


# --- can a container get a GPU here ------------------------------------------------


class GpuAccess(Replayable):
    can: bool
    why: str
    via: Literal["runtime", "cdi"] | None = None  # "runtime": --gpus all; "cdi": --device nvidia.com/gpu=all

    def run_options(self) -> dict:
        """The device request for containers.run that this engine understands."""
        if self.via == "cdi":
            return {"devices": ["nvidia.com/gpu=all"]}
        return {"gpus": "all"}


def _gpu_access_live() -> GpuAccess:
    f = engine.probe()
    if not f.reachable:
        raise engine.EngineUnavailable(f.error or "no engine")
    can, why = engine.gpu_verdict(f)
    # An engine with CDI specs and no NVIDIA runtime rejects --gpus; it takes the CDI device name.
    via: Literal["runtime", "cdi"] | None = (
        "runtime" if any("nvidia" in r for r in f.runtimes) else ("cdi" if f.cdi_specs else None)
    )
    return GpuAccess(can=can, why=why, via=via)


gpu_access = replay.replayable("cuda", lambda: "gpu-access", GpuAccess)(_gpu_access_live)
"""The doctor's `gpu` line: can this engine give a container a GPU (NVIDIA runtime or CDI), and why (not)."""


# --- the driver rule ------------------------------------------------------------

# Reference data, not measured: the newest CUDA each Linux driver branch
# supports, from NVIDIA's CUDA Compatibility guide
# (https://docs.nvidia.com/deploy/cuda-compatibility/) and the CUDA Toolkit
# release notes' driver table. Only the host's own row is measured.
COMPAT_SOURCE = "https://docs.nvidia.com/deploy/cuda-compatibility/"
DRIVER_CUDA = {"470": "11.4", "525": "12.0", "535": "12.2", "545": "12.3", "550": "12.4", "570": "12.8"}
# Minor-version compatibility: a CUDA 12.x runtime on any driver from this one on (CUDA Compatibility guide).
MINOR_COMPAT_DRIVER = "525.60.13"


# --- the container toolkit's check: NVIDIA_REQUIRE_CUDA -----------------------------------------


@dataclass(frozen=True)
class Driver:
    """A host driver as the container toolkit sees it: its version, the CUDA version it supports, the GPU's brand."""

    version: str  # "535.183.01" or a branch, "535"
    cuda: str  # "12.2"
    brand: str = "tesla"  # datacenter GPUs; "geforce", "nvidiartx", ... for the others


def _vt(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text))


def _holds(condition: str, d: Driver) -> bool:
    m = re.fullmatch(r"(cuda|driver|brand|arch)(>=|<=|!=|=|<|>)(.+)", condition.strip())
    if not m:
        raise ValueError(f"not a toolkit condition: {condition!r}")
    key, op, want = m.groups()
    if key == "brand":
        return (d.brand == want) == (op == "=")
    if key == "arch":
        return True  # the GPU's compute capability: not modelled, no image of the course sets it
    have = _vt(d.cuda if key == "cuda" else d.version)
    w = _vt(want)
    width = max(len(have), len(w))
    a, b = have + (0,) * (width - len(have)), w + (0,) * (width - len(w))
    if op in ("<", ">"):  # "driver<471": compare on the requirement's own precision (470.x < 471)
        a = a[: len(w)]
        b = w
    return {">=": a >= b, "<=": a <= b, "=": a == b, "!=": a != b, "<": a < b, ">": a > b}[op]


def require_accepts(require: str, d: Driver, disable_require: bool = False) -> bool:
    """The NVIDIA container toolkit's check of an image's NVIDIA_REQUIRE_CUDA against a host driver:
    space-separated alternatives are ORed, comma-joined conditions ANDed; NVIDIA_DISABLE_REQUIRE skips it."""
    if disable_require or not require.strip():
        return True
    return any(all(_holds(c, d) for c in alt.split(",")) for alt in require.split())


def require_error(require: str, d: Driver) -> str | None:
    """What `docker run --gpus` prints when the check fails (None when it passes)."""
    if require_accepts(require, d):
        return None
    first = require.split()[0]
    return (
        f"nvidia-container-cli: requirement error: unsatisfied condition: {first}, please update your driver "
        "to a newer version, or use an earlier cuda container"
    )


def parse_versions(output: str) -> tuple[str | None, str | None]:
    """The SAXPY program's 'CUDA runtime X.Y, driver supports CUDA A.B' line: (runtime, driver or None)."""
    m = re.search(r"CUDA runtime (\d+\.\d+), driver supports CUDA (\d+\.\d+)", output)
    if not m:
        return None, None
    return m.group(1), (None if m.group(2) == "0.0" else m.group(2))


def _v(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def verdict(image_cuda: str, driver_cuda: str | None) -> str:
    """Can a driver that supports `driver_cuda` run an image built for `image_cuda`?"""
    if driver_cuda is None:
        return "no: no driver (cudaGetDeviceCount fails)"
    if _v(driver_cuda) >= _v(image_cuda):
        return "yes: the driver is as new or newer"
    if _v(driver_cuda)[0] == _v(image_cuda)[0]:
        return "yes, minor-version compatibility (PTX newer than the driver will not JIT)"
    return "no, unless the image carries NVIDIA's forward-compatibility package (cuda-compat, datacenter GPUs)"


def min_driver(image_cuda: str, minor_compat: bool = False) -> str:
    """The oldest driver branch in DRIVER_CUDA that runs a CUDA `image_cuda` image (same rule as `verdict`)."""
    ok = [
        d for d, c in DRIVER_CUDA.items() if _v(c) >= _v(image_cuda) or (minor_compat and _v(c)[0] == _v(image_cuda)[0])
    ]
    return min(ok, key=int)


def compat_table(image_cuda: str, host_driver_cuda: str | None) -> list[dict]:
    rows = [
        {"driver": f"{d}.x", "supports CUDA": c, "runs a CUDA " + image_cuda + " image": verdict(image_cuda, c)}
        for d, c in DRIVER_CUDA.items()
    ]
    rows.append(
        {
            "driver": "this machine (measured)",
            "supports CUDA": host_driver_cuda or "none",
            "runs a CUDA " + image_cuda + " image": verdict(image_cuda, host_driver_cuda),
        }
    )
    return rows


# --- CUDA libraries shipped twice ---------------------------------------------

_SONAME = re.compile(r"^(lib[A-Za-z0-9_+-]+\.so\.\d+)")
# The CUDA libraries by name: a bare `libcu`/`libnv` prefix would also take libcurl and libcups.
CUDA_LIBS = (
    "cudart",
    "cublas",
    "cublasLt",
    "cufft",
    "cufftw",
    "curand",
    "cusolver",
    "cusolverMg",
    "cusparse",
    "cusparseLt",
    "cudnn",
    "nccl",
    "nvrtc",
    "nvrtc-builtins",
    "nvJitLink",
    "nvToolsExt",
    "cupti",
    "npp",
    "nvjpeg",
    "cufile",
    "nvblas",
)
CUDA_LIB = re.compile(r"^lib(" + "|".join(map(re.escape, CUDA_LIBS)) + r")([._]|[a-z]*\.so)")


def soname(path: str) -> str | None:
    m = _SONAME.match(PurePosixPath(path).name)
    return m.group(1) if m and CUDA_LIB.match(m.group(1)) else None


class Duplicates(Result):
    ref: str
    system: dict[str, int]  # soname -> bytes, from the image's own lib directories
    wheels: dict[str, int]  # soname -> bytes, under site-packages/nvidia
    twice: dict[str, int]  # soname -> bytes of the wheel copy, for sonames in both

    @property
    def duplicated_bytes(self) -> int:
        return sum(self.twice.values())


def duplicates(report: inspector.ImageReport) -> Duplicates:
    """Same CUDA library soname under the image's lib directories and under a pip wheel's."""
    system: dict[str, int] = {}
    wheels: dict[str, int] = {}
    for path, size in report.files.items():
        name = soname(path)
        if not name:
            continue
        where = wheels if "-packages/nvidia/" in path else system
        where[name] = max(where.get(name, 0), size)
    twice = {k: wheels[k] for k in sorted(set(system) & set(wheels))}
    return Duplicates(ref=report.ref, system=system, wheels=wheels, twice=twice)


# --- the wheel set a CUDA build of torch pulls (package index metadata) ------------


class Wheel(Result):
    version: str
    bytes: int  # download size of the manylinux x86_64 wheel


class WheelSet(Replayable):
    requirer: str
    wheels: dict[str, Wheel]  # by name
    source: str

    @property
    def total_bytes(self) -> int:
        return sum(w.bytes for w in self.wheels.values())


SIMPLE = "https://pypi.org/simple"
_JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def _get(url: str, headers: dict | None = None) -> bytes:
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - the package index, over https
        return r.read()


def _x86_64_wheel(name: str, version: str) -> dict:
    """The index's entry (PEP 691 JSON, PEP 700 size) of the cp313 / py3 manylinux x86_64 wheel of name==version."""
    files = json.loads(_get(f"{SIMPLE}/{name}/", _JSON))["files"]
    norm = name.replace("-", "_")
    wheels = [
        f
        for f in files
        if f["filename"].startswith(f"{norm}-{version}-")
        and f["filename"].endswith(".whl")
        and "manylinux" in f["filename"]
        and "x86_64" in f["filename"]
    ]
    py313 = [f for f in wheels if "-cp313-cp313-" in f["filename"]]
    if not (py313 or wheels):
        raise NotFound(f"no manylinux x86_64 wheel of {name}=={version} on the index")
    return max(py313 or wheels, key=lambda f: f["size"])


def _torch_cuda_wheels_live(version: str = "2.6.0") -> WheelSet:
    torch = _x86_64_wheel("torch", version)
    # PEP 658: the wheel's METADATA is served beside it, so the pins are read without the 770 MB download.
    metadata = _get(torch["url"] + ".metadata").decode()
    wheels = {}
    for m in re.finditer(r"^Requires-Dist: (nvidia-[a-z0-9-]+) \(==([^)]+)\) ?;(.*)$", metadata, flags=re.M):
        name, pin, marker = m.groups()
        if "x86_64" in marker and "Linux" in marker:
            wheels[name] = Wheel(version=pin, bytes=_x86_64_wheel(name, pin)["size"])
    return WheelSet(
        requirer=f"torch=={version} ({torch['filename']}, {torch['size']} bytes itself)",
        wheels=wheels,
        source="PyPI simple index (PEP 691/700 sizes) and the torch wheel's PEP 658 metadata: no wheel downloaded",
    )


_torch_cuda_wheels = replay.replayable("pypi", lambda version="2.6.0": f"torch-{version}-cuda-wheels", WheelSet)(
    _torch_cuda_wheels_live
)


def torch_cuda_wheels(version: str = "2.6.0") -> WheelSet:
    """Download sizes of the CUDA wheels a CUDA build of torch pins, read from the index (no download)."""
    try:
        return _torch_cuda_wheels(version)
    except (urllib.error.URLError, OSError, KeyError):
        # The index is the only thing this reads; without it, the recorded answer.
        return replay.load("pypi", f"torch-{version}-cuda-wheels#1", WheelSet)
