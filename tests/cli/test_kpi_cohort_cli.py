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


def test_kpi_summary_view_compares_the_last_complete_periods(files):
    sales, _ = files
    # as_of defaults to 2024-04-11: April is not complete, so March is compared with February.
    # (Issue 11 item 6: the comparison is the --summary view; the default table is every period.)
    result = run("kpi", "-t", str(sales), "--summary")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "kpi,previous,current,delta"
    assert lines[1:8] == [
        "active_customers,0.0,2.0,2.0",
        "new_customers,0.0,1.0,1.0",
        "returning_customers,0.0,1.0,1.0",
        "orders,0.0,2.0,2.0",
        "revenue,0.0,65.0,65.0",
        "customer_revenue,0.0,65.0,65.0",
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
    # The data starts on 2024-01-05: January is a partial month.
    assert result.stdout.splitlines()[:3] == [
        "cohort,period_index,partial,customers,retained,retention,revenue,cumulative_revenue_per_customer",
        "2024-01-01,0,true,2,2,1.0,70.0,35.0",
        "2024-01-01,1,false,2,0,0.0,0.0,35.0",
    ]
    # (Issue 11 item 6: the matrix is the --matrix view; piped or not, the default is the long table.)
    matrix = run("cohort", "-t", str(sales), "--as-of", "2024-05-01", "--matrix")
    assert matrix.exit_code == 0, matrix.stderr
    assert matrix.stdout.splitlines() == [
        "cohort,customers,complete_from,complete_to,0,1,2,3",
        "2024-01-01,2,1,3,1.0,0.0,0.5,0.5",
        "2024-03-01,1,0,1,1.0,0.0,,",
        "2024-04-01,1,0,0,1.0,,,",
    ]


def test_cohort_signup_by_channel(files):
    sales, customers = files
    result = run("cohort", "-t", str(sales), "-c", str(customers), "--signup", "--by", "acquisition_channel",
                 "--as-of", "2024-05-01", "--period", "quarter", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    # A signed up in Q4 2023 (web): bought in Q1 (10 + 20 + 30) and Q2 (8). B signed up in Q1 2024 (shop):
    # its January purchase is in the signup quarter (index 0: 40 - 15 = 25). C has no signup date.
    # Every quarter is partial: the data covers 2024-01-05 to 2024-04-30.
    assert result.stdout.splitlines() == [
        "cohort,acquisition_channel,period_index,partial,customers,retained,retention,revenue,cumulative_revenue_per_customer",
        "2023-10-01,web,0,true,1,0,0.0,0.0,0.0",
        "2023-10-01,web,1,true,1,1,1.0,60.0,60.0",
        "2023-10-01,web,2,true,1,1,1.0,8.0,68.0",
        "2024-01-01,shop,0,true,1,1,1.0,25.0,25.0",
        "2024-01-01,shop,1,true,1,0,0.0,0.0,25.0",
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
    result = run("--no-color", "kpi", "-t", str(sales), "--as-of", "2024-05-01", "--summary")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    # Figures are right-aligned: each cell ends where its header ends (an empty cell ends in a space).
    start = next(i for i, line in enumerate(lines) if line.split()[:4] == ["kpi", "previous", "current", "delta"])
    header = lines[start]
    ends = [header.index(w) + len(w) for w in ("previous", "current", "delta")]
    end = next(i for i in range(start + 2, len(lines)) if not lines[i].strip())

    def cell(row: str, e: int) -> str:
        return "" if row[e - 1] == " " else row[:e].split()[-1]

    cells = {r.split()[0]: [cell(r, e) for e in ends] for r in lines[start + 2:end]}
    # April against March (see test_kpi.test_monthly_kpis_by_hand).
    assert cells["active_customers"] == ["2", "2", "0"]
    assert cells["revenue"] == ["65", "20", "-45"]
    assert cells["aov"] == ["32.50", "6.67", "-25.83"]
    assert cells["retention_rate"] == ["", "0.5", ""]


# Issue 11 item 2: a customers table with a column fidelcli does not map (Gender).
EXTRA = """customer_id,Gender,loyalty_member
A,F,yes
B,M,no
C,F,no
"""


def test_kpi_by_any_customers_column(files, tmp_path):
    sales, _ = files
    extra = tmp_path / "extra.csv"
    extra.write_text(EXTRA)
    result = run("kpi", "-t", str(sales), "-c", str(extra), "--by", "Gender", "--as-of", "2024-05-01", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    df = pl.read_csv(result.stdout.encode())
    assert df.columns[:3] == ["period_start", "Gender", "partial"]
    # Jan: A (F) 10 + 20, B (M) 40; Mar: A 30 and C 50 (F), B's return -15 (M); Apr: A 8 (F), D (no row) 5 + 7.
    assert df.select("period_start", "Gender", "active_customers", "revenue").rows() == [
        ("2024-01-01", "F", 1, 30.0), ("2024-01-01", "M", 1, 40.0), ("2024-01-01", None, 0, 0.0),
        ("2024-02-01", "F", 0, 0.0), ("2024-02-01", "M", 0, 0.0), ("2024-02-01", None, 0, 0.0),
        ("2024-03-01", "F", 2, 80.0), ("2024-03-01", "M", 0, -15.0), ("2024-03-01", None, 0, 0.0),
        ("2024-04-01", "F", 1, 8.0), ("2024-04-01", "M", 0, 0.0), ("2024-04-01", None, 1, 12.0),
    ]
    # A name matches case-insensitively when only one column does; cohorts take any column too.
    cohort = run("cohort", "-t", str(sales), "-c", str(extra), "--by", "gender", "--as-of", "2024-05-01", "--format", "csv")
    assert cohort.exit_code == 0, cohort.stderr
    cells = pl.read_csv(cohort.stdout.encode())
    assert cells.filter(pl.col("period_index") == 0).select("cohort", "Gender", "customers").rows() == [
        ("2024-01-01", "F", 1), ("2024-01-01", "M", 1), ("2024-03-01", "F", 1), ("2024-04-01", None, 1),
    ]
    # An unknown column is an error listing every column: mapped fields first, then the others.
    for command, hint in (("kpi", "hint: use --by segment or one of: loyalty_member, Gender"), ("cohort", "hint: use one of: loyalty_member, Gender")):
        bad = run(command, "-t", str(sales), "-c", str(extra), "--by", "tier")
        assert bad.exit_code == 2
        assert bad.stderr.splitlines()[-2:] == ["error: extra.csv: --by tier: the customers table has no such column", hint]


def _table(fmt_output: str, fmt: str) -> pl.DataFrame:
    """A printed or written table as a frame of text cells (null for an empty cell)."""
    if fmt == "csv":
        return pl.read_csv(fmt_output.encode(), infer_schema=False)
    rows = json.loads(fmt_output) if fmt == "json" else [json.loads(line) for line in fmt_output.splitlines()]
    text = [{k: None if v is None else (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in r.items()} for r in rows]
    return pl.DataFrame(text, schema={k: pl.String for k in rows[0]})


@pytest.mark.parametrize(
    "view",
    [["kpi"], ["kpi", "--summary"], ["kpi", "--yearly"], ["cohort"], ["cohort", "--matrix"], ["rfm"], ["rfm", "--summary"]],
)
def test_csv_and_table_formats_give_the_same_table(files, tmp_path, monkeypatch, view):
    # Issue 11 item 6: piped (default), --format csv/json/jsonl/markdown/table and -o give one table.
    from fidelcli.cli import render

    sales, _ = files
    args = [*view, "-t", str(sales), "--as-of", "2024-05-01"]
    piped = run(*args)
    assert piped.exit_code == 0, piped.stderr
    expected = _table(piped.stdout, "csv")
    assert expected.height > 0
    for fmt in ("csv", "json", "jsonl"):
        out = run(*args, "--format", fmt)
        assert out.exit_code == 0, out.stderr
        got = _table(out.stdout, fmt)
        # JSON writes numbers as numbers: compare numerically where the CSV cell is a number.
        assert got.columns == expected.columns, fmt
        for column in expected.columns:
            a, b = expected.get_column(column), got.get_column(column)
            as_float = a.cast(pl.Float64, strict=False)
            if as_float.null_count() == a.null_count() and column not in ("cohort", "period_start", "year"):
                assert as_float.to_list() == b.cast(pl.Float64, strict=False).to_list(), (fmt, column)
            else:
                assert a.to_list() == b.to_list(), (fmt, column)
    for suffix in ("csv", "json", "parquet"):
        path = tmp_path / f"out.{suffix}"
        assert run(*args, "-o", str(path)).exit_code == 0
        written = {"csv": pl.read_csv, "json": pl.read_json, "parquet": pl.read_parquet}[suffix](path)
        assert written.columns == expected.columns and written.height == expected.height, suffix
    markdown = run(*args, "--format", "markdown").stdout.strip().splitlines()
    header = next(line for line in markdown if line.startswith("| "))
    assert [c.strip() for c in header.strip("|").split("|")] == expected.columns
    assert len([line for line in markdown if line.startswith("| ")]) == expected.height + 1
    monkeypatch.setattr(render, "is_terminal", lambda: True)
    terminal = run("--no-color", *args)
    assert terminal.exit_code == 0, terminal.stderr
    # The Rich table: one line per row under the same columns (headers may wrap).
    first = str(expected.row(0)[0])
    assert sum(line.lstrip().startswith(first) for line in terminal.stdout.splitlines()) >= 1
    assert terminal.stdout.count("\n") >= expected.height + 2


def test_no_money_column_gives_empty_cells_and_json_null(files, tmp_path):
    # Issue 11 item 1, through the CLI: an event log (customer, date) has no money figure at all.
    log = tmp_path / "events.csv"
    log.write_text("customer_id,date\nA,2024-01-05\nA,2024-01-20\nB,2024-01-10\nA,2024-03-03\nC,2024-03-20\n")
    csv_out = run("kpi", "-t", str(log), "--as-of", "2024-04-01", "--format", "csv")
    assert csv_out.exit_code == 0, csv_out.stderr
    lines = csv_out.stdout.splitlines()
    header = lines[0].split(",")
    jan = dict(zip(header, lines[1].split(","), strict=True))
    assert (jan["active_customers"], jan["orders"], jan["revenue"], jan["customer_revenue"], jan["aov"]) == ("2", "3", "", "", "")
    rows = json.loads(run("kpi", "-t", str(log), "--as-of", "2024-04-01", "--format", "json").stdout)
    assert [r["revenue"] for r in rows] == [None, None, None] and [r["active_customers"] for r in rows] == [2, 0, 2]
    cohort = run("cohort", "-t", str(log), "--as-of", "2024-04-01", "--format", "csv").stdout.splitlines()
    assert cohort[1] == "2024-01-01,0,true,2,2,1.0,,"
    for out in (csv_out.stdout, "\n".join(cohort)):
        assert "NaN" not in out and "inf" not in out
    money = ["revenue", "customer_revenue", "aov", "returning_revenue_share"]
    assert pl.read_csv(csv_out.stdout.encode()).select(money).null_count().row(0) == (3, 3, 3, 3)


def test_kpi_yearly_view_and_views_exclusive(files):
    sales, _ = files
    yearly = run("kpi", "-t", str(sales), "--as-of", "2024-05-01", "--yearly", "--format", "csv")
    assert yearly.exit_code == 0, yearly.stderr
    # One year, covered from 2024-01-05 to 2024-04-30: partial; 4 customers, no year before.
    assert yearly.stdout.splitlines()[:2] == [
        "year,partial,customers_start,customers_end,new_customers,retained_customers,retention_rate,revenue,"
        "revenue_per_customer,profit_per_customer,expected_lifetime_years,clv",
        "2024-01-01,true,,4,4,0,,155.0,38.75,,,",
    ]
    both = run("kpi", "-t", str(sales), "--summary", "--yearly")
    assert both.exit_code == 2
    assert "--summary and --yearly are two views of the KPIs: choose one" in both.stderr
    weekly = run("kpi", "-t", str(sales), "--period", "week", "--yearly")
    assert weekly.exit_code == 2
    assert weekly.stderr.splitlines()[-2:] == [
        "error: --yearly needs --period month, quarter or year, and no --by", "hint: drop --by, or use another --period",
    ]


def _load(path: Path):
    from fidelcli.clean import clean_transactions
    from fidelcli.io.read import scan_table

    return clean_transactions(scan_table(str(path), "transactions"))


def test_cohort_cli_equals_the_library_call(files):
    from fidelcli.analyses.cohort import cohort_analysis
    from fidelcli.engine import get_engine

    sales, _ = files
    r = run("cohort", "-t", str(sales), "--format", "json")
    assert r.exit_code == 0, r.stderr
    lib = cohort_analysis(_load(sales), engine=get_engine("polars"), period="month")
    assert json.loads(r.stdout) == json.loads(lib.to_json())["tables"]["cells"]
    # Cohorts Jan (A, B), Mar (C), Apr (D); no cell of Jan-Apr 2024 is partial (data from Jan 5 to Apr 10,
    # as_of Apr 11: April is partial).
    assert json.loads(lib.to_json())["headline"]["cohorts"] == 3


def test_kpi_cli_equals_the_library_call(files):
    from fidelcli.analyses.kpi import kpi_analysis
    from fidelcli.engine import get_engine

    sales, _ = files
    r = run("kpi", "-t", str(sales), "--margin", "0.5", "--format", "json")
    assert r.exit_code == 0, r.stderr
    lib = kpi_analysis(_load(sales), engine=get_engine("polars"), period="month", margin=0.5)
    assert json.loads(r.stdout) == json.loads(lib.to_json())["tables"]["periods"]
    # January: revenue 10 + 20 + 40 = 70, profit at 50 % = 35.
    jan = json.loads(lib.to_json())["tables"]["periods"][0]
    assert (jan["revenue"], jan["profit"]) == (70.0, 35.0)
