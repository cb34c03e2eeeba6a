"""`fidelcli rfm`: exact outputs, exit codes and messages on the hand-computed TINY log."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from fidelcli.cli import options
from fidelcli.cli.app import app

# The TINY log of tests/analyses/analyses_data.py as an export: C's return is a negative line, E has
# only a return. As of 2024-01-11 (the day after the last line).
CSV = """customer_id,date,amount
A,2024-01-01,10.00
A,2024-01-05,20.00
A,2024-01-10,30.00
B,2024-01-02,15.00
B,2024-01-10,45.00
C,2024-01-03,100.00
C,2024-01-04,-25.00
D,2024-01-06,5.00
E,2024-01-07,-10.00
"""


@pytest.fixture
def sales(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray fidelcli.toml
    monkeypatch.setattr(options.context, "_config", None)
    monkeypatch.setattr(options.context, "config_path", None)
    path = tmp_path / "sales.csv"
    path.write_text(CSV)
    return path


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_rfm_csv_output(sales):
    result = run("rfm", "-t", str(sales), "--format", "csv")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "customer_id,recency,frequency,monetary,first_purchase,last_purchase,tenure,r_score,f_score,m_score,rfm_score,segment,action"
    # Scores as computed by hand in tests/analyses/test_rfm.py.
    assert [line.split(",")[:12] for line in lines[1:]] == [
        ["A", "1", "3", "60.0", "2024-01-01", "2024-01-10", "10", "3", "4", "2", "342", "Loyal Customers"],
        ["B", "1", "2", "60.0", "2024-01-02", "2024-01-10", "9", "3", "3", "2", "332", "Need Attention"],
        ["C", "8", "1", "75.0", "2024-01-03", "2024-01-03", "8", "1", "1", "4", "114", "Hibernating"],
        ["D", "5", "1", "5.0", "2024-01-06", "2024-01-06", "5", "2", "1", "1", "211", "Hibernating"],
    ]
    err = result.stderr.splitlines()
    assert "warning: 1 customers with only returns (no purchase) are left out of the RFM" in err
    assert "recency scores (quantile, days): 5: none, 4: none, 3: 1, 2: 5, 1: 8" in err
    assert "frequency scores (quantile, occasions): 5: none, 4: 3, 3: 2, 2: none, 1: 1" in err
    assert "monetary scores (quantile): 5: none, 4: 75, 3: none, 2: 60, 1: 5" in err


def test_rfm_summary_json_fr(sales):
    result = run("rfm", "-t", str(sales), "--summary", "--format", "json", "--lang", "fr")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 10
    hib = next(r for r in rows if r["segment"] == "En hibernation")
    # C and D: 75 + 5 = 80 of 200.
    assert hib == {
        "segment": "En hibernation", "customers": 2, "share": 0.5, "revenue": 80.0, "revenue_share": 0.4,
        "recency": 6.5, "frequency": 1.0, "monetary": 40.0,
    }


def test_rfm_output_file_and_no_stdout(sales, tmp_path):
    out = tmp_path / "rfm.parquet"
    result = run("rfm", "-t", str(sales), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert f"wrote 4 rows to {out}" in result.stderr.splitlines()
    df = pl.read_parquet(out)
    assert df.get_column("rfm_score").to_list() == ["342", "332", "114", "211"]


def test_rfm_config_thresholds_and_bins(sales, tmp_path):
    (tmp_path / "fidelcli.toml").write_text(
        "[rfm]\nbins = 3\n[rfm.thresholds]\nrecency = [3, 7]\nfrequency = [2, 3]\nmonetary = [50, 70]\n"
        '[[rfm.segments]]\nname = "Top"\nr = [3]\nf = [1, 2, 3]\n'
        '[[rfm.segments]]\nname = "Rest"\nr = [1, 2]\nf = [1, 2, 3]\n'
    )
    result = run("rfm", "-t", str(sales), "--format", "csv")
    assert result.exit_code == 0, result.stderr
    df = pl.read_csv(result.stdout.encode(), schema_overrides={"rfm_score": pl.String})
    assert df.get_column("rfm_score").to_list() == ["332", "322", "113", "211"]
    assert df.get_column("segment").to_list() == ["Top", "Top", "Rest", "Rest"]
    assert "recency scores (fixed, days): 3: <= 3, 2: 3 < x <= 7, 1: > 7" in result.stderr.splitlines()
    assert "frequency scores (fixed, occasions): 3: >= 3, 2: 2 <= x < 3, 1: < 2" in result.stderr.splitlines()


def test_rfm_incomplete_segment_map_exits_2(sales, tmp_path):
    (tmp_path / "fidelcli.toml").write_text('[[rfm.segments]]\nname = "Top"\nr = [5]\nf = [1, 2, 3, 4, 5]\n')
    result = run("rfm", "-t", str(sales))
    assert result.exit_code == 2
    err = result.stderr.splitlines()
    assert err[-2] == (
        "error: the segment map does not cover 20 of the 25 (R, F) cells: "
        "R1F1, R1F2, R1F3, R1F4, R1F5, R2F1, R2F2, R2F3, R2F4, R2F5 ..."
    )
    assert err[-1] == "hint: add the missing cells to a segment in [[rfm.segments]]"


def test_rfm_bad_bins_is_usage_error(sales):
    result = run("rfm", "-t", str(sales), "--bins", "1")
    assert result.exit_code == 2
    assert "--bins" in result.stderr


def test_rfm_json_equals_library(sales):
    from fidelcli.analyses.rfm import rfm
    from fidelcli.clean import clean_transactions
    from fidelcli.engine import DEFAULT_ENGINE
    from fidelcli.io.read import scan_table

    result = run("rfm", "-t", str(sales), "--format", "json")
    assert result.exit_code == 0, result.stderr
    tx = clean_transactions(scan_table(str(sales), "transactions"))
    lib = rfm(DEFAULT_ENGINE.customer_summary(tx), as_of=tx.as_of).customers
    got = pl.DataFrame(json.loads(result.stdout)).with_columns(
        pl.col("first_purchase", "last_purchase").str.to_date(), pl.col("r_score", "f_score", "m_score").cast(pl.Int8)
    )
    assert_frame_equal(got, lib)


def test_rfm_bins_4_fills_segments_cli(sales):
    # Issue 11 item 7: segments as computed by hand in tests/analyses/test_rfm.py::test_rfm_bins_4_fills_segments.
    result = run("rfm", "-t", str(sales), "--bins", "4", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    df = pl.read_csv(result.stdout.encode())
    assert df.get_column("segment").to_list() == ["Loyal Customers", "Loyal Customers", "Hibernating", "Hibernating"]
    assert (
        "segments: the default 5 x 5 map, with the 4 scores read as 5-bin scores (1 -> 1, 2 -> 2, 3 -> 4, 4 -> 5)"
        in result.stderr.splitlines()
    )


def test_rfm_without_amounts_has_empty_monetary_and_no_m_score(sales, tmp_path):
    # Issue 11 item 1: the TINY log without its amount column; E's only row (a return) is now a plain
    # purchase on 2024-01-07, since without amounts nothing marks it as a return.
    log = tmp_path / "events.csv"
    log.write_text("\n".join(line.rsplit(",", 1)[0] for line in CSV.strip().splitlines()) + "\n")
    result = run("rfm", "-t", str(log), "--format", "csv")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "customer_id,recency,frequency,monetary,first_purchase,last_purchase,tenure,r_score,f_score,rfm_score,segment,action"
    assert all(line.split(",")[3] == "" for line in lines[1:])  # monetary: empty, never 0
    assert ("warning: no amount column: monetary value is unknown (empty), so there is no M score; rfm_score is made of R and F, "
            "and the segments come from R and F as always") in result.stderr.splitlines()
    summary = json.loads(run("rfm", "-t", str(log), "--summary", "--format", "json").stdout)
    assert {(r["revenue"], r["revenue_share"], r["monetary"]) for r in summary} == {(None, None, None)}
