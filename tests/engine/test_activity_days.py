"""The cheaper expressions of `Engine.activity` and `kpi()` (issue 17, docs/performance.md) equal the
ones they replace: a month's first day by day arithmetic (`day_period_start`), the purchase days of a
(customer, period) counted as bits (`_days_in_period` against `n_unique`), the periods in a row by the
days between their starts (`PERIOD_DAYS` against the calendar period numbers)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fidelcli.analyses.kpi import customer_periods
from fidelcli.clean import CleanOptions
from fidelcli.engine import PolarsEngine
from fidelcli.engine.periods import PERIOD_DAYS, Period, day_period_start, period_index, period_start
from fidelcli.io.read import scan_table

D = dt.date
PERIODS: list[Period] = ["day", "week", "month", "quarter", "year"]
# Every day of 1999-2004 (leap years, a century rule) and around 1970 (the epoch, before it).
DAYS = pl.concat([pl.date_range(D(1999, 1, 1), D(2004, 12, 31), eager=True), pl.date_range(D(1969, 6, 1), D(1970, 6, 30), eager=True)])


@pytest.mark.parametrize("period", PERIODS)
def test_day_period_start_equals_truncate(period: Period) -> None:
    frame = pl.DataFrame({"date": DAYS})
    got = frame.select(day_period_start(pl.col("date"), period))
    assert_frame_equal(got, frame.select(period_start(pl.col("date"), period)))


@pytest.mark.parametrize("period", PERIODS)
def test_period_days_tell_periods_in_a_row(period: Period) -> None:
    # Every pair of period starts up to three periods apart: consecutive by the day gap exactly when
    # their calendar numbers (`period_index`) differ by one.
    starts = pl.DataFrame({"start": DAYS}).select(period_start(pl.col("start"), period).unique().sort()).to_series()
    frame = pl.DataFrame({"a": starts[:-3].to_list() * 3, "b": starts[1:-2].to_list() + starts[2:-1].to_list() + starts[3:].to_list()})
    lo, hi = PERIOD_DAYS[period]
    got = frame.select(gap=(pl.col("b").to_physical() - pl.col("a").to_physical()).is_between(lo, hi)).to_series()
    expected = frame.select(k=period_index(pl.col("b"), period) - period_index(pl.col("a"), period) == 1).to_series()
    assert got.to_list() == expected.to_list()
    assert got.any() and not got.all()


def _lines(tmp_path: Path, seed: int) -> Path:
    # Seeded random lines of 40 customers from 2023-09 to 2024-10 (several lines a day, returns, lines
    # without a customer id), no order id: the occasions are the customers' days.
    rng = random.Random(seed)
    rows = [(None if rng.random() < 0.01 else f"C{rng.randrange(40)}", D(2023, 9, 1) + dt.timedelta(days=rng.randrange(400)),
             -5.0 if rng.random() < 0.1 else rng.randrange(13) + 0.25) for _ in range(3000)]
    path = tmp_path / f"lines_{seed}.csv"
    pl.DataFrame(rows, schema=["customer_id", "date", "amount"], orient="row").write_csv(path)
    return path


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("seed", [1, 2])
def test_activity_orders_are_the_distinct_purchase_days(tmp_path: Path, period: Period, seed: int) -> None:
    path = _lines(tmp_path, seed)
    engine = PolarsEngine()
    tx = engine.load(scan_table(path, "transactions"), CleanOptions(as_of=D(2025, 1, 1)))
    got = engine.activity(tx, period=period, anonymous=True)
    # Independently: plain Polars on the file (a return is a negative amount, not an occasion).
    lines = pl.read_csv(path, try_parse_dates=True)
    expected = (
        lines.group_by("customer_id", period_start(pl.col("date"), period).alias("period_start"))
        .agg(orders=pl.col("date").filter(pl.col("amount") >= 0).n_unique().cast(pl.Int64),
             revenue_cents=(pl.col("amount") * 100).round(0).cast(pl.Int64).sum())
        # The lines without a customer id: one row per period at the end, with 0 orders.
        .with_columns(orders=pl.when(pl.col("customer_id").is_not_null()).then(pl.col("orders")).otherwise(0))
        .sort("customer_id", "period_start", nulls_last=True)
    )
    assert_frame_equal(got.select(expected.columns), expected)
    assert period == "day" or got.get_column("orders").max() >= 2  # some periods hold several purchase days


@pytest.mark.parametrize("period", PERIODS)
def test_kpi_flags_equal_the_calendar_numbers(tmp_path: Path, period: Period) -> None:
    tx = PolarsEngine().load(scan_table(_lines(tmp_path, 3), "transactions"), CleanOptions(as_of=D(2025, 1, 1)))
    activity = PolarsEngine().activity(tx, period=period)
    act, _ = customer_periods(activity, None, period=period)
    # The same flags from the calendar period numbers, on the active rows sorted by customer and period.
    k, year = period_index(pl.col("period_start"), period), pl.col("period_start").dt.year()
    same = pl.col("customer_id") == pl.col("customer_id").shift(1)
    expected = activity.filter(pl.col("orders") > 0).with_columns(
        was_active=(same & (k.shift(1) == k - 1)).fill_null(False),
        new=~same.fill_null(False),
        first_in_year=~(same & (year == year.shift(1))).fill_null(False),
        year_retained=(same & (year.shift(1) == year - 1)).fill_null(False),
    )
    got = act.filter("active").sort("customer_id", "period_start")
    assert_frame_equal(got.select(expected.columns), expected)
    assert got.get_column("was_active").any() and got.get_column("year_retained").any()
