"""Predictions of every model stay finite and within their mathematical bounds for any positive
parameters an optimiser can return (1e-8 .. 1e12), without warnings; the stable evaluations
behind them (series, quadrature over the Beta posterior, graded quadrature of the Pareto/NBD
death-time integral) agree with the papers' closed forms where those are accurate, and reach the
hand-computed limits when the heterogeneity vanishes (shapes -> infinity at a fixed mean)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from scipy.special import expit, gammaln

from fidelcli.models import BGBB, BGNBD, MBGNBD, SBG, GammaGamma, ParetoNBD
from fidelcli.models.bg_conditional import (
    bg_conditional,
    bg_conditional_closed,
    bg_conditional_quadrature,
)
from fidelcli.models.bgbb import bgbb_future_alive_closed, bgbb_future_alive_quadrature
from fidelcli.models.numerics import beta_expectation, graded_nodes, log_poch, log_poch_ratio
from fidelcli.models.pnbd import pnbd_log_dead_odds_closed, pnbd_log_dead_odds_quadrature
from fidelcli.models.sbg import sbg_derl_closed, sbg_derl_quadrature

SEED = 20240611
ROUNDING = 1e-9  # slack on upper bounds for values computed in floating point

# Histories covering the corners: no repeat purchase, T = 0 (a new customer), t_x = T (bought on
# the last day), a long silence, a heavy buyer.
X = np.array([0.0, 0.0, 1.0, 1.0, 2.0, 5.0, 30.0, 100.0])
T_X = np.array([0.0, 0.0, 0.5, 40.0, 20.0, 30.0, 39.0, 39.9])
T_CAL = np.array([0.0, 40.0, 40.0, 40.0, 40.0, 40.0, 40.0, 40.0])
HORIZONS = (0.5, 10.0, 52.0)


@contextmanager
def no_warnings() -> Iterator[None]:
    """Fail on any warning, whatever the pytest configuration."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def extreme_params(k: int, n: int, special: list[list[float]]) -> list[list[float]]:
    """`special` rows, then n seeded draws of k parameters log-uniform on [1e-8, 1e12]."""
    rng = np.random.default_rng(SEED + k)
    return special + (10.0 ** rng.uniform(-8.0, 12.0, size=(n, k))).tolist()


def ids(params: list[list[float]]) -> list[str]:
    return ["-".join(f"{v:.3g}" for v in p) for p in params]


# The bootstrap refit of tests/analyses/test_clv.py that overflowed (a, b -> infinity), a = 1 (a
# removable 0/0), a just off 1, a < 1 with a huge b, huge r, huge alpha, tiny everything.
BG_SPECIAL = [
    [0.237, 4.49, 1.43e9, 1.46e10],
    [0.243, 4.414, 1.0, 2.426],
    [0.243, 4.414, 1.0 + 1e-12, 2.426],
    [0.243, 4.414, 1.0 - 3e-4, 2.426],
    [0.5, 3.0, 1e-8, 1e12],
    [1e12, 4.0, 0.8, 2.5],
    [0.8, 1e12, 0.8, 2.5],
    [1e-8, 1e-8, 1e-8, 1e-8],
    [1e12, 1e12, 1e12, 1e12],
]
BG_PARAMS = extreme_params(4, 40, BG_SPECIAL)


@pytest.mark.parametrize("cls", [BGNBD, MBGNBD])
@pytest.mark.parametrize("params", BG_PARAMS, ids=ids(BG_PARAMS))
def test_bg_predictions_are_finite_and_bounded(cls: type[BGNBD], params: list[float]) -> None:
    check_purchase_model(cls, dict(zip(("r", "alpha", "a", "b"), params, strict=True)))


PNBD_SPECIAL = [
    [0.553, 10.58, 0.606, 11.67],  # CDNOW (Fader-Hardie 2005 note)
    [0.553, 10.58, 1.0, 11.67],  # s = 1, the removable 0/0 of the expectation
    [0.553, 10.58, 1e9, 1e10],  # s, beta -> infinity: no heterogeneity in the death rate
    [1e9, 1e10, 0.606, 11.67],
    [0.553, 1e-8, 0.606, 1e12],  # 1 - z = alpha/beta = 1e-20 in the 2F1 term
    [0.553, 1e12, 0.606, 1e-8],
]
PNBD_PARAMS = extreme_params(4, 40, PNBD_SPECIAL)


@pytest.mark.parametrize("params", PNBD_PARAMS, ids=ids(PNBD_PARAMS))
def test_pnbd_predictions_are_finite_and_bounded(params: list[float]) -> None:
    check_purchase_model(ParetoNBD, dict(zip(("r", "alpha", "s", "beta"), params, strict=True)))


def check_purchase_model(cls: type, params: dict[str, float]) -> None:
    model = cls.from_dict({"name": cls.name, "params": params})
    r, alpha = params["r"], params["alpha"]
    with no_warnings():
        alive = model.p_alive(X, T_X, T_CAL)
        curves = [model.expected_purchases(t, X, T_X, T_CAL) for t in HORIZONS]
        new = model.expected_purchases_new(np.array([0.0, 1.0, 10.0]))
        discounted = model.discounted_expected_transactions(X, T_X, T_CAL, horizon=6,
                                                            discount_rate_per_period=0.01, step=2.0)
        joint = (model.horizon_predictions(X, T_X, T_CAL, length=12.0, steps=6,
                                           discount_rate_per_period=0.01)
                 if hasattr(model, "horizon_predictions") else None)
    assert np.all((alive >= 0.0) & (alive <= 1.0))
    previous = np.zeros(X.size)
    for t, expected in zip(HORIZONS, curves, strict=True):
        # No more purchases than an immortal customer makes: (r+x) t/(alpha+T) given alive.
        ceiling = (r + X) * t / (alpha + T_CAL) * alive
        assert np.all(np.isfinite(expected))
        assert np.all((expected >= 0.0) & (expected <= ceiling * (1 + ROUNDING)))
        assert np.all(expected >= previous * (1 - ROUNDING))  # cumulative in t
        previous = expected
    assert np.all(np.isfinite(new)) and new[0] == 0.0
    assert np.all(new >= 0.0) and np.all(new[:-1] <= new[1:] * (1 + ROUNDING))
    # Discounting at 1 % a step can only shrink the 12 units' expected purchases.
    twelve = model.expected_purchases(12.0, X, T_X, T_CAL)
    assert np.all(np.isfinite(discounted))
    assert np.all((discounted >= 0.0) & (discounted <= twelve * (1 + ROUNDING)))
    if joint is not None:
        joint_alive, joint_expected, joint_discounted = joint
        np.testing.assert_array_equal(joint_alive, alive)
        assert np.all(np.isfinite(joint_expected)) and np.all(np.isfinite(joint_discounted))
        # The joint curve may take the quadrature over p for a whole row where the closed form
        # serves t = 12 alone: both agree to 1e-6 unless a customer is expected to buy more than
        # a million times, where the quadrature with a shape below 1 resolves the bend of its
        # integrand at p ~ alpha/((r+x) t) to ~1e-3 only.
        absurd = np.max((r + X) * 12.0 / (alpha + T_CAL)) > 1e6
        np.testing.assert_allclose(joint_expected, twelve, rtol=1e-2 if absurd else 1e-6,
                                   atol=1e-300)
        assert np.all((joint_discounted >= 0.0)
                      & (joint_discounted <= joint_expected * (1 + ROUNDING)))


BGBB_PARAMS = extreme_params(4, 40, [[1.204, 0.750, 0.657, 2.783],  # donations (FHS 2010)
                                     [1.204, 0.750, 1.0, 2.783],  # gamma = 1, a removable 0/0
                                     [1e12, 1e12, 1e12, 1e12], [1e-8, 1e-8, 1e-8, 1e-8]])


@pytest.mark.parametrize("params", BGBB_PARAMS, ids=ids(BGBB_PARAMS))
def test_bgbb_predictions_are_finite_and_bounded(params: list[float]) -> None:
    model = BGBB.from_dict({"name": "bgbb", "params": dict(
        zip(("alpha", "beta", "gamma", "delta"), params, strict=True))})
    x, t_x = np.array([0, 1, 1, 3, 6, 6]), np.array([0, 1, 6, 4, 6, 6])
    n = np.array([6, 6, 6, 6, 6, 20])
    with no_warnings():
        alive = model.p_alive(x, t_x, n)
        expected = model.expected_purchases(5, x, t_x, n)
        new = model.expected_purchases_new(np.array([0.0, 1.0, 10.0]))
        discounted = model.discounted_expected_transactions(x, t_x, n, horizon=5,
                                                            discount_rate_per_period=0.01)
    assert np.all((alive >= 0.0) & (alive <= 1.0))
    # At most one transaction per opportunity.
    assert np.all((expected >= 0.0) & (expected <= 5.0))
    assert np.all((new >= 0.0) & (new <= np.array([0.0, 1.0, 10.0])))
    assert np.all(np.isfinite(discounted))
    assert np.all((discounted >= 0.0) & (discounted <= expected * (1 + ROUNDING)))


GG_PARAMS = extreme_params(3, 40, [[6.25, 3.74, 15.44], [1e12, 1e12, 1e12], [1e-8, 1.0, 1e-8]])


@pytest.mark.parametrize("params", GG_PARAMS, ids=ids(GG_PARAMS))
def test_gamma_gamma_spend_is_finite_where_it_exists(params: list[float]) -> None:
    p, q, v = params
    model = GammaGamma.from_dict({"name": "gamma_gamma", "params": {"p": p, "q": q, "v": v}})
    x, m = np.array([0.0, 1.0, 2.0, 10.0, 100.0]), np.array([0.0, 5.0, 50.0, 0.01, 1e6])
    with no_warnings():
        spend = model.expected_spend(x, m)
        population = model.population_mean()
    # The posterior of the spend rate is Gamma(p x + q, v + m x): E[1/rate] exists iff p x + q > 1
    # (Fader & Hardie 2013 note); the population mean p v/(q-1) iff q > 1.
    exists = p * x + q > 1.0
    assert np.all(np.isfinite(spend[exists])) and np.all(spend[exists] > 0.0)
    assert np.all(np.isposinf(spend[~exists]))
    assert math.isfinite(population) == (q > 1.0)
    if q > 1.0:  # a weighted average of the population mean and the customer's mean
        low, high = np.minimum(m, population), np.maximum(m, population)
        assert np.all(spend[1:] >= low[1:] * (1 - ROUNDING))
        assert np.all(spend[1:] <= high[1:] * (1 + ROUNDING))
        assert spend[0] == pytest.approx(population, rel=1e-12)


SBG_PARAMS = extreme_params(2, 40, [[0.704, 1.182], [1.0, 1.0], [1e12, 1e12], [1e-8, 1e12],
                                    [1e12, 1e-8], [1e-8, 1e-8], [1.0 + 1e-12, 1e12]])


@pytest.mark.parametrize("params", SBG_PARAMS, ids=ids(SBG_PARAMS))
def test_sbg_predictions_are_finite_and_bounded(params: list[float]) -> None:
    alpha, beta = params
    model = SBG.from_dict({"name": "sbg", "params": {"alpha": alpha, "beta": beta}})
    t = np.arange(0, 13, dtype=float)
    n = np.array([0.0, 1.0, 5.0, 100.0])
    with no_warnings():
        survival = model.survival(t)
        churn = model.churn_probability(t[1:])
        retention = model.retention_rate(t[1:])
        lifetimes = [model.expected_lifetime(discount_rate=d) for d in (0.0, 1e-4, 0.1, 10.0)]
        residual = {d: model.discounted_expected_residual_lifetime(n, discount_rate=d)
                    for d in (0.0, 1e-4, 0.1, 10.0)}
    assert survival[0] == 1.0
    assert np.all((survival >= 0.0) & (survival <= 1.0)) and np.all(np.diff(survival) <= 0.0)
    assert np.all((churn >= 0.0) & (churn <= 1.0))
    assert np.all((retention >= 0.0) & (retention <= 1.0))
    # Churned by t or still active after t: P(T <= t) + S(t) = 1 (Fader & Hardie 2007).
    np.testing.assert_allclose(np.cumsum(churn) + survival[1:], 1.0, rtol=1e-9)
    # The undiscounted means exist iff alpha > 1 (the Beta-geometric lifetime's mean).
    assert math.isfinite(lifetimes[0]) == (alpha > 1.0)
    assert np.all(np.isfinite(residual[0.0])) == (alpha > 1.0)
    for d, lifetime in zip((1e-4, 0.1, 10.0), lifetimes[1:], strict=True):
        # At least the first, undiscounted period; at most every period of an immortal customer.
        assert 1.0 <= lifetime <= (1 + d) / d * (1 + ROUNDING)
        first = (beta + n) / (alpha + beta + n)  # the next period, paid for sure if renewed
        assert np.all((residual[d] >= first * (1 - ROUNDING))
                      & (residual[d] <= (1 + d) / d * (1 + ROUNDING)))


# ----------------------------------------------------------------- stable == closed where fine
GRID_T = np.array([0.1, 1.0, 4.33, 13.0, 39.0, 52.0])[:, None]
GRID_X = np.array([0.0, 1.0, 2.0, 7.0, 30.0])[None, :]
GRID_T_CAL = np.array([5.0, 38.86, 80.0])


@pytest.mark.parametrize("modified", [False, True])
@pytest.mark.parametrize("params", [
    [0.243, 4.414, 0.793, 2.426],  # CDNOW, FHL 2005
    [0.8, 6.0, 2.5, 0.7],  # a > 1 with b < 1
    [2.0, 0.5, 0.3, 0.4],
    [0.5, 10.0, 60.0, 200.0],  # a, b >= 50: Gauss-Hermite over the posterior of p
])
def test_bg_quadrature_matches_the_closed_form(params: list[float], modified: bool) -> None:
    for T in GRID_T_CAL:
        closed, trusted = bg_conditional_closed(params, GRID_T, GRID_X, T, modified=modified)
        stable = bg_conditional_quadrature(params, GRID_T, GRID_X, T, modified=modified)
        assert trusted.all()
        np.testing.assert_allclose(stable, closed, rtol=1e-8)


def test_bg_series_for_short_horizons_matches_the_closed_form() -> None:
    # s (r+x+12) <= 0.05 is served by the series, the closed form is still accurate at 1e-3.
    params = [0.243, 4.414, 0.793, 2.426]
    t = np.array([1e-3, 3e-3])
    closed, trusted = bg_conditional_closed(params, t, 2.0, 38.86, modified=False)
    assert trusted.all()
    np.testing.assert_allclose(bg_conditional(params, t, 2.0, 38.86, modified=False), closed,
                               rtol=1e-8)


def test_bg_a_equal_one_is_the_continuous_limit() -> None:
    # The closed form is 0/0 at a = 1; the quadrature over p has no singularity there.
    t, x, T = GRID_T, GRID_X, 38.86
    at_one = bg_conditional([0.243, 4.414, 1.0, 2.426], t, x, T, modified=False)
    np.testing.assert_allclose(
        at_one, bg_conditional_quadrature([0.243, 4.414, 1.0, 2.426], t, x, T, modified=False),
        rtol=1e-8)
    for a in (1.0 - 1e-9, 1.0 + 1e-9):
        np.testing.assert_allclose(
            bg_conditional([0.243, 4.414, a, 2.426], t, x, T, modified=False), at_one, rtol=1e-7)


@pytest.mark.parametrize("params", [[0.553, 10.58, 0.606, 11.67],  # CDNOW
                                    [0.553, 20.0, 1.4, 3.0],  # alpha > beta: the other 2F1 branch
                                    [2.0, 1.0, 0.3, 40.0]])
def test_pnbd_quadrature_matches_the_closed_form(params: list[float]) -> None:
    x, t_x, T = np.meshgrid([0.0, 1.0, 3.0, 20.0], [0.0, 5.0, 30.0], [31.0, 38.86, 78.0])
    x, t_x, T = x.ravel(), t_x.ravel(), T.ravel()
    keep = (x > 0) | (t_x == 0)
    x, t_x, T = x[keep], t_x[keep], T[keep]
    closed, trusted = pnbd_log_dead_odds_closed(np.array(params), x, t_x, T)
    stable = pnbd_log_dead_odds_quadrature(np.array(params), x, t_x, T)
    assert trusted.all()
    # P(alive) = 1/(1 + R) and 1 - P(alive) both to 1e-8.
    np.testing.assert_allclose(expit(-stable), expit(-closed), rtol=1e-8)
    np.testing.assert_allclose(expit(stable), expit(closed), rtol=1e-8)


@pytest.mark.parametrize("params", [[0.657, 2.783], [3.0, 0.4], [0.2, 40.0]])
def test_bgbb_quadrature_matches_the_closed_form(params: list[float]) -> None:
    gamma, delta = params
    n, n_star = np.meshgrid([0.0, 1.0, 6.0, 20.0], [1.0, 2.0, 5.0, 11.0])
    closed, trusted = bgbb_future_alive_closed(gamma, delta, n, n_star)
    assert trusted.all()
    np.testing.assert_allclose(bgbb_future_alive_quadrature(gamma, delta, n, n_star), closed,
                               rtol=1e-8)


@pytest.mark.parametrize("params", [[0.704, 1.182], [3.8, 0.4], [0.3, 30.0]])
@pytest.mark.parametrize("d", [0.01, 0.1, 2.0])
def test_sbg_quadrature_matches_the_closed_form(params: list[float], d: float) -> None:
    alpha, beta = params
    n = np.array([0.0, 1.0, 4.0, 25.0])
    closed, trusted = sbg_derl_closed(alpha, beta, n, d)
    assert trusted.all()
    np.testing.assert_allclose(sbg_derl_quadrature(alpha, beta, n, d), closed, rtol=1e-8)


# ----------------------------------------------------------------- no heterogeneity left
HUGE = 1e12


@pytest.mark.parametrize("modified", [False, True])
def test_bg_with_a_fixed_drop_out_probability(modified: bool) -> None:
    # a, b -> infinity with a/(a+b) = p: every customer drops out with probability p after each
    # purchase (after the first one too for MBG/NBD). Given alive, lambda ~ Gamma(r+x, alpha+T),
    # E[Y(t) | lambda] = (1 - exp(-lambda p t))/p, so
    #     E[Y(t) | alive] = (1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p,
    # and the odds of having dropped out at one of the x (x+1) purchase occasions are
    #     p/(1-p) ((alpha+T)/(alpha+t_x))^(r+x)   (FHL's P(alive) note with a/(b+x-1) -> p/(1-p)).
    r, alpha, p = 0.243, 4.414, 0.2
    model = (MBGNBD if modified else BGNBD).from_dict({"name": "mbgnbd" if modified else "bgnbd",
                                                       "params": {"r": r, "alpha": alpha,
                                                                  "a": p * HUGE,
                                                                  "b": (1 - p) * HUGE}})
    x, t_x, T, t = np.array([0.0, 2.0, 7.0]), np.array([0.0, 30.43, 20.0]), np.full(3, 38.86), 39.0
    odds = p / (1 - p) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    if not modified:
        odds[x == 0] = 0.0  # BG/NBD: no drop-out before the first repeat purchase
    alive = 1.0 / (1.0 + odds)
    given_alive = (1.0 - ((alpha + T) / (alpha + T + p * t)) ** (r + x)) / p
    with no_warnings():
        np.testing.assert_allclose(model.p_alive(x, t_x, T), alive, rtol=1e-9)
        np.testing.assert_allclose(model.expected_purchases(t, x, t_x, T), alive * given_alive,
                                   rtol=1e-9)


def test_bootstrap_refit_with_a_and_b_near_1e10_is_finite() -> None:
    # The refit of tests/analyses/test_clv.py whose closed form gave 0 * inf (RuntimeWarning):
    # a/(a+b) = 0.0892, a + b = 1.6e10, so the fixed-p limit above holds to ~1e-10.
    r, alpha, a, b = 0.237, 4.49, 1.43e9, 1.46e10
    p = a / (a + b)
    model = BGNBD.from_dict({"name": "bgnbd", "params": {"r": r, "alpha": alpha, "a": a, "b": b}})
    x, t_x, T = np.array([0.0, 1.0, 4.0]), np.array([0.0, 10.0, 35.0]), np.array([20.0, 30.0, 40.0])
    with no_warnings():
        alive, expected, discounted = model.horizon_predictions(
            x, t_x, T, length=26.0, steps=6, discount_rate_per_period=0.0)
    given_alive = (1.0 - ((alpha + T) / (alpha + T + p * 26.0)) ** (r + x)) / p
    np.testing.assert_allclose(expected, alive * given_alive, rtol=1e-8)
    np.testing.assert_allclose(discounted, expected, rtol=1e-12)  # no discount: the same sum


def test_pnbd_with_fixed_rates() -> None:
    # r, alpha -> infinity with r/alpha = lambda, s, beta -> infinity with s/beta = mu: every
    # customer buys at rate lambda and dies at rate mu. The likelihood is lambda^x e^-(lambda+mu)T
    # + lambda^x mu/(lambda+mu) (e^-(lambda+mu)t_x - e^-(lambda+mu)T), so
    #     P(alive) = 1 / (1 + mu/(lambda+mu) (e^((lambda+mu)(T-t_x)) - 1)),
    #     E[Y(t)] = P(alive) lambda/mu (1 - e^(-mu t)).
    # With Gamma(r, alpha) rates the log odds move by ~(lambda T)^2/(2 r) = 2e-10 at alpha = 1e12.
    lam, mu = 0.3, 0.05
    model = ParetoNBD.from_dict({"name": "pnbd", "params": {"r": lam * HUGE, "alpha": HUGE,
                                                            "s": mu * HUGE, "beta": HUGE}})
    x, t_x, T, t = np.array([0.0, 2.0, 7.0]), np.array([0.0, 30.43, 20.0]), np.full(3, 38.86), 39.0
    alive = 1.0 / (1.0 + mu / (lam + mu) * np.expm1((lam + mu) * (T - t_x)))
    with no_warnings():
        np.testing.assert_allclose(model.p_alive(x, t_x, T), alive, rtol=1e-8)
        np.testing.assert_allclose(model.expected_purchases(t, x, t_x, T),
                                   alive * lam / mu * -np.expm1(-mu * t), rtol=1e-8)


def test_bgbb_with_fixed_probabilities() -> None:
    # alpha, beta -> infinity with p = alpha/(alpha+beta), gamma, delta -> infinity with
    # theta = gamma/(gamma+delta): FHS 2010's likelihood with p and theta fixed is
    #     L = p^x (1-p)^(n-x) (1-theta)^n
    #         + sum_{i=0}^{n-t_x-1} p^x (1-p)^(t_x-x+i) theta (1-theta)^(t_x+i)
    # and E[X(n, n+n*)] = p^x (1-p)^(n-x) (1-theta)^n / L * p * sum_{k=1}^{n*} (1-theta)^k.
    p, theta, x, t_x, n, n_star = 0.3, 0.2, 2, 3, 6, 4
    alive_n = p**x * (1 - p) ** (n - x) * (1 - theta) ** n
    dead = sum(p**x * (1 - p) ** (t_x - x + i) * theta * (1 - theta) ** (t_x + i)
               for i in range(n - t_x))
    future = sum((1 - theta) ** k for k in range(1, n_star + 1))
    model = BGBB.from_dict({"name": "bgbb", "params": {
        "alpha": p * HUGE, "beta": (1 - p) * HUGE,
        "gamma": theta * HUGE, "delta": (1 - theta) * HUGE}})
    with no_warnings():
        assert model.p_alive(x, t_x, n)[0] == pytest.approx(
            alive_n * (1 - theta) / (alive_n + dead), rel=1e-9)
        assert model.expected_purchases(n_star, x, t_x, n) == pytest.approx(
            alive_n / (alive_n + dead) * p * future, rel=1e-9)


def test_sbg_with_a_fixed_churn_probability() -> None:
    # alpha, beta -> infinity with theta = alpha/(alpha+beta): S(t) = (1-theta)^t and, with
    # z = 1/(1+d), DERL = sum_k z^k (1-theta)^(k+1) = (1-theta)/(1 - (1-theta) z),
    # DEL = 1/(1 - (1-theta) z).
    theta, d = 0.25, 0.1
    model = SBG.from_dict({"name": "sbg", "params": {"alpha": theta * HUGE,
                                                     "beta": (1 - theta) * HUGE}})
    with no_warnings():
        np.testing.assert_allclose(model.survival(np.arange(6.0)), (1 - theta) ** np.arange(6.0),
                                   rtol=1e-9)
        assert model.expected_lifetime(discount_rate=d) == pytest.approx(
            1 / (1 - (1 - theta) / (1 + d)), rel=1e-9)
        np.testing.assert_allclose(
            model.discounted_expected_residual_lifetime(np.array([0.0, 3.0]), discount_rate=d),
            (1 - theta) / (1 - (1 - theta) / (1 + d)), rtol=1e-9)


# ----------------------------------------------------------------- the numerical building blocks
def test_log_poch_keeps_its_digits_for_huge_arguments() -> None:
    # log((1e12)(1e12+1)(1e12+2)) = 3 log(1e12) + log1p(1e-12) + log1p(2e-12); the difference of
    # two gammaln values of ~2.6e13 is off by ~1e-3 here.
    exact = 3 * math.log(1e12) + math.log1p(1e-12) + math.log1p(2e-12)
    assert float(log_poch(1e12, 3.0)) == pytest.approx(exact, rel=1e-15)
    assert abs(float(gammaln(1e12 + 3) - gammaln(1e12)) - exact) > 1e-4
    # Small arguments, fractional and negative shifts: the plain gammaln difference is exact.
    a = np.array([0.5, 3.0, 19.0, 25.0])
    k = np.array([2.5, -1.5, 7.25, -4.5])
    np.testing.assert_allclose(log_poch(a, k), gammaln(a + k) - gammaln(a), rtol=1e-13)
    # Large arguments, fractional shifts: the recurrence (a)_(k+1) = (a)_k (a+k).
    a, k = np.array([400.0, 3e7, 1e12]), np.array([0.125, 2.5, 0.75])
    np.testing.assert_allclose(log_poch(a, k + 1.0) - log_poch(a, k), np.log(a + k), rtol=1e-14)


def test_log_poch_ratio_keeps_its_digits_when_tiny() -> None:
    # log[(a)_k/(a+g)_k] = sum_{j<k} log1p(-g/(a+g+j)) for whole k: -7e-22 for a = 1e10, g = 1e-10,
    # k = 7, where log_poch(a, k) - log_poch(a+g, k) is rounding noise of ~1e-14.
    for a, gap, k in [(1e10, 1e-10, 7), (25.0, 0.3, 12), (3e6, 0.657, 5), (40.0, -0.5, 3)]:
        exact = sum(math.log1p(-gap / (a + gap + j)) for j in range(k))
        assert float(log_poch_ratio(a, gap, float(k))) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize(("a", "b"), [(0.8, 2.5), (1e-6, 1e3), (0.3, 1e12), (1e-8, 1e-8),
                                      (2.0, 1e-7), (55.0, 4e3), (1.43e9, 1.46e10)])
def test_beta_quadrature_reproduces_the_beta_moments(a: float, b: float) -> None:
    # E[p^k] = (a)_k / (a+b)_k and E[(1-p)^k] = (b)_k / (a+b)_k, from tails dominated by rare
    # values (Beta(1e-6, 1e3)) to posteriors concentrated within 1e-5 of their mean.
    for k in (1, 2):
        mean_p = math.exp(float(log_poch(a, k) - log_poch(a + b, k)))
        mean_q = math.exp(float(log_poch(b, k) - log_poch(a + b, k)))
        assert float(beta_expectation(lambda p, q, rows, k=k: p**k, a, b)[()]) == pytest.approx(
            mean_p, rel=1e-8)
        assert float(beta_expectation(lambda p, q, rows, k=k: q**k, a, b)[()]) == pytest.approx(
            mean_q, rel=1e-8)


def test_graded_rule_resolves_thin_boundary_layers() -> None:
    # int_0^L exp(-d/delta) dd = delta (1 - exp(-L/delta)) and, for a decay slower than any
    # exponential, int_0^L (1 + d/delta)^-1.5 dd = 2 delta (1 - (1 + L/delta)^-0.5), for layers
    # from 1e-15 L to 10 L.
    length = np.full(6, 40.0)
    delta = 40.0 * np.array([1e-15, 1e-9, 1e-4, 0.01, 1.0, 10.0])
    d, e, w = graded_nodes(length, delta)
    np.testing.assert_allclose(d + e, 40.0, rtol=1e-15)
    layer = delta[:, None]
    np.testing.assert_allclose((w * np.exp(-d / layer)).sum(axis=1),
                               -delta * np.expm1(-length / delta), rtol=1e-10)
    np.testing.assert_allclose((w * (1.0 + d / layer) ** -1.5).sum(axis=1),
                               2 * delta * (1 - (1 + length / delta) ** -0.5), rtol=1e-10)
