"""`fidelcli roi program` and `fidelcli loyalty`: --format json equals the library result; exact
errors and exit codes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fidelcli.analyses.loyalty import LoyaltyRules, simulate_loyalty
from fidelcli.analyses.roi.program import ProgramCosts, program_roi
from fidelcli.clean import CleanOptions
from fidelcli.cli.app import app
from fidelcli.engine import get_engine
from fidelcli.io.read import scan_table
from fidelcli.sample import generate


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate(out, customers=1500, seed=5, formats=("parquet",))
    return out


def _inputs(sample: Path):  # type: ignore[no-untyped-def]
    engine = get_engine("polars")
    tx = engine.load(scan_table(sample / "transactions.parquet", "transactions"), CleanOptions())
    return engine, tx, scan_table(sample / "customers.parquet", "customers").lf.collect()


def test_roi_program_json_is_the_library_result(sample: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["roi", "program", "-t", str(sample / "transactions.parquet"), "-c", str(sample / "customers.parquet"),
            "--fixed-cost", "1000", "--cost-per-member", "2", "--bootstrap", "50", "--seed", "4", "--format", "json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.stderr
    engine, tx, customers = _inputs(sample)
    expected = program_roi(tx, customers, engine=engine, window=3, costs=ProgramCosts(fixed=1000, per_member_year=2),
                           loyalty=LoyaltyRules(), n_boot=50, seed=4)
    assert json.loads(res.stdout) == json.loads(expected.to_json())
    assert json.loads(res.stdout)["headline"]["program_cost"] > 1000


def test_roi_program_needs_customers(sample: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["roi", "program", "-t", str(sample / "transactions.parquet")])
    assert res.exit_code == 2
    assert res.stderr.splitlines()[-2:] == ["error: no customers input given",
                                            "hint: pass -c/--customers FILE or set [inputs] customers in fidelcli.toml"]


def test_loyalty_json_is_the_library_result(sample: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fidelcli.toml").write_text('[loyalty]\nexpiry_months = 12\n[[loyalty.bonuses]]\nkind = "birthday"\npoints = 100\n')
    args = ["loyalty", "-t", str(sample / "transactions.parquet"), "-c", str(sample / "customers.parquet"),
            "--from", "2024-06-30", "--format", "json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.stderr
    engine, tx, customers = _inputs(sample)
    rules = LoyaltyRules(expiry_months=12, bonuses=[{"kind": "birthday", "points": 100}])  # type: ignore[list-item]
    expected = simulate_loyalty(tx, customers, engine=engine, rules=rules, migration=(dt.date(2024, 6, 30), tx.as_of))
    doc = json.loads(res.stdout)
    assert doc == json.loads(expected.to_json())
    # Every member is counted once in the migration matrix and in the tier distribution.
    matrix = pl.DataFrame(doc["tables"]["migration"])
    assert matrix.drop(matrix.columns[0]).sum().sum_horizontal().item() == doc["headline"]["members"]
    assert sum(r["members"] for r in doc["tables"]["tiers"]) == doc["headline"]["members"]


def test_loyalty_migration_dates_in_order(sample: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["loyalty", "-t", str(sample / "transactions.parquet"), "--from", "2025-01-01", "--to", "2024-01-01"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2
    assert res.stderr.splitlines()[-2:] == ["error: --from 2025-01-01 must come before --to 2024-01-01", "hint: swap the two dates"]


def test_loyalty_reads_an_events_table(sample: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    # One redemption of 40 points by C000002 (a member?) recorded in the ledger: the only redemption.
    customers = pl.read_parquet(sample / "customers.parquet")
    member = customers.filter(pl.col("loyalty_member")).sort("enrollment_date")["customer_id"][0]
    (tmp_path / "ledger.csv").write_text(f"customer_id,date,points,type\n{member},2025-06-01,-40,redeem\n")
    args = ["loyalty", "-t", str(sample / "transactions.parquet"), "-c", str(sample / "customers.parquet"),
            "--events", str(tmp_path / "ledger.csv"), "--format", "json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["headline"]["points_redeemed"] == 40.0
