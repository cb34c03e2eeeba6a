"""`fidelcli clv` on the UCI Online Retail log (skips without ../shared/data): no NaN anywhere, and
monetary values equal to an independent DuckDB computation of the net spend per repeat shopping day."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from fidelcli.analyses.clv import summary_from_transactions
from fidelcli.clean import clean_transactions
from fidelcli.cli.app import app
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.io.read import scan_table

# The netting rules, written again in SQL from their definition (docs/clv.md, section 3):
# - a line's amount is Quantity x UnitPrice in cents, rounded half to even; a return (a negative amount,
#   or an invoice "C" + digits) counts as -|amount|; lines without a customer id are left out;
# - a purchase occasion is a (customer, day) with a purchase line; its value nets the day's returns;
# - a day with only returns nets against the latest purchase day on or before it (the first one when
#   it precedes them all), so it reduces the first day's value when it comes before the second day;
# - monetary value = (net spend - net value of the first day) / (days - 1); 0 for a single day.
NET_PER_REPEAT_DAY = """
WITH lines AS (
    SELECT CAST(CustomerID AS VARCHAR) AS customer_id, CAST(InvoiceDate AS DATE) AS day,
           round_even(Quantity * UnitPrice * 100, 0)::BIGINT AS cents,
           (Quantity * UnitPrice < 0 OR regexp_matches(InvoiceNo, '^[Cc][0-9]')) AS is_return
    FROM read_csv(?, header = true, all_varchar = false, types = {'InvoiceNo': 'VARCHAR', 'StockCode': 'VARCHAR'})
    WHERE CustomerID IS NOT NULL AND InvoiceDate IS NOT NULL
),
days AS (
    SELECT customer_id, day, bool_or(NOT is_return) AS purchase,
           sum(CASE WHEN is_return THEN -abs(cents) ELSE cents END) AS net
    FROM lines GROUP BY customer_id, day
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY customer_id, purchase ORDER BY day) AS k FROM days
),
per_customer AS (
    SELECT customer_id,
           count(*) FILTER (WHERE purchase) AS n,
           sum(net) AS total,
           min(day) FILTER (WHERE purchase AND k = 1) AS d1,
           min(day) FILTER (WHERE purchase AND k = 2) AS d2,
           min(net) FILTER (WHERE purchase AND k = 1) AS first_own
    FROM ranked GROUP BY customer_id
)
SELECT p.customer_id, p.n - 1 AS frequency, p.total,
       p.first_own + coalesce((SELECT sum(net) FROM days r WHERE r.customer_id = p.customer_id AND NOT r.purchase
                                AND (p.d2 IS NULL OR r.day < p.d2)), 0) AS first_net
FROM per_customer p WHERE p.n > 0
"""


@pytest.mark.slow
def test_clv_on_uci_has_no_nan_and_nets_returns_like_duckdb(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "uci_online_retail.csv.gz"
    out = tmp_path / "clv.parquet"
    r = CliRunner().invoke(app, ["clv", "-t", str(source), "--model", "bgnbd", "-o", str(out), "--format", "csv"])
    assert r.exit_code == 0, r.stderr
    assert "nan" not in r.stdout.lower() and "inf" not in r.stdout.lower()
    clv = pl.read_parquet(out)
    floats = clv.select(pl.col(pl.Float64))
    assert not any(floats.select(pl.all().is_nan().any() | pl.all().is_infinite().any()).row(0))
    assert clv.height == 4339  # customers with a purchase

    expected = pl.from_arrow(duckdb.sql(NET_PER_REPEAT_DAY, params=[str(source)]).to_arrow_table()).select(  # type: ignore[union-attr]
        "customer_id", frequency=pl.col("frequency").cast(pl.Float64), total=pl.col("total").cast(pl.Int64),
        first_net=pl.col("first_net").cast(pl.Int64),  # DuckDB sums BIGINT into HUGEINT (a decimal in Arrow)
    ).select(
        "customer_id", "frequency",
        monetary=pl.when(pl.col("frequency") > 0).then((pl.col("total") - pl.col("first_net")) / pl.col("frequency") / 100)
        .otherwise(0.0),
        revenue=pl.col("total") / 100,
    )
    both = clv.join(expected, on="customer_id", how="full", coalesce=True)
    assert both.height == clv.height == expected.height
    assert (both["frequency"] == both["frequency_right"]).all()
    # Files hold money to the cent; the library's values are exact.
    assert (both["monetary_value"] - both["monetary"]).abs().max() <= 0.005 + 1e-9  # type: ignore[operator]
    summary = summary_from_transactions(clean_transactions(scan_table(source, "transactions")), engine=DEFAULT_ENGINE).frame
    exact = summary.join(expected, on="customer_id")
    assert exact.height == expected.height
    assert (exact["monetary_value"] - exact["monetary"]).abs().max() < 1e-9  # type: ignore[operator]
    assert (exact["revenue"] - exact["revenue_right"]).abs().max() < 1e-9  # type: ignore[operator]
    # The two customers of the issue: 16446 (80,995 units bought and cancelled on 2011-12-09) and 12346
    # (74,215 bought and cancelled on 2011-01-18) have no positive net spend to project.
    rows = {c: both.filter(pl.col("customer_id") == c).row(0, named=True) for c in ("16446", "12346")}
    assert [(r["monetary_value"], r["expected_value"], r["clv"], r["value_tier"]) for r in rows.values()] == [
        (0.0, None, 0.0, "other"), (0.0, None, 0.0, "other")]
    assert rows["12346"]["historical_clv"] == 0.0
    # No net-zero customer in the top tiers, and the largest CLVs belong to customers who spend.
    top = both.filter(pl.col("value_tier") != "other")
    assert top["revenue"].min() > 0  # type: ignore[operator]
