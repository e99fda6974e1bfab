"""A GitHub Actions job summary: Markdown, appended to the file `$GITHUB_STEP_SUMMARY` names.

Source: GitHub's "Workflow commands for GitHub Actions", section "Adding a job
summary" (https://docs.github.com/en/actions/using-workflows/workflow-commands-for-github-actions#adding-a-job-summary):
a step appends GitHub-flavoured Markdown to the file in `GITHUB_STEP_SUMMARY`,
and the job's summaries are shown on the run's summary page. `layerlab grade
--format github-summary` appends there when the variable is set, else prints.

One line with the verdict and points, the submission's problems and notes,
then a table with a row per check: a mark, the check, its points, and what
happened. Each status has its own mark (passed, FAILED, NOT RUN), with the hint
of a failed check or why a check did not run in the last column. Flags (what
the submission changed that grading ignored) are listed above the table.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from . import Context, explain, fmt

if TYPE_CHECKING:
    from layerlab.grade.report import Report

MARKS = {"passed": "✅ passed", "failed": "❌ FAILED", "not run": "⏭️ NOT RUN"}
HEADER = ("| Result | Check | Points | What happened |", "|---|---|---:|---|")


# A build log's ANSI colour codes, and any other control character: invisible noise in Markdown.
CONTROL = re.compile("\x1b\\[[0-9;]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]")


def cell(text: str) -> str:
    """Text inside a table cell: no raw HTML, no pipe that ends the cell, line breaks as <br>."""
    text = CONTROL.sub("", text.strip())
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", "<br>")


@fmt(
    "github-summary",
    "GitHub Actions job summary (Markdown), appended to $GITHUB_STEP_SUMMARY when set",
    order=5,
    env_file="GITHUB_STEP_SUMMARY",
)
def render(report: Report, ctx: Context) -> str:
    verdict = "PASSED" if report.passed else "FAILED"
    lines = [f"### `{report.exercise}`: {verdict}, {report.points}/{report.max_points} points", ""]
    if report.problems:
        lines += [f"- **problem:** {cell(p)}" for p in report.problems] + [""]
    if report.notes:
        lines += [f"- note: {cell(n)}" for n in report.notes] + [""]
    if report.flags:
        lines += [f"- **flag:** {cell(f)}" for f in report.flags] + [""]
    if report.results:
        lines += list(HEADER)
        for r in report.results:
            name = f"`{r.check}`" + r.title[len(r.check) :]
            lines.append(f"| {MARKS[r.status]} | {name} | {r.points}/{r.max_points} | {cell(explain(r))} |")
        lines.append("")
    if report.not_run:
        lines += [
            f"{len(report.not_run)} check(s) did not run, so they were not checked: "
            + ", ".join(f"`{r.check}`" for r in report.not_run),
            "",
        ]
    if report.circumstances:
        lines += [f"<sub>{cell('; '.join(report.circumstances))}</sub>", ""]
    return "\n".join(lines)
