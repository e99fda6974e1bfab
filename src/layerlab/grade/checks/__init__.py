"""The check library: one unit (file) per `check:` kind of course.yml, or per small family.

A unit holds the kind's model (what course.yml may say, see `spec`), what
`layerlab record` measures on the solution for it (its own fixture section) and
its judgement (see `base`). Every module of this package is imported here, so
adding a check is one file plus its use in course.yml: its model registers in
`spec` when defined, its judgement and recording in `base.REGISTRY` and
`base.RECORDERS`.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import RECORDERS, REGISTRY, Context, Failed, NotRun, RecordError, check, records, run_check
from .spec import CheckBase

for _unit in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_unit.name}")

__all__ = [
    "RECORDERS",
    "REGISTRY",
    "CheckBase",
    "Context",
    "Failed",
    "NotRun",
    "RecordError",
    "check",
    "records",
    "run_check",
]
