"""The engine contract: every reduction of every engine on the same hand-written fixtures.

One parametrised test per reduction, over `ENGINES` (a second engine, e.g. Spark, is added by
appending it). The expected frames are written by hand; the comments give the arithmetic. A
reduction documented as unsorted is compared sorted by its key. The last tests check that the row
order of the source changes nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import get_args

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fidelcli.clean import CleanOptions, Transactions
from fidelcli.engine import ENGINES as ENGINE_NAMES
from fidelcli.engine import Engine, EngineName, PolarsEngine, get_engine
from fidelcli.errors import ConfigError, InputError
from fidelcli.io.read import scan_table

# Every engine of `ENGINES`; the Spark one is the `spark_engine` fixture of tests/conftest.py (local[2]):
# the module runs in one xdist worker (with tests/engine/test_spark.py), which starts its session once.
ENGINES = [pytest.param(name, id=name) for name in ENGINE_NAMES]
pytestmark = pytest.mark.xdist_group("spark")  # the whole module: marks on fixture params do not group reliably
D = dt.date
AS_OF = D(2024, 4, 1)
CAL_END = D(2024, 2, 29)

HEADER = "customer_id,order_id,date,product_id,category,quantity,amount,margin"
# A: order o1 (two lines), o2, and o3 = a return of p1 (negative amount: a return, not an occasion).
# B: o4 and o5; C: o6, whose margin is missing (counts as 0).
ROWS = [
    "A,o1,2024-01-02,p1,x,1,10.00,2.00",
    "A,o1,2024-01-02,p2,y,2,20.00,5.00",
    "A,o2,2024-02-10,p1,x,1,10.00,2.00",
    "A,o3,2024-02-15,p1,x,-1,-10.00,-2.00",
    "B,o4,2024-01-20,p2,y,1,15.50,3.00",
    "B,o5,2024-03-05,p3,x,3,30.00,9.00",
    "C,o6,2024-03-01,p3,x,1,12.25,",
]
SUBSCRIPTIONS = pl.DataFrame(
    {
        "customer_id": ["A", "B", "C"],
        "start_date": [D(2024, 1, 15), D(2024, 2, 1), D(2024, 4, 10)],
        "end_date": [D(2024, 3, 20), None, None],
        "price": [9.0, 19.0, 5.0],
    }
)


def load(engine: Engine, path: Path, rows: list[str] = ROWS) -> Transactions:
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return engine.load(scan_table(path, "transactions"), CleanOptions(as_of=AS_OF))


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    if request.param == "spark":
        return request.getfixturevalue("spark_engine")  # type: ignore[no-any-return]
    return PolarsEngine()


@pytest.fixture
def tx(engine: Engine, tmp_path: Path) -> Transactions:
    return load(engine, tmp_path / "tx.csv")


def test_get_engine_and_the_names() -> None:
    assert list(ENGINE_NAMES) == ["polars", "spark"]
    assert isinstance(get_engine("polars"), PolarsEngine)
    with pytest.raises(ConfigError, match="unknown engine 'duck'"):
        get_engine("duck")


def test_the_engine_name_type_lists_every_engine() -> None:
    # `EngineName` types --engine and `[engine] name`; `ENGINES` builds them: the same names.
    assert get_args(EngineName) == tuple(ENGINE_NAMES) == ("polars", "spark")


def test_load_from_the_spec_equals_load_from_the_table(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n")
    table = scan_table(path, "transactions")
    assert table.spec is not None
    assert table.spec.columns["customer_id"] == "customer_id" and table.spec.date_formats == {"date": "%Y-%m-%d"}
    assert table.spec.delimiter == "," and table.spec.kind == "transactions" and not table.spec.amount_from_quantity
    options = CleanOptions(as_of=AS_OF)
    from_spec, from_table = engine.load(table.spec, options), engine.load(table, options)
    assert from_spec.options == from_table.options == CleanOptions(as_of=AS_OF)
    assert from_table.spec == table.spec
    assert_frame_equal(engine.customer_summary(from_spec), engine.customer_summary(from_table))


def test_customer_summary(engine: Engine, tx: Transactions) -> None:
    # A: occasions o1 (30.00) and o2 (10.00); o3 is only a return (-10.00): revenue 30.00, 1 return.
    # B: o4 15.50 + o5 30.00 = 45.50. C: o6 12.25.
    expected = pl.DataFrame(
        {
            "customer_id": ["A", "B", "C"],
            "first_purchase": [D(2024, 1, 2), D(2024, 1, 20), D(2024, 3, 1)],
            "last_purchase": [D(2024, 2, 10), D(2024, 3, 5), D(2024, 3, 1)],
            "frequency": [2, 2, 1],
            "revenue": [30.0, 45.5, 12.25],
            "revenue_cents": [3000, 4550, 1225],
            "returns": [1, 0, 0],
        }
    )
    assert_frame_equal(engine.customer_summary(tx), expected)


def test_activity(engine: Engine, tx: Transactions) -> None:
    # A in February: o2 (10.00, margin 2.00) and the return o3 (-10.00, margin -2.00): 1 order, 0.00.
    # C's missing margin counts as 0.
    expected = pl.DataFrame(
        {
            "customer_id": ["A", "A", "B", "B", "C"],
            "period_start": [D(2024, 1, 1), D(2024, 2, 1), D(2024, 1, 1), D(2024, 3, 1), D(2024, 3, 1)],
            "orders": [1, 1, 1, 1, 1],
            "revenue": [30.0, 0.0, 15.5, 30.0, 12.25],
            "revenue_cents": [3000, 0, 1550, 3000, 1225],
            "profit_cents": [700, 0, 300, 900, 0],
        }
    )
    assert_frame_equal(engine.activity(tx, period="month"), expected)
    # no line without a customer id: the anonymous rows add nothing
    assert_frame_equal(engine.activity(tx, period="month", anonymous=True), expected)


def test_occasions(engine: Engine, tx: Transactions) -> None:
    expected = pl.DataFrame(
        {
            "customer_id": ["A", "A", "B", "B", "C"],
            "occasion": ["o1", "o2", "o4", "o5", "o6"],
            "date": [D(2024, 1, 2), D(2024, 2, 10), D(2024, 1, 20), D(2024, 3, 5), D(2024, 3, 1)],
            "value": [30.0, 10.0, 15.5, 30.0, 12.25],
        }
    )
    assert_frame_equal(engine.occasions(tx), expected)


def test_rf_summary_with_a_holdout(engine: Engine, tx: Transactions) -> None:
    # Calibration up to 2024-02-29, shopping days. A: 01-02 (30.00) and 02-10 (10.00), the return
    # day 02-15 (-10.00) after the second occasion nets against the repeat ones: total 3000, first
    # 3000. B: 01-20 (1550) in the calibration, 03-05 (3000) in the holdout. C starts after it.
    red = engine.rf_summary(tx, calibration_end=CAL_END, time_unit="week", occasion="day")
    expected = pl.DataFrame(
        {
            "customer_id": ["A", "B"],
            "first_purchase": [D(2024, 1, 2), D(2024, 1, 20)],
            "last_purchase": [D(2024, 2, 10), D(2024, 1, 20)],
            "n": [2, 1],
            "total_cents": [3000, 1550],
            "first_cents": [3000, 1550],
            "holdout_frequency": [0.0, 1.0],
            "holdout_cents": [0, 3000],
        }
    )
    assert sorted(red.customers.columns) == sorted(expected.columns)
    assert_frame_equal(red.customers.select(expected.columns), expected)
    assert red.as_of == AS_OF and red.first_purchase is None
    # the cohort's purchase occasions per day (C is not in the cohort)
    by_day = pl.DataFrame({"date": [D(2024, 1, 2), D(2024, 1, 20), D(2024, 2, 10), D(2024, 3, 5)], "occasions": [1, 1, 1, 1]})
    assert red.occasions_by_day is not None
    assert_frame_equal(red.occasions_by_day, by_day)


def test_rf_summary_before_every_purchase_names_the_first(engine: Engine, tx: Transactions) -> None:
    red = engine.rf_summary(tx, calibration_end=D(2023, 12, 31), occasion="day")
    assert red.customers.height == 0 and red.first_purchase == D(2024, 1, 2)


def test_rf_summary_discrete(engine: Engine, tx: Transactions) -> None:
    # Months, calibration to the last day (2024-03-31, a complete month). A: first month January,
    # a purchase in February (1 opportunity of 2: frequency 1, recency 1). B: January, then March
    # (frequency 1, recency 2, periods 2). C: first month March, no opportunity yet.
    red = engine.rf_summary(tx, time_unit="month", discrete=True, occasion="day")
    expected = pl.DataFrame(
        {
            "customer_id": ["A", "B", "C"],
            "frequency": [1.0, 1.0, 0.0],
            "recency": [1.0, 2.0, 0.0],
            "periods": [2.0, 2.0, 0.0],
            "first_purchase": [D(2024, 1, 2), D(2024, 1, 20), D(2024, 3, 1)],
            "last_purchase": [D(2024, 2, 10), D(2024, 3, 5), D(2024, 3, 1)],
            "n": [2, 2, 1],
            "total_cents": [3000, 4550, 1225],
            "first_cents": [3000, 1550, 1225],
        }
    )
    assert sorted(red.customers.columns) == sorted(expected.columns)
    assert_frame_equal(red.customers.select(expected.columns), expected)


def test_margin_rates(engine: Engine, tx: Transactions) -> None:
    # Purchase lines up to 2024-02-29: A o1 (2 + 5 of 30) and o2 (2 of 10): 9 of 40; B o4: 3 of 15.50.
    got = engine.margin_rates(tx, calibration_end=CAL_END).sort("customer_id")
    expected = pl.DataFrame({"customer_id": ["A", "B"], "profit": [9.0, 3.0], "amount": [40.0, 15.5]})
    assert_frame_equal(got, expected)
    assert engine.has_amounts(tx)


def test_churn_purchase_features(engine: Engine, tx: Transactions) -> None:
    # Cutoff 2024-02-29. A: 01-02 (30) and 02-10 (10): recency 19 days, tenure 58 (31 + 27), one gap
    # of 39 days; in the last 30 days only 02-10; trend (2 - 0) / (2 + 0) = 1. B: 01-20 (15.50),
    # 40 days ago (11 + 29).
    got = engine.purchase_features(tx, cutoff=CAL_END).sort("customer_id")
    expected = pl.DataFrame(
        {
            "customer_id": ["A", "B"],
            "first_purchase": [D(2024, 1, 2), D(2024, 1, 20)],
            "last_purchase": [D(2024, 2, 10), D(2024, 1, 20)],
            "recency_days": [19, 40],
            "tenure_days": [58, 40],
            "frequency": [2, 1],
            "monetary": [40.0, 15.5],
            "avg_order_value": [20.0, 15.5],
            "orders_30d": [1, 0],
            "spend_30d": [10.0, 0.0],
            "orders_90d": [2, 1],
            "spend_90d": [40.0, 15.5],
            "orders_prev_90d": [0, 0],
            "ipt_mean_days": [39.0, None],
            "ipt_std_days": [None, None],
            "recency_ratio": [19 / 39, None],
            "orders_trend": [1.0, 1.0],
        },
        schema_overrides={"ipt_std_days": pl.Float64},
    )
    assert_frame_equal(got.select(expected.columns), expected)


def test_churn_line_features_and_labels(engine: Engine, tx: Transactions) -> None:
    # Up to 2024-02-29: A bought 10 + 20 + 10 = 40 and returned 10 (0.25), in categories x and y; B
    # bought 15.50 of y.
    lines = engine.line_features(tx, cutoff=CAL_END)
    assert lines is not None
    expected = pl.DataFrame({"customer_id": ["A", "B"], "returns_share": [0.25, 0.0], "n_categories": [2, 1]})
    assert_frame_equal(lines.sort("customer_id").select(expected.columns), expected)
    # Bought by 2024-01-31: A and B. A buys again on 02-10 (in the horizon), B only on 03-05 (after it).
    labels = engine.purchase_labels(tx, cutoff=D(2024, 1, 31), end=CAL_END)
    assert_frame_equal(labels, pl.DataFrame({"customer_id": ["A", "B"], "churned": [0, 1]}, schema_overrides={"churned": pl.Int8}))


def test_baskets_and_item_counts(engine: Engine, tx: Transactions) -> None:
    # Purchase lines only (the return o3 is not a bought item).
    baskets = pl.DataFrame(
        {
            "customer_id": ["A", "A", "A", "B", "B", "C"],
            "occasion": ["o1", "o1", "o2", "o4", "o5", "o6"],
            "product_id": ["p1", "p2", "p1", "p2", "p3", "p3"],
            "quantity": [1.0, 2.0, 1.0, 1.0, 3.0, 1.0],
            "amount": [10.0, 20.0, 10.0, 15.5, 30.0, 12.25],
        }
    )
    assert_frame_equal(engine.baskets(tx), baskets)
    # p1: A's o1 and o2 (1 customer, 2 units, 20.00); p2: o1 and o4 (2 customers, 3 units, 35.50);
    # p3: o5 and o6 (2 customers, 4 units, 42.25).
    counts = pl.DataFrame(
        {
            "product_id": ["p1", "p2", "p3"],
            "orders": [2, 2, 2],
            "customers": [1, 2, 2],
            "quantity": [2.0, 3.0, 4.0],
            "revenue": [20.0, 35.5, 42.25],
        }
    )
    assert_frame_equal(engine.item_counts(tx), counts)
    # by category: x = p1 and p3 lines (o1, o2, o5, o6), y = p2 lines (o1, o4)
    by_category = engine.item_counts(tx, item="category")
    assert by_category["category"].to_list() == ["x", "y"] and by_category["orders"].to_list() == [4, 2]
    assert by_category["revenue"].to_list() == [62.25, 35.5]


def test_baskets_with_dates_and_item_counts_with_category(engine: Engine, tx: Transactions) -> None:
    # The basket's day: o1 2024-01-02 (both lines), o2 02-10, o4 01-20, o5 03-05, o6 03-01.
    dated = engine.baskets(tx, dates=True)
    assert dated.columns == ["customer_id", "occasion", "date", "product_id", "quantity", "amount"]
    assert dated["date"].to_list() == [D(2024, 1, 2), D(2024, 1, 2), D(2024, 2, 10), D(2024, 1, 20), D(2024, 3, 5), D(2024, 3, 1)]
    assert_frame_equal(dated.drop("date"), engine.baskets(tx))
    # p1 and p3 are written x, p2 y; the rest of the counts as without the option.
    counts = engine.item_counts(tx, category=True)
    assert counts.columns == ["product_id", "category", "orders", "customers", "quantity", "revenue"]
    assert counts["category"].to_list() == ["x", "y", "x"]
    assert_frame_equal(counts.drop("category"), engine.item_counts(tx))


def test_item_counts_category_is_null_without_a_category_column(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,date,product_id,amount\nA,2024-01-02,p1,10\nB,2024-01-03,p1,5\n")
    tx = engine.load(scan_table(path, "transactions"), CleanOptions())
    counts = engine.item_counts(tx, category=True)
    assert counts.columns == ["product_id", "category", "orders", "customers", "quantity", "revenue"]
    assert counts.row(0) == ("p1", None, 2, 2, None, 15.0)


def test_baskets_need_a_product_column(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,date,amount\nA,2024-01-02,10\n")
    tx = engine.load(scan_table(path, "transactions"), CleanOptions())
    with pytest.raises(InputError, match="baskets need a product_id column"):
        engine.baskets(tx)


def test_subscriptions(engine: Engine) -> None:
    # Months, as of 2024-04-01. A: 01-15 to 03-20, ended in its 3rd month (2 renewals, 03-15 < 03-20).
    # B: from 02-01, active: 1 complete month by 03-31. C starts after the analysis date (late).
    got = engine.subscriptions(SUBSCRIPTIONS, period="month", as_of=AS_OF)
    expected = pl.DataFrame(
        {
            "customer_id": ["A", "B"],
            "start_date": [D(2024, 1, 15), D(2024, 2, 1)],
            "end_date": [D(2024, 3, 20), None],
            "plan": [None, None],
            "price": [9.0, 19.0],
            "cohort": [D(2024, 1, 1), D(2024, 2, 1)],
            "active": [False, True],
            "periods": [3, 1],
        },
        schema_overrides={"plan": pl.String},
    )
    assert_frame_equal(got.frame, expected)
    assert got.as_of == AS_OF and got.late == 1
    # Default analysis date: the day after the latest start or end date up to `today`.
    assert engine.subscriptions(SUBSCRIPTIONS, period="month", today=D(2024, 3, 31)).as_of == D(2024, 3, 21)


def test_anchored_purchases(engine: Engine, tx: Transactions) -> None:
    # Occasions by order id. Window 30 days after each anchor.
    # A on 01-15: before it o1 (30.00); within 01-16..02-14 o2 (02-10); after 02-14 only the return o3 (not an occasion).
    # A on 02-15: o1, o2 before; spend 30 + 10 - 10 (the return of that day counts) = 30.00; nothing after.
    # B on 01-01: nothing before (spend 0); o4 (01-20) within 01-02..01-31; o5 (03-05) after.
    # D (no transaction): zeros. The anchor (A, 01-15) given twice is one row.
    anchors = pl.DataFrame({"customer_id": ["A", "A", "B", "D", "A"],
                            "anchor": [D(2024, 1, 15), D(2024, 2, 15), D(2024, 1, 1), D(2024, 1, 1), D(2024, 1, 15)]})
    got = engine.anchored_purchases(tx, anchors, window_days=30)
    expected = pl.DataFrame({
        "customer_id": ["A", "A", "B", "D"],
        "anchor": [D(2024, 1, 15), D(2024, 2, 15), D(2024, 1, 1), D(2024, 1, 1)],
        "prior_occasions": [1, 2, 0, 0],
        "prior_spend": [30.0, 30.0, 0.0, 0.0],
        "occasions_within": [1, 0, 1, 0],
        "occasions_after": [0, 0, 1, 0],
    })
    assert_frame_equal(got, expected)


def test_category_activity(engine: Engine, tx: Transactions) -> None:
    # Per customer, month and category, net: A Jan x 10.00, y 20.00; A Feb x 10.00 - 10.00 (return) = 0.00;
    # B Jan y 15.50, Mar x 30.00; C Mar x 12.25.
    got = engine.category_activity(tx, period="month")
    expected = pl.DataFrame({
        "customer_id": ["A", "A", "A", "B", "B", "C"],
        "period_start": [D(2024, 1, 1), D(2024, 1, 1), D(2024, 2, 1), D(2024, 1, 1), D(2024, 3, 1), D(2024, 3, 1)],
        "category": ["x", "y", "x", "y", "x", "x"],
        "amount": [10.0, 20.0, 0.0, 15.5, 30.0, 12.25],
    })
    assert_frame_equal(got, expected)
    # From a day per customer: A from 02-12 keeps only the return (-10.00); B from 01-01 everything; C is not asked for.
    since = pl.DataFrame({"customer_id": ["A", "B"], "since": [D(2024, 2, 12), D(2024, 1, 1)]})
    got = engine.category_activity(tx, period="month", since=since)
    expected = pl.DataFrame({
        "customer_id": ["A", "B", "B"], "period_start": [D(2024, 2, 1), D(2024, 1, 1), D(2024, 3, 1)],
        "category": ["x", "y", "x"], "amount": [-10.0, 15.5, 30.0],
    })
    assert_frame_equal(got, expected)


def test_row_order_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    a = load(engine, tmp_path / "a.csv")
    b = load(engine, tmp_path / "b.csv", rows=ROWS[::-1])
    for reduce in (
        lambda t: engine.customer_summary(t),
        lambda t: engine.activity(t, period="month"),
        lambda t: engine.occasions(t),
        lambda t: engine.rf_summary(t, calibration_end=CAL_END, occasion="day").customers,
        lambda t: engine.rf_summary(t, time_unit="month", discrete=True).customers,
        lambda t: engine.margin_rates(t, calibration_end=CAL_END).sort("customer_id"),
        lambda t: engine.purchase_features(t, cutoff=CAL_END).sort("customer_id"),
        lambda t: engine.purchase_labels(t, cutoff=D(2024, 1, 31), end=CAL_END),
        lambda t: engine.baskets(t),
        lambda t: engine.item_counts(t),
    ):
        x, y = reduce(a), reduce(b)
        assert_frame_equal(x.select(sorted(x.columns)), y.select(sorted(y.columns)))
    lines_a, lines_b = engine.line_features(a, cutoff=CAL_END), engine.line_features(b, cutoff=CAL_END)
    assert lines_a is not None and lines_b is not None
    assert_frame_equal(lines_a.sort("customer_id"), lines_b.sort("customer_id"))
    shuffled = SUBSCRIPTIONS.reverse()
    assert_frame_equal(engine.subscriptions(SUBSCRIPTIONS, period="month", as_of=AS_OF).frame,
                       engine.subscriptions(shuffled, period="month", as_of=AS_OF).frame)
