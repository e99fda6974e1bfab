"""The course's base images: which exist, what each is, for which platforms.

Pure data, no engine: the doctor, the inspector, the grader and clean read it;
`bootstrap` makes the images it lists (pulled online, debootstrapped stand-ins offline).
"""

from __future__ import annotations

from dataclasses import dataclass

from layerlab.ground.errors import NotFound

PLATFORMS = ("linux/amd64", "linux/arm64")


@dataclass(frozen=True)
class BaseImage:
    ref: str
    dockerfile: str
    parent: str | None
    what: str
    platforms: tuple[str, ...] | None = None  # None: every platform the course teaches


BASE_IMAGES: tuple[BaseImage, ...] = (
    BaseImage("debian:trixie-slim", "debian-slim.Dockerfile", None, "Debian 13 minimal"),
    BaseImage("python:3.13-slim", "python-slim.Dockerfile", "debian:trixie-slim", "Python 3.13 on Debian 13, slim"),
    BaseImage("python:3.13", "python-full.Dockerfile", "python:3.13-slim", "Python 3.13 with compilers and headers"),
)


# Images that only some modules need (course.yml `needs`): built when such a
# module runs or `layerlab bootstrap MODULE` names it, never by a plain
# `layerlab bootstrap`, so a learner who stops before them never downloads
# gigabytes of CUDA. The tags are the official ones of one CUDA 12.x release;
# offline the stand-ins come from Debian trixie's non-free CUDA 12.4 packages.
CUDA_VERSION = "12.4.1"
CUDA_IMAGES: tuple[BaseImage, ...] = (
    BaseImage(f"nvidia/cuda:{CUDA_VERSION}-base-ubuntu22.04", "cuda-base.Dockerfile", "debian:trixie-slim",
              "CUDA runtime library (libcudart) only", ("linux/amd64",)),
    BaseImage(f"nvidia/cuda:{CUDA_VERSION}-runtime-ubuntu22.04", "cuda-runtime.Dockerfile",
              f"nvidia/cuda:{CUDA_VERSION}-base-ubuntu22.04", "base + cuBLAS math libraries", ("linux/amd64",)),
    BaseImage(f"nvidia/cuda:{CUDA_VERSION}-devel-ubuntu22.04", "cuda-devel.Dockerfile",
              f"nvidia/cuda:{CUDA_VERSION}-runtime-ubuntu22.04", "runtime + nvcc, headers, static libraries", ("linux/amd64",)),
)
EXTRA_IMAGES: dict[str, tuple[BaseImage, ...]] = {"cuda": CUDA_IMAGES}


def family(needs: tuple[str, ...] | list[str] = ()) -> tuple[BaseImage, ...]:
    """The base images for modules that need `needs` (course.yml): always the three, plus extras."""
    out = BASE_IMAGES
    for n in needs:
        out += EXTRA_IMAGES.get(n, ())
    return out


def base_image(ref: str) -> BaseImage:
    for b in family(tuple(EXTRA_IMAGES)):
        if b.ref == ref:
            return b
    raise NotFound(f"{ref} is not one of the course's base images: {', '.join(b.ref for b in BASE_IMAGES)}")
