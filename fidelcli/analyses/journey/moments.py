"""Moments of truth: the touchpoints whose satisfaction best predicts the customer's later purchases.

For each (stage, channel), each customer's first rated touchpoint there is compared with what the
customer bought afterwards (docs/journey.md gives the model and its assumptions):

- exposure: a negative experience (satisfaction <= `negative_max`, 1-2 on the 1-5 scale by default);
- outcome: `retention`, a purchase occasion more than `window_days` after the touchpoint (still a
  customer after the window), or `repurchase`, a purchase occasion within the `window_days` after it;
- adjustment: a logistic regression of the outcome on the exposure and the customer's value before
  the touchpoint (log 1 + purchase occasions, log 1 + net spend, and for retention log of the days
  observed after the touchpoint);
- effect: the adjusted risk difference in points (g-computation over the touchpoint's customers)
  with a 95 % delta-method interval, and the adjusted odds ratio with its Wald interval.

Ranked by the interval's end nearest zero (0 when the interval covers 0): a moment of truth is a
touchpoint whose effect is surely large, not merely large.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from fidelcli.analyses.journey.matrix import stage_rank
from fidelcli.stats import holm, logistic_regression, logistic_risk_difference, z_quantile

Outcome = Literal["retention", "repurchase"]
MIN_GROUP = 10  # fewest customers with (and without) a negative experience for a touchpoint to be modelled
CONFIDENCE = 0.95

MOMENT_COLUMNS = (
    "rank", "stage", "channel", "customers", "negative", "outcome_negative", "outcome_other", "effect", "effect_low", "effect_high",
    "odds_ratio", "odds_ratio_low", "odds_ratio_high", "p_value", "p_holm", "note",
)


@dataclass(frozen=True)
class MomentSettings:
    """How moments of truth are measured (see the module docstring)."""

    negative_max: float = 2.0
    outcome: Outcome = "retention"
    window_days: int = 180


def anchors(tp: pl.LazyFrame, *, negative_max: float) -> pl.DataFrame:
    """Each customer's first rated touchpoint per (stage, channel): customer_id, stage, channel,
    anchor (its day), negative (satisfaction <= negative_max). Ties of timestamp: the lower
    satisfaction first, so row order never matters."""
    return (
        tp.filter(pl.col("satisfaction").is_not_null())
        .sort("customer_id", "stage", "channel", "timestamp", "satisfaction")
        .group_by("customer_id", "stage", "channel", maintain_order=True)
        .agg(anchor=pl.col("timestamp").first().dt.date(), satisfaction=pl.col("satisfaction").first())
        .select("customer_id", "stage", "channel", "anchor", negative=pl.col("satisfaction") <= negative_max)
        .collect()
    )


def observed(rows: pl.DataFrame, *, settings: MomentSettings, end: dt.date) -> pl.DataFrame:
    """The anchors whose outcome the data fully observes (`end`: the exclusive end of the
    transactions): repurchase needs anchor + window < end; retention needs anchor + 2 x window < end,
    so that every kept customer has at least a window's length of days after the window."""
    span = settings.window_days * (2 if settings.outcome == "retention" else 1)
    return rows.filter(pl.col("anchor") + pl.duration(days=span) < pl.lit(end))


def _design(group: pl.DataFrame, *, outcome: Outcome, end: dt.date) -> tuple[np.ndarray, list[str]]:
    cols = {"negative": group["negative"].cast(pl.Float64).to_numpy(),
            "log_prior_occasions": np.log1p(group["prior_occasions"].cast(pl.Float64).to_numpy())}
    spend = group["prior_spend"]
    if spend.null_count() == 0:
        cols["log_prior_spend"] = np.log1p(np.clip(spend.cast(pl.Float64).to_numpy(), 0, None))
    if outcome == "retention":
        # Days from the touchpoint to the end of the data: a longer follow-up leaves more time to buy.
        days = group.select((pl.lit(end) - pl.col("anchor")).dt.total_days().cast(pl.Float64)).to_series().to_numpy()
        cols["log_days_observed"] = np.log(days)
    kept = [name for name, v in cols.items() if name == "negative" or np.ptp(v) > 0]  # a constant covariate adds nothing
    x = np.column_stack([np.ones(group.height), *(cols[name] for name in kept)])
    return x, kept


def _fit_one(group: pl.DataFrame, *, outcome: Outcome, end: dt.date) -> dict[str, object]:
    y = group["y"].cast(pl.Float64).to_numpy()
    neg = group["negative"].to_numpy()
    n_neg = int(neg.sum())
    row: dict[str, object] = {
        "customers": group.height, "negative": n_neg,
        "outcome_negative": float(y[neg].mean()) if n_neg else None,
        "outcome_other": float(y[~neg].mean()) if n_neg < group.height else None,
    }
    if n_neg == 0:
        return {**row, "note": "no negative experience"}
    if min(n_neg, group.height - n_neg) < MIN_GROUP:
        return {**row, "note": f"fewer than {MIN_GROUP} customers with or without a negative experience"}
    if y.min() == y.max():
        return {**row, "note": "every customer has the same outcome"}
    x, _ = _design(group, outcome=outcome, end=end)
    fit = logistic_regression(x, y)
    if fit is None:
        return {**row, "note": "no finite fit (an outcome perfectly predicted)"}
    from scipy.special import ndtr  # on first use: SciPy is not loaded by the commands that never get here

    z = z_quantile(CONFIDENCE)
    effect, se = logistic_risk_difference(fit, x, 1)
    b, b_se = float(fit.coef[1]), float(fit.std_errors()[1])
    return {
        **row, "effect": effect, "effect_low": effect - z * se, "effect_high": effect + z * se,
        "odds_ratio": math.exp(b), "odds_ratio_low": math.exp(b - z * b_se), "odds_ratio_high": math.exp(b + z * b_se),
        "p_value": float(2 * ndtr(-abs(b / b_se))) if b_se > 0 else None, "note": None,
    }


def moments_of_truth(rows: pl.DataFrame, order: Sequence[str], *, settings: MomentSettings, end: dt.date) -> pl.DataFrame:
    """One row per (stage, channel) with rated touchpoints, ranked.

    `rows`: the observed anchors (`observed`) joined with `Engine.anchored_purchases`: customer_id,
    stage, channel, anchor, negative, prior_occasions, prior_spend, occasions_within, occasions_after.

    Columns: rank (1 = the strongest moment of truth; null when not modelled), stage, channel,
    customers (modelled), negative (of them, with a negative experience), outcome_negative and
    outcome_other (the raw share with the outcome in each group), effect (adjusted risk difference,
    negative minus other, -1..1) with effect_low and effect_high (95 %), odds_ratio with its 95 %
    interval, p_value (Wald, of the odds ratio), p_holm (Holm-adjusted over the modelled
    touchpoints), note (why a touchpoint is not modelled).
    """
    y = pl.col("occasions_after" if settings.outcome == "retention" else "occasions_within") > 0
    data = rows.with_columns(y=y).sort("stage", "channel", "customer_id")
    results = []
    for (stage, channel), group in data.group_by("stage", "channel", maintain_order=True):
        results.append({"stage": stage, "channel": channel, **_fit_one(group, outcome=settings.outcome, end=end)})
    schema = {
        "stage": pl.String, "channel": pl.String, "customers": pl.Int64, "negative": pl.Int64, "outcome_negative": pl.Float64,
        "outcome_other": pl.Float64, "effect": pl.Float64, "effect_low": pl.Float64, "effect_high": pl.Float64,
        "odds_ratio": pl.Float64, "odds_ratio_low": pl.Float64, "odds_ratio_high": pl.Float64, "p_value": pl.Float64, "note": pl.String,
    }
    out = pl.DataFrame(results, schema=schema) if results else pl.DataFrame(schema=schema)
    out = out.with_columns(p_holm=pl.Series(holm(out["p_value"].to_list()), dtype=pl.Float64))
    # Strength: the interval's end nearest zero, 0 when it covers zero (then |effect| breaks the tie).
    covers = (pl.col("effect_low") <= 0) & (pl.col("effect_high") >= 0)
    strength = pl.when(covers).then(0.0).otherwise(pl.min_horizontal(pl.col("effect_low").abs(), pl.col("effect_high").abs()))
    out = out.with_columns(_strength=strength, _size=pl.col("effect").abs(), _stage=stage_rank(order)).sort(
        ["_strength", "_size", "_stage", "channel"], descending=[True, True, False, False], nulls_last=True)
    ranked = out.with_columns(rank=pl.when(pl.col("effect").is_not_null()).then(pl.int_range(1, pl.len() + 1)).cast(pl.Int64))
    return ranked.select(*MOMENT_COLUMNS)


def sentence_points(row: Mapping[str, object]) -> tuple[float, float, float, float, float]:
    """The figures a moment's sentence states, in points: effect, its 95 % interval (low, high), and the
    raw outcome rates of customers with and without a negative experience (one home for every language)."""
    keys = ("effect", "effect_low", "effect_high", "outcome_negative", "outcome_other")
    effect, low, high, neg, other = (100 * float(row[k]) for k in keys)  # type: ignore[arg-type]
    return effect, low, high, neg, other


def sentence(row: dict[str, object], *, settings: MomentSettings) -> str:
    """One moment of truth in plain words (a row of `moments_of_truth` with an effect)."""
    effect, low, high, raw_neg, raw_other = sentence_points(row)
    w = settings.window_days
    goal = (f"to still be buying more than {w} days later" if settings.outcome == "retention" else f"to buy again within {w} days")
    direction = "less" if effect < 0 else "more"
    threshold = int(settings.negative_max) if float(settings.negative_max).is_integer() else settings.negative_max
    sure = "" if low > 0 or high < 0 else " (not distinguishable from no effect at 95 %)"
    return (
        f"{row['stage']} via {row['channel']}: customers with a negative experience (satisfaction 1-{threshold}) were "
        f"{abs(effect):.1f} points {direction} likely {goal} than comparable customers (same purchases and spend before), "
        f"95 % interval {low:+.1f} to {high:+.1f} points{sure}; raw {raw_neg:.0f} % vs {raw_other:.0f} %, "
        f"{row['negative']} of {row['customers']} customers."
    )
