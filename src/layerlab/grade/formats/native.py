"""layerlab's own JSON: the `Report` model as it is (`Report.model_validate_json` reads it back)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import Context, fmt

if TYPE_CHECKING:
    from layerlab.grade.report import Report


@fmt("json", "layerlab's own report, as JSON (same as --json)", order=1)
def render(report: Report, ctx: Context) -> str:
    return report.to_json() + "\n"
