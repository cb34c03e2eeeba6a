"""Helpers of the churn tests (not fixtures): the CDNOW path, loading a file, training on a simulated
shop. Imported as `churn_data` (tests/churn is on pytest's `pythonpath`); conftest.py uses them too."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
from churn_sim import simulate_rule
from refdata import reference_path

from fidelcli.churn import TrainResult, train_churn
from fidelcli.clean import Transactions, clean_transactions
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.io.read import scan_table

# CDNOW 1/10 cohort (tests/reference/, or ../shared/data beside the checkout)
CDNOW = reference_path("clvtools_cdnow.csv")


def load(path: Path, **kw: object) -> Transactions:
    return clean_transactions(scan_table(str(path), "transactions"), **kw)  # type: ignore[arg-type]


def train_rule_shop(folder: Path, truth: Callable[..., np.ndarray], *, seed: int = 0, amounts: bool = True) -> TrainResult:
    """A model trained on `simulate_rule(3000, truth, seed=seed)` (validation at its last cutoff, 90 days, seed 0)."""
    tx, cutoff = simulate_rule(3000, truth, seed=seed)
    path = folder / "tx.parquet"
    (tx if amounts else tx.drop("amount")).write_parquet(path)
    return train_churn(load(path), engine=DEFAULT_ENGINE, data_end=cutoff + dt.timedelta(days=90), cutoff=cutoff, horizon="90d", seed=0)
