"""The report as a person reads it in a terminal (the default)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import Context, fmt

if TYPE_CHECKING:
    from layerlab.grade.report import Report


@fmt("text", "the report as a table, for a person (default)", order=0)
def render(report: Report, ctx: Context) -> str:
    return report.table() + "\n"
