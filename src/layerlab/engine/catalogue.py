"""The course's base images: which exist, what each is, for which platforms.

Pure data, no engine: the doctor, the inspector, the grader and clean read it;
`bootstrap` makes the images it lists (pulled online, debootstrapped stand-ins offline).
This is the one place an image name is written: everything else refers to these records
(tests/test_base_image_names.py fails on a name spelled out anywhere else in src/).
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
    # The build argument a lesson Dockerfile declares for this base (`ARG PYTHON_SLIM=python:3.13-slim`,
    # `FROM ${PYTHON_SLIM}`), and which LAYERLAB_BASE_<arg> overrides; None: no lesson takes it as an argument.
    arg: str | None = None
    # Service images (the registry, redis): where an offline stand-in comes from, said while it is built.
    source: str = ""


DEBIAN_SLIM = BaseImage("debian:trixie-slim", "debian-slim.Dockerfile", None, "Debian 13 minimal", arg="DEBIAN_SLIM")
PYTHON_SLIM = BaseImage(
    "python:3.13-slim", "python-slim.Dockerfile", DEBIAN_SLIM.ref, "Python 3.13 on Debian 13, slim", arg="PYTHON_SLIM"
)
PYTHON_FULL = BaseImage(
    "python:3.13",
    "python-full.Dockerfile",
    PYTHON_SLIM.ref,
    "Python 3.13 with compilers and headers",
    arg="PYTHON_FULL",
)
BASE_IMAGES: tuple[BaseImage, ...] = (DEBIAN_SLIM, PYTHON_SLIM, PYTHON_FULL)


# Images that only some modules need (course.yml `needs`): built when such a
# module runs or `layerlab bootstrap MODULE` names it, never by a plain
# `layerlab bootstrap`, so a learner who stops before them never downloads
# gigabytes of CUDA. The tags are the official ones of one CUDA 12.x release;
# offline the stand-ins come from Debian trixie's non-free CUDA 12.4 packages.
CUDA_VERSION = "12.4.1"
CUDA_IMAGES: tuple[BaseImage, ...] = (
    BaseImage(
        f"nvidia/cuda:{CUDA_VERSION}-base-ubuntu22.04",
        "cuda-base.Dockerfile",
        DEBIAN_SLIM.ref,
        "CUDA runtime library (libcudart) and cuda-compat (the stand-in lists it as left out)",
        ("linux/amd64",),
    ),
    BaseImage(
        f"nvidia/cuda:{CUDA_VERSION}-runtime-ubuntu22.04",
        "cuda-runtime.Dockerfile",
        f"nvidia/cuda:{CUDA_VERSION}-base-ubuntu22.04",
        "base + cuBLAS math libraries",
        ("linux/amd64",),
    ),
    BaseImage(
        f"nvidia/cuda:{CUDA_VERSION}-devel-ubuntu22.04",
        "cuda-devel.Dockerfile",
        f"nvidia/cuda:{CUDA_VERSION}-runtime-ubuntu22.04",
        "runtime + nvcc, headers, static libraries",
        ("linux/amd64",),
    ),
)
EXTRA_IMAGES: dict[str, tuple[BaseImage, ...]] = {"cuda": CUDA_IMAGES}

# Services a lesson runs beside its own images (lessons 05 and 09 push to a registry, lesson 08's
# pipeline keeps a counter in redis). Made when first needed (`bootstrap.ensure_service_image`):
# pulled online, offline built for the host from a Debian package. Like the bases their stand-ins
# carry no course label, so only `clean(include_base=True)` removes them.
REGISTRY = BaseImage(
    "registry:2",
    "registry.Dockerfile",
    DEBIAN_SLIM.ref,
    "the Distribution registry from Debian's docker-registry package",
    source="Debian's docker-registry package (once, about a minute)",
)
REDIS = BaseImage(
    "redis:8",
    "redis.Dockerfile",
    DEBIAN_SLIM.ref,
    "redis from Debian's redis-server package",
    source="Debian's redis-server package (once, under a minute)",
)
SERVICE_IMAGES: tuple[BaseImage, ...] = (REGISTRY, REDIS)


def family(needs: tuple[str, ...] | list[str] = ()) -> tuple[BaseImage, ...]:
    """The base images for modules that need `needs` (course.yml): always the three, plus extras."""
    out = BASE_IMAGES
    for n in needs:
        out += EXTRA_IMAGES.get(n, ())
    return out


def base_image(ref: str) -> BaseImage:
    for b in family(tuple(EXTRA_IMAGES)) + SERVICE_IMAGES:
        if b.ref == ref:
            return b
    raise NotFound(f"{ref} is not one of the course's base images: {', '.join(b.ref for b in BASE_IMAGES)}")


def by_arg(arg: str) -> BaseImage:
    """The base a lesson Dockerfile names by build argument `arg` ("PYTHON_SLIM")."""
    for b in BASE_IMAGES:
        if b.arg == arg:
            return b
    raise NotFound(f"no base image {arg!r}; known: {', '.join(b.arg for b in BASE_IMAGES if b.arg)}")
