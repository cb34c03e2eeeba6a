"""BG/BB discrete-time purchase model: Fader, Hardie & Shang (2010), "Customer-base analysis in a
discrete-time noncontractual setting", Marketing Science 29(6).

At each of n transaction opportunities an alive customer transacts with probability
p ~ Beta(alpha, beta); before each later opportunity she dies with probability theta ~
Beta(gamma, delta). Data per customer: x transactions, t_x the opportunity of the last one (0 when
x = 0), n opportunities.
"""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln, gammaln, logsumexp

from fidelcli.errors import FitError, InputError
from fidelcli.models._fit import (
    FittedModel,
    FloatArray,
    check_column,
    check_same_length,
    check_values,
    check_weights,
    compress,
    discount_sum,
    weighted_mean,
)


def bgbb_parts(params: FloatArray, x: FloatArray, t_x: FloatArray, n: FloatArray
               ) -> tuple[FloatArray, FloatArray]:
    """log of the "alive through n" term and log of the whole likelihood (FHS 2010, the likelihood
    L(alpha, beta, gamma, delta | x, t_x, n)):

    L = B(alpha+x, beta+n-x)/B(alpha,beta) B(gamma, delta+n)/B(gamma,delta)
        + sum_{i=0}^{n-t_x-1} B(alpha+x, beta+t_x-x+i)/B(alpha,beta)
                              B(gamma+1, delta+t_x+i)/B(gamma,delta)
    """
    alpha, beta, gamma, delta = params
    bab, bgd = betaln(alpha, beta), betaln(gamma, delta)
    l_alive = betaln(alpha + x, beta + n - x) - bab + betaln(gamma, delta + n) - bgd
    k = int(np.max(n - t_x)) if x.size else 0
    i = np.arange(max(k, 1), dtype=float)[None, :]
    valid = i < (n - t_x)[:, None]
    ii = np.where(valid, i, 0.0)
    terms = (betaln(alpha + x[:, None], beta + t_x[:, None] - x[:, None] + ii) - bab
             + betaln(gamma + 1.0, delta + t_x[:, None] + ii) - bgd)
    terms = np.where(valid, terms, -np.inf)
    all_terms = np.concatenate([l_alive[:, None], terms], axis=1)
    return l_alive, logsumexp(all_terms, axis=1)


def check_bgbb_data(x: ArrayLike, t_x: ArrayLike, n: ArrayLike, weights: ArrayLike | None
                    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Validate whole numbers with x <= t_x <= n, and t_x = 0 exactly when x = 0."""
    xa = check_column(x, "x", integer=True)
    ta = check_column(t_x, "t_x", integer=True)
    na = check_column(n, "n", integer=True)
    size = check_same_length(x=xa, t_x=ta, n=na)
    for bad, msg, col in (
        (ta > na, "t_x must not exceed n", "t_x"),
        (xa > ta, "x must not exceed t_x (x transactions up to opportunity t_x)", "x"),
        ((xa == 0) != (ta == 0), "t_x must be 0 exactly when x is 0", "t_x"),
    ):
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"{msg}; found x={xa[i]:g}, t_x={ta[i]:g}, n={na[i]:g}", column=col,
                             row=i + 1, hint="x, t_x and n count transaction opportunities")
    return xa, ta, na, check_weights(weights, size)


class BGBB(FittedModel):
    """BG/BB model. Parameters alpha, beta (transaction probability), gamma, delta (drop-out).

    Example
    -------
    >>> model = BGBB().fit(x, t_x, n, weights=custs)
    >>> model.expected_purchases(5, x, t_x, n)
    """

    name: ClassVar[str] = "bgbb"
    param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta", "gamma", "delta")

    def fit(self, x: ArrayLike, t_x: ArrayLike, n: ArrayLike, *,
            weights: ArrayLike | None = None) -> Self:
        """Fit by maximum likelihood on compressed (x, t_x, n) rows.

        Parameters
        ----------
        x
            Number of transactions in the n calibration opportunities.
        t_x
            Opportunity of the last transaction (0 when x = 0).
        n
            Number of transaction opportunities.
        weights
            Number of customers per row (e.g. the counts of a recency/frequency matrix).

        Returns
        -------
        self, with the fitted attributes.

        Raises
        ------
        InputError
            Inconsistent or non-integer data.
        FitError
            Nobody ever transacts, or the optimisation fails.
        """
        xa, ta, na, w = check_bgbb_data(x, t_x, n, weights)
        cx, ct, cn, cw = compress(xa, ta, na, weights=w)
        if cw.size == 0 or not (cn > 0).any():
            raise FitError("bgbb: no transaction opportunity in the data (n = 0 for all)",
                           hint="n counts the opportunities in the calibration period")
        if float((cx * cw).sum()) == 0.0:
            raise FitError("bgbb: nobody transacted in the calibration period (x = 0 for all)",
                           hint="use a longer calibration period")

        def loglik(p: FloatArray) -> float:
            return float(cw @ bgbb_parts(p, cx, ct, cn)[1])

        p_hat = weighted_mean(cx, cw) / max(weighted_mean(cn, cw), 1.0)
        p_hat = min(max(p_hat, 0.05), 0.95)
        starts = [np.array([p_hat, 1 - p_hat, 1.0, 1.0]) * 2,
                  np.array([p_hat, 1 - p_hat, 0.5, 2.0]),
                  np.array([p_hat, 1 - p_hat, 2.0, 5.0]) * 5]
        self._fit_mle(loglik, starts, float(cw.sum()), cx.size)
        return self

    def log_likelihood_individual(self, x: ArrayLike, t_x: ArrayLike, n: ArrayLike) -> FloatArray:
        """Log-likelihood of each customer's (x, t_x, n)."""
        xa, ta, na, _ = check_bgbb_data(x, t_x, n, None)
        return bgbb_parts(self._theta(), xa, ta, na)[1]

    def p_alive(self, x: ArrayLike, t_x: ArrayLike, n: ArrayLike) -> FloatArray:
        """P(alive at opportunity n+1 | x, t_x, n) (FHS 2010, the P(alive)
        expression):
        B(alpha+x, beta+n-x)/B(alpha,beta) B(gamma, delta+n+1)/B(gamma,delta) / L."""
        xa, ta, na, _ = check_bgbb_data(x, t_x, n, None)
        alpha, beta, gamma, delta = p = self._theta()
        l_alive, ll = bgbb_parts(p, xa, ta, na)
        shift = betaln(gamma, delta + na + 1) - betaln(gamma, delta + na)
        return np.exp(l_alive + shift - ll)

    def _expected(self, n_star: FloatArray, x: FloatArray, t_x: FloatArray,
                  n: FloatArray) -> FloatArray:
        """E[X(n, n+n*) | x, t_x, n] (FHS 2010, the conditional expectation):
        1/L B(alpha+x+1, beta+n-x)/B(alpha,beta) delta/(gamma-1) Gamma(gamma+delta)/Gamma(1+delta)
        [Gamma(1+delta+n)/Gamma(gamma+delta+n) - Gamma(1+delta+n+n*)/Gamma(gamma+delta+n+n*)].
        """
        alpha, beta, gamma, delta = p = self._theta()
        shape = np.broadcast_shapes(np.shape(n_star), np.shape(x), np.shape(t_x), np.shape(n))
        xb, tb, nb, sb = (np.broadcast_to(v, shape).ravel() for v in (x, t_x, n, n_star))
        _, ll = bgbb_parts(p, xb, tb, nb)
        log_front = (betaln(alpha + xb + 1, beta + nb - xb) - betaln(alpha, beta)
                     + gammaln(gamma + delta) - gammaln(1 + delta) - ll)
        out = np.exp(log_front) * delta * _gamma_ratio_diff(gamma, delta, nb, sb)
        return out.reshape(shape)

    def expected_purchases(self, n_star: ArrayLike, x: ArrayLike, t_x: ArrayLike,
                           n: ArrayLike) -> FloatArray:
        """Expected transactions in the next n_star opportunities given (x, t_x, n)."""
        self._theta()
        return self._expected(check_values(n_star, "n_star"), check_values(x, "x"),
                              check_values(t_x, "t_x"), check_values(n, "n"))

    def expected_purchases_new(self, n: ArrayLike) -> FloatArray:
        """E[X(n)] of a new customer (FHS 2010, E(X(n))): alpha/(alpha+beta) delta/(gamma-1)
        [1 - Gamma(gamma+delta) Gamma(1+delta+n) / (Gamma(gamma+delta+n) Gamma(1+delta))]."""
        alpha, beta, gamma, delta = self._theta()
        na = check_values(n, "n")
        zero = np.zeros_like(na)
        gd = gammaln(gamma + delta) - gammaln(1 + delta)
        return alpha / (alpha + beta) * delta * np.exp(gd) * _gamma_ratio_diff(
            gamma, delta, zero, na)

    def discounted_expected_transactions(self, x: ArrayLike, t_x: ArrayLike, n: ArrayLike, *,
                                         horizon: int, discount_rate_per_period: float,
                                         step: int = 1) -> FloatArray:
        """Sum over k = 1..horizon of (E[X(n, n+k step)] - E[X(n, n+(k-1) step)]) / (1+d)^k."""
        self._theta()
        xa, ta, na = (check_values(v, c).reshape(-1, 1)
                      for v, c in ((x, "x"), (t_x, "t_x"), (n, "n")))
        return discount_sum(lambda s: self._expected(s[None, :], xa, ta, na), horizon=horizon,
                            discount_rate_per_period=discount_rate_per_period, step=float(step))


def _gamma_ratio_diff(gamma: float, delta: float, n: FloatArray, n_star: FloatArray
                      ) -> FloatArray:
    """[G(1+d+n)/G(g+d+n) - G(1+d+n+n*)/G(g+d+n+n*)] / (g-1), in log space; the g = 1 limit
    is sum_{j=n}^{n+n*-1} 1/(1+d+j) ~ digamma difference, reached continuously by nudging g."""
    if abs(gamma - 1.0) < 1e-7:
        gamma = 1.0 + 1e-7
    u1 = gammaln(1 + delta + n) - gammaln(gamma + delta + n)
    u2 = gammaln(1 + delta + n + n_star) - gammaln(gamma + delta + n + n_star)
    return np.exp(u1) * -np.expm1(u2 - u1) / (gamma - 1.0)
