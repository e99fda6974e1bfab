"""The course's figures. Every figure has a title, units on its axes and its values written on the bars."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from layerlab.engine.build import BuildResult
from layerlab.measure.cache import CacheReport
from layerlab.measure.inspector import DiskUse, ImageReport, short_instruction
from layerlab.measure.isolation import Isolation

MB = 1e6
COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")


def _label_bars(ax: Axes, bars: BarContainer, fmt: str) -> None:
    for bar in bars:
        h = bar.get_height()
        ax.annotate(
            fmt.format(h),
            (bar.get_x() + bar.get_width() / 2, h),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
        )


def _mark_replayed(fig: Figure, items: Iterable) -> None:
    meta = next((i.replayed for i in items if getattr(i, "replayed", None)), None)
    if meta:
        fig.text(
            0.99,
            0.01,
            f"replayed from a recorded run ({meta['engine']}, {meta['recorded_at'][:10]})",
            ha="right",
            fontsize=7,
            color="gray",
        )


def size_bars(reports: Sequence[ImageReport], labels: Sequence[str] | None = None, title: str = "Image size") -> Figure:
    """Uncompressed (on disk) next to compressed (what a pull downloads), per image."""
    labels = list(labels or [r.ref for r in reports])
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(reports) + 2), 4))
    x = range(len(reports))
    w = 0.38
    b1 = ax.bar(
        [i - w / 2 for i in x], [r.size_bytes / MB for r in reports], w, label="uncompressed (on disk)", color=COLORS[0]
    )
    b2 = ax.bar(
        [i + w / 2 for i in x],
        [r.compressed_bytes / MB for r in reports],
        w,
        label="compressed (pull)",
        color=COLORS[1],
    )
    _label_bars(ax, b1, "{:.0f}")
    _label_bars(ax, b2, "{:.0f}")
    ax.set_xticks(
        list(x),
        labels,
        rotation=15 if max(map(len, labels)) > 14 else 0,
        ha="right" if max(map(len, labels)) > 14 else "center",
    )
    ax.set_ylabel("size (MB)")
    ax.set_title(title)
    ax.legend(frameon=False)
    ax.margins(y=0.15)
    _mark_replayed(fig, reports)
    fig.tight_layout()
    return fig


def disk_use_bars(use: DiskUse, title: str = "Disk used by images that share layers") -> Figure:
    """Each image's size added up, against each distinct layer counted once."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    values = [use.separate_bytes / MB, use.actual_bytes / MB, use.shared_bytes / MB]
    names = [f"sum of {len(use.images)} image sizes", "actually stored", "shared layers"]
    bars = ax.bar(names, values, color=[COLORS[3], COLORS[2], COLORS[0]])
    _label_bars(ax, bars, "{:.0f} MB")
    ax.set_ylabel("uncompressed size (MB)")
    ax.set_title(title)
    ax.margins(y=0.15)
    fig.tight_layout()
    return fig


def build_time_bars(
    reports: Sequence[CacheReport], labels: Sequence[str] | None = None, title: str = "Rebuild time by scenario"
) -> Figure:
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
            ax.annotate(
                f"{s.seconds:.1f} s\n{len(s.ran)} run",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 2),
                textcoords="offset points",
            )
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
    sizes = [l.size_bytes / MB for l in report.layers]
    total = sum(sizes) or 1.0
    # The bar on top, its legend (one line per layer) in an empty axes below it.
    fig, (ax, lax) = plt.subplots(
        2, 1, figsize=(9, 1.9 + 0.25 * len(sizes)), gridspec_kw={"height_ratios": [1.4, 0.25 * len(sizes) + 0.2]}
    )
    lax.axis("off")
    left = 0.0
    handles = []
    for i, (layer, size) in enumerate(zip(report.layers, sizes)):
        h = ax.barh([0], [size], left=left, color=COLORS[i % len(COLORS)], edgecolor="white")
        if size / total >= 0.08:
            ax.text(left + size / 2, 0, f"{size:.0f}", ha="center", va="center", color="white", fontsize=8)
        label = f"#{i} {size:.1f} MB  {short_instruction(layer.created_by, 60)}"
        handles.append((h, label if size / total >= min_fraction or len(sizes) <= 12 else None))
        left += size
    shown = [(h, l) for h, l in handles if l]
    ax.set_yticks([])
    ax.set_xlabel("uncompressed size (MB)")
    lax.legend([h for h, _ in shown], [l for _, l in shown], loc="upper left", frameon=False, fontsize=8)
    ax.set_title(title or f"Layers of {report.ref} ({report.platform}): {total:.0f} MB, {len(sizes)} layers")
    _mark_replayed(fig, [report])
    fig.tight_layout()
    return fig


def platform_times(
    seconds: dict[str, float], title: str = "Build time per platform", note: str | None = None
) -> Figure:
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


def platform_time_groups(
    rows: dict[str, dict[str, float]], title: str = "Build time per platform", replayed: Iterable = ()
) -> Figure:
    """One group of bars per build (a way of building), one bar per platform in it: seconds of step work."""
    ways = list(rows)
    plats = sorted({p for r in rows.values() for p in r})
    fig, ax = plt.subplots(figsize=(max(5, 2.2 * len(ways) + 1.5), 3.8))
    width = 0.8 / max(1, len(plats))
    for i, plat in enumerate(plats):
        xs = [w + (i - (len(plats) - 1) / 2) * width for w in range(len(ways))]
        bars = ax.bar(xs, [rows[w].get(plat, 0.0) for w in ways], width, label=plat, color=COLORS[i % len(COLORS)])
        _label_bars(ax, bars, "{:.0f} s")
    ax.set_xticks(range(len(ways)), ways)
    ax.set_xlabel("how the image is built")
    ax.set_ylabel("build step time (s)")
    ax.set_title(title)
    ax.legend(title="platform", fontsize=8)
    ax.margins(y=0.15)
    _mark_replayed(fig, replayed)
    fig.tight_layout()
    return fig


def step_split(rows: dict[str, tuple[float, float]], step: str, title: str) -> Figure:
    """One horizontal bar per build: the seconds of `step` next to the rest of the build (context, other steps, export)."""
    names = list(rows)
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.7 * len(names)))
    for i, name in enumerate(names):
        total, part = rows[name]
        rest = max(total - part, 0.0)
        ax.barh([i], [part], color=COLORS[0], label=step if i == 0 else None)
        ax.barh([i], [rest], left=part, color=COLORS[7], label="rest of the build" if i == 0 else None)
        ax.text(part / 2, i, f"{part:.1f} s", ha="center", va="center", color="white", fontsize=8)
        ax.text(total, i, f" {total:.1f} s total", ha="left", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    ax.set_title(title)
    ax.legend(frameon=False, loc="lower right", fontsize=8)
    ax.margins(x=0.2)
    fig.tight_layout()
    return fig


# ---- lesson 01: venv vs container vs VM ---------------------------------------

MIB = 1024 * 1024


# One colour per runtime in every lesson-01 figure, so a reader can match bars across figures.
RUNTIME_COLORS = {"host": COLORS[7], "venv": COLORS[0], "container": COLORS[2], "vm": COLORS[3]}


def _runtime_colors(rows: Sequence[Isolation]) -> list[str]:
    return [RUNTIME_COLORS.get(getattr(r, "kind", ""), COLORS[i % len(COLORS)]) for i, r in enumerate(rows)]


def _seconds_label(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.1f} s"


def startup_log_bars(rows: Sequence[Isolation], title: str = "Time from start to first output (log scale)") -> Figure:
    """Seconds until each runtime's program prints its first line, on a log axis: they differ by orders of magnitude.

    `rows` are layerlab.measure.isolation.Isolation results (anything with label and first_output_seconds).
    """
    labels = [r.label for r in rows]
    secs = [max(r.first_output_seconds, 1e-3) for r in rows]
    fig, ax = plt.subplots(figsize=(max(5, 1.5 * len(rows) + 2), 4))
    bars = ax.bar(labels, secs, color=_runtime_colors(rows))
    ax.set_yscale("log")
    for bar, s in zip(bars, secs):
        ax.annotate(
            _seconds_label(s),
            (bar.get_x() + bar.get_width() / 2, s),
            ha="center",
            va="bottom",
            fontsize=9,
            xytext=(0, 2),
            textcoords="offset points",
        )
    ax.set_ylim(min(secs) / 3, max(secs) * 3)
    ax.set_ylabel("seconds (log scale)")
    ax.set_title(title)
    # Each gridline is ten times the one below: say so, since log axes mislead at a glance.
    ax.grid(axis="y", which="major", alpha=0.3)
    _mark_replayed(fig, rows)
    fig.tight_layout()
    return fig


def footprint_bars(rows: Sequence[Isolation], title: str = "What each one costs") -> Figure:
    """Two panels: disk footprint, and memory (used, with the fixed allowance where there is one)."""
    labels = [r.label for r in rows]
    fig, (disk_ax, mem_ax) = plt.subplots(1, 2, figsize=(max(9, 2.6 * len(rows) + 2), 4))
    x = list(range(len(rows)))
    disk = [(r.disk_bytes or 0) / MIB for r in rows]
    b = disk_ax.bar(x, disk, color=_runtime_colors(rows))
    for bar, r in zip(b, rows):
        text = "n/a" if r.disk_bytes is None else f"{bar.get_height():.0f}"
        disk_ax.annotate(
            text,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=9,
            xytext=(0, 2),
            textcoords="offset points",
        )
    disk_ax.set_xticks(x, labels)
    disk_ax.set_ylabel("disk footprint (MiB)")
    disk_ax.set_title("Disk")
    disk_ax.margins(y=0.15)

    w = 0.38
    used = [(r.memory_bytes or 0) / MIB for r in rows]
    given = [(r.memory_given_bytes or 0) / MIB for r in rows]
    colors = _runtime_colors(rows)
    bu = mem_ax.bar([i - w / 2 for i in x], used, w, label="used (peak)", color=colors)
    bg = mem_ax.bar(
        [i + w / 2 for i in x], given, w, label="reserved up front", color="white", edgecolor=colors, hatch="//"
    )
    _label_bars(mem_ax, bu, "{:.0f}")
    for bar, r in zip(bg, rows):
        text = "none" if not r.memory_given_bytes else f"{bar.get_height():.0f}"
        mem_ax.annotate(
            text,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
            color="gray" if text == "none" else "black",
        )
    mem_ax.set_xticks(x, labels)
    mem_ax.set_ylabel("memory (MiB)")
    mem_ax.set_title("Memory")
    from matplotlib.patches import Patch

    # Neutral legend swatches: the bar colours stand for runtimes, the fill for used vs reserved.
    mem_ax.legend(
        [Patch(color="gray"), Patch(facecolor="white", edgecolor="gray", hatch="//")],
        ["used (peak)", "reserved up front"],
        frameon=False, fontsize=8, loc="upper left",
    )  # fmt: skip
    mem_ax.margins(y=0.2)
    fig.suptitle(title)
    _mark_replayed(fig, rows)
    fig.tight_layout()
    return fig


def serving_load(rows: dict, title: str = "The same server under the same bounded load") -> Figure:
    """Three panels per configuration: latency percentiles, throughput, and memory (layerlab.serving results)."""
    labels, results = list(rows), list(rows.values())
    fig, (lat_ax, rps_ax, mem_ax) = plt.subplots(1, 3, figsize=(12, 4))
    x = list(range(len(results)))
    w = 0.26
    for j, (name, attr) in enumerate((("p50", "p50_ms"), ("p95", "p95_ms"), ("p99", "p99_ms"))):
        bars = lat_ax.bar(
            [i + (j - 1) * w for i in x], [getattr(r.load, attr) or 0 for r in results], w, label=name, color=COLORS[j]
        )
        _label_bars(lat_ax, bars, "{:.0f}")
    lat_ax.set_xticks(x, labels)
    lat_ax.set_ylabel("latency (ms)")
    lat_ax.set_title("Latency percentiles")
    lat_ax.legend(frameon=False, fontsize=8)
    lat_ax.margins(y=0.15)
    bars = rps_ax.bar(x, [r.load.rps for r in results], color=COLORS[3])
    _label_bars(rps_ax, bars, "{:.0f}")
    rps_ax.set_xticks(x, labels)
    rps_ax.set_ylabel("throughput (requests/s)")
    rps_ax.set_title("Throughput")
    rps_ax.margins(y=0.15)
    bars = mem_ax.bar(x, [(r.memory_bytes or 0) / MB for r in results], color=COLORS[4])
    _label_bars(mem_ax, bars, "{:.0f}")
    mem_ax.set_xticks(x, labels)
    mem_ax.set_ylabel("container memory (MB)")
    mem_ax.set_title("Memory (engine stats)")
    mem_ax.margins(y=0.15)
    fig.suptitle(title)
    _mark_replayed(fig, results)
    fig.tight_layout()
    return fig


def stop_times(rows: dict, title: str = "docker stop with a request in flight") -> Figure:
    """Seconds each `docker stop` took; the bar says whether the request in flight was answered."""
    labels, results = list(rows), list(rows.values())
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(results) + 2), 4))
    colors = [COLORS[2] if r.inflight_answered else COLORS[3] for r in results]
    bars = ax.bar(labels, [r.stop_s for r in results], color=colors)
    for bar, r in zip(bars, results):
        ax.annotate(
            f"{_seconds_label(r.stop_s)}\n{'answered' if r.inflight_answered else 'request lost'}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
        )
    ax.set_ylabel("docker stop (seconds)")
    ax.set_title(title)
    ax.margins(y=0.25)
    _mark_replayed(fig, results)
    return fig


def startup_bars(
    rows: dict[str, float],
    notes: dict[str, str] | None = None,
    title: str = "Time until the stack serves",
    replayed: Iterable = (),
    ylabel: str = "seconds from `up` (s)",
) -> Figure:
    """One bar per way of starting a compose pipeline, with a note per bar (failures, restarts).

    The caller says in ylabel (or the bar names) what each bar timed: `up --wait` returning
    and a first answer to a request are different ends."""
    names = list(rows)
    fig, ax = plt.subplots(figsize=(max(5, 1.9 * len(names) + 1.5), 3.8))
    bars = ax.bar(names, [rows[n] for n in names], color=[COLORS[i % len(COLORS)] for i in range(len(names))])
    _label_bars(ax, bars, "{:.1f} s")
    for bar, n in zip(bars, names):
        if notes and notes.get(n):
            ax.text(
                bar.get_x() + bar.get_width() / 2,
                bar.get_height() / 2,
                notes[n],
                ha="center",
                va="center",
                fontsize=8,
                color="white",
                wrap=True,
            )
    ax.set_xlabel("how the stack was started")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.margins(y=0.15)
    _mark_replayed(fig, replayed)
    return fig


def layer_stacks(reports: Sequence[ImageReport], labels: Sequence[str], title: str = "Layers per image") -> Figure:
    """One horizontal bar per image, one segment per layer: images built on each other share their first segments."""
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.8 * len(reports)))
    for row, r in enumerate(reports):
        left = 0.0
        for i, layer in enumerate(r.layers):
            size = layer.size_bytes / MB
            ax.barh([row], [size], left=left, color=COLORS[i % len(COLORS)], edgecolor="white")
            if size >= 0.06 * max(x.size_bytes / MB for x in reports):
                ax.text(left + size / 2, row, f"#{i} {size:.0f}", ha="center", va="center", color="white", fontsize=8)
            left += size
        ax.text(left, row, f"  {left:.0f} MB", va="center", fontsize=8)
    ax.set_yticks(range(len(reports)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("uncompressed size (MB); segment #n = layer n")
    ax.set_title(title)
    ax.margins(x=0.12)
    _mark_replayed(fig, reports)
    fig.tight_layout()
    return fig


def volume_files(
    rows: dict[str, dict[str, int]], title: str = "Files in each named volume", replayed: Iterable = ()
) -> Figure:
    """One group of bars per moment of a compose project's life, one bar per volume: how many files it holds."""
    moments = list(rows)
    volumes = list(next(iter(rows.values()))) if rows else []
    width = 0.8 / max(1, len(volumes))
    fig, ax = plt.subplots(figsize=(max(5, 2.2 * len(moments) + 1.5), 3.6))
    for i, v in enumerate(volumes):
        xs = [m + (i - (len(volumes) - 1) / 2) * width for m in range(len(moments))]
        bars = ax.bar(xs, [rows[m][v] for m in moments], width, label=v, color=COLORS[i % len(COLORS)])
        _label_bars(ax, bars, "{:.0f}")
    ax.set_xticks(range(len(moments)), moments)
    ax.set_xlabel("moment in the project's life")
    ax.set_ylabel("files in the volume (count)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    ax.legend(title="volume", fontsize=8)
    ax.margins(y=0.2)
    _mark_replayed(fig, replayed)
    return fig


def ci_runs(
    rows: dict[str, BuildResult], title: str = "CI runs on a fresh runner, with and without a registry cache"
) -> Figure:
    """Build time per CI run (left) and what its steps did (right: from cache / ran); rows are BuildResults."""
    names = list(rows)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8))
    secs = [rows[n].seconds for n in names]
    bars = ax.bar(names, secs, color=[COLORS[3]] + [COLORS[2]] * (len(names) - 1))
    _label_bars(ax, bars, "{:.1f} s")
    ax.set_ylabel("wall time of the build (s)")
    ax.set_title("time per run")
    ax.margins(y=0.15)
    cached = [len(rows[n].reused) for n in names]
    ran = [len(rows[n].ran) for n in names]
    bx.bar(names, cached, color=COLORS[0], label="CACHED (imported)")
    b2 = bx.bar(names, ran, bottom=cached, color=COLORS[1], label="ran")
    for bar, c, r in zip(b2, cached, ran):
        bx.annotate(
            f"{c} cached, {r} ran",
            (bar.get_x() + bar.get_width() / 2, c + r),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
        )
    bx.set_ylabel("Dockerfile steps (count)")
    bx.set_title("where each step came from")
    bx.legend(frameon=False, loc="lower right")
    bx.margins(y=0.2)
    for a in (ax, bx):
        a.tick_params(axis="x", labelsize=8)
    fig.suptitle(title)
    _mark_replayed(fig, rows.values())
    return fig


def ratio_bars(
    values: dict[str, float],
    title: str,
    ylabel: str = "uncompressed size (MB)",
    fmt: str = "{:.0f}",
    replayed: Iterable = (),
) -> Figure:
    """Plain bars with their values written on them, on a log scale when they span two orders of magnitude."""
    fig, ax = plt.subplots(figsize=(max(5, 1.5 * len(values) + 2), 4))
    bars = ax.bar(list(values), list(values.values()), color=[COLORS[i % len(COLORS)] for i in range(len(values))])
    _label_bars(ax, bars, fmt)
    vals = [v for v in values.values() if v > 0]
    if vals and max(vals) / min(vals) > 100:
        ax.set_yscale("log")
        ylabel += ", log scale"
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=12)
    ax.margins(y=0.2)
    _mark_replayed(fig, list(replayed))
    fig.tight_layout()
    return fig


# ---- lesson 10: weights, cold starts, threads -----------------------------------


def weights_comparison(panels: dict[str, dict[str, float]], title: str) -> Figure:
    """One panel per measure (its name carries the unit), one bar per place the weights live."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6))
    for ax, (measure, values) in zip(axes, panels.items()):
        names = list(values)
        bars = ax.bar(
            range(len(names)), [values[n] for n in names], color=[COLORS[i % len(COLORS)] for i in range(len(names))]
        )
        _label_bars(ax, bars, "{:.3g}")  # one value can be 5000 times another: 0.0491 stays legible
        ax.set_xticks(range(len(names)), names, rotation=20, fontsize=8)
        ax.set_title(measure, fontsize=9)
        ax.margins(y=0.2)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def waterfall(starts: Sequence, title: str) -> Figure:
    """One row per cold start (`measure.coldstart.ColdStart`), its phases laid end to end in seconds."""
    names = [s.variant for s in starts]
    phases = list(dict.fromkeys(p.name for s in starts for p in s.phases))
    fig, ax = plt.subplots(figsize=(9, 1.4 + 0.6 * len(names)))
    for i, s in enumerate(starts):
        left = 0.0
        for p in s.phases:
            color = COLORS[phases.index(p.name) % len(COLORS)]
            ax.barh([i], [p.seconds], left=left, color=color, label=p.name if i == 0 else None)
            left += p.seconds
        ax.text(left, i, f" {left:.1f} s, {s.pull_bytes / MB:.0f} MB pulled", ha="left", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("seconds from the pull's first request")
    ax.set_ylabel("layer compression")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    ax.margins(x=0.25)
    fig.tight_layout()
    return fig


def threads_times(runs: Sequence, title: str) -> Figure:
    """The same matrix multiply per thread setting (`measure.threads.ThreadsRun`): seconds, threads in the label."""
    names = [f"{r.setting}\n({r.threads} threads)" for r in runs]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    bars = ax.bar(range(len(runs)), [r.seconds for r in runs], color=COLORS[: len(runs)])
    _label_bars(ax, bars, "{:.2f} s")
    ax.set_xticks(range(len(runs)), names)
    ax.set_ylabel("matrix multiply time (s)")
    ax.set_title(title)
    ax.margins(y=0.2)
    fig.tight_layout()
    return fig
