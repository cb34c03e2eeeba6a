"""Charts of the HTML report as inline SVG text, drawn with matplotlib's `Figure` API (no pyplot, no
global backend: the SVG canvas writes to a string, so it works in cron and CI).

Text stays text (`svg.fonttype: none`: the page's own font draws it, no glyph paths, small files), and
the ids matplotlib derives are salted with a constant, so the same data give the same bytes. Only
aggregated data reach a chart (per segment, per period, per cohort, histogram bins): the SVG size
does not grow with the number of customers.

Sparklines are a single `<polyline>` written here: a chart too small for axes.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from fidelcli.report.plots import tracking_figure

__all__ = ["bars", "grouped_bars", "heatmap", "histogram", "lines", "sparkline", "svg", "tracking_figure"]

PALETTE = ["#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d"]
_RC: dict[Any, Any] = {"svg.hashsalt": "fidelcli", "svg.fonttype": "none", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}


def svg(fig: Figure, *, label: str) -> str:
    """`fig` as an inline `<svg>` element (no XML prolog), with `role="img"` and `aria-label`."""
    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    # Fluid width: the page's CSS sizes the chart; the viewBox keeps its proportions.
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1', text, count=1)
    return text.replace("<svg", f'<svg role="img" aria-label="{_attr(label)}"', 1)


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _figure(width: float = 7.0, height: float = 3.2) -> Figure:
    with matplotlib.rc_context(_RC):
        return Figure(figsize=(width, height))


def bars(labels: Sequence[str], values: Sequence[float | None], *, title: str, xlabel: str = "", percent: bool = False) -> Figure:
    """Horizontal bars, one per label (top to bottom in the given order); unknown values left empty."""
    fig = _figure(7.0, 0.35 * max(len(labels), 3) + 0.9)
    with matplotlib.rc_context(_RC):
        ax = fig.subplots()
        pos = np.arange(len(labels))[::-1]
        vals = np.array([np.nan if v is None else float(v) for v in values])
        ax.barh(pos, np.nan_to_num(vals * (100 if percent else 1)), color=PALETTE[0])
        ax.set_yticks(pos, list(labels))
        ax.set_xlabel(xlabel)
        ax.set_title(title, loc="left")
        fig.tight_layout()
    return fig


def grouped_bars(labels: Sequence[str], series: dict[str, Sequence[float | None]], *, title: str, xlabel: str = "",
                 percent: bool = False) -> Figure:
    """Horizontal grouped bars: one group per label, one bar per series (e.g. customer and revenue shares)."""
    fig = _figure(7.0, 0.45 * max(len(labels), 3) + 1.0)
    with matplotlib.rc_context(_RC):
        ax = fig.subplots()
        n = max(len(series), 1)
        height = 0.8 / n
        base = np.arange(len(labels))[::-1].astype(float)
        for i, (name, values) in enumerate(series.items()):
            vals = np.nan_to_num(np.array([np.nan if v is None else float(v) for v in values]) * (100 if percent else 1))
            ax.barh(base + (n - 1 - 2 * i) * height / 2, vals, height=height, label=name, color=PALETTE[i % len(PALETTE)])
        ax.set_yticks(base, list(labels))
        ax.set_xlabel(xlabel)
        ax.set_title(title, loc="left")
        ax.legend(loc="lower right", frameon=False)
        fig.tight_layout()
    return fig


def lines(x: Sequence[object], series: dict[str, Sequence[float | None]], *, title: str, ylabel: str = "", percent: bool = False) -> Figure:
    """One line per series over `x` (dates or numbers); unknown values break the line."""
    fig = _figure(7.0, 2.8)
    with matplotlib.rc_context(_RC):
        ax = fig.subplots()
        for i, (name, values) in enumerate(series.items()):
            vals = np.array([np.nan if v is None else float(v) for v in values]) * (100 if percent else 1)
            ax.plot(np.asarray(list(x)), vals, label=name, color=PALETTE[i % len(PALETTE)], marker="o", markersize=2.5, linewidth=1.5)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        if len(series) > 1:
            ax.legend(frameon=False)
        ax.grid(axis="y", alpha=0.3)
        fig.autofmt_xdate()
        fig.tight_layout()
    return fig


def heatmap(rows: Sequence[str], columns: Sequence[str], values: list[list[float | None]], *, title: str, xlabel: str,
            ylabel: str, percent: bool = True) -> Figure:
    """A matrix with its values written in the cells (retention by cohort and period, migrations)."""
    data = np.array([[np.nan if v is None else float(v) for v in row] for row in values], dtype=float).reshape(len(rows), len(columns))
    shown = data * (100 if percent else 1)
    fig = _figure(min(11.0, 1.6 + 0.42 * max(len(columns), 4)), 0.9 + 0.3 * max(len(rows), 3))
    with matplotlib.rc_context(_RC):
        ax = fig.subplots()
        finite = shown[np.isfinite(shown)]
        top = float(finite.max()) if finite.size else 1.0
        ax.imshow(np.ma.masked_invalid(shown), aspect="auto", cmap="Blues", vmin=0, vmax=top if top > 0 else 1.0)
        for (i, j), v in np.ndenumerate(shown):
            if math.isfinite(v):
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7, color="white" if v > 0.6 * top else "black")
        ax.set_xticks(range(len(columns)), list(columns))
        ax.set_yticks(range(len(rows)), list(rows))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        fig.tight_layout()
    return fig


def histogram(values: np.ndarray, *, title: str, xlabel: str, ylabel: str, bins: int = 40) -> Figure:
    """Distribution of a per-customer value (only the bins reach the SVG); a log scale of counts."""
    fig = _figure(7.0, 2.8)
    with matplotlib.rc_context(_RC):
        ax = fig.subplots()
        finite = values[np.isfinite(values)]
        if finite.size:
            ax.hist(finite, bins=bins, color=PALETTE[0], log=True)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        fig.tight_layout()
    return fig


def sparkline(values: Sequence[float | None], *, width: int = 120, height: int = 28, label: str = "") -> str:
    """A small inline `<svg>` trend line of `values` (unknown values skipped); empty text when fewer than two."""
    points = [(i, float(v)) for i, v in enumerate(values) if v is not None and math.isfinite(float(v))]
    if len(points) < 2:
        return ""
    lo = min(v for _, v in points)
    hi = max(v for _, v in points)
    span = hi - lo or 1.0
    n = max(len(values) - 1, 1)
    coords = " ".join(f"{2 + i * (width - 4) / n:.1f},{height - 2 - (v - lo) / span * (height - 4):.1f}" for i, v in points)
    last_x, last_y = coords.split(" ")[-1].split(",")
    return (f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{_attr(label)}">'
            f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{coords}"/>'
            f'<circle cx="{last_x}" cy="{last_y}" r="2" fill="currentColor"/></svg>')
