"""Gamma-Gamma model of average order value: Fader & Hardie (2013), "The Gamma-Gamma Model of
Monetary Value" (note), after Colombo & Jiang (1999).

A customer's transaction values are Gamma(p, nu) around her mean p/nu; nu varies across customers
as Gamma(q, v). The model assumes spend is independent of the purchase process: check that the
correlation between x and m is weak before combining it with a purchase model.
"""

from __future__ import annotations

import math
from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln

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
from fidelcli.models.numerics import FloatArray, scalars
from fidelcli.stats import weighted_mean


def gg_loglik(params: FloatArray, x: FloatArray, m: FloatArray, weights: FloatArray | None = None,
              ) -> FloatArray | tuple[float, FloatArray]:
    """Log density of the mean spend m over x transactions (Fader & Hardie 2013 note,
    f(m_x | p, q, gamma, x)):

    f(m | p, q, v, x) = Gamma(px+q) / (Gamma(px) Gamma(q)) v^q m^(px-1) x^(px) / (v + m x)^(px+q)

    Returns per-row values, or (weighted total, analytic gradient in (p, q, v)) with weights.
    """
    p, q, v = (float(t) for t in params)
    px = p * x
    lvmx = np.log(v + m * x)
    lm, lx = np.log(m), np.log(x)
    ll: FloatArray = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v) + (px - 1) * lm + px * lx
                      - (px + q) * lvmx)  # SciPy (gammaln): untyped
    if weights is None:
        return ll
    psi = digamma(px + q)
    d_p = weights @ (x * (psi - digamma(px) + lm + lx - lvmx))
    d_q = weights @ (psi - digamma(q) + np.log(v) - lvmx)
    d_v = weights @ (q / v - (px + q) / (v + m * x))
    return float(weights @ ll), np.array([d_p, d_q, d_v])


class _GGKernel:
    """Weighted total of `gg_loglik` and its gradient on fixed compressed rows, for the fit.

    Only log(v + m x) depends on both the row and the parameters: every other term is a function
    of x alone (a handful of distinct values) or a constant, summed once per distinct x.
    """

    def __init__(self, x: FloatArray, m: FloatArray, w: FloatArray) -> None:
        self.ux, inv = np.unique(x, return_inverse=True)
        k = self.ux.size
        self.w_x = np.bincount(inv, weights=w, minlength=k)
        self.wlm_x = np.bincount(inv, weights=w * np.log(m), minlength=k)
        self.lx = np.log(self.ux)
        self.mx = m * x
        self.w = w
        self.wx = w * x

    def __call__(self, params: FloatArray) -> tuple[float, FloatArray]:
        p, q, v = (float(t) for t in params)
        ux, w_x, wlm_x, lx = self.ux, self.w_x, self.wlm_x, self.lx
        pux = p * ux
        vmx = v + self.mx
        lvmx = np.log(vmx)
        rvmx = 1.0 / vmx
        s_wx_l, s_w_l = float(self.wx @ lvmx), float(self.w @ lvmx)
        s_wx_r, s_w_r = float(self.wx @ rvmx), float(self.w @ rvmx)
        n = float(w_x.sum())
        lv = math.log(v)
        psi = digamma(pux + q)
        total = (float(w_x @ (gammaln(pux + q) - gammaln(pux) - gammaln(q) + q * lv + pux * lx))
                 + float((pux - 1.0) @ wlm_x) - p * s_wx_l - q * s_w_l)
        d_p = float((ux * w_x) @ (psi - digamma(pux) + lx) + ux @ wlm_x) - s_wx_l
        d_q = float(w_x @ (psi - digamma(q) + lv)) - s_w_l
        d_v = n * q / v - p * s_wx_r - q * s_w_r
        return total, np.array([d_p, d_q, d_v])


def check_spend_data(x: ArrayLike, m: ArrayLike, weights: ArrayLike | None
                     ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate (x, m); rows with x = 0 are kept here and skipped by the callers."""
    xa = check_column(x, "x", integer=True)
    ma = check_column(m, "m")
    size = check_same_length(x=xa, m=ma)
    bad = (xa > 0) & (ma <= 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"mean spend m must be > 0 for a customer with x = {xa[i]:g} "
                         f"transactions, found {ma[i]:g}", column="m", row=i + 1,
                         hint="drop zero-value orders or customers whose returns cancel "
                         "their spend")
    return xa, ma, check_weights(weights, size)


class GammaGamma(FittedModel):
    """Gamma-Gamma spend model. Parameters p, q, v (v is gamma in the note).

    Example
    -------
    >>> model = GammaGamma().fit(x, m)
    >>> model.expected_spend(x, m)
    """

    name: ClassVar[str] = "gamma_gamma"
    param_names: ClassVar[tuple[str, ...]] = ("p", "q", "v")

    def fit(self, x: ArrayLike, m: ArrayLike, *, weights: ArrayLike | None = None) -> Self:
        """Fit on customers with x > 0 repeat transactions (rows with x = 0 are ignored).

        Parameters
        ----------
        x
            Number of transactions the mean is computed over.
        m
            Mean value of those transactions (> 0).
        weights
            Number of customers per row.

        Returns
        -------
        self, with the fitted attributes (n_customers_ counts customers with x > 0).

        Raises
        ------
        InputError
            NaN, negative values, or m <= 0 where x > 0.
        FitError
            Fewer than three distinct repeat customers, or the optimisation fails.
        """
        check_penalizer(self.penalizer)
        xa, ma, w = check_spend_data(x, m, weights)
        keep = xa > 0
        cx, cm, cw = compress(xa[keep], ma[keep], weights=w[keep])
        if cw.size == 0:
            raise FitError("gamma_gamma: no customer with a repeat transaction (x > 0)",
                           hint="the spend model needs customers with x > 0 and their mean spend")
        mean = weighted_mean(cm, cw)

        loglik_grad = _GGKernel(cx, cm, cw)

        def loglik(p: FloatArray) -> float:
            return loglik_grad(p)[0]

        # Scale-aware: the population mean p v / (q - 1) starts at the observed mean spend.
        starts = [np.array([1.0, 2.0, mean]),
                  np.array([5.0, 3.0, 0.4 * mean]),
                  np.array([0.5, 1.5, mean])]
        self._fit_mle(loglik, starts, float(cw.sum()), cx.size, loglik_grad)
        return self

    def log_likelihood_individual(self, x: ArrayLike, m: ArrayLike) -> FloatArray:
        """Log density of each customer's mean spend (NaN where x = 0)."""
        xa, ma, _ = check_spend_data(x, m, None)
        out = np.full(xa.shape, np.nan)
        keep = xa > 0
        res = gg_loglik(self._theta(), xa[keep], ma[keep])
        assert isinstance(res, np.ndarray)
        out[keep] = res
        return out

    def expected_spend(self, x: ArrayLike, m: ArrayLike) -> FloatArray:
        """Conditional expected average order value (Fader & Hardie 2013 note,
        E(M | p, q, gamma, m_x, x)):

        E(M | p, q, v, m, x) = (q-1)/(px+q-1) * p v/(q-1) + px/(px+q-1) * m = p (v + m x)/(px+q-1),

        a weighted average of the population mean and the customer's own mean. With x = 0 it is the
        population mean. Infinite where p x + q <= 1: the mean of the posterior spend does not
        exist there.
        """
        p, q, v = scalars(self._theta())
        xa = check_values(x, "x")
        ma = check_values(m, "m")
        denom = p * xa + q - 1.0
        # p x + q <= 1: the posterior of nu is Gamma(p x + q, v + m x) and E[1/nu] diverges, so
        # the expected spend is infinite (with x = 0: the population mean does not exist).
        exists = denom > 0
        return np.where(exists, p * (v + ma * xa) / np.where(exists, denom, 1.0), np.inf)

    def population_mean(self) -> float:
        """Mean transaction value across customers, p v / (q - 1); infinite when q <= 1."""
        p, q, v = scalars(self._theta())
        return float(p * v / (q - 1.0)) if q > 1.0 else float("inf")
