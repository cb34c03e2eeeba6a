"""sBG: Fader & Hardie (2007), "How to project customer retention", J. Interactive Marketing
21(1); DEL/DERL: Fader & Hardie (2010), Marketing Science 29(1)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.special import betaln

from fidelcli.errors import FitError, InputError
from fidelcli.models import SBG


def _counts(df: pl.DataFrame, column: str) -> np.ndarray:
    return np.round(df[column].to_numpy() * 10)  # percent of a 1,000-customer cohort


@pytest.mark.parametrize(
    ("segment", "alpha", "beta", "ll"),
    [
        # FH 2007, fit on years 0-7. The paper's table pairs LL -1680.3 with the regular segment
        # and -1611.2 with the high-end one (hand check for regular: sum of lost_t log P(T=t)
        # + 241 log S(7) = -1680.3 at alpha=0.704, beta=1.182).
        ("regular", 0.704, 1.182, -1680.3),
        ("high_end", 0.668, 3.806, -1611.2),
    ],
)
def test_reproduces_fader_hardie_2007(retention: pl.DataFrame, segment: str, alpha: float,
                                      beta: float, ll: float) -> None:
    n = _counts(retention, segment)
    model = SBG().fit_survival(n[:8])
    assert model.params_["alpha"] == pytest.approx(alpha, abs=5e-4)
    assert model.params_["beta"] == pytest.approx(beta, abs=5e-4)
    assert model.log_likelihood_ == pytest.approx(ll, abs=0.05)
    # Years 8-12 are a true holdout: the projection stays within 5 % of the data, slightly
    # under it as in FH 2007's projection figure (worst: high end, year 12, 378 vs 394).
    projected = 1000 * model.survival(np.arange(8, 13))
    np.testing.assert_allclose(projected, n[8:], rtol=0.05)
    assert np.all(projected < n[8:])


def test_per_customer_fit_equals_survivor_curve_fit(retention: pl.DataFrame) -> None:
    n = _counts(retention, "regular")[:8]
    lost = -np.diff(n)
    durations = np.concatenate([np.repeat(np.arange(1.0, 8.0), lost.astype(int)),
                                np.full(int(n[-1]), 7.0)])
    censored = np.concatenate([np.zeros(int(lost.sum())), np.ones(int(n[-1]))])
    a = SBG().fit(durations, censored)
    b = SBG().fit_survival(n)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-12)
    assert a.params_["alpha"] == pytest.approx(b.params_["alpha"], rel=1e-6)


def test_retention_churn_and_survival_agree() -> None:
    model = SBG.from_dict({"name": "sbg", "params": {"alpha": 0.7, "beta": 1.2}})
    t = np.arange(1, 10)
    s = model.survival(np.arange(0, 10))
    np.testing.assert_allclose(model.churn_probability(t), s[:-1] - s[1:], rtol=1e-12)
    np.testing.assert_allclose(model.retention_rate(t), s[1:] / s[:-1], rtol=1e-12)
    # r_1 = beta / (alpha + beta) = 1.2 / 1.9.
    assert model.retention_rate(1)[()] == pytest.approx(1.2 / 1.9, rel=1e-12)


def test_discounted_lifetimes_match_explicit_sums() -> None:
    alpha, beta, d = 1.3, 2.2, 0.1
    model = SBG.from_dict({"name": "sbg", "params": {"alpha": alpha, "beta": beta}})
    t = np.arange(0, 4000)
    s = np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))
    # DEL = sum_{t>=0} S(t) / (1+d)^t.
    assert model.expected_lifetime(discount_rate=d) == pytest.approx(
        float(np.sum(s / (1 + d) ** t)), rel=1e-10)
    # DERL(n) = sum_{k>=1} S(n+k)/S(n) / (1+d)^(k-1).
    n = 3
    want = float(np.sum(s[n + 1:] / s[n] / (1 + d) ** np.arange(0, s.size - n - 1)))
    assert model.discounted_expected_residual_lifetime(n, discount_rate=d) == pytest.approx(
        want, rel=1e-10)
    # No discount, alpha > 1: E[T] = (alpha+beta-1)/(alpha-1); residual (beta+n)/(alpha-1).
    assert model.expected_lifetime() == pytest.approx(2.5 / 0.3, rel=1e-12)
    assert model.discounted_expected_residual_lifetime(n, discount_rate=0.0) == pytest.approx(
        5.2 / 0.3, rel=1e-12)


def test_nobody_churned_is_a_fit_error() -> None:
    with pytest.raises(FitError, match="nobody churned"):
        SBG().fit_survival([100, 100, 100])


def test_increasing_counts_are_an_input_error() -> None:
    with pytest.raises(InputError):
        SBG().fit_survival([100, 80, 90])


def test_churned_at_period_zero_is_an_input_error() -> None:
    with pytest.raises(InputError):
        SBG().fit([0, 2], [False, True])
