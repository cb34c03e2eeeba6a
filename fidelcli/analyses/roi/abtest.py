"""`roi abtest`: campaign variants against control, from per-recipient results.

Per variant: recipients, rates with Wilson intervals, revenue per recipient, cost, incremental margin
and ROI. Per variant and metric, against control: absolute lift with Newcombe's interval, relative
lift, two-proportion z test (rates) or Welch's test and a seeded bootstrap (revenue, heavy-tailed),
Holm-adjusted p-values over the variants, achieved power and the sample size for a minimum detectable
effect. Warnings: sample-ratio mismatch, tiny samples, revenue results driven by a few buyers.
`--by`: the lift per segment; `--uplift`: a cross-fitted two-model uplift estimator (`uplift.py`).
Every formula and its reference: docs/roi.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from fidelcli import stats
from fidelcli.analyses.roi.options import AbtestOptions
from fidelcli.analyses.roi.segments import segment_lifts
from fidelcli.analyses.roi.uplift import UpliftResult, uplift_model
from fidelcli.errors import InputError
from fidelcli.result import Figure, JsonResult

# Kohavi, Tang & Xu (2020, ch. 21) flag a sample-ratio mismatch at p < 0.0005 (Fabijan et al. 2019).
SRM_ALPHA = 0.0005
# Below these the normal approximations of the tests are not trustworthy (np >= 10, Agresti 2013).
MIN_RECIPIENTS = 100
MIN_EVENTS = 10
# Revenue is recomputed with each recipient's revenue capped at this quantile of the buyers' revenue.
CAP_QUANTILE = 0.99


@dataclass
class AbtestResult(JsonResult):
    """The result of `abtest()`.

    variants: one row per variant (control first): recipients, `<metric>_rate` with `_lower`/`_upper`
        (Wilson), revenue, revenue_per_recipient, cost, incremental_revenue, incremental_margin (with
        bounds), roi_pct (with bounds).
    lifts: one row per variant, metric and test against control: control_mean, variant_mean, lift
        (absolute) with lift_lower/lift_upper, relative_lift with bounds, statistic, p_value, p_holm,
        power (achieved, at the observed lift), power_at_mde, recipients_needed (per arm for the MDE).
    segments: with `by`, the lift of each variant per segment (first metric and revenue).
    uplift: with `uplift`, the Qini table and the deciles (see `UpliftResult`).
    """

    control: str
    metrics: list[str]
    variants: pl.DataFrame
    lifts: pl.DataFrame
    segments: pl.DataFrame | None = None
    uplift: UpliftResult | None = None
    srm_p_value: float | None = None
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pl.DataFrame]:
        out = {"variants": self.variants, "lifts": self.lifts}
        if self.segments is not None:
            out["segments"] = self.segments
        if self.uplift is not None:
            out["qini"] = self.uplift.qini
            out["deciles"] = self.uplift.deciles
        return out

    def headline(self) -> dict[str, Figure]:
        first = self.lifts.filter(pl.col("metric") == self.metrics[0]) if self.metrics else self.lifts.head(0)
        best = first.sort("lift", descending=True, nulls_last=True).head(1)
        out: dict[str, Figure] = {
            "control": self.control,
            "variants": self.variants.height,
            "recipients": int(self.variants["recipients"].sum()),
            "sample_ratio_p_value": self.srm_p_value,
        }
        if best.height:
            row = best.row(0, named=True)
            out.update(best_variant=row["variant"], best_lift=row["lift"], best_p_holm=row["p_holm"])
        if self.uplift is not None:
            best_qini = self.uplift.qini["qini_coefficient"].max()
            out["qini_coefficient"] = float(best_qini) if isinstance(best_qini, (int, float)) else None
        return out

    def verdict(self) -> str:
        """One sentence on the first metric: which variant beats control, by how much, how surely."""
        if not self.metrics:
            return ""
        rows = self.lifts.filter(pl.col("metric") == self.metrics[0]).to_dicts()
        alpha = 1 - _confidence_of(self.lifts)
        wins = [r for r in rows if r["p_holm"] is not None and r["p_holm"] < alpha and (r["lift"] or 0) > 0]
        if not wins:
            return f"no variant beats {self.control} on {self.metrics[0]} at the {1 - alpha:.0%} level (Holm-adjusted)."
        best = max(wins, key=lambda r: r["lift"])
        return (f"{best['variant']} beats {self.control} on {self.metrics[0]} by {100 * best['lift']:+.2f} points "
                f"({100 * best['lift_lower']:+.2f} to {100 * best['lift_upper']:+.2f}), Holm-adjusted p = {best['p_holm']:.2g}.")


def _confidence_of(lifts: pl.DataFrame) -> float:
    return float(lifts["confidence"][0]) if lifts.height else 0.95


# --------------------------------------------------------------------------------------------
def _aggregates(lf: pl.LazyFrame, keys: list[str], metrics: list[str], revenue: bool, cost: bool, cap: float | None) -> pl.DataFrame:
    aggs: list[pl.Expr] = [pl.len().alias("recipients")]
    for m in metrics:
        aggs += [pl.col(m).count().alias(f"{m}__n"), pl.col(m).cast(pl.Float64).sum().alias(f"{m}__x")]
    if revenue:
        r = pl.col("revenue").fill_null(0.0)
        aggs += [r.sum().alias("revenue"), (r * r).sum().alias("revenue__sq")]
        if cap is not None:
            c = r.clip(upper_bound=cap)
            aggs += [c.sum().alias("capped__s"), (c * c).sum().alias("capped__sq")]
    if cost:
        aggs.append(pl.col("cost").fill_null(0.0).sum().alias("cost"))
    return lf.group_by(keys).agg(aggs).collect(engine="streaming").sort(keys)


def _mean_var(n: float, s: float, sq: float) -> tuple[float, float]:
    mean = s / n
    return mean, max(sq - n * mean * mean, 0.0) / (n - 1) if n > 1 else 0.0


def _rate_row(variant: str, metric: str, c: dict[str, Any], v: dict[str, Any], o: AbtestOptions) -> dict[str, Any]:
    x1, n1, x0, n0 = v[f"{metric}__x"], v[f"{metric}__n"], c[f"{metric}__x"], c[f"{metric}__n"]
    p1, p0 = (x1 / n1 if n1 else None), (x0 / n0 if n0 else None)
    lo, hi = stats.newcombe_interval(x1, n1, x0, n0, confidence=o.confidence)
    rlo, rhi = stats.ratio_interval(x1, n1, x0, n0, confidence=o.confidence)
    z, p = stats.two_proportion_test(x1, n1, x0, n0)
    alpha = 1 - o.confidence
    power = power_mde = needed = None
    if p1 is not None and p0 is not None and n1 and n0:
        if 0 < p0 < 1 and 0 <= p1 <= 1 and p1 != p0:
            power = stats.power_proportions(p1, p0, n1, n0, alpha=alpha)
        target = min(p0 * (1 + o.mde), 1.0)
        if 0 < p0 < 1 and target != p0:
            power_mde = stats.power_proportions(target, p0, n1, n0, alpha=alpha)
            ratio = n1 / n0
            needed = stats.sample_size(lambda n: stats.power_proportions(target, p0, n, n * ratio, alpha=alpha), power=o.power)
    return {
        "variant": variant, "metric": metric, "test": "two-proportion z", "control_mean": p0, "variant_mean": p1,
        "lift": None if p1 is None or p0 is None else p1 - p0, "lift_lower": lo, "lift_upper": hi,
        "relative_lift": None if not p0 or p1 is None else p1 / p0 - 1,
        "relative_lift_lower": None if rlo is None else rlo - 1, "relative_lift_upper": None if rhi is None else rhi - 1,
        "statistic": z, "p_value": p, "power": power, "power_at_mde": power_mde,
        "recipients_needed": None if needed is None else math.ceil(needed),
    }


def _welch_row(variant: str, c: dict[str, Any], v: dict[str, Any], o: AbtestOptions, *, capped: bool = False) -> dict[str, Any]:
    s, sq = ("capped__s", "capped__sq") if capped else ("revenue", "revenue__sq")
    n1, n0 = v["recipients"], c["recipients"]
    m1, v1 = _mean_var(n1, v[s], v[sq])
    m0, v0 = _mean_var(n0, c[s], c[sq])
    w = stats.welch_test(n1, m1, v1, n0, m0, v0, confidence=o.confidence)
    rel = rlo = rhi = None
    if m0 > 0:
        # Delta method for the ratio of two independent means.
        rel = m1 / m0 - 1
        se = math.sqrt(v1 / n1 + (m1 / m0) ** 2 * v0 / n0) / m0
        z = stats.z_quantile(o.confidence)
        rlo, rhi = rel - z * se, rel + z * se
    alpha = 1 - o.confidence
    sd = math.sqrt((v1 * (n1 - 1) + v0 * (n0 - 1)) / (n1 + n0 - 2)) if n1 + n0 > 2 else 0.0
    power = power_mde = needed = None
    if sd > 0 and n1 > 1 and n0 > 1:
        if m1 != m0:
            power = stats.power_means(m1 - m0, sd, n1, n0, alpha=alpha)
        if m0 > 0:
            power_mde = stats.power_means(o.mde * m0, sd, n1, n0, alpha=alpha)
            ratio = n0 / n1
            needed = stats.sample_size(lambda n: stats.power_means(o.mde * m0, sd, n, n * ratio, alpha=alpha), power=o.power)
    return {
        "variant": variant, "metric": "revenue_per_recipient", "test": "welch, capped" if capped else "welch",
        "control_mean": m0, "variant_mean": m1, "lift": w.difference, "lift_lower": w.low, "lift_upper": w.high,
        "relative_lift": rel, "relative_lift_lower": rlo, "relative_lift_upper": rhi, "statistic": w.t, "p_value": w.p_value,
        "power": power, "power_at_mde": power_mde, "recipients_needed": None if needed is None else math.ceil(needed),
    }


def _bootstrap_row(variant: str, dist: dict[str, tuple[np.ndarray, np.ndarray]], o: AbtestOptions, seed: int) -> dict[str, Any]:
    (v1, c1), (v0, c0) = dist[variant], dist[o.control]
    b1, b0 = stats.bootstrap_mean_difference(v1, c1, v0, c0, n_boot=o.bootstrap, seed=seed)
    m1, m0 = float(v1 @ c1 / c1.sum()), float(v0 @ c0 / c0.sum())
    a = (1 - o.confidence) / 2
    lo, hi = np.quantile(b1 - b0, [a, 1 - a])
    rel = rlo = rhi = None
    if m0 > 0 and (b0 > 0).all():
        rel = m1 / m0 - 1
        rlo, rhi = (float(q) for q in np.quantile(b1 / b0 - 1, [a, 1 - a]))
    # Two-sided bootstrap p-value: twice the smaller share of resampled differences on either side of 0.
    diff = b1 - b0
    # Never below 1 / n_boot: the resampling cannot tell smaller p-values apart.
    p = min(1.0, max(2 * min(float((diff <= 0).mean()), float((diff >= 0).mean())), 1 / o.bootstrap))
    return {
        "variant": variant, "metric": "revenue_per_recipient", "test": "bootstrap", "control_mean": m0, "variant_mean": m1,
        "lift": m1 - m0, "lift_lower": float(lo), "lift_upper": float(hi), "relative_lift": rel, "relative_lift_lower": rlo,
        "relative_lift_upper": rhi, "statistic": None, "p_value": p, "power": None, "power_at_mde": None, "recipients_needed": None,
    }


def _variants_table(agg: pl.DataFrame, metrics: list[str], revenue: bool, cost: bool, o: AbtestOptions,
                    lifts: list[dict[str, Any]]) -> pl.DataFrame:
    rows: list[dict[str, Any]] = []
    c = agg.filter(pl.col("variant") == o.control).row(0, named=True)
    welch = {r["variant"]: r for r in lifts if r["test"] == "welch"}
    for v in agg.iter_rows(named=True):
        n = v["recipients"]
        row: dict[str, Any] = {"variant": v["variant"], "recipients": n}
        for m in metrics:
            nm, xm = v[f"{m}__n"], v[f"{m}__x"]
            lo, hi = stats.wilson_interval(xm, nm, confidence=o.confidence)
            row.update({f"{m}_rate": xm / nm if nm else None, f"{m}_rate_lower": lo, f"{m}_rate_upper": hi})
        row["revenue"] = v["revenue"] if revenue else None
        row["revenue_per_recipient"] = v["revenue"] / n if revenue else None
        spent = v["cost"] if cost else (o.cost_per_recipient[v["variant"]] * n if v["variant"] in o.cost_per_recipient else None)
        row["cost"] = spent
        control_cost = c["cost"] if cost else (o.cost_per_recipient[o.control] * c["recipients"] if o.control in o.cost_per_recipient
                                               else (0.0 if o.cost_per_recipient else None))
        w = welch.get(v["variant"])
        inc = {k: None for k in ("incremental_revenue", "incremental_margin", "incremental_margin_lower", "incremental_margin_upper",
                                 "incremental_cost", "roi_pct", "roi_pct_lower", "roi_pct_upper")}
        if w is not None:
            inc["incremental_revenue"] = w["lift"] * n
            inc["incremental_margin"] = w["lift"] * n * o.margin
            if w["lift_lower"] is not None:
                inc["incremental_margin_lower"] = w["lift_lower"] * n * o.margin
                inc["incremental_margin_upper"] = w["lift_upper"] * n * o.margin
            if spent is not None and control_cost is not None:
                # The variant's cost above what its recipients would have cost as control.
                extra = spent - control_cost / c["recipients"] * n
                inc["incremental_cost"] = extra
                if extra > 0:
                    for key, m in (("roi_pct", "incremental_margin"), ("roi_pct_lower", "incremental_margin_lower"),
                                   ("roi_pct_upper", "incremental_margin_upper")):
                        inc[key] = None if inc[m] is None else (inc[m] - extra) / extra * 100
        row.update(inc)
        rows.append(row)
    out = pl.DataFrame(rows, infer_schema_length=None)
    return out.cast({c: pl.Float64 for c in out.columns if c not in ("variant", "recipients")})


def _lifts_frame(rows: list[dict[str, Any]], confidence: float) -> pl.DataFrame:
    """The lift rows with Holm-adjusted p-values over the variants of each (metric, test)."""
    for key in {(r["metric"], r["test"]) for r in rows}:
        family = [r for r in rows if (r["metric"], r["test"]) == key]
        for r, adj in zip(family, stats.holm([r["p_value"] for r in family]), strict=True):
            r["p_holm"] = adj
    schema = {"variant": pl.String, "metric": pl.String, "test": pl.String, **{k: pl.Float64 for k in (
        "control_mean", "variant_mean", "lift", "lift_lower", "lift_upper", "relative_lift", "relative_lift_lower",
        "relative_lift_upper", "statistic", "p_value", "p_holm", "power", "power_at_mde")}, "recipients_needed": pl.Int64}
    frame = pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema)
    return frame.with_columns(pl.lit(confidence).alias("confidence"))


def _check_control(agg: pl.DataFrame, control: str) -> None:
    names = agg["variant"].drop_nulls().to_list()
    if control not in names:
        raise InputError(f"control variant {control!r} is not among the variants",
                         hint="use --control with one of: " + ", ".join(map(str, names)))
    if len(names) < 2:
        raise InputError("an A/B test needs at least two variants, found one", hint="check the variant column")


def _warnings(agg: pl.DataFrame, metrics: list[str], lifts: list[dict[str, Any]], o: AbtestOptions) -> tuple[list[str], float | None]:
    out: list[str] = []
    names = agg["variant"].to_list()
    counts = agg["recipients"].to_list()
    shares = [o.split.get(v, 0.0) for v in names] if o.split else [1.0] * len(names)
    srm_p = None
    if o.split and set(o.split) != set(names):
        out.append(f"the designed split names {sorted(o.split)} but the variants are {sorted(names)}: no sample-ratio check")
    elif min(shares) > 0:
        _, srm_p = stats.sample_ratio_test(counts, shares)
        if srm_p < SRM_ALPHA:
            design = "the designed split" if o.split else "an equal split"
            out.append(f"sample-ratio mismatch: recipients per variant {dict(zip(names, counts, strict=True))} are unlikely under "
                       f"{design} (chi-square p = {srm_p:.2g}); the assignment or the logging is broken, so the lifts are not "
                       "trustworthy" + ("" if o.split else " (if the design was unequal, give --split A=0.4,B=0.4,control=0.2)"))
    for v in agg.iter_rows(named=True):
        if v["recipients"] < MIN_RECIPIENTS:
            out.append(f"variant {v['variant']!r} has only {v['recipients']} recipients: too few for the tests' approximations")
        for m in metrics:
            x, n = v[f"{m}__x"], v[f"{m}__n"]
            if n >= MIN_RECIPIENTS and min(x, n - x) < MIN_EVENTS:
                out.append(f"variant {v['variant']!r} has {int(min(x, n - x))} {m} {'events' if x < n - x else 'non-events'} "
                           f"(fewer than {MIN_EVENTS}): the z test and its interval are approximate")
    welch = {r["variant"]: r for r in lifts if r["test"] == "welch"}
    capped = {r["variant"]: r for r in lifts if r["test"] == "welch, capped"}
    alpha = 1 - o.confidence
    for v, w in welch.items():
        cw = capped.get(v)
        if cw is None or w["p_value"] is None or cw["p_value"] is None:
            continue
        flips = (w["p_value"] < alpha) != (cw["p_value"] < alpha) or (w["lift"] > 0) != (cw["lift"] > 0)
        if flips or (w["lift"] and abs(cw["lift"] - w["lift"]) > 0.5 * abs(w["lift"])):
            out.append(f"revenue of {v!r} vs {o.control!r} is driven by a few large values: capped at the {CAP_QUANTILE:.0%} quantile "
                       f"of the buyers' revenue, the lift per recipient is {cw['lift']:.4g} (p = {cw['p_value']:.2g}) instead of "
                       f"{w['lift']:.4g} (p = {w['p_value']:.2g})")
    return out, srm_p


def abtest(
    results: pl.LazyFrame,
    *,
    metrics: list[str],
    revenue: bool = False,
    cost: bool = False,
    by: bool = False,
    features: list[str] | None = None,
    options: AbtestOptions = AbtestOptions(),
) -> AbtestResult:
    """Compare every variant with control on each metric and on revenue per recipient.

    Parameters
    ----------
    results: one row per recipient: `variant` (text), each metric (Boolean; null = unknown, left out
        of that metric), `revenue` and `cost` when `revenue`/`cost`, `by` (text) when `by`, features.
    metrics: the outcome columns, the first one the primary (verdict, segments, uplift).
    features: the columns the uplift model learns from (with `options.uplift`).

    Returns an `AbtestResult`. Raises InputError when the control is not a variant.
    """
    o = options
    cap = None
    if revenue:
        cap = results.filter(pl.col("revenue") > 0).select(pl.col("revenue").quantile(CAP_QUANTILE, "higher")).collect().item()
    agg = _aggregates(results, ["variant"], metrics, revenue, cost, cap).filter(pl.col("variant").is_not_null())
    _check_control(agg, o.control)
    agg = pl.concat([agg.filter(pl.col("variant") == o.control), agg.filter(pl.col("variant") != o.control)])
    c = agg.row(0, named=True)
    rows: list[dict[str, Any]] = []
    others = agg.slice(1).to_dicts()
    for v in others:
        rows += [_rate_row(v["variant"], m, c, v, o) for m in metrics]
    if revenue:
        dist = {k: (g["revenue"].to_numpy(), g["len"].to_numpy().astype(float)) for (k,), g in results.select(
            "variant", pl.col("revenue").fill_null(0.0)).group_by("variant", "revenue").len().collect().sort(
            "variant", "revenue").partition_by("variant", as_dict=True).items()}
        for i, v in enumerate(others):
            rows.append(_welch_row(v["variant"], c, v, o))
            rows.append(_bootstrap_row(v["variant"], dist, o, o.seed + i))
            if cap is not None:
                rows.append(_welch_row(v["variant"], c, v, o, capped=True))
    warns, srm_p = _warnings(agg, metrics, rows, o)
    lifts = _lifts_frame(rows, o.confidence)
    variants = _variants_table(agg, metrics, revenue, cost, o, rows)
    segments = None
    if by:

        segments = segment_lifts(_aggregates(results, ["by", "variant"], metrics[:1], revenue, False, None), metrics[:1], revenue, o)
    up = None
    if o.uplift:
        if not metrics:
            raise InputError("--uplift needs a yes/no outcome", hint="name one with --metric")
        up = uplift_model(results, outcome=metrics[0], features=features or [], control=o.control,
                          revenue=revenue, folds=o.folds, seed=o.seed)
        warns += up.warnings
    return AbtestResult(control=o.control, metrics=metrics, variants=variants, lifts=lifts, segments=segments, uplift=up,
                        srm_p_value=srm_p, warnings=warns)
