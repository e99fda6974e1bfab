"""`hadolint`: no finding at or above a level."""

from __future__ import annotations

import json
import subprocess
from typing import Literal

from pydantic import Field

from .base import Context, Failed, NotRun, check
from .spec import CheckBase


class Hadolint(CheckBase):
    check: Literal["hadolint"]
    fail_on: Literal["error", "warning"] = Field(default="error", description="the lowest level that fails the check")


@check(Hadolint)
def hadolint(ctx: Context, spec: Hadolint) -> str:
    from layerlab.measure import lint

    try:
        report = lint.hadolint([ctx.folder / ctx.exercise.dockerfile])
    except lint.LintUnavailable as e:
        raise NotRun(str(e)) from None
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
        raise NotRun(f"hadolint did not answer: {e}") from None
    bad = report.at_least(spec.fail_on)
    others = len(report.findings) - len(bad)
    if bad:
        lines = "\n".join(f"line {f.line}: {f.code} {f.message}" for f in bad[:5])
        raise Failed(
            f"{len(bad)} {spec.fail_on}-level finding(s):\n{lines}",
            "fix the lines hadolint names; each code is explained on hadolint's wiki",
        )
    return f"no {spec.fail_on}-level findings ({others} lower-level)"
