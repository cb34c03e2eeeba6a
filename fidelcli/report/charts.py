"""Charts of the HTML report as inline SVG text, drawn with matplotlib's `Figure` API (no pyplot, no
global backend: the SVG canvas writes to a string, so it works in cron and CI).

Text stays text (`svg.fonttype: none`: the page's own font draws it, no glyph paths, small files), and
the ids matplotlib derives are salted with a constant, so the same data give the same bytes. Only
aggregated data reach a chart (per segment, per period, per cohort, histogram bins): the SVG size
does not grow with the number of customers.

Hover values without script: every bar and histogram bin is drawn as its own artist with a `gid`, every
line one artist whose markers are its points; the SVG text then gets a native `<title>` in that group
or marker (`TipFigure.tips`, `TipFigure.point_tips`), which browsers show as a tooltip on hover and
screen readers read. Heatmaps are written as SVG directly (`heatmap`), each cell with its title. Printed, the values stay readable: bars carry
their value at the end, lines their last value, heatmap cells their number.

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
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from fidelcli.report.plots import tracking_figure

__all__ = ["TipFigure", "bars", "grouped_bars", "heatmap", "histogram", "lines", "number", "sparkline", "svg", "tracking_figure"]

PALETTE = ["#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d"]
_RC: dict[Any, Any] = {"svg.hashsalt": "fidelcli", "svg.fonttype": "none", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}


class TipFigure(Figure):
    """A matplotlib Figure that remembers the hover text of its artists: {gid: text}."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tips: dict[str, str] = {}

        self.point_tips: dict[str, list[str]] = {}

    def tip(self, artist: Any, text: str) -> None:
        """Give `artist` the hover text `text`."""
        gid = f"tip-{len(self.tips) + len(self.point_tips)}"
        artist.set_gid(gid)
        self.tips[gid] = text

    def tip_points(self, line: Any, texts: list[str]) -> None:
        """Give each marker of `line` (its finite points, in order) its hover text."""
        gid = f"tip-{len(self.tips) + len(self.point_tips)}"
        line.set_gid(gid)
        self.point_tips[gid] = texts


_TIP = re.compile(r'<g id="(tip-\d+)">')
_USE = re.compile(r"<use [^>]*?/>")


def _point_titles(text: str, gid: str, texts: list[str]) -> str:
    """The markers of a line are `<use>` elements in its group, one per finite point: each gets its `<title>`."""
    start = text.find(f'<g id="{gid}">')
    if start < 0:
        return text
    pieces = [text[:start], '<g class="tips">']
    pos = start + len(f'<g id="{gid}">')
    for t in texts:
        m = _USE.search(text, pos)
        if m is None:
            break
        pieces += [text[pos:m.start()], m.group(0)[:-2], f"><title>{_text(t)}</title></use>"]
        pos = m.end()
    pieces.append(text[pos:])
    return "".join(pieces)


def svg(fig: Figure, *, label: str) -> str:
    """`fig` as an inline `<svg>` element (no XML prolog), with `role="img"` and `aria-label`, and a
    `<title>` (native tooltip) in the group of every artist given one (`TipFigure.tip`)."""
    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        # The figures are laid out by tight_layout when drawn: no bbox_inches="tight" (a second full draw).
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    for gid, texts in getattr(fig, "point_tips", {}).items():
        text = _point_titles(text, gid, texts)
    tips = getattr(fig, "tips", {})
    if tips:
        # The ids matplotlib writes for gids would repeat from chart to chart on one page: a class instead.
        text = _TIP.sub(lambda m: f'<g class="tip"><title>{_text(tips.get(m.group(1), ""))}</title>', text)
    # Fluid width: the page's CSS sizes the chart; the viewBox keeps its proportions.
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1', text, count=1)
    return text.replace("<svg", f'<svg role="img" aria-label="{_attr(label)}"', 1)


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _figure(width: float = 7.0, height: float = 3.2) -> TipFigure:
    with matplotlib.rc_context(_RC):
        return TipFigure(figsize=(width, height))


def number(value: float, *, percent: bool = False) -> str:
    """A value as a chart prints it: 3 significant digits, thousands separated (`12,345`, `0.123`, `45.2 %`)."""
    if not math.isfinite(value):
        return ""
    if percent:
        return f"{value:.1f} %"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _x_text(x: object) -> str:
    return x.isoformat() if hasattr(x, "isoformat") else str(x)


def bars(labels: Sequence[str], values: Sequence[float | None], *, title: str, xlabel: str = "", percent: bool = False) -> Figure:
    """Horizontal bars, one per label (top to bottom in the given order); unknown values left empty."""
    fig = _figure(7.0, 0.35 * max(len(labels), 3) + 0.9)
    with matplotlib.rc_context(_RC):
        ax = fig.subplots()
        pos = np.arange(len(labels))[::-1]
        vals = np.array([np.nan if v is None else float(v) for v in values]) * (100 if percent else 1)
        drawn = ax.barh(pos, np.nan_to_num(vals), color=PALETTE[0])
        for bar, name, v in zip(drawn, labels, vals, strict=True):
            fig.tip(bar, f"{name}: {number(v, percent=percent) or '?'}")
        ax.bar_label(drawn, labels=[number(v, percent=percent) for v in vals], padding=2, fontsize=7)
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
            vals = np.array([np.nan if v is None else float(v) for v in values]) * (100 if percent else 1)
            drawn = ax.barh(base + (n - 1 - 2 * i) * height / 2, np.nan_to_num(vals), height=height, label=name, color=PALETTE[i % len(PALETTE)])
            for bar, group, v in zip(drawn, labels, vals, strict=True):
                fig.tip(bar, f"{group}, {name}: {number(v, percent=percent) or '?'}")
            ax.bar_label(drawn, labels=[number(v, percent=percent) for v in vals], padding=2, fontsize=6)
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
        xs = list(x)
        for i, (name, values) in enumerate(series.items()):
            vals = np.array([np.nan if v is None else float(v) for v in values]) * (100 if percent else 1)
            color = PALETTE[i % len(PALETTE)]
            (line,) = ax.plot(np.asarray(xs), vals, label=name, color=color, linewidth=1.5, marker="o", markersize=2.5)
            # one hover value per marker (matplotlib draws a marker for each finite point, in order)
            fig.tip_points(line, [f"{name}, {_x_text(xi)}: {number(v, percent=percent)}" for xi, v in zip(xs, vals, strict=True) if math.isfinite(v)])
            last = [(xi, v) for xi, v in zip(xs, vals, strict=True) if math.isfinite(v)]
            if last:  # printed, the last value stays readable
                ax.annotate(number(last[-1][1], percent=percent), last[-1], textcoords="offset points", xytext=(3, 3), fontsize=7, color=color)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        if len(series) > 1:
            ax.legend(frameon=False)
        ax.grid(axis="y", alpha=0.3)
        fig.autofmt_xdate()
        fig.tight_layout()
    return fig


def heatmap(rows: Sequence[str], columns: Sequence[str], values: list[list[float | None]], *, title: str, xlabel: str,
            ylabel: str, label: str, percent: bool = True) -> str:
    """A matrix (retention by cohort and period, migrations) as inline SVG written directly: one rectangle
    per known cell, its value printed on it and its hover `<title>` (row, column, value). Written by hand
    rather than drawn by matplotlib: 576 cells of text layout took seconds there, here milliseconds.
    The colour is matplotlib's "Blues" map scaled to the largest value; unknown cells stay blank."""
    data = np.array([[np.nan if v is None else float(v) for v in row] for row in values], dtype=float).reshape(len(rows), len(columns))
    shown = data * (100 if percent else 1)
    finite = shown[np.isfinite(shown)]
    top = float(finite.max()) if finite.size else 1.0
    scale = top if top > 0 else 1.0
    cmap = matplotlib.colormaps["Blues"]
    cw, ch, fs = 34, 20, 11
    long = any(len(str(c)) > 4 for c in columns)
    left = 24 + int(max((len(str(r)) for r in rows), default=1) * fs * 0.62)
    top_margin = 30
    grid_w, grid_h = cw * len(columns), ch * len(rows)
    below = (int(max((len(str(c)) for c in columns), default=1) * fs * 0.45) + 14) if long else 18
    width = max(left + grid_w + 10, left + int(len(title) * (fs + 3) * 0.6))
    height = top_margin + grid_h + below + 22
    unit = " %" if percent else ""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" aria-label="{_attr(label)}" '
           f'font-size="{fs}" style="max-width:{max(width, 420)}px">',
           f'<text x="{left}" y="18" font-size="{fs + 3}">{_text(title)}</text>']
    for i, r in enumerate(rows):
        y = top_margin + i * ch
        out.append(f'<text x="{left - 5}" y="{y + ch / 2 + 4:.0f}" text-anchor="end">{_text(str(r))}</text>')
        for j, c in enumerate(columns):
            v = shown[i, j]
            if not math.isfinite(v):
                continue
            x = left + j * cw
            fill = to_hex(cmap(min(max(v / scale, 0.0), 1.0)))
            tip = f"{ylabel} {r}, {xlabel} {c}: {v:.1f}{unit}" if percent else f"{r} → {c}: {v:,.0f}"
            color = "#fff" if v > 0.6 * top else "#000"
            out.append(f'<g class="tip"><title>{_text(tip)}</title><rect x="{x}" y="{y}" width="{cw}" height="{ch}" fill="{fill}"/>'
                       f'<text x="{x + cw / 2:.0f}" y="{y + ch / 2 + 4:.0f}" text-anchor="middle" font-size="{fs - 1}" fill="{color}">{v:.0f}</text></g>')
    base = top_margin + grid_h
    for j, c in enumerate(columns):
        mid = left + j * cw + cw / 2
        if long:
            out.append(f'<text x="{mid:.0f}" y="{base + 12}" text-anchor="end" transform="rotate(-35 {mid:.0f} {base + 12})">{_text(str(c))}</text>')
        else:
            out.append(f'<text x="{mid:.0f}" y="{base + 14}" text-anchor="middle">{_text(str(c))}</text>')
    out.append(f'<text x="{left + grid_w / 2:.0f}" y="{height - 6}" text-anchor="middle">{_text(xlabel)}</text>')
    out.append(f'<text x="12" y="{top_margin + grid_h / 2:.0f}" text-anchor="middle" transform="rotate(-90 12 {top_margin + grid_h / 2:.0f})">'
               f"{_text(ylabel)}</text></svg>")
    return "".join(out)


def histogram(values: np.ndarray, *, title: str, xlabel: str, ylabel: str, bins: int = 40) -> Figure:
    """Distribution of a per-customer value (only the bins reach the SVG); a log scale of counts."""
    fig = _figure(7.0, 2.8)
    with matplotlib.rc_context(_RC):
        ax = fig.subplots()
        finite = values[np.isfinite(values)]
        if finite.size:
            counts, edges, patches = ax.hist(finite, bins=bins, color=PALETTE[0], log=True)
            for k, patch in enumerate(list(patches) if isinstance(patches, (list, tuple)) else [patches]):  # a BarContainer
                fig.tip(patch, f"{number(float(edges[k]))} – {number(float(edges[k + 1]))}: {int(counts[k]):,}")
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
