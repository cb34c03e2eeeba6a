"""The churn label: no purchase in the horizon after a cutoff (or, for subscribers, a cancellation)."""

from __future__ import annotations

import calendar
import datetime as dt
import re

import polars as pl

from fidelcli.errors import ConfigError

_HORIZON = re.compile(r"^\s*(\d+)\s*([dwm])\s*$", re.IGNORECASE)


def parse_horizon(spec: str) -> tuple[int, str]:
    """`90d`, `12w`, `3m` -> (90, "d"), (12, "w"), (3, "m").

    Raises
    ------
    ConfigError
        Not a positive number followed by d, w or m.
    """
    m = _HORIZON.match(spec or "")
    if not m or int(m.group(1)) == 0:
        raise ConfigError(f"horizon {spec!r} is not a number of days, weeks or months",
                          hint="write it like 90d, 12w or 3m")
    return int(m.group(1)), m.group(2).lower()


def shift(day: dt.date, spec: str, *, sign: int = 1) -> dt.date:
    """`day` moved by the horizon `spec` (months are calendar months; the 31st becomes the month's last day)."""
    n, unit = parse_horizon(spec)
    if unit == "d":
        return day + dt.timedelta(days=sign * n)
    if unit == "w":
        return day + dt.timedelta(weeks=sign * n)
    months = day.year * 12 + day.month - 1 + sign * n
    year, month = divmod(months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def purchase_labels(occasions: pl.LazyFrame, cutoff: dt.date, end: dt.date) -> pl.LazyFrame:
    """Churn label of the customers with a purchase on or before `cutoff`.

    Returns
    -------
    LazyFrame: customer_id, churned (1 = no purchase occasion dated in (cutoff, end], else 0).
    """
    c, e = pl.lit(cutoff, dtype=pl.Date), pl.lit(end, dtype=pl.Date)
    return (
        occasions.filter(pl.col("date") <= e)
        .group_by("customer_id")
        .agg(before=(pl.col("date") <= c).any(), after=(pl.col("date") > c).any())
        .filter(pl.col("before"))
        .select("customer_id", churned=(~pl.col("after")).cast(pl.Int8))
    )


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
