"""Returns policy, analysis window and purchase occasions (SPEC section 1)."""

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fidelcli.clean import clean_transactions
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.io.read import scan_table

IO = Path(__file__).parent / "fixtures" / "io"


def summary(name: str, **kw) -> pl.DataFrame:
    tx = clean_transactions(scan_table(IO / name, "transactions"), **kw)
    return DEFAULT_ENGINE.customer_summary(tx)


def test_online_retail_cancellations_net_and_missing_customer_dropped():
    tx = clean_transactions(scan_table(IO / "retail.csv", "transactions"))
    assert tx.as_of == dt.date(2010, 12, 5)  # day after the latest transaction
    assert tx.warnings == ["1 rows without a customer id were dropped"]
    s = DEFAULT_ENGINE.customer_summary(tx)
    # 17850: invoices 536365 (15.30 + 20.34) and 536366 (3.70) are 2 occasions; C536379 (-2.55) nets.
    # 15.30 + 20.34 + 3.70 - 2.55 = 36.79
    expected = pl.DataFrame(
        {
            "customer_id": ["13047", "17850"],
            "first_purchase": [dt.date(2010, 12, 4), dt.date(2010, 12, 1)],
            "last_purchase": [dt.date(2010, 12, 4), dt.date(2010, 12, 2)],
            "frequency": [1, 2],
            "revenue": [5.0, 36.79],
            "revenue_cents": [500, 3679],
            "returns": [0, 1],
        }
    )
    assert_frame_equal(s, expected)


def test_returns_drop_removes_cancellations():
    s = summary("retail.csv", returns="drop").filter(pl.col("customer_id") == "17850")
    assert s["revenue"].item() == pytest.approx(39.34)  # 15.30 + 20.34 + 3.70
    assert s["returns"].item() == 0


def test_returns_keep_counts_cancellation_as_an_occasion():
    s = summary("retail.csv", returns="keep").filter(pl.col("customer_id") == "17850")
    assert s["frequency"].item() == 3
    assert s["revenue"].item() == pytest.approx(36.79)


def test_status_returns_are_negated_and_occasions_are_customer_days():
    # Two lines on 2024-03-01 make one occasion; the "retourné" line of 30 is subtracted.
    s = summary("status_returns.csv")
    assert s.select("frequency", "revenue", "returns").row(0) == (2, 100 + 20 - 30 + 50, 1)


def test_as_of_ignores_later_rows_with_a_warning():
    tx = clean_transactions(scan_table(IO / "retail.csv", "transactions"), as_of=dt.date(2010, 12, 3))
    assert "3 rows dated on or after the analysis date 2010-12-03 were ignored" in tx.warnings
    s = DEFAULT_ENGINE.customer_summary(tx)
    assert s["customer_id"].to_list() == ["17850"]
    assert s["revenue"].item() == pytest.approx(39.34)


def test_start_end_window_is_inclusive():
    s = summary("retail.csv", start=dt.date(2010, 12, 2), end=dt.date(2010, 12, 3))
    assert s.filter(pl.col("customer_id") == "17850").select("frequency", "revenue").row(0) == (1, pytest.approx(1.15))


def test_activity_per_month():
    tx = clean_transactions(scan_table(IO / "status_returns.csv", "transactions"))
    a = DEFAULT_ENGINE.activity(tx, period="month")
    expected = pl.DataFrame(
        {
            "customer_id": ["c1", "c1"],
            "period_start": [dt.date(2024, 3, 1), dt.date(2024, 4, 1)],
            "orders": [1, 1],
            "revenue": [90.0, 50.0],
            "revenue_cents": [9000, 5000],
        }
    )
    assert_frame_equal(a, expected)


def test_summary_does_not_depend_on_row_order(tmp_path):
    df = pl.read_csv(IO / "retail.csv", infer_schema=False)
    shuffled = tmp_path / "shuffled.csv"
    df.sample(fraction=1.0, shuffle=True, seed=7).write_csv(shuffled)
    a = DEFAULT_ENGINE.customer_summary(clean_transactions(scan_table(IO / "retail.csv", "transactions")))
    b = DEFAULT_ENGINE.customer_summary(clean_transactions(scan_table(shuffled, "transactions")))
    assert_frame_equal(a, b)


def test_a_bad_value_is_never_a_silent_null():
    # Parsing is strict in the analyses: the first pass over the data names the bad row.
    from fidelcli.errors import InputError

    table = scan_table(IO / "bad_amount.csv", "transactions")
    with pytest.raises(pl.exceptions.InvalidOperationError):
        table.lf.select(pl.col("amount").sum()).collect()
    with pytest.raises(InputError) as err:
        DEFAULT_ENGINE.customer_summary(clean_transactions(table))
    assert (err.value.column, err.value.row) == ("amount", 3)
    with pytest.raises(InputError) as err:
        clean_transactions(table).resolve()
    assert (err.value.column, err.value.row) == ("amount", 3)


def test_profile_is_computed_with_the_first_reduction():
    tx = clean_transactions(scan_table(IO / "retail.csv", "transactions"))
    assert tx._stats is None  # nothing read yet
    summary = DEFAULT_ENGINE.customer_summary(tx)
    assert tx._stats is not None and tx._stats["rows"] == 6
    assert tx.as_of == dt.date(2010, 12, 5)
    assert summary.height == 2


def test_a_bad_value_in_a_column_read_later_is_traced_to_its_row(tmp_path):
    from fidelcli.errors import InputError

    path = tmp_path / "t.csv"
    path.write_text("customer_id,date,amount,margin\n1,2024-01-01,10,2\n2,2024-01-02,20,n.c.\n")
    table = scan_table(path, "transactions")
    tx = clean_transactions(table)  # reads customer_id, date, amount only
    with pytest.raises(InputError) as err, table.diagnosed():
        tx.lf.select(pl.col("margin").sum()).collect()
    assert str(err.value) == "t.csv, column \"margin\", row 2: 'n.c.' is not a valid number"


def test_no_amount_column_leaves_money_unknown(tmp_path):
    # Issue 11 item 1: without an amount (nor quantity and unit price) the cleaned lines have no amount
    # column, and every reduction leaves money null instead of summing nothing to 0.
    path = tmp_path / "events.csv"
    path.write_text("customer_id,date\nA,2024-01-05\nA,2024-02-01\nB,2024-01-10\n")
    tx = clean_transactions(scan_table(path, "transactions"))
    assert "amount" not in tx.lf.collect_schema().names() and not tx.has_amount
    s = DEFAULT_ENGINE.customer_summary(tx)
    assert s.select("customer_id", "frequency", "revenue", "revenue_cents").rows() == [("A", 2, None, None), ("B", 1, None, None)]
    a = DEFAULT_ENGINE.activity(tx, period="month", anonymous=True)
    assert a.get_column("revenue").null_count() == a.height == 3
    assert DEFAULT_ENGINE.occasions(tx).get_column("value").null_count() == 3


def test_lines_keep_rows_without_customer_id_and_dates_covered():
    # retail.csv: 536380 (2010-12-03, 4 x 1.85) has no customer id: out of `lf`, in `lines`.
    tx = clean_transactions(scan_table(IO / "retail.csv", "transactions"))
    assert tx.lf.select(pl.len()).collect().item() == 5
    anonymous = tx.lines.filter(pl.col("customer_id").is_null()).select("date", "amount").collect()
    assert anonymous.rows() == [(dt.date(2010, 12, 3), pytest.approx(7.4))]
    assert (tx.first_date, tx.end_date, tx.lines_after_as_of) == (dt.date(2010, 12, 1), dt.date(2010, 12, 5), False)
    window = clean_transactions(scan_table(IO / "retail.csv", "transactions"), start=dt.date(2010, 12, 2), end=dt.date(2010, 12, 3))
    # The data covers [start, end]: from 2010-12-02 to the day after 2010-12-03.
    assert (window.first_date, window.end_date) == (dt.date(2010, 12, 2), dt.date(2010, 12, 4))
