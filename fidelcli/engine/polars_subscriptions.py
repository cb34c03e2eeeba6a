"""The Polars reduction of a subscriptions table (`PolarsEngine.subscriptions`): one row per
subscription with its cohort, whether it is active and its completed (or churn) period, counted
as `fidelcli.analyses.subscription` explains."""

from __future__ import annotations

import datetime as dt

import polars as pl

from fidelcli.engine.periods import MONTHS, MonthPeriod, period_start
from fidelcli.engine.results import SubscriptionPeriods
from fidelcli.errors import InputError
from fidelcli.io.read import Table


def _months_between(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    """Whole calendar months from start to end (15 Jan -> 14 Feb is 0, -> 15 Feb is 1)."""
    raw = (end.dt.year() - start.dt.year()) * 12 + (end.dt.month() - start.dt.month())
    # Day-of-month clipped to the month's length: 31 Jan + 1 month = 28/29 Feb counts as a full month.
    shifted = start.dt.offset_by(pl.format("{}mo", raw.cast(pl.String)))
    return (raw - (shifted > end).cast(pl.Int32)).cast(pl.Int64)


def durations(subscriptions: pl.LazyFrame, *, period: MonthPeriod, as_of: dt.date) -> pl.DataFrame:
    """Per subscription: cohort, active, periods (completed periods if active, churn period if not).

    `as_of` is exclusive: a subscription is active when its end date is empty or on or after it, and
    its completed periods are counted up to the last observed day, as_of - 1 day.

    Returns
    -------
    customer_id, start_date, end_date, plan, price, cohort, active, periods, sorted by start_date,
    customer_id.
    """
    k = MONTHS[period]
    names = subscriptions.collect_schema().names()
    lf = subscriptions.with_columns(
        end_date=pl.col("end_date") if "end_date" in names else pl.lit(None, dtype=pl.Date),
        plan=pl.col("plan") if "plan" in names else pl.lit(None, dtype=pl.String),
        price=pl.col("price") if "price" in names else pl.lit(None, dtype=pl.Float64),
    )
    active = pl.col("end_date").is_null() | (pl.col("end_date") >= pl.lit(as_of))
    # as_of is exclusive: an active subscription is observed up to the day before it.
    last_day = as_of - dt.timedelta(days=1)
    observed_end = pl.when(active).then(pl.lit(last_day)).otherwise(pl.col("end_date"))
    months = _months_between(pl.col("start_date"), observed_end)
    full = months // k
    boundary = pl.col("start_date").dt.offset_by(pl.format("{}mo", (full * k).cast(pl.String)))
    started = full + (observed_end > boundary).cast(pl.Int64)
    return (
        lf.select(
            "customer_id", "start_date", "end_date", "plan", "price",
            cohort=period_start(pl.col("start_date"), period),
            active=active,
            periods=pl.when(active).then(full).otherwise(pl.max_horizontal(started, pl.lit(1))).cast(pl.Int64),
        )
        .sort("start_date", "customer_id")
        .collect()
    )


def subscription_periods(source: Table | pl.LazyFrame | pl.DataFrame, *, period: MonthPeriod, as_of: dt.date | None,
                         today: dt.date | None = None) -> SubscriptionPeriods:
    """`durations` of the subscriptions with a customer id and a start date before the analysis
    date `as_of` (default: the day after the latest start or end date on or before `today`; without
    `today`, every date counts).

    Raises InputError for an end date before its start date (naming its row) or when no
    subscription has a customer id and a start date.
    """
    lf = source.lf if isinstance(source, Table) else source.lazy()
    file = source.file if isinstance(source, Table) else None
    names = lf.collect_schema().names()
    has_end = "end_date" in names
    if has_end:
        bad = lf.with_row_index("row", offset=1).filter(pl.col("end_date") < pl.col("start_date")).select("row").head(1).collect()
        if bad.height:
            raise InputError("end_date is before start_date", file=file, column="end_date", row=int(bad["row"][0]),
                             hint="fix the dates or swap the columns (--map start_date=... --map end_date=...)")
    lf = lf.filter(pl.col("customer_id").is_not_null(), pl.col("start_date").is_not_null())
    if as_of is None:
        now = pl.lit(today or dt.date.max)  # no `today`: no date is in the future (the library never reads the clock)
        past_end = pl.col("end_date").filter(pl.col("end_date") <= now).max() if has_end else pl.lit(None, dtype=pl.Date)
        latest = lf.select(pl.max_horizontal(pl.col("start_date").filter(pl.col("start_date") <= now).max(), past_end)).collect().item()
        if latest is None:
            raise InputError("no subscription with a customer id and a start date", file=file, hint="check the column mapping (--map)")
        as_of = latest + dt.timedelta(days=1)
    late = lf.filter(pl.col("start_date") >= pl.lit(as_of)).select(pl.len()).collect().item()
    frame = durations(lf.filter(pl.col("start_date") < pl.lit(as_of)), period=period, as_of=as_of)
    return SubscriptionPeriods(frame=frame, as_of=as_of, late=int(late))
