"""The one-group-by reductions of day occasions (`Transactions.occasion_is_date`) give the same frames
as the two-level plan (by customer and day, then by customer) they replace, and the hand-computed values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fidelcli.clean import CleanOptions, Transactions
from fidelcli.engine import PolarsEngine
from fidelcli.io.read import scan_table

D = dt.date
HEADER = "customer_id,date,amount,margin"
# No order id: the occasions are the customers' days.
# A: 01-02 two lines (one occasion, 30.00), 01-31 one line, 02-01 a purchase and a return (one occasion,
#    10.00 - 4.00), 02-20 only a return (-5.00: not an occasion).
# B: only returns (frequency 0, null dates). C: one line with no margin. A line without a customer id.
ROWS = [
    "A,2024-01-02,10.00,1.00",
    "A,2024-01-02,20.00,2.00",
    "A,2024-01-31,7.25,0.50",
    "A,2024-02-01,10.00,1.00",
    "A,2024-02-01,-4.00,-0.40",
    "A,2024-02-20,-5.00,-0.50",
    "B,2024-01-15,-3.00,-0.30",
    "C,2024-03-03,12.35,",
    ",2024-02-11,99.99,9.00",
]


def _pair(tmp_path: Path, rows: list[str] = ROWS, header: str = HEADER) -> tuple[Transactions, Transactions]:
    path = tmp_path / "lines.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    engine = PolarsEngine()
    fast = engine.load(scan_table(path, "transactions"), CleanOptions(as_of=D(2024, 4, 1)))
    slow = engine.load(scan_table(path, "transactions"), CleanOptions(as_of=D(2024, 4, 1)))
    slow.occasion_is_date = False  # the two-level plan of every other occasion rule
    return fast, slow


def test_day_occasions_are_flagged_only_by_the_day_rule(tmp_path: Path) -> None:
    fast, _ = _pair(tmp_path)
    assert fast.occasion_is_date
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,order_id,date,amount\nA,o1,2024-01-02,1.00\n")
    engine = PolarsEngine()
    assert not engine.load(scan_table(path, "transactions"), CleanOptions()).occasion_is_date
    assert engine.load(scan_table(path, "transactions"), CleanOptions(occasion="day")).occasion_is_date
    assert not Transactions.from_frame(pl.DataFrame({"customer_id": ["A"], "date": [D(2024, 1, 2)], "is_return": [False],
                                                     "occasion": ["o1"]})).occasion_is_date


def test_customer_summary_by_day_equals_the_two_level_plan(tmp_path: Path) -> None:
    fast, slow = _pair(tmp_path)
    engine = PolarsEngine()
    got = engine.customer_summary(fast)
    assert_frame_equal(got, engine.customer_summary(slow))
    expected = pl.DataFrame(
        {
            "customer_id": ["A", "B", "C"],
            "first_purchase": [D(2024, 1, 2), None, D(2024, 3, 3)],
            "last_purchase": [D(2024, 2, 1), None, D(2024, 3, 3)],
            "frequency": [3, 0, 1],  # A: 01-02, 01-31, 02-01 (02-20 holds only a return)
            "revenue_cents": [3825, -300, 1235],  # A: 1000 + 2000 + 725 + 1000 - 400 - 500
            "returns": [2, 1, 0],
        }
    )
    assert_frame_equal(got.select(expected.columns), expected, check_dtypes=False)


@pytest.mark.parametrize("period", ["month", "week", "quarter", "year"])
@pytest.mark.parametrize("anonymous", [False, True])
def test_activity_by_day_equals_the_two_level_plan(tmp_path: Path, period: str, anonymous: bool) -> None:
    fast, slow = _pair(tmp_path)
    engine = PolarsEngine()
    got = engine.activity(fast, period=period, anonymous=anonymous)  # type: ignore[arg-type]
    assert_frame_equal(got, engine.activity(slow, period=period, anonymous=anonymous))  # type: ignore[arg-type]
    if period == "month" and not anonymous:
        expected = pl.DataFrame(
            {
                "customer_id": ["A", "A", "B", "C"],
                "period_start": [D(2024, 1, 1), D(2024, 2, 1), D(2024, 1, 1), D(2024, 3, 1)],
                "orders": [2, 1, 0, 1],
                "revenue_cents": [3725, 100, -300, 1235],  # A in February: 1000 - 400 - 500
                "profit_cents": [350, 10, -30, 0],  # A in January: 100 + 200 + 50; February: 100 - 40 - 50
            }
        )
        assert_frame_equal(got.select(expected.columns), expected, check_dtypes=False)


def test_without_amounts_money_stays_unknown(tmp_path: Path) -> None:
    rows = [",".join(r.split(",")[:2]) for r in ROWS]
    fast, slow = _pair(tmp_path, rows, "customer_id,date")
    engine = PolarsEngine()
    assert_frame_equal(engine.customer_summary(fast), engine.customer_summary(slow))
    assert_frame_equal(engine.activity(fast, period="month"), engine.activity(slow, period="month"))
    assert engine.customer_summary(fast).get_column("revenue_cents").null_count() == 3


@pytest.mark.parametrize("order", [False, True])
def test_integer_ids_are_grouped_as_integers_with_the_same_frames(tmp_path: Path, order: bool) -> None:
    # A Parquet source with integer ids (and a line without one): the reductions group the integers
    # (`Transactions.native`) and give the frames of the ids read as text, "10" sorted before "2".
    frame = pl.DataFrame(
        {
            "customer_id": [2, 10, 10, 2, None, 3],
            "order_id": [5, 6, 7, 8, 9, 10],
            "date": [D(2024, 1, 2), D(2024, 1, 3), D(2024, 2, 3), D(2024, 2, 9), D(2024, 2, 10), D(2024, 3, 1)],
            "amount": [10.0, 5.5, -2.0, 7.0, 1.0, 3.0],
        }
    )
    path = tmp_path / "ids.parquet"
    (frame if order else frame.drop("order_id")).write_parquet(path)
    engine = PolarsEngine()
    native = engine.load(scan_table(path, "transactions"), CleanOptions())
    text = engine.load(scan_table(path, "transactions"), CleanOptions())
    assert native.native is not None
    text.native = None
    summary = engine.customer_summary(native)
    assert_frame_equal(summary, engine.customer_summary(text))
    assert summary.get_column("customer_id").to_list() == ["10", "2", "3"]
    assert summary.get_column("revenue_cents").to_list() == [350, 1700, 300]  # 10: 550 - 200; 2: 1000 + 700
    for anonymous in (False, True):
        assert_frame_equal(engine.activity(native, period="month", anonymous=anonymous),
                           engine.activity(text, period="month", anonymous=anonymous))
    assert native.warnings == text.warnings == ["1 rows without a customer id were dropped"]
