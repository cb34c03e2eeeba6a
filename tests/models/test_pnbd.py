"""Pareto/NBD: Schmittlein, Morrison & Colombo (1987); Fader & Hardie (2005), "A Note on Deriving
the Pareto/NBD Model and Related Expressions"; CDNOW values in Fader, Hardie & Lee (2005)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import integrate
from scipy.special import gammaln

from fidelcli.models import ParetoNBD, compress
from fidelcli.models.pnbd import PairedData, pnbd_loglik, pnbd_loglik_grad


def _cbs(df: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return df["x"].to_numpy(), df["t.x"].to_numpy(), df["T.cal"].to_numpy()


def test_cdnow_reproduces_published_estimates(cdnow: pl.DataFrame) -> None:
    # FHL 2005 (empirical analysis) and the Fader-Hardie 2005 Pareto/NBD note, CDNOW, weeks:
    # r = 0.553, alpha = 10.578, s = 0.606, beta = 11.669, LL = -9595.0.
    model = ParetoNBD().fit(*_cbs(cdnow))
    p = model.params_
    assert p["r"] == pytest.approx(0.553, abs=5e-4)
    assert p["alpha"] == pytest.approx(10.578, abs=5e-3)
    assert p["s"] == pytest.approx(0.606, abs=5e-4)
    assert p["beta"] == pytest.approx(11.669, abs=5e-3)
    assert model.log_likelihood_ == pytest.approx(-9595.0, abs=0.05)
    assert model.converged_


def _loglik_by_quadrature(p: dict[str, float], x: float, t_x: float, T: float) -> float:
    """Independent check: L = Gamma(r+x) alpha^r beta^s / Gamma(r) [ (alpha+T)^-(r+x)
    (beta+T)^-s + s int_{t_x}^{T} (alpha+y)^-(r+x) (beta+y)^-(s+1) dy ] (note: the
    integral over the death time y that A_0 evaluates in closed form)."""
    r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]

    def f(y: float) -> float:
        return ((alpha + t_x) / (alpha + y)) ** (r + x) * (beta + y) ** -(s + 1)

    # Integrand scaled by (alpha+t_x)^(r+x) so that it stays near 1 for large x.
    integral, _ = integrate.quad(f, t_x, T, epsabs=0, epsrel=1e-12, limit=200)
    alive = ((alpha + t_x) / (alpha + T)) ** (r + x) * (beta + T) ** -s
    return float(gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
                 - (r + x) * np.log(alpha + t_x) + np.log(alive + s * integral))


@pytest.mark.parametrize(
    "params",
    [
        {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},  # alpha < beta branch
        {"r": 0.553, "alpha": 11.669, "s": 0.606, "beta": 10.578},  # alpha > beta branch
        {"r": 0.553, "alpha": 10.0, "s": 0.606, "beta": 10.0},  # alpha == beta (z = 0)
        {"r": 2.0, "alpha": 0.5, "s": 3.0, "beta": 80.0},  # z close to 1
        {"r": 2.0, "alpha": 80.0, "s": 3.0, "beta": 0.5},
    ],
)
def test_likelihood_matches_numerical_integration(params: dict[str, float]) -> None:
    x = np.array([0.0, 1.0, 2.0, 7.0, 60.0, 400.0])
    t_x = np.array([0.0, 0.5, 30.43, 20.0, 38.0, 38.5])
    T = np.array([38.86, 38.86, 38.86, 38.86, 38.86, 38.86])
    p = np.array([params[k] for k in ("r", "alpha", "s", "beta")])
    got = pnbd_loglik(p, x, t_x, T)
    want = [_loglik_by_quadrature(params, *row) for row in zip(x, t_x, T, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_likelihood_is_continuous_where_alpha_crosses_beta(cdnow: pl.DataFrame) -> None:
    x, t_x, T = _cbs(cdnow)
    base = np.array([0.553, 10.578, 0.606, 10.578])
    values = [pnbd_loglik(base + np.array([0, 0, 0, d]), x, t_x, T).sum()
              for d in (-1e-7, 0.0, 1e-7)]
    assert values[0] == pytest.approx(values[1], abs=1e-5)
    assert values[2] == pytest.approx(values[1], abs=1e-5)


def test_t_x_equal_to_T_is_finite() -> None:
    p = np.array([0.5, 10.0, 0.6, 12.0])
    out = pnbd_loglik(p, np.array([3.0, 0.0]), np.array([20.0, 0.0]), np.array([20.0, 0.0]))
    assert np.all(np.isfinite(out))


def test_expectations_are_continuous_at_s_equal_one() -> None:
    near = {"r": 0.7, "alpha": 8.0, "beta": 12.0}
    values = [ParetoNBD.from_dict({"name": "pnbd", "params": {**near, "s": s}})
              .expected_purchases(10.0, 3, 20.0, 30.0) for s in (1 - 1e-9, 1.0, 1 + 1e-9)]
    assert values[0] == pytest.approx(values[1], rel=1e-7)
    assert values[2] == pytest.approx(values[1], rel=1e-7)


@pytest.mark.parametrize(
    "params",
    [[0.553, 10.578, 0.606, 11.669], [0.553, 11.669, 0.606, 10.578], [2.0, 0.5, 3.0, 80.0]],
)
def test_gradient_matches_finite_differences(cdnow: pl.DataFrame, params: list[float]) -> None:
    x, t_x, T, w = compress(*_cbs(cdnow))
    p = np.array(params)
    total, grad = pnbd_loglik_grad(p, PairedData.build(x, t_x, T, w))
    assert total == pytest.approx(float(w @ pnbd_loglik(p, x, t_x, T)), rel=1e-13)
    for i in range(4):
        e = np.zeros(4)
        e[i] = 1e-5 * p[i]
        fd = (w @ pnbd_loglik(p + e, x, t_x, T) - w @ pnbd_loglik(p - e, x, t_x, T)) / (2 * e[i])
        assert grad[i] == pytest.approx(fd, rel=1e-5, abs=1e-3)
