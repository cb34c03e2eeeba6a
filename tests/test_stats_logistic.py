"""`fidelcli.stats.logistic_regression` and `logistic_risk_difference` against independent computations."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from fidelcli.stats import logistic_regression, logistic_risk_difference


def test_coefficients_equal_scikit_learn_unpenalised_and_errors_the_inverse_information() -> None:
    rng = np.random.default_rng(7)
    n = 2000
    z = rng.normal(size=n)
    g = (rng.random(n) < 0.3).astype(float)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-0.2 - 0.8 * g + 0.5 * z)))).astype(float)
    x = np.c_[np.ones(n), g, z]
    fit = logistic_regression(x, y)
    assert fit is not None
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(x[:, 1:], y)
    np.testing.assert_allclose(fit.coef, np.r_[ref.intercept_, ref.coef_[0]], atol=1e-5)
    # Fisher information computed again from scikit-learn's probabilities.
    p = ref.predict_proba(x[:, 1:])[:, 1]
    cov = np.linalg.inv(x.T @ (x * (p * (1 - p))[:, None]))
    np.testing.assert_allclose(fit.std_errors(), np.sqrt(np.diag(cov)), rtol=1e-4)
    # The risk difference by standardisation: predictions with g set to 1 and to 0, averaged.
    x1, x0 = x.copy(), x.copy()
    x1[:, 1], x0[:, 1] = 1, 0
    rd, se = logistic_risk_difference(fit, x, 1)
    assert abs(rd - (ref.predict_proba(x1[:, 1:])[:, 1] - ref.predict_proba(x0[:, 1:])[:, 1]).mean()) < 1e-5
    assert 0 < se < 0.05


def test_separation_and_singular_designs_have_no_fit() -> None:
    x = np.c_[np.ones(6), [0, 0, 0, 1, 1, 1.0]]
    assert logistic_regression(x, np.array([0, 1, 0, 1, 1, 1.0])) is None  # group 1 always buys
    assert logistic_regression(np.c_[np.ones(6), np.ones(6)], np.array([0, 1, 0, 1, 1, 0.0])) is None  # collinear
