"""Fixtures of the churn tests: a small hand-made shop and a seeded simulated one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from churn_data import load, train_rule_shop  # tests/churn is on pytest's `pythonpath`
from churn_sim import linear_truth, simulate

from fidelcli.churn import TrainResult, train_churn
from fidelcli.engine import DEFAULT_ENGINE


@pytest.fixture(scope="session")
def sim_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    """3,000 simulated customers over two years (seed 7), written to Parquet; and the truth."""
    tx, truth = simulate(3000, seed=7)
    path = tmp_path_factory.mktemp("sim") / "transactions.parquet"
    tx.write_parquet(path)
    return path, truth


@pytest.fixture(scope="session")
def sim_result(sim_files: tuple[Path, pl.DataFrame]) -> TrainResult:
    """A model trained once on the simulated shop (cutoff 2024-09-30, 90 days, seed 0)."""
    tx = load(sim_files[0])
    return train_churn(tx, engine=DEFAULT_ENGINE, data_end=tx.as_of - dt.timedelta(days=1), cutoff=dt.date(2024, 9, 30), horizon="90d", seed=0)


@pytest.fixture(scope="session")
def sim_model_file(sim_result: TrainResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sim_result`'s model, saved."""
    path = tmp_path_factory.mktemp("model") / "churn.json"
    sim_result.model.save(path)
    return path


@pytest.fixture(scope="session")
def linear_result(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """Churn linear in recency, frequency and tenure (seed 0): the logistic regression is saved."""
    return train_rule_shop(tmp_path_factory.mktemp("linear"), linear_truth)


@pytest.fixture(scope="session")
def linear_model_file(linear_result: TrainResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`linear_result`'s model (a logistic regression), saved."""
    path = tmp_path_factory.mktemp("linear_model") / "churn.json"
    linear_result.model.save(path)
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """Three customers written by hand (see test_churn_features for the arithmetic)."""
    path = tmp_path / "tx.csv"
    path.write_text(
        "customer_id,order_id,date,amount,category,channel\n"
        # A: buys every 30 days, then goes quiet
        "A,1,2024-01-01,100,food,web\n"
        "A,2,2024-01-31,80,home,web\n"
        "A,3,2024-03-01,60,food,store\n"
        "A,4,2024-03-01,-30,food,store\n"
        # B: one purchase
        "B,5,2024-05-20,50,food,web\n"
        # C: two purchases 10 days apart, the second within 30 days of the cutoff
        "C,6,2024-05-01,20,drinks,web\n"
        "C,7,2024-05-11,40,food,web\n"
        # after the cutoff 2024-05-31
        "A,8,2024-06-15,70,food,web\n"
        "B,9,2024-09-15,10,food,web\n",
        encoding="utf-8",
    )
    return path
