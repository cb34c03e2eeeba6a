"""On the sample data (`fidelcli sample`, 2,000 customers, seed 42: the data of sample_data/), every
scenario yields a plausible list; the figures are those of the README."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from fidelcli.analyses.clv import customer_lifetime_value
from fidelcli.analyses.target import target_analysis
from fidelcli.analyses.target.scenarios import SCENARIOS
from fidelcli.clean import CleanOptions
from fidelcli.engine import get_engine
from fidelcli.io.read import scan_table
from fidelcli.sample import generate


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate(out, customers=2000, seed=42, formats=("parquet",))
    return out


@pytest.mark.slow
def test_every_scenario_yields_a_plausible_list(sample: Path) -> None:
    engine = get_engine("polars")
    tx = engine.load(scan_table(str(sample / "transactions.parquet"), "transactions"), CleanOptions())
    customers = pl.read_parquet(sample / "customers.parquet")
    fit = customer_lifetime_value(tx, engine=engine, model="bgnbd").fit  # at_risk and vip by CLV and P(alive)
    result = target_analysis(tx, engine=engine, customers=customers, scenarios=["all"], clv_fit=fit,
                             touchpoints=pl.scan_parquet(sample / "touchpoints.parquet"),
                             campaigns=scan_table(str(sample / "campaigns.parquet"), "campaigns").lf)
    assert result.as_of == dt.date(2026, 1, 1)
    funnel = {row["scenario"]: row for row in result.funnel.iter_rows(named=True)}
    assert result.scenarios == list(SCENARIOS)
    for name in SCENARIOS:
        row = funnel[name]
        # A list to send, a minority of the customers (cross-sell aside, which anyone with a history may get).
        assert row["targeted"] >= 1, name
        assert name == "cross_sell" or row["eligible"] <= 0.4 * 2000, name
        assert row["eligible"] >= row["consented"] >= row["after_arbitration"] == row["targeted"] + row["control"]
    # Consent: the generator opts 60 % of customers in to email, 30 % to SMS (fidelcli/sample/people.py).
    total = funnel["all"]
    assert 0.4 < total["consented"] / total["eligible"] < 0.8
    # The control groups hold about 10 % of the rows after arbitration.
    assert 0.05 < total["control"] / total["after_arbitration"] < 0.15
    assert result.targets.height + result.control.height == total["after_arbitration"]
