"""The report's charts: a hover value (SVG `<title>`) on every bar, line point and heatmap cell, and the
values printed for paper; the same data give the same bytes."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

from fidelcli.report import charts

TITLE = re.compile(r"<title>([^<]*)</title>")


def test_heatmap_cells_have_titles_and_printed_values() -> None:
    svg = charts.heatmap(["2024-01", "2024-02"], ["0", "1"], [[1.0, 0.5], [0.25, None]], title="Retention", xlabel="period",
                         ylabel="cohort", label="Retention")
    # Percent: 1.0 -> 100.0 %, 0.5 -> 50.0 %, 0.25 -> 25.0 %; the unknown cell has neither rectangle nor title.
    assert TITLE.findall(svg) == ["cohort 2024-01, period 0: 100.0 %", "cohort 2024-01, period 1: 50.0 %", "cohort 2024-02, period 0: 25.0 %"]
    assert svg.count("<rect ") == 3
    assert re.findall(r'fill="#[0-9a-f]{3}">(\d+)</text>', svg) == ["100", "50", "25"]  # the column labels 0, 1 aside
    assert 'aria-label="Retention"' in svg and "<script" not in svg
    counts = charts.heatmap(["A"], ["A", "(gone)"], [[12.0, 3.0]], title="t", xlabel="x", ylabel="y", label="t", percent=False)
    assert TITLE.findall(counts) == ["A → A: 12", "A → (gone): 3"]


def test_bars_have_titles_and_value_labels() -> None:
    svg = charts.svg(charts.bars(["gold", "silver"], [0.1, None], title="Tiers", percent=True), label="Tiers")
    assert TITLE.findall(svg) == ["gold: 10.0 %", "silver: ?"]
    assert "10.0 %" in re.sub(r"<title>[^<]*</title>", "", svg)  # printed at the bar's end, not only on hover
    assert svg.count('class="tip"') == 2 and 'id="tip-' not in svg


def test_line_points_have_titles_and_the_same_bytes_twice() -> None:
    x = [dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)]

    def draw() -> str:
        return charts.svg(charts.lines(x, {"revenue": [10.0, None, 1234.5], "orders": [1.0, 2.0, 3.0]}, title="t"), label="t")

    svg = draw()
    # One title per known point, on its marker; 1234.5 prints as 1,234 (3 significant digits, thousands separated).
    assert TITLE.findall(svg) == ["revenue, 2024-01-01: 10", "revenue, 2024-03-01: 1,234", "orders, 2024-01-01: 1",
                                  "orders, 2024-02-01: 2", "orders, 2024-03-01: 3"]
    assert len(re.findall(r"<use [^>]*><title>", svg)) == 5
    assert draw() == svg


def test_histogram_bins_have_titles() -> None:
    svg = charts.svg(charts.histogram(np.array([1.0, 2.0, 3.0, 4.0, 100.0]), title="h", xlabel="x", ylabel="y", bins=3), label="h")
    # Bins of (100 - 1) / 3 = 33: [1, 34), [34, 67), [67, 100] with 4, 0 and 1 values.
    assert TITLE.findall(svg) == ["1 – 34: 4", "34 – 67: 0", "67 – 100: 1"]
