"""`fidelcli kpi` and `fidelcli cohort`: exact outputs and exit codes on the monthly log of test_kpi."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fidelcli.cli import options
from fidelcli.cli.app import app

# Jan: A 10 + 20, B 40. Feb: nothing. Mar: A 30, B returns 15, C 50. Apr: D 5 + 7, A 8.
CSV = """customer_id,date,amount
A,2024-01-05,10
A,2024-01-20,20
B,2024-01-10,40
A,2024-03-03,30
B,2024-03-15,-15
C,2024-03-20,50
D,2024-04-02,5
D,2024-04-03,7
A,2024-04-10,8
"""
CUSTOMERS = """customer_id,signup_date,loyalty_member,referred_by,acquisition_channel
A,2023-12-15,yes,,web
B,2024-02-10,no,,shop
C,,no,A,web
"""


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(options.context, "_config", None)
    monkeypatch.setattr(options.context, "config_path", None)
    (tmp_path / "sales.csv").write_text(CSV)
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    return tmp_path / "sales.csv", tmp_path / "customers.csv"


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_kpi_default_view_compares_the_last_complete_periods(files):
    sales, _ = files
    # as_of defaults to 2024-04-11: April is not complete, so March is compared with February.
    result = run("kpi", "-t", str(sales))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "kpi,previous,current,delta"
    assert lines[1:7] == [
        "active_customers,0.0,2.0,2.0",
        "new_customers,0.0,1.0,1.0",
        "returning_customers,0.0,1.0,1.0",
        "orders,0.0,2.0,2.0",
        "revenue,0.0,65.0,65.0",
        "aov,,32.5,",
    ]


def test_kpi_full_table_with_format_and_as_of(files):
    sales, _ = files
    result = run("kpi", "-t", str(sales), "--as-of", "2024-05-01", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["period_start"] for r in rows] == ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]
    assert [r["retention_rate"] for r in rows] == [None, 0.0, None, 0.5]
    assert [r["active_customers"] for r in rows] == [2, 0, 2, 2]


def test_kpi_by_customer_column_and_margin(files, tmp_path):
    sales, customers = files
    out = tmp_path / "kpi.csv"
    result = run("kpi", "-t", str(sales), "-c", str(customers), "--by", "loyalty_member", "--margin", "0.5",
                 "--as-of", "2024-05-01", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    df = pl.read_csv(out)
    assert df.columns[:2] == ["period_start", "loyalty_member"]
    jan = df.filter(pl.col("period_start") == "2024-01-01").sort("loyalty_member", nulls_last=True)
    # A member (30), B not (40); C and D absent from Jan; D has no customers row (null group).
    assert jan.select("loyalty_member", "active_customers", "revenue", "profit").rows() == [
        (False, 1, 40.0, 20.0), (True, 1, 30.0, 15.0), (None, 0, 0.0, 0.0),
    ]


def test_kpi_by_unknown_column_exits_2(files):
    sales, customers = files
    result = run("kpi", "-t", str(sales), "-c", str(customers), "--by", "tiers")
    assert result.exit_code == 2
    err = result.stderr.splitlines()
    assert err[-2] == "error: customers.csv: --by tiers: the customers table has no such column"
    assert err[-1] == "hint: use --by segment or one of: signup_date, acquisition_channel, referred_by, loyalty_member"


def test_kpi_by_column_without_customers_exits_2(files):
    sales, _ = files
    result = run("kpi", "-t", str(sales), "--by", "tier")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-2:] == [
        "error: no customers input given",
        "hint: pass -c/--customers FILE or set [inputs] customers in fidelcli.toml",
    ]


def test_kpi_by_segment(files):
    sales, _ = files
    result = run("kpi", "-t", str(sales), "--by", "segment", "--as-of", "2024-05-01", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    df = pl.read_csv(result.stdout.encode())
    assert df.columns[:2] == ["period_start", "segment"]
    assert df.get_column("active_customers").sum() == 6  # 2 + 0 + 2 + 2 across segments


def test_cohort_long_and_matrix(files):
    sales, _ = files
    result = run("cohort", "-t", str(sales), "--as-of", "2024-05-01", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        "cohort,period_index,customers,retained,retention,revenue,cumulative_revenue_per_customer",
        "2024-01-01,0,2,2,1.0,70.0,35.0",
        "2024-01-01,1,2,0,0.0,0.0,35.0",
    ]
    matrix = run("cohort", "-t", str(sales), "--as-of", "2024-05-01")
    assert matrix.exit_code == 0, matrix.stderr
    assert matrix.stdout.splitlines() == [
        "cohort,customers,0,1,2,3",
        "2024-01-01,2,1.0,0.0,0.5,0.5",
        "2024-03-01,1,1.0,0.0,,",
        "2024-04-01,1,1.0,,,",
    ]


def test_cohort_signup_by_channel(files):
    sales, customers = files
    result = run("cohort", "-t", str(sales), "-c", str(customers), "--signup", "--by", "acquisition_channel",
                 "--as-of", "2024-05-01", "--period", "quarter", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    # A signed up in Q4 2023 (web): bought in Q1 (10 + 20 + 30) and Q2 (8). B signed up in Q1 2024 (shop):
    # its January purchase is in the signup quarter (index 0: 40 - 15 = 25). C has no signup date.
    assert result.stdout.splitlines() == [
        "cohort,acquisition_channel,period_index,customers,retained,retention,revenue,cumulative_revenue_per_customer",
        "2023-10-01,web,0,1,0,0.0,0.0,0.0",
        "2023-10-01,web,1,1,1,1.0,60.0,60.0",
        "2023-10-01,web,2,1,1,1.0,8.0,68.0",
        "2024-01-01,shop,0,1,1,1.0,25.0,25.0",
        "2024-01-01,shop,1,1,0,0.0,0.0,25.0",
    ]


def test_cohort_signup_without_signup_column_exits_2(files, tmp_path):
    sales, _ = files
    bare = tmp_path / "bare.csv"
    bare.write_text("customer_id,country\nA,FR\n")
    result = run("cohort", "-t", str(sales), "-c", str(bare), "--signup")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-2] == "error: bare.csv: --signup: the customers table has no signup date"


def test_kpi_terminal_view_formats_counts_and_rates(files, monkeypatch):
    from fidelcli.cli import render

    sales, _ = files
    monkeypatch.setattr(render, "is_terminal", lambda: True)
    result = run("--no-color", "kpi", "-t", str(sales), "--as-of", "2024-05-01")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    # The view's cells are text, left-aligned under their header: cut each row where each header starts.
    start = next(i for i, line in enumerate(lines) if line.split()[:4] == ["kpi", "previous", "current", "delta"])
    header = lines[start]
    c1, c2, c3 = (header.index(w) for w in ("previous", "current", "delta"))
    end = next(i for i in range(start + 2, len(lines)) if not lines[i].strip())
    cells = {r[:c1].strip(): [r[c1:c2].strip(), r[c2:c3].strip(), r[c3:].strip()] for r in lines[start + 2:end]}
    # April against March (see test_kpi.test_monthly_kpis_by_hand).
    assert cells["active_customers"] == ["2", "2", "0"]
    assert cells["revenue"] == ["65", "20", "-45"]
    assert cells["aov"] == ["32.50", "6.67", "-25.83"]
    assert cells["retention_rate"] == ["", "0.5", ""]
