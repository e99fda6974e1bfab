"""The course's figures. Every figure has a title, units on its axes and its values written on the bars."""

from __future__ import annotations

from typing import Iterable, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .cache import CacheReport
from .inspector import ImageReport, short_instruction

MB = 1e6
COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")


def _label_bars(ax, bars, fmt: str) -> None:
    for bar in bars:
        h = bar.get_height()
        ax.annotate(fmt.format(h), (bar.get_x() + bar.get_width() / 2, h), ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")


def _mark_replayed(fig: Figure, items: Iterable) -> None:
    meta = next((i.replayed for i in items if getattr(i, "replayed", None)), None)
    if meta:
        fig.text(0.99, 0.01, f"replayed from a recorded run ({meta['engine']}, {meta['recorded_at'][:10]})", ha="right", fontsize=7, color="gray")


def size_bars(reports: Sequence[ImageReport], labels: Sequence[str] | None = None, title: str = "Image size") -> Figure:
    """Uncompressed (on disk) next to compressed (what a pull downloads), per image."""
    labels = list(labels or [r.ref for r in reports])
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(reports) + 2), 4))
    x = range(len(reports))
    w = 0.38
    b1 = ax.bar([i - w / 2 for i in x], [r.size_bytes / MB for r in reports], w, label="uncompressed (on disk)", color=COLORS[0])
    b2 = ax.bar([i + w / 2 for i in x], [r.compressed_bytes / MB for r in reports], w, label="compressed (pull)", color=COLORS[1])
    _label_bars(ax, b1, "{:.0f}")
    _label_bars(ax, b2, "{:.0f}")
    ax.set_xticks(list(x), labels, rotation=15 if max(map(len, labels)) > 14 else 0, ha="right" if max(map(len, labels)) > 14 else "center")
    ax.set_ylabel("size (MB)")
    ax.set_title(title)
    ax.legend(frameon=False)
    ax.margins(y=0.15)
    _mark_replayed(fig, reports)
    fig.tight_layout()
    return fig


def build_time_bars(reports: Sequence[CacheReport], labels: Sequence[str] | None = None, title: str = "Rebuild time by scenario") -> Figure:
    """Seconds per rebuild scenario, one bar group per scenario and one colour per Dockerfile; steps re-run on top."""
    labels = list(labels or [r.tag for r in reports])
    names = [s.name for s in reports[0].scenarios]
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(names) + 2), 4))
    w = 0.8 / len(reports)
    for j, (r, label) in enumerate(zip(reports, labels)):
        xs = [i - 0.4 + w * (j + 0.5) for i in range(len(names))]
        secs = [r.get(n).seconds for n in names]
        bars = ax.bar(xs, secs, w, label=label, color=COLORS[j % len(COLORS)])
        for bar, n in zip(bars, names):
            s = r.get(n)
            ax.annotate(f"{s.seconds:.1f} s\n{len(s.ran)} run", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(names)), names)
    ax.set_xlabel("rebuild after")
    ax.set_ylabel("build time (s)")
    ax.set_title(title)
    ax.legend(frameon=False)
    ax.margins(y=0.25)
    _mark_replayed(fig, reports)
    fig.tight_layout()
    return fig


def layer_stack(report: ImageReport, title: str | None = None, min_fraction: float = 0.01) -> Figure:
    """One horizontal bar, one segment per layer, labelled by the instruction that made it."""
    sizes = [l["size_bytes"] / MB for l in report.layers]
    total = sum(sizes) or 1.0
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.32 * len(sizes)))
    left = 0.0
    handles = []
    for i, (layer, size) in enumerate(zip(report.layers, sizes)):
        h = ax.barh([0], [size], left=left, color=COLORS[i % len(COLORS)], edgecolor="white")
        if size / total >= 0.08:
            ax.text(left + size / 2, 0, f"{size:.0f}", ha="center", va="center", color="white", fontsize=8)
        label = f"#{i} {size:.1f} MB  {short_instruction(layer['created_by'], 60)}"
        handles.append((h, label if size / total >= min_fraction or len(sizes) <= 12 else None))
        left += size
    shown = [(h, l) for h, l in handles if l]
    ax.legend([h for h, _ in shown], [l for _, l in shown], loc="upper left", bbox_to_anchor=(0, -0.35), frameon=False, fontsize=8)
    ax.set_yticks([])
    ax.set_xlabel("uncompressed size (MB)")
    ax.set_title(title or f"Layers of {report.ref} ({report.platform}): {total:.0f} MB, {len(sizes)} layers")
    _mark_replayed(fig, [report])
    fig.tight_layout()
    return fig


def platform_times(seconds: dict[str, float], title: str = "Build time per platform", note: str | None = None) -> Figure:
    """Bars of seconds per platform (native vs emulated)."""
    plats = list(seconds)
    fig, ax = plt.subplots(figsize=(max(4, 1.5 * len(plats) + 2), 3.6))
    bars = ax.bar(plats, [seconds[p] for p in plats], color=[COLORS[i % len(COLORS)] for i in range(len(plats))])
    _label_bars(ax, bars, "{:.1f} s")
    ax.set_xlabel("platform")
    ax.set_ylabel("build time (s)")
    ax.set_title(title)
    if note:
        ax.text(0.99, 0.97, note, transform=ax.transAxes, ha="right", va="top", fontsize=8, color="gray")
    ax.margins(y=0.15)
    fig.tight_layout()
    return fig
