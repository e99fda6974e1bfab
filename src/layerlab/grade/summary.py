"""The instructor's page of a graded class (summary.html): how totals are spread, which checks the class
fails most and the hint it got most often, who could not be graded or was flagged, what a regrade changed,
and whether any grading left something behind in the engine.

One self-contained file: the distribution is an inline SVG (no image beside it to lose), every text from
a submission is escaped, and non-UTF-8 names arrive already made printable (gradebook rows, reports).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from layerlab.course.site import esc

from .gradebook import STATUSES, check_keys

if TYPE_CHECKING:
    from .batch import Batch, Graded

STYLE = """
body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;
vertical-align:top} th{background:#f3f3f3} td.n{text-align:right} .muted{color:#666}
"""


@dataclass
class CheckStats:
    key: str
    max_points: int
    passed: int
    failed: int
    not_run: int
    hint: str  # the hint failing students got most often
    hint_count: int

    @property
    def students(self) -> int:
        return self.passed + self.failed + self.not_run

    @property
    def failing_share(self) -> float:
        """Students who did not pass this check (failed or not run), of all students."""
        return (self.failed + self.not_run) / self.students if self.students else 0.0


def check_stats(graded: list[Graded]) -> list[CheckStats]:
    """Per check (by column), over every student: passed, failed, not run, and the most common hint."""
    stats: dict[str, CheckStats] = {}
    hints: dict[str, Counter[str]] = {}
    for g in graded:
        for key, r in zip(check_keys(g.report.results), g.report.results, strict=True):
            s = stats.setdefault(key, CheckStats(key, r.max_points, 0, 0, 0, "", 0))
            if r.status == "passed":
                s.passed += 1
            elif r.status == "failed":
                s.failed += 1
                hints.setdefault(key, Counter())[r.hint or "(no hint)"] += 1
            else:
                s.not_run += 1
    for key, counted in hints.items():
        # Ties go to the hint seen first in name order, so two runs of the same class say the same.
        stats[key].hint, stats[key].hint_count = min(counted.items(), key=lambda kv: (-kv[1], kv[0]))
    return list(stats.values())


def histogram(totals: list[int], max_points: int, *, width: int = 560, height: int = 280) -> str:
    """An SVG bar chart of how many students got each total, 0 to max_points: title, axes, their units."""
    counts = Counter(totals)
    most = max(counts.values(), default=0) or 1
    step = -(-most // 5)  # whole students per tick, at most 6 ticks
    top = step * -(-most // step)
    values = list(range(0, max(max_points, max(totals, default=0)) + 1))
    left, right, upper, lower = 50, 15, 35, 50
    plot_w, plot_h = width - left - right, height - upper - lower
    bar_w = plot_w / len(values)
    label_every = max(1, len(values) // 15)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
        f"aria-label='distribution of total points'>",
        f"<text x='{width / 2}' y='20' text-anchor='middle' font-weight='bold'>"
        f"Total points per student ({len(totals)} students)</text>",
        f"<line x1='{left}' y1='{upper + plot_h}' x2='{left + plot_w}' y2='{upper + plot_h}' stroke='#444'/>",
        f"<line x1='{left}' y1='{upper}' x2='{left}' y2='{upper + plot_h}' stroke='#444'/>",
    ]
    for i, v in enumerate(values):
        n = counts.get(v, 0)
        h = plot_h * n / top
        x = left + i * bar_w
        if n:
            parts.append(
                f"<rect x='{x + 1:.1f}' y='{upper + plot_h - h:.1f}' width='{max(bar_w - 2, 1):.1f}' height='{h:.1f}' "
                f"fill='#4a7ab5'><title>{v} points: {n} student(s)</title></rect>"
            )
        if i % label_every == 0:
            parts.append(
                f"<text x='{x + bar_w / 2:.1f}' y='{upper + plot_h + 16}' text-anchor='middle' font-size='12'>{v}</text>"
            )
    for tick in range(0, top + 1, step):
        y = upper + plot_h - plot_h * tick / top
        parts.append(f"<text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end' font-size='12'>{tick}</text>")
    parts += [
        f"<text x='{left + plot_w / 2}' y='{height - 10}' text-anchor='middle' font-size='13'>"
        f"total points (of {max_points})</text>",
        f"<text x='14' y='{upper + plot_h / 2}' text-anchor='middle' font-size='13' "
        f"transform='rotate(-90 14 {upper + plot_h / 2})'>students</text>",
        "</svg>",
    ]
    return "\n".join(parts)


def _table(head: list[str], rows: list[list[str]], numeric: tuple[int, ...] = ()) -> str:
    """An HTML table from already escaped cells; columns in `numeric` aligned right."""
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(f"<td class='n'>{c}</td>" if i in numeric else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{th}</tr>{body}</table>"


def render(batch: Batch, now: datetime | None = None) -> str:
    rows = batch.rows
    n = len(rows)
    max_points = max((r.max for r in rows), default=0)
    counts = Counter(r.status for r in rows)
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    title = f"{batch.exercise}: {n} students graded"
    how = f"{batch.jobs} at a time, at most {batch.timeout:g} s each, {batch.seconds:.0f} s in all"
    source = f"autograder {esc(batch.autograder)}" if batch.autograder else "this repository's course.yml and fixtures"
    body = [
        f"<h1>{esc(title)}</h1>",
        f"<p class='muted'>{when}; graded with {source}; {esc(how)}.</p>",
        "<p>" + ", ".join(f"{counts[s]} {esc(s)}" for s in STATUSES if counts[s]) + "</p>",
        "<h2>Distribution of totals</h2>",
        histogram([r.total for r in rows], max_points),
        "<h2>Checks</h2>",
        "<p>Share failing: students who did not pass the check (failed, or not run because the submission "
        "did not get that far), of all students.</p>",
        _table(
            ["check", "points", "passed", "failed", "not run", "share failing", "most common hint (failing students)"],
            [
                [
                    esc(s.key),
                    str(s.max_points),
                    str(s.passed),
                    str(s.failed),
                    str(s.not_run),
                    f"{s.failing_share:.0%}",
                    f"{esc(s.hint)} <span class='muted'>({s.hint_count} of {s.failed})</span>" if s.hint else "",
                ]
                for s in check_stats(batch.graded)
            ],
            numeric=(1, 2, 3, 4, 5),
        ),
        "<h2>Broken, timed out and flagged submissions</h2>",
        _attention(batch),
    ]
    if batch.regrade:
        body += ["<h2>Changed since the previous grading</h2>", _changes(batch)]
    body += [
        "<h2>Left in the engine</h2>",
        (
            "<p>Nothing: no container, network, volume or image carries the label of any grading of this batch.</p>"
            if not batch.left
            else "<p>Still there after the clean-up:</p><ul>"
            + "".join(f"<li>{esc(x)}</li>" for x in batch.left)
            + "</ul>"
        ),
        "<h2>Every student</h2>",
        _table(
            ["student", "status", "total", "seconds", "change"],
            [[esc(r.student), esc(r.status), f"{r.total}/{r.max}", f"{r.seconds:.0f}", esc(r.change)] for r in rows],
            numeric=(2, 3),
        ),
    ]
    if batch.skipped:
        body.append("<p class='muted'>Not graded (no submission): " + esc("; ".join(batch.skipped)) + "</p>")
    return (
        f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
        f"<style>{STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _attention(batch: Batch) -> str:
    rows = [
        [esc(r.student), esc(r.status), esc(r.reason), esc("; ".join(r.flags))]
        for r in batch.rows
        if r.status not in ("passed", "failed") or r.flags
    ]
    if not rows:
        return "<p>None: every submission was graded, and none was flagged.</p>"
    return _table(["student", "status", "reason (0 points)", "flags"], rows)


def _changes(batch: Batch) -> str:
    parts = []
    if batch.changes:
        parts.append(
            _table(
                ["student", "before", "after", "checks whose points changed"],
                [[esc(c.student), esc(c.before), esc(c.after), esc("; ".join(c.checks))] for c in batch.changes],
            )
        )
    else:
        parts.append("<p>No student's grade changed.</p>")
    new = [r.student for r in batch.rows if r.change == "new"]
    if new:
        parts.append(f"<p>New since then: {esc(', '.join(new))}.</p>")
    if batch.gone:
        parts.append(f"<p>In the previous gradebook, not in this batch: {esc(', '.join(batch.gone))}.</p>")
    return "\n".join(parts)


def write(batch: Batch, path: Path) -> None:
    path.write_text(render(batch), encoding="utf-8")
