"""RFM, monthly KPIs and cohorts on real exports equal an independent DuckDB computation.

The SQL (here and in tests/duckdb_reference.py, which loads the lines and computes RFM) is written
from the definitions in docs/metrics.md, straight from the raw CSV, without using any fidelcli code:
returns are negative amounts (or Online Retail "C" invoices), netted in spend and not purchase
occasions; money is summed in cents rounded half to even per line.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
from duckdb_reference import LINES, load, rfm_sql
from polars.testing import assert_frame_equal
from refdata import reference

from fidelcli.analyses.cohort import cohorts
from fidelcli.analyses.kpi import BASE_COLUMNS, kpi
from fidelcli.analyses.rfm import rfm
from fidelcli.clean import clean_transactions
from fidelcli.engine import get_engine
from fidelcli.io.read import scan_table

ENGINE = get_engine("polars")

# Monthly KPIs and cohorts over the tables of `duckdb_reference.load` (cust, ref, act, months).
KPI_SQL = """
WITH fp AS (SELECT cid, CAST(date_trunc('month', first_purchase) AS DATE) AS fp FROM cust WHERE frequency > 0),
a AS (
  SELECT act.cid, act.p, act.orders, act.cents, act.orders > 0 AS active,
         act.orders > 0 AND fp.fp = act.p AS is_new,
         act.orders > 0 AND prev.cid IS NOT NULL AS kept
  FROM act LEFT JOIN fp USING (cid)
  LEFT JOIN act AS prev ON prev.cid = act.cid AND prev.p = CAST(act.p - INTERVAL 1 MONTH AS DATE) AND prev.orders > 0
),
per AS (
  SELECT p, count(*) FILTER (WHERE active) AS e, count(*) FILTER (WHERE is_new) AS n, sum(orders) AS orders,
         sum(cents) AS cents, count(*) FILTER (WHERE orders >= 2) AS rep, count(*) FILTER (WHERE kept) AS kept,
         coalesce(sum(cents) FILTER (WHERE active AND NOT is_new), 0) AS ret_cents
  FROM a GROUP BY p
),
full_ AS (
  SELECT m.p, coalesce(e, 0) AS e, coalesce(n, 0) AS n, coalesce(orders, 0) AS orders, coalesce(cents, 0) AS cents,
         coalesce(rep, 0) AS rep, coalesce(kept, 0) AS kept, coalesce(ret_cents, 0) AS ret_cents
  FROM months m LEFT JOIN per USING (p)
),
w AS (SELECT *, lag(e) OVER (ORDER BY p) AS s,
              -- the customer base at the start of p: customers whose first purchase is before p
              coalesce(sum(n) OVER (ORDER BY p ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS base
       FROM full_)
SELECT p AS period_start, CAST(p + INTERVAL 1 MONTH AS DATE) > (SELECT as_of FROM ref) AS partial,
       e AS active_customers, n AS new_customers, e - n AS returning_customers, orders,
       cents / 100 AS revenue, cents / 100 AS customer_revenue, cents / 100 / nullif(orders, 0) AS aov,
       orders / nullif(e, 0) AS purchase_frequency,
       rep / nullif(e, 0) AS repeat_purchase_rate, kept / nullif(s, 0) AS retention_rate,
       1 - kept / nullif(s, 0) AS churn_rate, (e - n) / nullif(base, 0) AS customer_retention_rate,
       ret_cents / nullif(cents, 0) AS returning_revenue_share
FROM w ORDER BY p
"""

COHORT_SQL = """
WITH members AS (SELECT cid, CAST(date_trunc('month', first_purchase) AS DATE) AS cohort FROM cust WHERE frequency > 0),
sizes AS (SELECT cohort, count(*) AS customers FROM members GROUP BY cohort),
grid AS (SELECT cohort, customers, p FROM sizes JOIN months ON months.p >= sizes.cohort),
cells AS (
  SELECT cohort, p, count(*) FILTER (WHERE orders > 0) AS retained, sum(cents) AS cents
  FROM act JOIN members USING (cid) WHERE p >= cohort GROUP BY cohort, p
)
SELECT g.cohort, CAST(datediff('month', g.cohort, g.p) AS INTEGER) AS period_index,
       CAST(g.p + INTERVAL 1 MONTH AS DATE) > (SELECT as_of FROM ref) AS partial, g.customers,
       coalesce(c.retained, 0) AS retained, coalesce(c.retained, 0) / g.customers AS retention,
       coalesce(c.cents, 0) / 100 AS revenue,
       sum(coalesce(c.cents, 0)) OVER (PARTITION BY g.cohort ORDER BY g.p) / 100 / g.customers AS cumulative_revenue_per_customer
FROM grid g LEFT JOIN cells c USING (cohort, p) ORDER BY g.cohort, period_index
"""

DATASETS = ["clvtools_cdnow.csv", "uci_online_retail.csv.gz"]


def _duck(path: Path, name: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    load(con, LINES[name].format(path=path))
    return con


@pytest.fixture(scope="module", params=DATASETS)
def real(request: pytest.FixtureRequest) -> tuple[duckdb.DuckDBPyConnection, object]:
    path = reference(request.param)  # CDNOW is also in tests/reference; UCI only in ../shared/data
    tx = clean_transactions(scan_table(path, "transactions"))
    return _duck(path, request.param), tx


def test_rfm_equals_duckdb(real):
    con, tx = real
    expected = con.sql(rfm_sql()).pl().with_columns(
        pl.col("recency", "frequency", "tenure").cast(pl.Int64),
        pl.col("r_score", "f_score", "m_score").cast(pl.Int8),
    )
    assert con.sql("SELECT as_of FROM ref").fetchall()[0][0] == tx.as_of
    got = rfm(ENGINE.customer_summary(tx), as_of=tx.as_of).customers.drop("action")
    assert_frame_equal(got, expected)


@pytest.mark.parametrize("name", DATASETS)
def test_reference_rfm_in_one_statement_equals_the_tables(name: str) -> None:
    # bench/bench_rfm_kpi.py times the one-statement form: it must be the RFM checked above.
    lines = LINES[name].format(path=reference(name))
    assert_frame_equal(duckdb.connect().sql(rfm_sql(lines)).pl(), _duck(reference(name), name).sql(rfm_sql()).pl())


def test_monthly_kpis_equal_duckdb(real):
    con, tx = real
    expected = con.sql(KPI_SQL).pl().with_columns(
        pl.col("active_customers", "new_customers", "returning_customers", "orders").cast(pl.Int64),
        pl.col("customer_retention_rate").cast(pl.Float64),
    )
    got = kpi(
        ENGINE.activity(tx, period="month"), ENGINE.customer_summary(tx), period="month", as_of=tx.as_of
    ).periods
    assert got.columns == BASE_COLUMNS
    assert_frame_equal(got, expected)


def test_monthly_cohorts_equal_duckdb(real):
    con, tx = real
    expected = con.sql(COHORT_SQL).pl().with_columns(pl.col("customers", "retained").cast(pl.Int64))
    got = cohorts(
        ENGINE.activity(tx, period="month"), ENGINE.customer_summary(tx), period="month", as_of=tx.as_of
    )
    assert_frame_equal(got, expected)
    # The CLI's path: first purchases taken from the activity itself (one pass over the data).
    assert_frame_equal(cohorts(ENGINE.activity(tx, period="month"), period="month", as_of=tx.as_of), expected)


# --- Issue 11: what the commands write on two real exports, against DuckDB from the raw CSV. ---------
# One row per line: cid (null for a line without customer id), d, occ (purchase occasion key), amt
# (null without amounts), is_return.
RAW = {
    "btydplus_groceryElog.csv": """
        SELECT cust AS cid, CAST(date AS DATE) AS d, date AS occ, CAST(NULL AS DOUBLE) AS amt, false AS is_return
        FROM read_csv('{path}', all_varchar = true)""",
    "uci_online_retail_2010-12.csv": """
        SELECT CustomerID AS cid, CAST(CAST(InvoiceDate AS TIMESTAMP) AS DATE) AS d, InvoiceNo AS occ,
               CAST(Quantity AS DOUBLE) * CAST(UnitPrice AS DOUBLE) AS amt,
               (CAST(Quantity AS DOUBLE) * CAST(UnitPrice AS DOUBLE) < 0) OR regexp_matches(InvoiceNo, '^[Cc][0-9]') AS is_return
        FROM read_csv('{path}', all_varchar = true)""",
}
MONTHLY_SQL = """
WITH l AS (SELECT *, CAST(round_even((CASE WHEN is_return THEN -abs(amt) ELSE amt END) * 100, 0) AS BIGINT) AS cents FROM raw)
SELECT CAST(date_trunc('month', d) AS DATE) AS period_start,
       count(DISTINCT cid) FILTER (WHERE NOT is_return) AS active_customers,
       sum(cents) / 100 AS revenue, sum(cents) FILTER (WHERE cid IS NOT NULL) / 100 AS customer_revenue
FROM l WHERE d IS NOT NULL GROUP BY ALL ORDER BY period_start
"""
FREQUENCY_SQL = """
SELECT cid AS customer_id, count(DISTINCT occ) AS frequency FROM raw
WHERE cid IS NOT NULL AND NOT is_return GROUP BY cid ORDER BY cid
"""
UNKNOWN = "NaN nan inf -inf Infinity -Infinity".split()


def _cli(tmp_path: Path, *args: str) -> str:
    from typer.testing import CliRunner

    from fidelcli.cli.app import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", ["btydplus_groceryElog.csv", "uci_online_retail_2010-12.csv"])
def test_real_exports_write_no_nan_no_zero_for_unknown_and_agree_with_duckdb(shared_data, tmp_path, monkeypatch, name):
    import json

    from fidelcli.cli import options

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(options.context, "_config", None)
    monkeypatch.setattr(options.context, "config_path", None)
    path = shared_data / name
    for command in ("rfm", "kpi", "cohort"):
        _cli(tmp_path, "-q", command, "-t", str(path), "-o", str(tmp_path / f"{command}.csv"))
    texts = {c: pl.read_csv(tmp_path / f"{c}.csv", infer_schema=False) for c in ("rfm", "kpi", "cohort")}
    for command, frame in texts.items():
        # No NaN nor infinity anywhere (an empty cell is null).
        assert frame.select(pl.any_horizontal(pl.all().is_in(UNKNOWN)).any()).item() is False, command
    kpi_json = json.loads(_cli(tmp_path, "-q", "kpi", "-t", str(path), "--format", "json"), parse_constant=lambda c: pytest.fail(c))

    con = duckdb.connect()
    con.execute(f"CREATE TABLE raw AS {RAW[name].format(path=path)}")
    monthly = con.sql(MONTHLY_SQL).pl()
    kpis = pl.read_csv(tmp_path / "kpi.csv", try_parse_dates=True, schema_overrides={"revenue": pl.Float64, "customer_revenue": pl.Float64})
    got = kpis.select("period_start", pl.col("active_customers").cast(pl.Int64), "revenue", "customer_revenue")
    assert_frame_equal(got, monthly.with_columns(pl.col("active_customers").cast(pl.Int64)), check_dtypes=False)
    frequency = con.sql(FREQUENCY_SQL).pl().with_columns(pl.col("frequency").cast(pl.Int64))
    rfm_out = pl.read_csv(tmp_path / "rfm.csv", schema_overrides={"customer_id": pl.String, "monetary": pl.Float64})
    assert_frame_equal(rfm_out.select("customer_id", "frequency"), frequency)
    # Cohort cells of a calendar month add up to the month's active customers (each in one cohort).
    cohort = pl.read_csv(tmp_path / "cohort.csv", try_parse_dates=True, schema_overrides={"revenue": pl.Float64})
    per_month = (
        cohort.group_by(pl.col("cohort").dt.offset_by(pl.format("{}mo", "period_index")).alias("period_start"))
        .agg(pl.col("retained").sum(), pl.col("revenue").sum() if cohort["revenue"].null_count() == 0 else pl.col("revenue").first())
        .sort("period_start")
    )
    assert per_month.get_column("retained").to_list() == monthly.get_column("active_customers").to_list()
    # The last month ends after the analysis date: partial, in both tables.
    assert kpis.get_column("partial").to_list()[-1] is True and cohort.get_column("partial").to_list()[-1] is True

    if name == "btydplus_groceryElog.csv":
        # No amounts: every money figure is empty (null), never 0; RFM has no M score.
        for column in ("revenue", "customer_revenue", "aov", "returning_revenue_share"):
            assert kpis.get_column(column).null_count() == kpis.height, column
            assert all(row[column] is None for row in kpi_json), column
        assert "m_score" not in rfm_out.columns and rfm_out.get_column("monetary").null_count() == rfm_out.height
        assert rfm_out.get_column("rfm_score").cast(pl.String).str.len_chars().unique().to_list() == [2]
        assert rfm_out.get_column("segment").null_count() == 0
        assert cohort.select("revenue", "cumulative_revenue_per_customer").null_count().row(0) == (cohort.height, cohort.height)
    else:
        # 15,631 lines without a customer id: in revenue, not in customer_revenue; monetary per customer
        # is the customers' net spend, to the cent.
        assert (kpis.get_column("revenue") > kpis.get_column("customer_revenue")).all()
        spend = con.sql(
            "SELECT cid AS customer_id, sum(CAST(round_even((CASE WHEN is_return THEN -abs(amt) ELSE amt END) * 100, 0) AS BIGINT)) / 100"
            " AS monetary FROM raw WHERE cid IS NOT NULL GROUP BY cid HAVING count(*) FILTER (WHERE NOT is_return) > 0 ORDER BY cid"
        ).pl()
        assert_frame_equal(rfm_out.select("customer_id", "monetary"), spend)
        # Cohorts hold the customers with a purchase: the returns of customers who only returned goods
        # are in customer_revenue but in no cohort.
        buyers = con.sql(
            "SELECT sum(CAST(round_even((CASE WHEN is_return THEN -abs(amt) ELSE amt END) * 100, 0) AS BIGINT)) / 100 AS r FROM raw"
            " WHERE cid IN (SELECT cid FROM raw WHERE NOT is_return)"
        ).fetchall()[0][0]
        assert per_month.get_column("revenue").to_list() == [buyers]
