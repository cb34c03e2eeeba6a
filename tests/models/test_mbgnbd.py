"""MBG/NBD: Batislam, Denizel & Filiztekin (2007), IJRM 24(3). No published CDNOW table is
trusted here, so the model is pinned by simulation (recovery and formulas at true parameters)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from btyd_sim import simulate_purchases
from fidelcli.models import MBGNBD
from fidelcli.models.bgnbd import bg_loglik

TRUE = {"r": 0.8, "alpha": 6.0, "a": 0.9, "b": 3.0}


def test_parameter_recovery_on_simulated_customers() -> None:
    sim = simulate_purchases("mbgnbd", TRUE, 6000, seed=20240503)
    model = MBGNBD().fit(sim.x, sim.t_x, sim.T)
    for name, value in TRUE.items():
        assert abs(model.params_[name] - value) < 3 * model.std_errors_[name], name


def test_formulas_match_simulation_at_true_parameters() -> None:
    sim = simulate_purchases("mbgnbd", TRUE, 40_000, seed=31, horizon=26.0)
    model = MBGNBD.from_dict({"name": "mbgnbd", "params": TRUE})
    assert model.p_alive(sim.x, sim.t_x, sim.T).mean() == pytest.approx(
        sim.alive_at_T.mean(), abs=0.01)
    exp = model.expected_purchases(26.0, sim.x, sim.t_x, sim.T)
    se = sim.holdout.std() / np.sqrt(sim.holdout.size)
    assert abs(exp.mean() - sim.holdout.mean()) < 4 * se
    fixed = simulate_purchases("mbgnbd", TRUE, 40_000, seed=32, T_range=(30.0, 30.0))
    se = fixed.x.std() / np.sqrt(fixed.x.size)
    assert abs(model.expected_purchases_new(30.0) - fixed.x.mean()) < 4 * se


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


def test_analytic_gradient_matches_finite_differences(cdnow: pl.DataFrame) -> None:
    x, t_x, T = (cdnow[c].to_numpy() for c in ("x", "t.x", "T.cal"))
    p = np.array([0.5, 6.0, 0.9, 1.6])
    _, grad = bg_loglik(p, x, t_x, T, modified=True, weights=np.ones(x.size))
    for i in range(4):
        e = np.zeros(4)
        e[i] = 1e-6 * p[i]
        fd = (bg_loglik(p + e, x, t_x, T, modified=True).sum()
              - bg_loglik(p - e, x, t_x, T, modified=True).sum()) / (2 * e[i])
        assert grad[i] == pytest.approx(fd, rel=1e-6, abs=1e-4)


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
