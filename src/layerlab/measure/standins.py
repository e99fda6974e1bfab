"""How an offline stand-in differs from the official image it stands in for.

The stand-in's side is measured from the image (the inspector reads its
files); the official side is the layout the official images' Dockerfiles
make (docker-library/python builds CPython from source into /usr/local and
keeps its headers; python:3.13 is buildpack-deps with a compiler), which
cannot be measured offline. Lessons must assert relative to the base they
measured in the same run, never on either layout.
"""

from __future__ import annotations

from layerlab.engine import catalogue
from layerlab.engine.result import Result
from layerlab.measure import inspector

# What the official images hold, per reference: where Python's interpreter,
# standard library and headers are, and whether a C compiler is present.
OFFICIAL: dict[str, dict[str, str | bool | None]] = {
    catalogue.PYTHON_SLIM.ref: {
        "python": "/usr/local/bin/python3.13",
        "stdlib": "/usr/local/lib/python3.13/os.py",
        "headers": "/usr/local/include/python3.13/Python.h",
        "libpython": "/usr/local/lib/libpython3.13.so.1.0",
        "compiler": False,
    },
    catalogue.PYTHON_FULL.ref: {
        "python": "/usr/local/bin/python3.13",
        "stdlib": "/usr/local/lib/python3.13/os.py",
        "headers": "/usr/local/include/python3.13/Python.h",
        "libpython": "/usr/local/lib/libpython3.13.so.1.0",
        "compiler": True,
    },
    catalogue.DEBIAN_SLIM.ref: {"python": None, "stdlib": None, "headers": None, "libpython": None, "compiler": False},
}


class Layout(Result):
    ref: str
    standin: bool
    size_bytes: int
    files: int
    python: list[str]  # interpreter binaries (python3.13) in a bin folder
    stdlib: list[str]  # where the standard library's os.py is
    headers: list[str]  # Python.h wherever it is
    libpython: list[str]
    compiler: bool
    ca_bundle: bool


def layout(ref: str) -> Layout:
    """Measure where an image keeps Python, its headers and a compiler."""
    r = inspector.inspect(ref)
    return Layout(
        ref=ref,
        standin=r.labels.get("org.layerlab.standin") == "true",
        size_bytes=r.size_bytes,
        files=len(r.files),
        python=r.find("/usr/*bin/python3.13"),
        stdlib=r.find("*/python3.13/os.py"),
        headers=r.find("*/Python.h"),
        libpython=r.find("*/libpython3.13.so*"),
        compiler=r.has("/usr/bin/gcc") or r.has("/usr/bin/cc"),
        ca_bundle=r.has("/etc/ssl/certs/ca-certificates.crt"),
    )


def differences(ref: str) -> list[str]:
    """Each way the image `ref` differs from the official image's layout; [] when it matches."""
    here = layout(ref)
    official = OFFICIAL.get(ref)
    if official is None:
        return []
    out = []
    for key in ("python", "stdlib", "headers", "libpython"):
        want = official[key]
        found = getattr(here, key)
        if want is None:
            if found:
                out.append(f"{key}: here {', '.join(found)}; the official image has none")
        elif want not in found:
            out.append(f"{key}: here {', '.join(found) or 'absent'}; the official image has {want}")
    if here.compiler != official["compiler"]:
        out.append(
            f"compiler: here {'present' if here.compiler else 'absent'}; "
            f"the official image has {'one' if official['compiler'] else 'none'}"
        )
    if here.standin:
        out.append(
            f"size: here {here.size_bytes / 1e6:.0f} MB in {here.files} files "
            "(the official image's size is what `docker image ls` shows once it is pulled)"
        )
    return out
