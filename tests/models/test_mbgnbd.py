"""MBG/NBD: Batislam, Denizel & Filiztekin (2007), IJRM 24(3). No published CDNOW table is
trusted here, so the model is pinned by simulation (parameter recovery, and P(alive) and the
expectations at the true parameters: test_contract.py) and by the closed forms below."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from fidelcli.models import MBGNBD
from fidelcli.models.bgnbd import bg_loglik

TRUE = {"r": 0.8, "alpha": 6.0, "a": 0.9, "b": 3.0}


def test_customer_without_repeat_purchase_may_be_dead() -> None:
    # Unlike BG/NBD, P(alive | x = 0) = 1 / (1 + a/b) at T = 0: the first-purchase drop-out.
    model = MBGNBD.from_dict({"name": "mbgnbd", "params": TRUE})
    assert model.p_alive([0], [0.0], [0.0])[0] == pytest.approx(3.0 / 3.9, rel=1e-12)


def test_probabilities_of_zero_purchases_sum_correctly() -> None:
    # P(X(T) = 0) = b/(a+b) (alpha/(alpha+T))^r + a/(a+b): exp of the x = 0 likelihood.
    p = np.array([TRUE["r"], TRUE["alpha"], TRUE["a"], TRUE["b"]])
    ll = bg_loglik(p, np.array([0.0]), np.array([0.0]), np.array([20.0]), modified=True)
    want = 3.0 / 3.9 * (6.0 / 26.0) ** 0.8 + 0.9 / 3.9
    assert np.exp(ll[0]) == pytest.approx(want, rel=1e-12)


def test_cdnow_fit_regression(cdnow: pl.DataFrame) -> None:
    # This implementation on CDNOW (no trusted published table): r = 0.5248, alpha = 6.1831,
    # a = 0.8914, b = 1.6140, LL = -9582.136; slightly better than BG/NBD's -9582.43.
    x, t_x, T = (cdnow[c].to_numpy() for c in ("x", "t.x", "T.cal"))
    model = MBGNBD().fit(x, t_x, T)
    assert model.params_["r"] == pytest.approx(0.5248, abs=2e-4)
    assert model.params_["alpha"] == pytest.approx(6.1831, abs=2e-3)
    assert model.params_["a"] == pytest.approx(0.8914, abs=2e-4)
    assert model.params_["b"] == pytest.approx(1.6140, abs=2e-3)
    assert model.log_likelihood_ == pytest.approx(-9582.136, abs=2e-3)
