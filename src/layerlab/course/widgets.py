"""Explorers for learners: step through an image's layers, compare builds.

Each explorer is shown as one output carrying both the live widget and a
static HTML table. JupyterLab renders the widget; where no widget manager
runs (nbval, the HTML export, GitHub) the table is what the reader sees.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as W

from layerlab.measure.cache import CacheReport
from layerlab.measure.inspector import ImageReport, inspect, mb, short_instruction

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class Explorer:
    """A widget with a static fallback, displayed as a single mime bundle."""

    def __init__(self, widget: W.Widget, static_html: str):
        self.widget, self.static_html = widget, static_html

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {
            WIDGET_MIME: {"version_major": 2, "version_minor": 0, "model_id": self.widget.model_id},
            "text/html": self.static_html,
            "text/plain": strip_tags(self.static_html),
        }


def strip_tags(text: str) -> str:
    import re

    return re.sub(r"<[^>]+>", " ", text).replace("&nbsp;", " ")


def _layer_html(report: ImageReport, i: int) -> str:
    layer = report.layers[i]
    rows = "".join(
        f"<tr><td style='text-align:right'>{mb(size)}</td><td><code>{html.escape(p)}</code></td></tr>"
        for p, size in layer.biggest
    )
    return (
        f"<p><b>layer {i}</b> of {len(report.layers)}: <code>{html.escape(short_instruction(layer.created_by, 120))}</code><br>"
        f"{mb(layer.size_bytes)} uncompressed"
        + (f", {mb(layer.compressed_bytes)} compressed" if layer.compressed_bytes else "")
        + f"; files added {layer.added}, changed {layer.changed}, deleted {layer.deleted}</p>"
        f"<table><tr><th>size</th><th>biggest files in this layer</th></tr>{rows}</table>"
    )


def _layers_table(report: ImageReport) -> str:
    rows = "".join(
        f"<tr><td>{l.index}</td><td style='text-align:right'>{mb(l.size_bytes)}</td><td>{l.added}</td>"
        f"<td>{l.changed}</td><td>{l.deleted}</td><td><code>{html.escape(short_instruction(l.created_by, 90))}</code></td></tr>"
        for l in report.layers
    )
    return (
        f"<p><b>{html.escape(report.ref)}</b> ({html.escape(report.platform)}): {mb(report.size_bytes)} uncompressed, "
        f"{mb(report.compressed_bytes)} compressed, {mb(report.wasted_bytes)} wasted (efficiency {report.efficiency:.1%})</p>"
        f"<table><tr><th>#</th><th>size</th><th>added</th><th>changed</th><th>deleted</th><th>created by</th></tr>{rows}</table>"
    )


def layer_explorer(image: ImageReport | str) -> Explorer:
    """Pick a layer with the slider: its instruction, size and biggest files."""
    report = inspect(image) if isinstance(image, str) else image
    detail = W.HTML(_layer_html(report, len(report.layers) - 1))
    slider = W.IntSlider(
        value=len(report.layers) - 1, min=0, max=len(report.layers) - 1, description="layer", continuous_update=False
    )
    slider.observe(lambda change: setattr(detail, "value", _layer_html(report, change["new"])), names="value")
    summary = W.HTML(_layers_table(report))
    return Explorer(W.VBox([summary, slider, detail]), _layers_table(report))


def _comparison_html(reports: Sequence[CacheReport], labels: Sequence[str], scenario: str) -> str:
    rows = ""
    for r, label in zip(reports, labels):
        s = r.get(scenario)
        ran = "<br>".join(f"<code>{html.escape(x)}</code>" for x in s.ran) or "nothing: all from cache"
        rows += f"<tr><td>{html.escape(label)}</td><td style='text-align:right'>{s.seconds:.1f} s</td><td>{len(s.ran)}</td><td>{ran}</td></tr>"
    return f"<p><b>{html.escape(scenario)}</b></p><table><tr><th>Dockerfile</th><th>time</th><th>steps run</th><th>which</th></tr>{rows}</table>"


def build_comparison(reports: Sequence[CacheReport], labels: Sequence[str] | None = None) -> Explorer:
    """Choose a rebuild scenario and see, for each Dockerfile, its time and which steps re-ran."""
    labels = list(labels or [r.tag for r in reports])
    names = [s.name for s in reports[0].scenarios]
    detail = W.HTML(_comparison_html(reports, labels, names[-1]))
    picker = W.ToggleButtons(options=names, value=names[-1], description="rebuild")
    picker.observe(
        lambda change: setattr(detail, "value", _comparison_html(reports, labels, change["new"])), names="value"
    )
    static = "".join(_comparison_html(reports, labels, n) for n in names)
    return Explorer(W.VBox([picker, detail]), static)
