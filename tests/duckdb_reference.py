"""The DuckDB reference: transaction lines loaded into DuckDB and RFM computed in SQL, without fidelcli.

Written from the definitions in docs/metrics.md, straight from the raw lines: returns are negative
amounts (or Online Retail "C" invoices), netted in spend and not in purchase occasions; money is
summed in cents rounded half to even per line.

A source is a `lines` query giving one row per line: cid, occ (purchase occasion key), d (date), amt
(signed amount), is_return. `load` makes the tables of the reference from it (lines, net, ref, occ,
cust, act, months); `rfm_sql` is the RFM table over them, or over the source in one statement.

Used by tests/analyses/test_rfm_kpi_cohort_real_data.py (fidelcli must give the same tables) and by
bench/bench_rfm_kpi.py (the same RFM timed in DuckDB). Imported as `duckdb_reference` (tests/ is on
pytest's `pythonpath`; the benchmark puts it on `sys.path`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

# The real exports of tests/reference and ../shared/data as lines; {path} is the file.
LINES = {
    "clvtools_cdnow.csv": """
        SELECT Id AS cid, Date AS occ, CAST(Date AS DATE) AS d, CAST(Price AS DOUBLE) AS amt,
               CAST(Price AS DOUBLE) < 0 AS is_return
        FROM read_csv('{path}', all_varchar = true)
        WHERE Id IS NOT NULL AND Date IS NOT NULL""",
    "uci_online_retail.csv.gz": """
        SELECT CustomerID AS cid, InvoiceNo AS occ, CAST(CAST(InvoiceDate AS TIMESTAMP) AS DATE) AS d,
               CAST(Quantity AS DOUBLE) * CAST(UnitPrice AS DOUBLE) AS amt,
               (CAST(Quantity AS DOUBLE) * CAST(UnitPrice AS DOUBLE) < 0) OR regexp_matches(InvoiceNo, '^[Cc][0-9]') AS is_return
        FROM read_csv('{path}', all_varchar = true)
        WHERE CustomerID IS NOT NULL AND InvoiceDate IS NOT NULL""",
}

# Net cents per line, the analysis date (the day after the last line), purchase occasions (the date of
# their first purchase line, none for a return-only occasion) and customers.
CUSTOMERS = [
    ("net", """SELECT cid, occ, d, is_return,
        CAST(round_even((CASE WHEN is_return THEN -abs(amt) ELSE amt END) * 100, 0) AS BIGINT) AS cents FROM lines"""),
    ("ref", "SELECT max(d) + 1 AS as_of FROM lines"),
    ("occ", "SELECT cid, occ, min(d) FILTER (WHERE NOT is_return) AS d, sum(cents) AS cents FROM net GROUP BY cid, occ"),
    ("cust", """SELECT cid, min(d) AS first_purchase, max(d) AS last_purchase, count(d) AS frequency, sum(cents) AS cents
        FROM occ GROUP BY cid"""),
]

# Monthly activity: purchase occasions and net cents per customer and month (an occasion whose lines
# fall in two months counts in both), and every month from the first to the analysis date's.
ACTIVITY = [
    ("act", """
        WITH occm AS (
          SELECT cid, CAST(date_trunc('month', d) AS DATE) AS p, occ, bool_or(NOT is_return) AS purchase, sum(cents) AS cents
          FROM net GROUP BY cid, p, occ
        )
        SELECT cid, p, count(*) FILTER (WHERE purchase) AS orders, sum(cents) AS cents FROM occm GROUP BY cid, p"""),
    ("months", """
        SELECT CAST(unnest(generate_series((SELECT min(p) FROM act), CAST(date_trunc('month', (SELECT as_of FROM ref) - 1) AS DATE),
               INTERVAL 1 MONTH)) AS DATE) AS p"""),
]

# RFM over `cust` and `ref`: quintile scores by rank, then the segment of the (R, F) grid.
RFM = [
    ("base", """
        SELECT cid, (ref.as_of - last_purchase) AS recency, frequency, cents, first_purchase, last_purchase,
               (ref.as_of - first_purchase) AS tenure
        FROM cust, ref WHERE frequency > 0"""),
    ("scored", """
        SELECT *, 1 + (5 * (rank() OVER (ORDER BY recency DESC) - 1)) // count(*) OVER () AS r,
                  1 + (5 * (rank() OVER (ORDER BY frequency) - 1)) // count(*) OVER () AS f,
                  1 + (5 * (rank() OVER (ORDER BY cents) - 1)) // count(*) OVER () AS m
        FROM base"""),
]
RFM_SELECT = """
SELECT cid AS customer_id, recency, frequency, cents / 100 AS monetary, first_purchase, last_purchase, tenure,
       r AS r_score, f AS f_score, m AS m_score, concat(r, f, m) AS rfm_score,
       CASE WHEN r <= 2 AND f <= 2 THEN 'Hibernating'
            WHEN r <= 2 AND f <= 4 THEN 'At Risk'
            WHEN r <= 2 THEN 'Can''t Lose Them'
            WHEN r = 3 AND f <= 2 THEN 'About to Sleep'
            WHEN r = 3 AND f = 3 THEN 'Need Attention'
            WHEN f >= 4 AND r <= 4 THEN 'Loyal Customers'
            WHEN r = 4 AND f = 1 THEN 'Promising'
            WHEN f = 1 THEN 'New Customers'
            WHEN f <= 3 THEN 'Potential Loyalists'
            ELSE 'Champions' END AS segment
FROM scored ORDER BY customer_id"""


def load(con: duckdb.DuckDBPyConnection, lines: str) -> None:
    """Make the reference's tables in `con` from the source query `lines`: lines, net, ref, occ, cust,
    act, months."""
    for name, query in [("lines", lines), *CUSTOMERS, *ACTIVITY]:
        con.execute(f"CREATE TABLE {name} AS {query}")


def rfm_sql(lines: str | None = None) -> str:
    """The RFM table (customer_id, recency, ..., segment), ordered by customer_id: over the tables of
    `load`, or, given the source query `lines`, in one statement from it with nothing materialised."""
    steps = RFM if lines is None else [("lines", lines), *CUSTOMERS, *RFM]
    return "WITH " + ",\n".join(f"{name} AS ({query})" for name, query in steps) + RFM_SELECT


# KPI per month in SQL (docs/metrics.md definitions), over a `lines` query giving cid, occ, d, amt, is_return.
KPI_SQL = """
WITH lines AS ({lines}),
occm AS (
  SELECT cid, CAST(date_trunc('month', d) AS DATE) AS p, occ, bool_or(NOT is_return) AS purchase,
         min(d) FILTER (WHERE NOT is_return) AS bought,
         sum(CAST(round_even(CASE WHEN is_return THEN -abs(amt) ELSE amt END * 100, 0) AS BIGINT)) AS cents
  FROM lines GROUP BY ALL
), act AS (
  SELECT cid, p, count(*) FILTER (WHERE purchase) AS orders, sum(cents) AS cents, min(bought) AS first_d
  FROM occm GROUP BY ALL
), fp AS (SELECT cid, CAST(date_trunc('month', min(first_d)) AS DATE) AS fp FROM act GROUP BY ALL),
a AS (
  SELECT act.*, act.orders > 0 AS active, act.orders > 0 AND fp.fp = act.p AS is_new,
         act.orders > 0 AND prev.cid IS NOT NULL AS kept
  FROM act JOIN fp USING (cid)
  LEFT JOIN act prev ON prev.cid = act.cid AND prev.p = CAST(act.p - INTERVAL 1 MONTH AS DATE) AND prev.orders > 0
), per AS (
  SELECT p, count(*) FILTER (WHERE active) AS e, count(*) FILTER (WHERE is_new) AS n, sum(orders) AS orders,
         sum(cents) AS cents, count(*) FILTER (WHERE orders >= 2) AS rep, count(*) FILTER (WHERE kept) AS kept,
         coalesce(sum(cents) FILTER (WHERE active AND NOT is_new), 0) AS ret_cents
  FROM a GROUP BY p
), w AS (
  SELECT *, lag(e) OVER (ORDER BY p) AS prev_e,
         coalesce(sum(n) OVER (ORDER BY p ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS s
  FROM per
)
SELECT p AS period_start, e AS active_customers, n AS new_customers, e - n AS returning_customers, orders,
       cents / 100 AS revenue, cents / 100 / nullif(orders, 0) AS aov, orders / nullif(e, 0) AS purchase_frequency,
       rep / nullif(e, 0) AS repeat_purchase_rate, kept / nullif(prev_e, 0) AS retention_rate,
       1 - kept / nullif(prev_e, 0) AS churn_rate, (e - n) / nullif(s, 0) AS customer_retention_rate,
       ret_cents / nullif(cents, 0) AS returning_revenue_share
FROM w ORDER BY p
"""


def kpi_sql(lines: str) -> str:
    """The monthly KPI table of `fidelcli kpi --period month` as DuckDB SQL over the `lines` query."""
    return KPI_SQL.format(lines=lines)
