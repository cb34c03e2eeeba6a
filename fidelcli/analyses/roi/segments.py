"""The lift of each variant per segment (`roi abtest --by`): a segment is any column of the results,
or the RFM segment of each recipient before the campaign."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from fidelcli import stats

if TYPE_CHECKING:
    from fidelcli.analyses.roi.options import AbtestOptions


def segment_lifts(agg: pl.DataFrame, metrics: list[str], revenue: bool, o: AbtestOptions) -> pl.DataFrame:
    """One row per segment and variant against the control of the same segment: recipients of each,
    the first metric's rates, lift with Newcombe's interval, z-test p-value and Holm-adjusted p over
    the segments of the variant; revenue per recipient and its lift with Welch's interval.

    `agg` holds per (by, variant): recipients, `<metric>__n`, `<metric>__x`, revenue and revenue__sq.
    A segment without control recipients has null lifts.
    """
    m = metrics[0] if metrics else None
    rows: list[dict[str, Any]] = []
    for (segment,), g in agg.partition_by("by", as_dict=True, maintain_order=True).items():
        ctrl = g.filter(pl.col("variant") == o.control)
        c = ctrl.row(0, named=True) if ctrl.height else None
        for v in g.filter(pl.col("variant") != o.control).iter_rows(named=True):
            row: dict[str, Any] = {"segment": segment, "variant": v["variant"], "control_recipients": c["recipients"] if c else 0,
                                   "variant_recipients": v["recipients"]}
            if m is not None:
                x1, n1 = v[f"{m}__x"], v[f"{m}__n"]
                x0, n0 = (c[f"{m}__x"], c[f"{m}__n"]) if c else (0.0, 0)
                lo, hi = stats.newcombe_interval(x1, n1, x0, n0, confidence=o.confidence)
                _, p = stats.two_proportion_test(x1, n1, x0, n0)
                row.update({"metric": m, "control_rate": x0 / n0 if n0 else None, "variant_rate": x1 / n1 if n1 else None,
                            "lift": x1 / n1 - x0 / n0 if n0 and n1 else None, "lift_lower": lo, "lift_upper": hi, "p_value": p})
            if revenue:
                lo = hi = diff = None
                if c and c["recipients"] > 1 and v["recipients"] > 1:
                    args = []
                    for r in (v, c):
                        n = r["recipients"]
                        mean = r["revenue"] / n
                        args += [n, mean, max(r["revenue__sq"] - n * mean * mean, 0.0) / (n - 1)]
                    w = stats.welch_test(*args, confidence=o.confidence)
                    diff, lo, hi = w.difference, w.low, w.high
                row.update({"revenue_lift_per_recipient": diff, "revenue_lift_per_recipient_lower": lo,
                            "revenue_lift_per_recipient_upper": hi})
            rows.append(row)
    if not rows:
        return pl.DataFrame({"segment": [], "variant": []}, schema={"segment": pl.String, "variant": pl.String})
    frame = pl.DataFrame(rows, infer_schema_length=None)
    if "p_value" in frame.columns:
        adjusted: list[float | None] = [None] * frame.height
        for variant in frame["variant"].unique(maintain_order=True).to_list():
            idx = [i for i, v in enumerate(frame["variant"].to_list()) if v == variant]
            for i, p in zip(idx, stats.holm([frame["p_value"][i] for i in idx]), strict=True):
                adjusted[i] = p
        frame = frame.with_columns(pl.Series("p_holm", adjusted, dtype=pl.Float64))
    floats = [c for c in frame.columns if c not in ("segment", "variant", "metric", "control_recipients", "variant_recipients")]
    return frame.cast({c: pl.Float64 for c in floats}).sort("segment", "variant", nulls_last=True)
