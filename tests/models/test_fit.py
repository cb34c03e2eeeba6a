"""The shared MLE core: compression, optimisation, standard errors, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import gammaln

from fidelcli.errors import ConfigError, FitError, InputError
from fidelcli.models import compress
from fidelcli.models._optimize import discount_sum, maximize_likelihood
from fidelcli.models._validation import check_column


def test_compress_hand_example() -> None:
    # Rows (1, 2.0) twice and (0, 0.0) once -> two distinct rows, sorted, with counts.
    x, t, w = compress([1, 0, 1], [2.0, 0.0, 2.0])
    np.testing.assert_array_equal(x, [0.0, 1.0])
    np.testing.assert_array_equal(t, [0.0, 2.0])
    np.testing.assert_array_equal(w, [1.0, 2.0])


def test_compress_sums_weights_and_drops_zero_weights() -> None:
    x, w = compress([3, 3, 5, 7], weights=[0.5, 1.5, 2.0, 0.0])
    np.testing.assert_array_equal(x, [3.0, 5.0])
    np.testing.assert_array_equal(w, [2.0, 2.0])


def test_compress_is_exactly_order_invariant_with_fractional_weights() -> None:
    rng = np.random.default_rng(7)
    a = rng.integers(0, 3, 500).astype(float)
    b = rng.integers(0, 4, 500).astype(float)
    w = rng.random(500)
    ref = compress(a, b, weights=w)
    perm = rng.permutation(500)
    out = compress(a[perm], b[perm], weights=w[perm])
    for r, o in zip(ref, out, strict=True):
        np.testing.assert_array_equal(r, o)  # bit-identical, not approximately equal


def test_compress_treats_negative_zero_as_zero() -> None:
    x, w = compress([0.0, -0.0])
    np.testing.assert_array_equal(w, [2.0])


def test_compress_rejects_unequal_lengths() -> None:
    with pytest.raises(InputError):
        compress([1, 2], [1])


def test_check_column_reports_first_bad_row() -> None:
    with pytest.raises(InputError) as exc:
        check_column([1.0, 2.0, np.nan], "t_x")
    assert (exc.value.column, exc.value.row) == ("t_x", 3)
    with pytest.raises(InputError) as exc:
        check_column([1.0, -2.0], "T")
    assert exc.value.row == 2
    with pytest.raises(InputError):
        check_column([1.5], "x", integer=True)


def _poisson_loglik(counts: np.ndarray, weights: np.ndarray):
    def loglik(p: np.ndarray) -> float:
        lam = p[0]
        return float(weights @ (counts * np.log(lam) - lam - gammaln(counts + 1)))
    return loglik


def test_maximize_likelihood_poisson_mean_and_standard_error() -> None:
    # Poisson MLE: lambda = mean = (0*2 + 1*3 + 4*5)/10 = 2.3, se = sqrt(lambda / N).
    counts, weights = np.array([0.0, 1.0, 4.0]), np.array([2.0, 3.0, 5.0])
    res = maximize_likelihood(_poisson_loglik(counts, weights), [np.array([1.0])],
                              names=["lam"], n_customers=10.0, model="poisson")
    assert res.params["lam"] == pytest.approx(2.3, rel=1e-7)
    assert res.std_errors["lam"] == pytest.approx(math.sqrt(2.3 / 10), rel=1e-4)
    assert res.converged


def test_penalizer_shrinks_log_parameter_towards_zero() -> None:
    counts, weights = np.array([4.0]), np.array([10.0])
    free = maximize_likelihood(_poisson_loglik(counts, weights), [np.array([1.0])],
                               names=["lam"], n_customers=10.0, model="poisson")
    pen = maximize_likelihood(_poisson_loglik(counts, weights), [np.array([1.0])],
                              names=["lam"], n_customers=10.0, model="poisson", penalizer=1.0)
    # f(theta) = -(4 theta - e^theta) + theta^2: stationary at 4 - e^theta = 2 theta.
    theta = math.log(pen.params["lam"])
    assert 4 - math.exp(theta) == pytest.approx(2 * theta, abs=1e-6)
    assert 1.0 < pen.params["lam"] < free.params["lam"] == pytest.approx(4.0)


def test_maximize_likelihood_raises_when_never_finite() -> None:
    with pytest.raises(FitError) as exc:
        maximize_likelihood(lambda p: -math.inf, [np.array([1.0])], names=["a"],
                            n_customers=1.0, model="broken")
    assert "L-BFGS-B" in (exc.value.hint or "")


def test_maximize_likelihood_raises_on_runaway_parameter() -> None:
    # Likelihood increasing without bound in a: the MLE does not exist.
    with pytest.raises(FitError) as exc:
        maximize_likelihood(lambda p: float(np.log(p[0])), [np.array([1.0])], names=["a"],
                            n_customers=1.0, model="runaway")
    assert "penalizer" in (exc.value.hint or "")


def test_discount_sum_hand_example() -> None:
    # E(t) = t (one purchase per period): sum_{k=1}^{3} 1/1.1^k = 2.4868519909842223.
    out = discount_sum(lambda t: t[None, :], horizon=3, discount_rate_per_period=0.1)
    assert out[0] == pytest.approx(1 / 1.1 + 1 / 1.1**2 + 1 / 1.1**3, rel=1e-12)
    with pytest.raises(ConfigError):
        discount_sum(lambda t: t[None, :], horizon=-1, discount_rate_per_period=0.1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(1, 4)), min_size=1,
                max_size=40))
def test_compress_keeps_the_weighted_multiset(rows: list[tuple[int, int, int]]) -> None:
    a = np.array([r[0] for r in rows], dtype=float)
    b = np.array([r[1] for r in rows], dtype=float)
    w = np.array([r[2] for r in rows], dtype=float)
    ua, ub, uw = compress(a, b, weights=w)
    expected: dict[tuple[float, float], float] = {}
    for x, y, z in zip(a, b, w, strict=True):
        expected[(x, y)] = expected.get((x, y), 0.0) + z
    assert dict(zip(zip(ua, ub, strict=True), uw, strict=True)) == expected
    assert list(zip(ua, ub, strict=True)) == sorted(expected)  # sorted, each row once
