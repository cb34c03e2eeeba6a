"""The churn label: no purchase in the horizon after a cutoff (or, for subscribers, a cancellation)."""

from __future__ import annotations

import calendar
import datetime as dt

import polars as pl

from fidelcli.analyses.timeunits import Horizon, parse_horizon

MONTHS_PER = {"month": 1, "year": 12}  # calendar months in a horizon unit of months or years


def shift(day: dt.date, spec: str | Horizon, *, sign: int = 1) -> dt.date:
    """`day` moved by the horizon `spec` (`90d`, `12w`, `3m`, `1y`: `parse_horizon`, the grammar of
    every command's `--horizon`). Months and years are calendar months (a year is 12 of them); the
    31st becomes the month's last day, 29 February the 28th in a year without it.

    Raises
    ------
    ConfigError
        `spec` is not a whole number followed by d, w, m or y.
    """
    horizon = parse_horizon(spec)
    n = horizon.count
    if horizon.unit == "day":
        return day + dt.timedelta(days=sign * n)
    if horizon.unit == "week":
        return day + dt.timedelta(weeks=sign * n)
    months = day.year * 12 + day.month - 1 + sign * n * MONTHS_PER[horizon.unit]
    year, month = divmod(months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def subscription_labels(subscriptions: pl.LazyFrame, cutoff: dt.date, end: dt.date) -> pl.LazyFrame:
    """Churn label of the customers with a subscription active at the end of `cutoff`.

    A subscription is active on day D when it started on or before D and has no end date or ends
    after D. Returns customer_id, churned (1 = no subscription still active on `end`).
    """
    def active(day: dt.date) -> pl.Expr:
        d = pl.lit(day, dtype=pl.Date)
        return (pl.col("start_date") <= d) & (pl.col("end_date").is_null() | (pl.col("end_date") > d))

    lf = subscriptions
    if "end_date" not in lf.collect_schema().names():
        lf = lf.with_columns(end_date=pl.lit(None, dtype=pl.Date))
    return (
        lf.group_by("customer_id")
        .agg(at_cutoff=active(cutoff).any(), at_end=active(end).any())
        .filter(pl.col("at_cutoff"))
        .select("customer_id", churned=(~pl.col("at_end")).cast(pl.Int8))
    )
