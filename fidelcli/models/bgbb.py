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
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp

from fidelcli.errors import FitError, InputError
from fidelcli.models._optimize import discount_sum
from fidelcli.models._validation import (
    check_column,
    check_penalizer,
    check_same_length,
    check_values,
    check_weights,
    compress,
)
from fidelcli.models.base import FittedModel, separate_horizon_predictions
from fidelcli.models.numerics import EPS, FloatArray, beta_expectation, log1m, log_poch, log_poch_ratio, scalars
from fidelcli.stats import weighted_mean


def bgbb_parts(params: FloatArray, x: FloatArray, t_x: FloatArray, n: FloatArray
               ) -> tuple[FloatArray, FloatArray]:
    """log of the "alive through n" term and log of the whole likelihood (FHS 2010, the likelihood
    L(alpha, beta, gamma, delta | x, t_x, n)):

    L = B(alpha+x, beta+n-x)/B(alpha,beta) B(gamma, delta+n)/B(gamma,delta)
        + sum_{i=0}^{n-t_x-1} B(alpha+x, beta+t_x-x+i)/B(alpha,beta)
                              B(gamma+1, delta+t_x+i)/B(gamma,delta)

    The Beta ratios have whole shifts, so they are written with rising factorials,
    B(a+i, b+j)/B(a, b) = (a)_i (b)_j / (a+b)_(i+j) (`log_poch`): no difference of two large
    log-Beta values, which keeps the accuracy when the parameters are huge.
    """
    alpha, beta, gamma, delta = scalars(params)
    lp_x = log_poch(alpha, x)
    l_alive = (lp_x + log_poch(beta, n - x) - log_poch(alpha + beta, n)
               + log_poch_ratio(delta, gamma, n))
    k = int(np.max(n - t_x)) if x.size else 0
    i = np.arange(max(k, 1), dtype=float)[None, :]
    valid = i < (n - t_x)[:, None]
    ti = t_x[:, None] + np.where(valid, i, 0.0)
    terms = (lp_x[:, None] + log_poch(beta, ti - x[:, None]) - log_poch(alpha + beta, ti)
             + np.log(gamma / (gamma + delta + ti)) + log_poch_ratio(delta, gamma, ti))
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
        check_penalizer(self.penalizer)
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
        p = self._theta()
        alpha, beta, gamma, delta = scalars(p)
        l_alive, ll = bgbb_parts(p, xa, ta, na)
        # B(gamma, delta+n+1)/B(gamma, delta+n) = (delta+n)/(gamma+delta+n): a log1p <= 0, and
        # l_alive <= ll (ll is a log-sum-exp over terms including l_alive), so P(alive) <= 1.
        shift = np.log1p(-gamma / (gamma + delta + na))
        p_alive: FloatArray = np.exp(np.minimum(l_alive - ll, 0.0) + shift)
        return p_alive

    def _expected(self, n_star: FloatArray, x: FloatArray, t_x: FloatArray,
                  n: FloatArray) -> FloatArray:
        """E[X(n, n+n*) | x, t_x, n] (FHS 2010, the conditional expectation):
        1/L B(alpha+x+1, beta+n-x)/B(alpha,beta) delta/(gamma-1) Gamma(gamma+delta)/Gamma(1+delta)
        [Gamma(1+delta+n)/Gamma(gamma+delta+n) - Gamma(1+delta+n+n*)/Gamma(gamma+delta+n+n*)],

        evaluated as P(alive at n) E[p | x, n] sum_{k=1}^{n*} E[(1-theta)^k | alive at n]: the
        same expression regrouped into factors that stay within [0, 1], [0, 1] and [0, n*]
        (`bgbb_future_alive`), so nothing overflows when gamma and delta are huge.
        """
        p = self._theta()
        alpha, beta, gamma, delta = scalars(p)
        shape = np.broadcast_shapes(np.shape(n_star), np.shape(x), np.shape(t_x), np.shape(n))
        hist = np.broadcast_shapes(np.shape(x), np.shape(t_x), np.shape(n))
        xb, tb, nb = (np.broadcast_to(v, hist).ravel() for v in (x, t_x, n))
        l_alive, ll = bgbb_parts(p, xb, tb, nb)
        # P(alive at n) E[p | x, n], with E[p | x, n] = B(alpha+x+1, beta+n-x)/B(alpha+x, beta+n-x)
        # = (alpha+x)/(alpha+beta+n)
        front = np.exp(np.minimum(l_alive - ll, 0.0)) * (alpha + xb) / (alpha + beta + nb)
        front = np.broadcast_to(front.reshape(hist), shape)
        future = bgbb_future_alive(gamma, delta, np.broadcast_to(n, shape),
                                   np.broadcast_to(n_star, shape))
        return front * future

    def expected_purchases(self, n_star: ArrayLike, x: ArrayLike, t_x: ArrayLike,
                           n: ArrayLike) -> FloatArray:
        """Expected transactions in the next n_star opportunities given (x, t_x, n)."""
        self._theta()
        return self._expected(check_values(n_star, "n_star"), check_values(x, "x"),
                              check_values(t_x, "t_x"), check_values(n, "n"))

    def expected_purchases_new(self, n: ArrayLike) -> FloatArray:
        """E[X(n)] of a new customer (FHS 2010, E(X(n))): alpha/(alpha+beta) delta/(gamma-1)
        [1 - Gamma(gamma+delta) Gamma(1+delta+n) / (Gamma(gamma+delta+n) Gamma(1+delta))], i.e.
        E[p] sum_{k=1}^{n} E[(1-theta)^k] (`bgbb_future_alive` after 0 opportunities)."""
        alpha, beta, gamma, delta = scalars(self._theta())
        na = check_values(n, "n")
        return alpha / (alpha + beta) * bgbb_future_alive(gamma, delta, np.zeros_like(na), na)

    def discounted_expected_transactions(self, x: ArrayLike, t_x: ArrayLike, n: ArrayLike, *,
                                         horizon: int, discount_rate_per_period: float,
                                         step: float = 1.0) -> FloatArray:
        """Sum over k = 1..horizon of (E[X(n, n+k step)] - E[X(n, n+(k-1) step)]) / (1+d)^k, with
        `step` a whole number of opportunities."""
        self._theta()
        xa, ta, na = (check_values(v, c).reshape(-1, 1)
                      for v, c in ((x, "x"), (t_x, "t_x"), (n, "n")))
        return discount_sum(lambda s: self._expected(s[None, :], xa, ta, na), horizon=horizon,
                            discount_rate_per_period=discount_rate_per_period, step=float(step))

    def horizon_predictions(self, x: ArrayLike, t_x: ArrayLike, n: ArrayLike, *, length: float,
                            steps: int, discount_rate_per_period: float, p_alive: bool = True,
                            ) -> tuple[FloatArray | None, FloatArray, FloatArray]:
        """P(alive), expected transactions in the next `length` opportunities and their discounted
        sum in `steps` equal steps (`separate_horizon_predictions`)."""
        return separate_horizon_predictions(self, x, t_x, n, length=length, steps=steps,
                                            discount_rate_per_period=discount_rate_per_period,
                                            p_alive=p_alive)


def bgbb_future_alive(gamma: float, delta: float, n: FloatArray, n_star: FloatArray
                      ) -> FloatArray:
    """M = sum_{k=1}^{n*} E[(1-theta)^k], theta ~ Beta(gamma, delta+n): the expected number of the
    next n* opportunities at which a customer alive at opportunity n is still alive (broadcasts).
    It lies in [0, n*].

    Closed form (FHS 2010, the bracket of the conditional expectation), `bgbb_future_alive_closed`,
    where it keeps ~10 significant digits; elsewhere (gamma close to 1, delta >> n* gamma) the Beta
    expectation by quadrature, `bgbb_future_alive_quadrature`. The gamma = 1 limit needs no
    special case.
    """
    n, n_star = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(n_star, dtype=float))
    shape = n.shape
    n, n_star = n.ravel(), n_star.ravel()
    out, ok = bgbb_future_alive_closed(gamma, delta, n, n_star)
    out = np.where(n_star > 0, out, 0.0)
    redo = ~ok & (n_star > 0)
    if redo.any():
        out[redo] = bgbb_future_alive_quadrature(gamma, delta, n[redo], n_star[redo])
    return out.reshape(shape)


def bgbb_future_alive_closed(gamma: float, delta: float, n: FloatArray, n_star: FloatArray
                             ) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Closed form of `bgbb_future_alive` (FHS 2010, the bracket of the conditional expectation)
    and where it can be trusted (broadcasts):

        M = (delta+n)/(gamma-1) [1 - Gamma(gamma+delta+n) Gamma(1+delta+n+n*)
                                     / (Gamma(1+delta+n) Gamma(gamma+delta+n+n*))],

    the gamma ratio R from `log_poch_ratio`, 1 - R = -expm1(log R). log R ~ -(gamma-1) n*/(delta+n)
    is tiny when gamma is close to 1 or delta is huge: with both gamma arguments >= 20 it keeps its
    relative accuracy anyway; below, as a difference of two `gammaln` differences, it is trusted
    where its estimated relative error is below 1e-10. gamma = 1 (0/0) is never trusted."""
    log_r = log_poch_ratio(1.0 + delta + n, gamma - 1.0, n_star)
    scale = np.abs(log_poch(1.0 + delta + n, n_star)) + np.abs(log_poch(gamma + delta + n, n_star))
    stirling = min(1.0, gamma) + delta + n >= 20.0  # the branch of log_poch_ratio
    ok = (log_r != 0.0) & (stirling | (8.0 * EPS * scale < 1e-10 * np.abs(log_r)))
    gm1 = gamma - 1.0 if gamma != 1.0 else 1.0
    out = np.where(ok, (delta + n) / gm1 * -np.expm1(np.where(ok, log_r, 0.0)), 0.0)
    return np.clip(out, 0.0, n_star), ok


def bgbb_future_alive_quadrature(gamma: float, delta: float, n: FloatArray, n_star: FloatArray
                                 ) -> FloatArray:
    """`bgbb_future_alive` as the Beta expectation E[(1-theta) (1 - (1-theta)^n*) / theta] over
    theta ~ Beta(gamma, delta+n) by quadrature (`beta_expectation`); the integrand lies in
    [0, n*] (broadcasts)."""
    n, n_star = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(n_star, dtype=float))
    ns = n_star.ravel()

    def alive_count(p: FloatArray, q: FloatArray, rows: NDArray[np.intp]) -> FloatArray:
        k = ns[rows, None]
        tiny = p < 1e-200  # (1 - (1-p)^k) / p -> k
        ratio = -np.expm1(k * log1m(p, q)) / np.where(tiny, 1.0, p)
        return q * np.where(tiny, k, ratio)

    return beta_expectation(alive_count, gamma, delta + n.ravel()).reshape(n.shape)
