"""The check library: one unit (file) per `check:` kind of course.yml, or per small family.

A unit holds the kind's model (what course.yml may say), what `layerlab record`
measures on the solution for it, and its judgement (see `base`). Every module of
this package is imported here, so adding a check is one file plus its use in
course.yml: its model registers in `layerlab.course.checkspec` when defined, its
judgement and recording in `base.REGISTRY` and `base.RECORDERS`.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import RECORDERS, REGISTRY, Context, Failed, NotRun, RecordError, check, records, run_check

for _unit in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_unit.name}")

from .limits import expected_limit_lines, parse_cgroup_line  # noqa: E402 - kept where callers found them
from .size import base_name  # noqa: E402

__all__ = ["RECORDERS", "REGISTRY", "Context", "Failed", "NotRun", "RecordError", "check", "records", "run_check",
           "expected_limit_lines", "parse_cgroup_line", "base_name"]
