"""Calibration/holdout report: how well a purchase model fitted up to `--calibration-end` predicts
the purchases that followed.

Per customer, the model's expected purchases in the holdout (T, T + holdout length] are compared
with the purchases actually made: mean absolute error, root mean squared error and correlation; the
same by calibration frequency (0, 1, ..., 7+), as in Fader, Hardie & Lee (2005, fig. 4); the
aggregate error (total predicted vs actual); and the weekly cumulative tracking of repeat purchases
across calibration and holdout (FHL 2005, fig. 2): actual vs the sum over customers of E[X(t - s_i)],
where s_i is the customer's first purchase.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from fidelcli.analyses.clv.summary import Summary, arrays
from fidelcli.analyses.timeunits import days_per
from fidelcli.errors import ConfigError
from fidelcli.stats import FloatArray, weighted_corr

if TYPE_CHECKING:
    from fidelcli.models.base import PurchasePredictor

FREQUENCY_CAP = 7
# A holdout forecast further than this from what happened (in % of the actual total) is worth a warning.
FORECAST_TOLERANCE_PCT = 25.0


@dataclass
class HoldoutReport:
    """The holdout report.

    - `customers`: customer_id, frequency, actual, predicted (holdout purchases), error
      (predicted - actual).
    - `metrics`: customers, holdout_length (model units), mae, rmse, correlation (None when either
      side is constant), actual_total, predicted_total, total_error_pct ((predicted - actual) /
      actual x 100; None when nobody bought in the holdout).
    - `by_frequency`: frequency ("0" ... "6", "7+"), customers, actual, predicted (means).
    - `tracking`: week, date (end of the week, exclusive), actual, expected (cumulative repeat
      purchases of the cohort), holdout (True for weeks after the calibration end); empty when the
      summary was not computed from transactions or the model is discrete.
    - `warnings`: the forecast is off by more than `FORECAST_TOLERANCE_PCT` % in total.
    """

    customers: pl.DataFrame
    metrics: dict[str, float | int | None]
    by_frequency: pl.DataFrame
    tracking: pl.DataFrame
    warnings: list[str] = field(default_factory=list)


def _check(summary: Summary) -> float:
    if not summary.has_holdout or summary.holdout_length is None:
        raise ConfigError("no holdout period: the summary has no purchases after the calibration end",
                          hint="pass --calibration-end before the end of the data")
    return summary.holdout_length


def holdout_predictions(model: PurchasePredictor, summary: Summary) -> FloatArray:
    """Expected purchases of each customer over the holdout period."""
    length = _check(summary)
    if summary.discrete:
        length = round(length)
    x, t_x, age = arrays(summary.frame, "frequency", "recency", summary.age)
    return np.asarray(model.expected_purchases(length, x, t_x, age), dtype=float)


def holdout_errors(model: PurchasePredictor, summary: Summary) -> tuple[float, float]:
    """Mean absolute error and root mean squared error of the per-customer holdout purchase
    predictions (weighted by customers): what `--model auto` chooses on with a holdout."""
    pred = holdout_predictions(model, summary)
    actual, w = arrays(summary.frame, "holdout_frequency", "weight")
    with np.errstate(invalid="ignore", over="ignore"):
        err = pred - actual
        return float((w @ np.abs(err)) / w.sum()), float(math.sqrt((w @ err**2) / w.sum()))


def holdout_rmse(model: PurchasePredictor, summary: Summary) -> float:
    """Root mean squared error of the per-customer holdout predictions (weighted by customers)."""
    return holdout_errors(model, summary)[1]


def holdout_report(model: PurchasePredictor, summary: Summary) -> HoldoutReport:
    """Predicted vs actual holdout purchases: per customer, by frequency, aggregate and tracking.

    Raises
    ------
    ConfigError
        The summary has no holdout (no calibration end before the end of the data).

    Example
    -------
    >>> report = holdout_report(BGNBD().fit(x, t_x, T), summary)
    >>> report.metrics["mae"]
    """
    length = _check(summary)
    pred = holdout_predictions(model, summary)
    frame = summary.frame
    customers = frame.select("customer_id", "frequency", "weight", actual="holdout_frequency").with_columns(
        predicted=pl.Series(pred)).with_columns(error=pl.col("predicted") - pl.col("actual"))
    actual, w = arrays(customers, "actual", "weight")
    n = float(w.sum())
    actual_total = float(w @ actual)
    predicted_total = float(w @ pred)
    corr = weighted_corr(actual, pred, w)
    metrics: dict[str, float | int | None] = {
        "customers": n,
        "holdout_length": float(length),
        "mae": float((w @ np.abs(pred - actual)) / n),
        "rmse": float(math.sqrt((w @ (pred - actual) ** 2) / n)),
        "correlation": corr,
        "actual_total": actual_total,
        "predicted_total": predicted_total,
        "total_error_pct": (predicted_total - actual_total) / actual_total * 100 if actual_total else None,
    }
    warnings = []
    off = metrics["total_error_pct"]
    if off is not None and abs(off) > FORECAST_TOLERANCE_PCT:
        warnings.append(f"the holdout forecast is off by {off:+.0f} % ({predicted_total:,.0f} purchases predicted, "
                        f"{actual_total:,.0f} made): the model does not track this period (a trend, seasonality, or a short "
                        "calibration); read its predictions with care")
    bucket = pl.when(pl.col("frequency") >= FREQUENCY_CAP).then(pl.lit(f"{FREQUENCY_CAP}+")).otherwise(
        pl.col("frequency").cast(pl.Int64).cast(pl.String))
    by_frequency = (
        customers.with_columns(bucket=bucket, order=pl.col("frequency").clip(upper_bound=FREQUENCY_CAP))
        .group_by("bucket", "order")
        .agg(
            customers=pl.col("weight").sum(),
            actual=(pl.col("actual") * pl.col("weight")).sum() / pl.col("weight").sum(),
            predicted=(pl.col("predicted") * pl.col("weight")).sum() / pl.col("weight").sum(),
        )
        .sort("order")
        .select(frequency="bucket", customers="customers", actual="actual", predicted="predicted")
    )
    if bool((customers["weight"] % 1 == 0).all()):
        # Whole customers (no fractional weights): show counts as integers.
        by_frequency = by_frequency.with_columns(pl.col("customers").cast(pl.Int64))
        metrics["customers"] = int(n)
    tracking = weekly_tracking(model, summary) if (summary.occasions_by_day is not None and not summary.discrete) else pl.DataFrame()
    return HoldoutReport(customers=customers.drop("weight"), metrics=metrics, by_frequency=by_frequency, tracking=tracking,
                         warnings=warnings)


def weekly_tracking(model: PurchasePredictor, summary: Summary) -> pl.DataFrame:
    """Cumulative repeat purchases of the calibration cohort, week by week from its first purchase.

    actual: repeat occasions (every occasion after a customer's first) dated before the end of the
    week; expected: sum over customers of E[X(t - s_i)] in the model's time unit, where s_i is the
    customer's first purchase, computed once per distinct first-purchase day.

    Returns
    -------
    week (1, 2, ...), date (first day after the week), actual, expected, holdout.
    """
    if summary.occasions_by_day is None or summary.as_of is None:
        return pl.DataFrame()
    cohort = summary.frame.select("customer_id", "first_purchase")
    start = cohort["first_purchase"].min()
    if not isinstance(start, dt.date):  # no customer
        return pl.DataFrame()
    n_weeks = math.ceil((summary.as_of - start).days / 7)
    week_ends = [start + dt.timedelta(days=7 * k) for k in range(1, n_weeks + 1)]

    def week(day: str) -> pl.Expr:
        return ((pl.col(day) - pl.lit(start)).dt.total_days() // 7 + 1).cast(pl.Int64).alias("week")

    # Repeat occasions per week: the cohort's occasions less its first purchases (one per customer).
    occasions = summary.occasions_by_day.group_by(week("date")).agg(pl.col("occasions").sum())
    firsts_by_week = cohort.group_by(week("first_purchase")).agg(firsts=pl.len().cast(pl.Int64))
    repeats = occasions.join(firsts_by_week, on="week", how="left").select(
        "week", len=pl.col("occasions") - pl.col("firsts").fill_null(0))
    weeks = pl.DataFrame({"week": pl.int_range(1, n_weeks + 1, eager=True).cast(pl.Int64), "date": week_ends})
    actual = weeks.join(repeats, on="week", how="left").with_columns(actual=pl.col("len").fill_null(0).cast(pl.Int64).cum_sum()).drop("len")
    firsts = cohort.group_by("first_purchase").len().sort("first_purchase")
    offsets = firsts.select((pl.col("first_purchase") - pl.lit(start)).dt.total_days())[:, 0].to_numpy().astype(float)
    counts = firsts["len"].to_numpy().astype(float)
    ends = 7.0 * np.arange(1, n_weeks + 1, dtype=float)
    elapsed = np.clip(ends[None, :] - offsets[:, None], 0.0, None) / days_per(summary.time_unit)
    e = np.asarray(model.expected_purchases_new(elapsed.ravel()), dtype=float).reshape(elapsed.shape)
    expected = counts @ e
    cal_end = summary.calibration_end
    return actual.with_columns(
        expected=pl.Series(expected),
        holdout=pl.col("date") > pl.lit(cal_end + dt.timedelta(days=1)) if cal_end else pl.lit(False),
    )
