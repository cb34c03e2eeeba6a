"""CLV on net values and shopping days (issue 11, items 4 and 5a): returns netted as `rfm` nets them,
one purchase occasion per customer and day unless --occasion order."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from refdata import reference, reference_path
from typer.testing import CliRunner

from fidelcli.analyses.clv import ClvOptions, Fit, predict_clv, summary_from_transactions
from fidelcli.analyses.rfm import rfm
from fidelcli.analyses.timeunits import Horizon
from fidelcli.clean import clean_transactions
from fidelcli.cli.app import app
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.io.read import scan_table
from fidelcli.models import BGNBD, GammaGamma

D = dt.date

# as_of = 2024-03-21 (the day after the last line); the calibration runs to 2024-03-20.
RETURNS = """customer_id,order_id,date,amount
cancel,O1,2024-01-05,3.00
cancel,O2,2024-03-01,80000.00
cancel,C3,2024-03-01,-80000.00
zero,O4,2024-01-10,500.00
zero,C5,2024-01-10,-500.00
late,O6,2024-01-02,100.00
late,R7,2024-01-20,-100.00
late,O8,2024-02-15,20.00
a,O9,2024-01-03,50.00
a,O10,2024-02-03,60.00
a,O11,2024-03-03,70.00
b,O12,2024-01-15,30.00
b,O13,2024-03-20,40.00
"""


def write(tmp_path: Path, text: str, name: str = "tx.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def fixed_fit() -> Fit:
    """CDNOW's published BG/NBD (FHL 2005) and Gamma-Gamma (Fader & Hardie 2013) parameters, not fitted."""
    purchase = BGNBD.from_dict({"name": "bgnbd", "params": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
                                "log_likelihood": -1.0, "n_customers": 5, "converged": True})
    spend = GammaGamma.from_dict({"name": "gamma_gamma", "params": {"p": 6.25, "q": 3.74, "v": 15.44},
                                  "log_likelihood": -1.0, "n_customers": 3, "converged": True})
    return Fit(purchase=purchase, spend=spend, comparison=pl.DataFrame(), ranked=[purchase])


def test_clv_nets_returns_like_rfm(tmp_path: Path) -> None:
    # Issue 11, item 4: on UCI a customer who bought 80,995 units and cancelled them 12 minutes later ranked
    # 4th with a CLV of 147,866, and one with a net spend of 0 had a historical CLV of 154,952.
    path = write(tmp_path, RETURNS)
    s = summary_from_transactions(clean_transactions(scan_table(path, "transactions")), time_unit="day", engine=DEFAULT_ENGINE)
    got = {r["customer_id"]: r for r in s.frame.iter_rows(named=True)}
    # By hand (days; as_of 2024-03-21, so T runs to 2024-03-20):
    # a: 3 days -> x = 2, repeat net (60 + 70) / 2 = 65, revenue 180, t_x 60, T 77.
    # b: x = 1, m = 40, revenue 70, t_x = T = 65.
    # cancel: 2024-03-01 holds the 80,000 purchase and its cancellation (another invoice, same day): its
    #   net value is 0 -> x = 1, m = 0 / 1 = 0, revenue 3.00 (the first purchase), t_x 56, T 75.
    # late: her first purchase (100) is returned on 2024-01-20, before her second purchase day: the
    #   return nets against the first occasion (0), the repeat one keeps its 20 -> x = 1, m = 20, revenue 20.
    # zero: bought and cancelled on one day: x = 0, m = 0, revenue 0.
    expected = {"a": (2.0, 60.0, 77.0, 65.0, 180.0), "b": (1.0, 65.0, 65.0, 40.0, 70.0), "cancel": (1.0, 56.0, 75.0, 0.0, 3.0),
                "late": (1.0, 44.0, 78.0, 20.0, 20.0), "zero": (0.0, 0.0, 70.0, 0.0, 0.0)}
    assert {c: (r["frequency"], r["recency"], r["T"], r["monetary_value"], r["revenue"]) for c, r in got.items()} == expected
    # One definition of net spend: the CLV revenue is rfm's net monetary value, customer by customer.
    tx = clean_transactions(scan_table(path, "transactions"))
    net = rfm(DEFAULT_ENGINE.customer_summary(tx), as_of=tx.as_of).customers.select("customer_id", "monetary")
    assert dict(net.iter_rows()) == {c: r["revenue"] for c, r in got.items()}
    # Counted by order the same customers give the same net values (C3 nets against O2, the latest order
    # on or before it; R7 against O6, the only one before it).
    by_order = summary_from_transactions(clean_transactions(scan_table(path, "transactions")), time_unit="day", occasion="order", engine=DEFAULT_ENGINE)
    assert by_order.frame.select("customer_id", "monetary_value", "revenue").rows() == [
        (c, expected[c][3], expected[c][4]) for c in ("a", "b", "cancel", "late", "zero")]

    out = predict_clv(s, fixed_fit(), ClvOptions(horizon=Horizon(12, "month"), lifetime_years=2.0)).customers
    row = {r["customer_id"]: r for r in out.iter_rows(named=True)}
    # No positive net spend to project: no expected order value, a CLV of 0, never a top tier.
    for c in ("cancel", "zero"):
        assert (row[c]["expected_value"], row[c]["clv"], row[c]["value_tier"], row[c]["high_potential"]) == (None, 0.0, "other", False)
    assert row["cancel"]["clv"] < min(row[c]["clv"] for c in ("a", "b", "late"))
    # Gamma-Gamma E(M | x, m) = p (v + m x) / (p x + q - 1) on the net values: late 6.25 x 35.44 / 8.99.
    assert row["late"]["expected_value"] == pytest.approx(6.25 * (15.44 + 20) / (6.25 + 3.74 - 1))
    assert row["a"]["expected_value"] == pytest.approx(6.25 * (15.44 + 130) / (12.5 + 3.74 - 1))
    # Historical CLV on the net spend: under a year of history counts as one year; lifetime 2 years.
    assert (row["cancel"]["historical_clv"], row["zero"]["historical_clv"]) == (6.0, 0.0)


BURST = """customer_id,order_id,date,amount
burst,O1,2024-03-18,10.00
burst,O2,2024-03-18,20.00
burst,O3,2024-03-18,30.00
a,O4,2024-01-03,50.00
a,O5,2024-01-03,5.00
a,O6,2024-02-03,60.00
a,O7,2024-03-20,10.00
"""


def test_several_orders_one_day_are_one_occasion_for_clv(tmp_path: Path) -> None:
    # Issue 11, item 5a: several invoices on one day counted as repeat purchases (697 UCI customers; one
    # with 3 invoices 2 days before the end was predicted 18 purchases next year).
    path = write(tmp_path, BURST)
    s = summary_from_transactions(clean_transactions(scan_table(path, "transactions")), time_unit="day", engine=DEFAULT_ENGINE)
    # burst: one shopping day, 2 days before the end (2024-03-20): x = 0, t_x = 0, T = 2.
    # a: days 01-03 (two orders, 55), 02-03 (60) and 03-20 (10): x = 2, m = (60 + 10) / 2 = 35, t_x = T = 77.
    assert s.frame.select("customer_id", "frequency", "recency", "T", "monetary_value").rows() == [
        ("a", 2.0, 77.0, 77.0, 35.0), ("burst", 0.0, 0.0, 2.0, 0.0)]
    assert s.occasion == "day"
    out = predict_clv(s, fixed_fit(), ClvOptions(horizon=Horizon(12, "month"), lifetime_years=1.0)).customers
    burst = out.filter(pl.col("customer_id") == "burst").row(0, named=True)
    # A new one-time buyer: the model's expectation for (x, t_x, T) = (0, 0, 2 days) in days, as a fixed BG/NBD
    # in days gives it; counted by order (x = 2, t_x = 0) it is several times more.
    model = fixed_fit().purchase
    horizon = 365.25
    one_day = float(model.expected_purchases(horizon, 0.0, 0.0, 2.0))
    three_orders = float(model.expected_purchases(horizon, 2.0, 0.0, 2.0))
    assert burst["expected_purchases"] == pytest.approx(one_day, rel=1e-12)
    assert three_orders > 2 * one_day


def test_cdnow_split_into_two_orders_a_day_is_cdnow_for_clv(tmp_path: Path) -> None:
    # Every CDNOW purchase written as two orders of the same day (the cents split exactly): counted by
    # shopping day, the summary is BTYD's cbs again and customer 1 still expects 1.226 purchases
    # (Hardie's BG/NBD note); counted by order, each day is two purchases.
    cdnow = pl.read_csv(reference_path("clvtools_cdnow.csv"))
    cents = (pl.col("Price") * 100).round(0).cast(pl.Int64)
    halves = cdnow.with_row_index("row").with_columns(c=cents).select(
        "Id", "Date", pl.concat_list(pl.format("{}a", "row"), pl.format("{}b", "row")).alias("order"),
        pl.concat_list(pl.col("c") // 2, pl.col("c") - pl.col("c") // 2).alias("cents"),
    ).explode("order", "cents").select("Id", "Date", order="order", amount=pl.col("cents") / 100)
    src = tmp_path / "cdnow_orders.csv"
    halves.write_csv(src)
    base = ["clv", "-t", str(src), "--map", "order_id=order", "--calibration-end", "1997-09-30", "--model", "bgnbd",
            "--horizon", "39w", "--lifetime", "2", "--format", "csv"]
    r = CliRunner().invoke(app, base)
    assert r.exit_code == 0, r.stderr
    df = pl.read_csv(r.stdout.encode(), schema_overrides={"customer_id": pl.String})
    cbs = pl.read_csv(reference("btyd_cdnow_cbs_holdout.csv")).select(customer_id=pl.col("cust").cast(pl.String), x="x")
    assert df.join(cbs, on="customer_id").select((pl.col("frequency") == pl.col("x")).all()).item()
    one = df.filter(pl.col("customer_id") == "1").row(0, named=True)
    assert one["expected_purchases"] == pytest.approx(1.226, abs=5e-4)
    # Counted by order, customer 1's 3 calibration days are 6 orders: x = 5, and every one-day buyer has
    # a repeat purchase at t_x = 0 (so many that BG/NBD cannot be fitted: alpha runs to 0).
    tx = clean_transactions(scan_table(src, "transactions", columns={"order_id": "order"}))
    orders = summary_from_transactions(tx, calibration_end=D(1997, 9, 30), occasion="order", engine=DEFAULT_ENGINE).frame
    assert orders.filter(pl.col("customer_id") == "1")["frequency"].item() == 5
    by_order = CliRunner().invoke(app, [*base, "--occasion", "order"])
    assert by_order.exit_code == 2
    assert "bgnbd: the maximum likelihood runs off to the parameter bounds (alpha=" in by_order.stderr


def invoke(*args: str):  # noqa: ANN201
    return CliRunner().invoke(app, list(args))


def test_occasion_order_counts_each_order(tmp_path: Path) -> None:
    path = write(tmp_path, BURST)
    # rfm keeps its default (one occasion per order id when there is one) and takes --occasion.
    for extra, burst_orders in (([], 3), (["--occasion", "order"], 3), (["--occasion", "day"], 1)):
        r = invoke("rfm", "-t", str(path), "--format", "csv", *extra)
        assert r.exit_code == 0, r.stderr
        freq = dict(pl.read_csv(r.stdout.encode()).select("customer_id", "frequency").iter_rows())
        assert freq == {"a": 4 if burst_orders == 3 else 3, "burst": burst_orders}
    # clv counts days by default; --occasion order counts each order: burst x = 3 - 1 = 2 repeat orders.
    s = summary_from_transactions(clean_transactions(scan_table(path, "transactions"), occasion="order"), occasion=None,
                                  time_unit="day", engine=DEFAULT_ENGINE)
    assert s.occasion == "order"
    assert s.frame.select("customer_id", "frequency", "recency").rows() == [("a", 3.0, 77.0), ("burst", 2.0, 0.0)]


@pytest.mark.parametrize("command", [["rfm"], ["kpi"], ["cohort"], ["clv"], ["churn", "train", "--model-out", "{tmp}/m.json"]])
def test_occasion_order_without_order_ids_is_a_usage_error(command: list[str], tmp_path: Path) -> None:
    path = write(tmp_path, "customer_id,date,amount\na,2024-01-01,10\na,2024-02-01,20\nb,2024-01-05,5\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    r = invoke(*args, "-t", str(path), "--occasion", "order")
    assert r.exit_code == 2
    assert [line for line in r.stderr.splitlines() if line.startswith(("error:", "hint:"))][:2] == [
        "error: tx.csv: --occasion order needs an order id column, and the transactions have none",
        "hint: map it with --map order_id=COLUMN, or use --occasion day",
    ]


def test_every_analysis_command_takes_occasion() -> None:
    for command in (["rfm"], ["kpi"], ["cohort"], ["clv"], ["churn", "train"], ["churn", "score"]):
        r = invoke(*command, "--help")
        assert r.exit_code == 0
        assert "--occasion" in r.stdout, command


def test_occasion_with_a_summary_table_is_refused() -> None:
    r = invoke("clv", "--summary", str(reference("btyd_cdnow_cbs_holdout.csv")), "--occasion", "day")
    assert r.exit_code == 2
    assert "error: --occasion applies to transactions, not a summary table" in r.stderr
