"""Shifted-beta-geometric (sBG) retention model: Fader & Hardie (2007), "How to project customer
retention", Journal of Interactive Marketing 21(1); discounted lifetimes from Fader & Hardie
(2010), "Customer-base valuation in a contractual setting: the perils of ignoring heterogeneity",
Marketing Science 29(1).

Contractual setting with discrete renewal periods: at the end of each period an alive customer
churns with probability theta ~ Beta(alpha, beta). T is the period in which she churns (T >= 1).
"""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaln, digamma, hyp2f1

from fidelcli.errors import FitError, InputError
from fidelcli.models._validation import (
    check_column,
    check_penalizer,
    check_same_length,
    check_values,
    check_weights,
    compress,
)
from fidelcli.models.base import FittedModel
from fidelcli.models.numerics import FloatArray, beta_expectation, log_poch_ratio, scalars
from fidelcli.stats import check_discount_rate


def sbg_loglik(params: FloatArray, durations: FloatArray, censored: FloatArray,
               weights: FloatArray | None = None) -> FloatArray | tuple[float, FloatArray]:
    """Per-row log-likelihood (Fader & Hardie 2007, the sBG likelihood in log form):

    churned in period t:   P(T = t) = B(alpha+1, beta+t-1) / B(alpha, beta)
    still alive after t:   S(t)     = B(alpha, beta+t) / B(alpha, beta)

    Returns per-row values, or (weighted total, analytic gradient in (alpha, beta)) with weights.
    """
    alpha, beta = (float(v) for v in params)
    t = durations
    cens = censored > 0
    t_dead = np.where(cens, 1.0, t)  # placeholder where the row is censored
    bab = betaln(alpha, beta)
    ll: FloatArray = np.where(cens, betaln(alpha, beta + t), betaln(alpha + 1, beta + t_dead - 1)) - bab  # SciPy: untyped
    if weights is None:
        return ll
    psi_ab = digamma(alpha + beta)
    d_alpha = np.where(cens, psi_ab - digamma(alpha + beta + t),
                       digamma(alpha + 1) - digamma(alpha) + psi_ab
                       - digamma(alpha + beta + t_dead))
    d_beta = np.where(cens, digamma(beta + t) - digamma(beta),
                      digamma(beta + t_dead - 1) - digamma(beta))
    d_beta = d_beta + psi_ab - digamma(alpha + beta + np.where(cens, t, t_dead))
    return float(weights @ ll), np.array([weights @ d_alpha, weights @ d_beta])


class SBG(FittedModel):
    """Shifted-beta-geometric model. Parameters alpha, beta of the Beta churn distribution.

    Example
    -------
    >>> model = SBG().fit_survival([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> model.survival(np.arange(13))
    """

    name: ClassVar[str] = "sbg"
    param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta")

    def fit(self, durations: ArrayLike, censored: ArrayLike, *,
            weights: ArrayLike | None = None) -> Self:
        """Fit on per-customer lifetimes.

        Parameters
        ----------
        durations
            Churned customers: the period in which they churned (>= 1). Active customers: the
            number of periods survived so far (>= 0).
        censored
            True (or 1) for customers still active (right-censored).
        weights
            Number of customers per row.

        Returns
        -------
        self, with the fitted attributes.

        Raises
        ------
        InputError
            Non-integer or negative durations, a churned customer with duration 0.
        FitError
            Nobody churned, or nobody survived, or the optimisation fails.
        """
        check_penalizer(self.penalizer)
        t = check_column(durations, "durations", integer=True)
        try:
            c = np.asarray(censored, dtype=float).ravel()
        except (TypeError, ValueError):
            raise InputError("censored must be booleans (True = still active)",
                             column="censored") from None
        c = check_column(c, "censored")
        size = check_same_length(durations=t, censored=c)
        w = check_weights(weights, size)
        c = (c > 0).astype(float)
        bad = (c == 0) & (t < 1)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError("a churned customer must have a duration >= 1 period, found 0",
                             column="durations", row=i + 1,
                             hint="the period of churn counts from 1 (the first period)")
        ct, cc, cw = compress(t, c, weights=w)
        churned = float(cw[cc == 0].sum())
        if cw.size == 0:
            raise FitError("sbg: no customers to fit")
        if churned == 0:
            raise FitError("sbg: nobody churned, so the churn rate cannot be estimated",
                           hint="observe the cohort over more periods")
        if float((cw * np.where(cc > 0, ct, ct - 1)).sum()) == 0:
            raise FitError("sbg: every customer churned in the first period",
                           hint="retention is zero; no model is needed")

        def loglik_grad(p: FloatArray) -> tuple[float, FloatArray]:
            out = sbg_loglik(p, ct, cc, cw)
            assert isinstance(out, tuple)
            return out

        def loglik(p: FloatArray) -> float:
            return loglik_grad(p)[0]

        # Start from the mean churn rate: alpha / (alpha + beta) ~ churned / exposure.
        exposure = float((cw * np.where(cc > 0, ct, ct)).sum())
        rate = min(max(churned / max(exposure, 1.0), 0.01), 0.99)
        starts = [np.array([rate, 1 - rate]) * 2, np.array([1.0, 1.0]),
                  np.array([rate, 1 - rate]) * 10]
        self._fit_mle(loglik, starts, float(cw.sum()), ct.size, loglik_grad)
        return self

    def fit_survival(self, alive_counts: ArrayLike) -> Self:
        """Fit on a survivor curve (Fader & Hardie 2007, the likelihood of a survivor curve).

        Parameters
        ----------
        alive_counts
            alive_counts[0] is the cohort size, alive_counts[t] the customers still active at the
            end of period t (non-increasing counts).

        Returns
        -------
        self.
        """
        check_penalizer(self.penalizer)
        n = check_column(alive_counts, "alive_counts")
        if n.size < 2:
            raise InputError("alive_counts needs the cohort size and at least one period",
                             column="alive_counts")
        lost = -np.diff(n)
        if (lost < 0).any():
            i = int(np.argmax(lost < 0)) + 2
            raise InputError("alive_counts must not increase from one period to the next",
                             column="alive_counts", row=i,
                             hint="give counts of the same cohort, not of all active customers")
        periods = np.arange(1, n.size, dtype=float)
        durations = np.concatenate([periods, [periods[-1]]])
        censored = np.concatenate([np.zeros(periods.size), [1.0]])
        return self.fit(durations, censored, weights=np.concatenate([lost, [n[-1]]]))

    def log_likelihood_individual(self, durations: ArrayLike, censored: ArrayLike) -> FloatArray:
        """Log-likelihood of each (duration, censored) row."""
        t = check_column(durations, "durations", integer=True)
        c = (np.asarray(censored, dtype=float).ravel() > 0).astype(float)
        out = sbg_loglik(self._theta(), t, c)
        assert isinstance(out, np.ndarray)
        return out

    def survival(self, t: ArrayLike) -> FloatArray:
        """S(t) = B(alpha, beta+t)/B(alpha, beta): share of a cohort active after t periods
        (Fader & Hardie 2007, S(t)); computed as (beta)_t / (alpha+beta)_t with `log_poch`."""
        alpha, beta = scalars(self._theta())
        return np.exp(sbg_log_survival(alpha, beta, check_values(t, "t")))

    def churn_probability(self, t: ArrayLike) -> FloatArray:
        """P(T = t) = B(alpha+1, beta+t-1)/B(alpha, beta): probability that a new customer churns
        in period t >= 1 (Fader & Hardie 2007, P(T = t)), i.e. alpha/(alpha+beta+t-1) S(t-1)."""
        alpha, beta = scalars(self._theta())
        ta = check_values(t, "t")
        if (ta < 1).any():
            raise InputError("churn periods start at 1", column="t")
        # (alpha + beta) + (t - 1): alpha + beta + t - 1 would lose alpha + beta << 1 to rounding
        return alpha / ((alpha + beta) + (ta - 1)) * np.exp(sbg_log_survival(alpha, beta, ta - 1))

    def retention_rate(self, t: ArrayLike) -> FloatArray:
        """r_t = S(t)/S(t-1) = (beta+t-1)/(alpha+beta+t-1): share of the customers active at
        t-1 who renew for period t (Fader & Hardie 2007, r_t); it rises with t."""
        alpha, beta = scalars(self._theta())
        ta = check_values(t, "t")
        if (ta < 1).any():
            raise InputError("retention periods start at 1", column="t")
        return (beta + (ta - 1)) / ((alpha + beta) + (ta - 1))

    def expected_lifetime(self, *, discount_rate: float = 0.0) -> float:
        """Discounted expected lifetime of a new customer, in periods, counting the first period
        undiscounted: DEL = sum_{t>=0} S(t)/(1+d)^t = 2F1(1, beta; alpha+beta; 1/(1+d))
        (Fader & Hardie 2010, DEL), i.e. 1 + DERL(n = 0)/(1+d). With d = 0 it is
        E[T] = (alpha+beta-1)/(alpha-1), infinite when alpha <= 1 (the mean of the Beta-geometric
        lifetime does not exist)."""
        alpha, beta = scalars(self._theta())
        d = check_discount_rate(discount_rate, annual=False)
        if d == 0.0:
            return float((alpha + beta - 1) / (alpha - 1)) if alpha > 1 else float("inf")
        return float(1.0 + sbg_derl(alpha, beta, np.zeros(1), d)[0] / (1.0 + d))

    def discounted_expected_residual_lifetime(self, periods_survived: ArrayLike, *,
                                             discount_rate: float) -> FloatArray:
        """DERL of a customer active for `periods_survived` = n periods (n renewals made), valued
        just before the next renewal decision, the next payment undiscounted (Fader & Hardie 2010,
        DERL, with their n-1 renewals = our n):

        DERL(d | alpha, beta, n) = B(alpha, beta+n+1)/B(alpha, beta+n)
                                   2F1(1, beta+n+1; alpha+beta+n+1; 1/(1+d))

        (see `sbg_derl`). With d = 0 it is the expected number of further renewals,
        (beta+n)/(alpha-1), infinite when alpha <= 1. Multiply by the margin per period for the
        residual value of the customer.
        """
        alpha, beta = scalars(self._theta())
        d = check_discount_rate(discount_rate, annual=False)
        n = check_values(periods_survived, "periods_survived")
        if d == 0.0:
            if alpha <= 1:
                return np.full(n.shape, np.inf)
            return (beta + n) / (alpha - 1)
        return sbg_derl(alpha, beta, n, d)


def sbg_log_survival(alpha: float, beta: float, t: FloatArray) -> FloatArray:
    """log S(t) = log B(alpha, beta+t) - log B(alpha, beta) = log (beta)_t - log (alpha+beta)_t
    (Fader & Hardie 2007, S(t)), capped at 0: the ratio of rising factorials (`log_poch_ratio`)
    keeps its accuracy when alpha and beta are huge, where two log-Beta values of ~1e13 would
    cancel, and when alpha << beta, where S(t) ~ 1 - alpha t/beta must still decrease."""
    return np.minimum(log_poch_ratio(beta, alpha, t), 0.0)


def sbg_derl(alpha: float, beta: float, n: FloatArray, d: float) -> FloatArray:
    """DERL(d | alpha, beta, n) for d > 0 (Fader & Hardie 2010, DERL):

        (beta+n)/(alpha+beta+n) 2F1(1, beta+n+1; alpha+beta+n+1; z),  z = 1/(1+d),

    which is E[(1-theta) / (1 - (1-theta) z)] over theta ~ Beta(alpha, beta+n), the churn
    probability of a customer who renewed n times (sum over k >= 0 of z^k E[(1-theta)^(k+1)]).
    The integrand lies in [0, 1/(1-z)], so the value is at least (beta+n)/(alpha+beta+n) (the
    k = 0 term), at most (1+d)/d and, when alpha > 1, at most the undiscounted (beta+n)/(alpha-1).
    Rows where scipy's 2F1 (`sbg_derl_closed`) is not finite or leaves these bounds (e.g.
    beta+n > 1e7 with d < 1e-3) are computed by quadrature over the Beta (`sbg_derl_quadrature`);
    where 2F1 is finite it matched 30-digit values to 1e-13 over alpha, beta+n in [1e-8, 1e12],
    d in [1e-4, 10].
    """
    n = np.asarray(n, dtype=float)
    shape = n.shape
    n = n.ravel()
    out, ok = sbg_derl_closed(alpha, beta, n, d)
    if not ok.all():
        redo = ~ok
        out[redo] = sbg_derl_quadrature(alpha, beta, n[redo], d)
    return out.reshape(shape)


def sbg_derl_closed(alpha: float, beta: float, n: FloatArray, d: float
                    ) -> tuple[FloatArray, NDArray[np.bool_]]:
    """The 2F1 closed form of `sbg_derl` on a flat array of n, and where it lies within the bounds
    of `sbg_derl` (values clipped to them; untrusted values may be anything)."""
    z = 1.0 / (1.0 + d)
    first = (beta + n) / (alpha + beta + n)
    closed = first * hyp2f1(1.0, beta + n + 1.0, alpha + beta + n + 1.0, z)
    upper = np.full(n.shape, (1.0 + d) / d)
    if alpha > 1.0:
        upper = np.minimum(upper, (beta + n) / (alpha - 1.0))
    ok = (closed >= first * (1 - 1e-12)) & (closed <= upper * (1 + 1e-12))  # False for NaN
    return np.where(ok, np.clip(closed, first, upper), 0.0), ok


def sbg_derl_quadrature(alpha: float, beta: float, n: FloatArray, d: float) -> FloatArray:
    """`sbg_derl` as E[(1-theta) / (1 - z + z theta)] over theta ~ Beta(alpha, beta+n) by
    quadrature (`beta_expectation`), 1 - z = d/(1+d) exactly (broadcasts)."""
    n = np.asarray(n, dtype=float)
    z, one_minus_z = 1.0 / (1.0 + d), d / (1.0 + d)

    def discounted_renewals(p: FloatArray, q: FloatArray, rows: NDArray[np.intp]) -> FloatArray:
        return q / (one_minus_z + z * p)

    return beta_expectation(discounted_renewals, alpha, beta + n.ravel()).reshape(n.shape)

