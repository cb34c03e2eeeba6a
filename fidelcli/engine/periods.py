"""Calendar periods, money in cents and the other expressions the reductions and the analyses share.

One table per idea: `TRUNCATE` (the Polars interval of each period: `1mo`...) and `MONTHS` (months per
period, for the periods made of months).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import polars as pl

Period = Literal["day", "week", "month", "quarter", "year"]
# The periods made of whole months (cohorts, subscription renewals).
MonthPeriod = Literal["month", "quarter", "year"]
# The time unit of a CLV model: the unit of recency and age, or the period of a BG/BB summary.
TimeUnit = Literal["day", "week", "month", "year"]
# The Polars interval of each period (`dt.truncate`, `date_range`, `offset_by`).
TRUNCATE: dict[Period, str] = {"day": "1d", "week": "1w", "month": "1mo", "quarter": "1q", "year": "1y"}
# Months per period, for the periods made of whole months.
MONTHS: dict[MonthPeriod, int] = {"month": 1, "quarter": 3, "year": 12}
EPOCH = dt.date(1970, 1, 1)  # a Thursday
# The days between the starts of two periods in a row (shortest, longest): two starts of one kind of
# period are consecutive exactly when their gap is in this range (two periods apart is longer).
PERIOD_DAYS: dict[Period, tuple[int, int]] = {"day": (1, 1), "week": (7, 7), "month": (28, 31), "quarter": (90, 92), "year": (365, 366)}


def cents(expr: pl.Expr) -> pl.Expr:
    """Amount in integer cents (each line rounded to the cent, halves to even, as Polars' `round`)."""
    return (expr * 100).round(0).cast(pl.Int64)


def profit_line(columns: list[str]) -> pl.Expr | None:
    """Profit of a transaction line (the one definition): its margin, else amount - cost; a missing
    margin or cost counts as 0; a return's profit is negative. None when the transactions have
    neither column (nor, for the cost, an amount)."""
    if "margin" in columns:
        line = pl.col("margin").fill_null(0.0)
    elif "cost" in columns and "amount" in columns:
        line = pl.col("amount") - pl.col("cost").fill_null(0.0)
    else:
        return None
    return pl.when(pl.col("is_return")).then(-line.abs()).otherwise(line)


def period_start(expr: pl.Expr, period: Period) -> pl.Expr:
    """First day of the period containing the date (weeks start on Monday)."""
    return expr.dt.truncate(TRUNCATE[period])


def day_period_start(expr: pl.Expr, period: Period) -> pl.Expr:
    """`period_start` of a Date column (not a Datetime). The first day of a month is the date minus
    its day of the month plus one, in days: about 0.2 s against 0.47 s for `dt.truncate("1mo")` on
    10 M dates (docs/performance.md); the other periods truncate."""
    if period == "month":
        return (expr.to_physical() - expr.dt.day().cast(pl.Int32) + 1).cast(pl.Date)
    return period_start(expr, period)


def period_index(expr: pl.Expr, period: Period) -> pl.Expr:
    """Calendar period number of a date: consecutive periods have consecutive numbers (weeks start
    on Monday). Integer arithmetic, far cheaper on millions of rows than shifting dates."""
    if period == "year":
        return expr.dt.year().cast(pl.Int64)
    if period in ("quarter", "month"):
        year, month = expr.dt.year().cast(pl.Int64), expr.dt.month().cast(pl.Int64)
        return year * 4 + (month - 1) // 3 if period == "quarter" else year * 12 + month
    days = expr.cast(pl.Int64)  # days since 1970-01-01, a Thursday
    return (days + 3) // 7 if period == "week" else days


def period_first_day(k: int, period: Period) -> dt.date:
    """First day of the calendar period numbered `k` by `period_index` (its inverse)."""
    if period == "year":
        return dt.date(k, 1, 1)
    if period == "month":
        return dt.date((k - 1) // 12, (k - 1) % 12 + 1, 1)
    if period == "quarter":
        return dt.date(k // 4, (k % 4) * 3 + 1, 1)
    return EPOCH + dt.timedelta(days=7 * k - 3 if period == "week" else k)


def complete_through(day: dt.date, period: Period) -> int:
    """Number (`period_index`) of the last period that has ended by the end of `day`."""
    here, nxt = (pl.select(period_index(pl.lit(d), period)).item() for d in (day, day + dt.timedelta(days=1)))
    return int(here if nxt != here else here - 1)


def discrete_calendar(calibration_end: dt.date | None, as_of: dt.date, period: Period) -> tuple[int, dt.date, int | None]:
    """The BG/BB calendar: the number of the last complete period of the calibration, the day its
    calibration really ends (the end of that period) and the number of complete holdout periods
    (None without a holdout: no calibration end before the last day)."""
    last_day = as_of - dt.timedelta(days=1)
    cal_end = calibration_end or last_day
    cal_last = complete_through(cal_end, period)
    # The calibration is made of the complete periods up to the calibration end; the holdout starts
    # with the period after the last of them, so an occasion is never in both.
    effective_end = period_first_day(cal_last + 1, period) - dt.timedelta(days=1)
    holdout = max(complete_through(last_day, period) - cal_last, 0) if cal_end < last_day else None
    return cal_last, effective_end, holdout


def days_between(start: pl.Expr, end: dt.date | pl.Expr) -> pl.Expr:
    """Whole days from `start` to `end`."""
    end_expr = pl.lit(end) if isinstance(end, dt.date) else end
    return (end_expr - start).dt.total_days()


def rf_statistics(*, occasions: pl.Expr, end: dt.date, unit_days: float) -> dict[str, pl.Expr]:
    """The BTYD sufficient statistics (the one definition), from first_purchase, last_purchase and
    the number of purchase occasions: x = occasions - 1 (repeat occasions), t_x = last - first
    purchase and T = `end` - first purchase, in units of `unit_days` days (Fader, Hardie & Lee 2005).
    Keys: frequency (x), recency (t_x), T."""
    first = pl.col("first_purchase")
    return {
        "frequency": (occasions - 1).cast(pl.Float64),
        "recency": (pl.col("last_purchase") - first).dt.total_days() / unit_days,
        "T": (pl.lit(end, dtype=pl.Date) - first).dt.total_days() / unit_days,
    }
