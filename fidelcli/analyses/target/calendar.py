"""Yearly dates of a customer: the next birthday or membership anniversary on or after a day.

29 February in a year that has none is celebrated on 28 February: the day stays in the month of
birth (legal age rules differ between countries, some take 1 March; a greeting sent a day early is
better than one sent in the wrong month). The rule applies to birthdays and anniversaries alike
(docs/target.md).
"""

from __future__ import annotations

import datetime as dt

import polars as pl


def is_leap(year: pl.Expr) -> pl.Expr:
    """True for a Gregorian leap year."""
    return ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)


def _in_year(date: pl.Expr, year: pl.Expr) -> pl.Expr:
    """The month and day of `date` in `year`; 29 February is 28 February in a non-leap year."""
    month, day = date.dt.month(), date.dt.day()
    leap_day = (month == 2) & (day == 29) & ~is_leap(year)
    return pl.date(year, month, pl.when(leap_day).then(28).otherwise(day))


def next_occurrence(date: pl.Expr, as_of: dt.date) -> pl.Expr:
    """The first yearly return of `date`'s month and day on or after `as_of` (null for a null date).

    Example: 1992-02-29 as of 2025-02-20 gives 2025-02-28; as of 2028-02-01, 2028-02-29; as of
    2025-03-01, 2026-02-28.
    """
    this_year = _in_year(date, pl.lit(as_of.year, pl.Int32))
    next_year = _in_year(date, pl.lit(as_of.year + 1, pl.Int32))
    return pl.when(this_year >= pl.lit(as_of)).then(this_year).otherwise(next_year)


def years_at(date: pl.Expr, occurrence: pl.Expr) -> pl.Expr:
    """Whole years from `date` to its yearly `occurrence` (an age, a membership's years)."""
    return (occurrence.dt.year() - date.dt.year()).cast(pl.Int64)
