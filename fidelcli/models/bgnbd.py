"""BG/NBD purchase model: Fader, Hardie & Lee (2005), "Counting your customers the easy way".

While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after each
repeat purchase she drops out with probability p ~ Beta(a, b). The MBG/NBD variant (mbgnbd.py) adds
a drop-out chance right after the first purchase; both share the code here.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from fidelcli.models._fit import FloatArray, PurchaseModel, check_purchase_data, weighted_mean


def bg_loglik(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray, *,
              modified: bool, xgroups: tuple[FloatArray, FloatArray] | None = None,
              weights: FloatArray | None = None,
              ) -> FloatArray | tuple[float, FloatArray]:
    """Per-row log-likelihood of BG/NBD (FHL 2005 eq. 6) or MBG/NBD (Batislam et al. 2007).

    BG/NBD:  L = B(a, b+x)/B(a,b) Gamma(r+x) alpha^r / (Gamma(r) (alpha+T)^(r+x))
                 + [x>0] B(a+1, b+x-1)/B(a,b) Gamma(r+x) alpha^r / (Gamma(r) (alpha+t_x)^(r+x))
    MBG/NBD: the same with B(a, b+x+1) in the first term and B(a+1, b+x) in the second, which is
             present for every x (a drop-out can follow the first purchase).

    Parameters
    ----------
    params
        (r, alpha, a, b).
    x, t_x, T
        Frequency, recency, age (1-d).
    modified
        True for MBG/NBD.
    xgroups
        Precomputed np.unique(x, return_inverse=True): the Gamma/Beta terms depend on x only, so
        they are evaluated once per distinct x (a handful) instead of once per row.
    weights
        When given, return (weighted total, analytic gradient in (r, alpha, a, b)) instead.

    Returns
    -------
    Per-row log-likelihoods, or (total, gradient) when weights are given.
    """
    r, alpha, a, b = (float(v) for v in params)
    ux, inv = np.unique(x, return_inverse=True) if xgroups is None else xgroups
    c1, c2 = (1.0, 0.0) if modified else (0.0, -1.0)
    has2 = np.ones(ux.shape, dtype=bool) if modified else ux > 0
    xs2 = np.where(has2, ux + c2, 1.0)  # placeholder argument where the second term is absent
    blab = betaln(a, b)
    g_x = gammaln(r + ux) - gammaln(r)
    b1 = betaln(a, b + ux + c1) - blab
    b2 = np.where(has2, betaln(a + 1, b + xs2) - blab, -np.inf)
    rx = r + x
    lat = np.log(alpha + T)
    latx = np.log(alpha + t_x)
    l1 = b1[inv] - rx * lat
    l2 = b2[inv] - rx * latx
    m = np.logaddexp(l1, l2)
    ll = g_x[inv] + r * np.log(alpha) + m
    if weights is None:
        return ll
    p1 = np.exp(l1 - m)
    p2 = np.exp(l2 - m)
    wp1, wp2 = weights * p1, weights * p2
    psi_ab = digamma(a + b)
    da1 = psi_ab - digamma(a + b + ux + c1)
    db1 = digamma(b + ux + c1) - digamma(a + b + ux + c1) - digamma(b) + psi_ab
    da2 = np.where(has2, digamma(a + 1) - digamma(a + b + 1 + xs2) - digamma(a) + psi_ab, 0.0)
    db2 = np.where(has2, digamma(b + xs2) - digamma(a + b + 1 + xs2) - digamma(b) + psi_ab, 0.0)
    # Sums over rows of per-x quantities: aggregate the weights per distinct x first.
    w_x = np.bincount(inv, weights=weights, minlength=ux.size)
    wp1_x = np.bincount(inv, weights=wp1, minlength=ux.size)
    wp2_x = np.bincount(inv, weights=wp2, minlength=ux.size)
    n = float(weights.sum())
    d_r = (w_x @ (digamma(r + ux) - digamma(r)) + n * np.log(alpha)
           - wp1 @ lat - wp2 @ latx)
    d_alpha = n * r / alpha - (wp1 * rx) @ (1.0 / (alpha + T)) - (wp2 * rx) @ (1.0 / (alpha + t_x))
    d_a = wp1_x @ da1 + wp2_x @ da2
    d_b = wp1_x @ db1 + wp2_x @ db2
    return float(weights @ ll), np.array([d_r, d_alpha, d_a, d_b])


def bg_p_alive(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray, *,
               modified: bool) -> FloatArray:
    """P(alive | x, t_x, T).

    BG/NBD (Fader, Hardie & Lee, note "Computing P(alive) using the BG/NBD model"):
        1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x));
    MBG/NBD (Batislam et al. 2007): 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)) for every x.
    """
    r, alpha, a, b = params
    if modified:
        denom_b = b + x
    else:
        denom_b = np.where(x > 0, b + x - 1, 1.0)
    log_odds = np.log(a) - np.log(denom_b) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    if not modified:
        log_odds = np.where(x > 0, log_odds, -np.inf)
    return expit(-log_odds)


def bg_expected(params: FloatArray, t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray,
                *, modified: bool) -> FloatArray:
    """E[Y(t) | x, t_x, T], expected purchases in (T, T+t] (broadcasts).

    BG/NBD, FHL 2005 eq. 10:
        (a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)] P(alive)
    MBG/NBD, Batislam et al. 2007:
        (a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; z)] P(alive)
    with z = t/(alpha+T+t). Euler's transformation 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A,C-B;C;z)
    turns the bracket into 1 - (1-z)^(a-1) 2F1(C-r-x, a-1; C; z), which does not overflow for
    large x. With x = t_x = T = 0 it is E[X(t)] of a new customer (FHL 2005 eq. 9).
    """
    r, alpha, a, b = params
    if abs(a - 1.0) < 1e-7:  # removable 0/0 at a = 1: step just off it
        a = 1.0 + 1e-7 if a >= 1.0 else 1.0 - 1e-7
    k = 0.0 if modified else 1.0
    c = a + b + x - k
    z = t / (alpha + T + t)
    bracket = 1.0 - (1.0 - z) ** (a - 1.0) * hyp2f1(a + b - k - r, a - 1.0, c, z)
    return c / (a - 1.0) * bracket * bg_p_alive(params, x, t_x, T, modified=modified)


def bg_starts(x: FloatArray, T: FloatArray, w: FloatArray) -> list[FloatArray]:
    """Scale-aware starts (r, alpha, a, b): alpha ~ r / (purchase rate) in the data's time unit."""
    rate = max(weighted_mean(x, w), 1e-3) / max(weighted_mean(T, w), 1e-9)
    return [np.array([1.0, 1.0 / rate, 1.0, 1.0]),
            np.array([0.5, 0.5 / rate, 0.5, 2.0]),
            np.array([2.0, 2.0 / rate, 2.0, 5.0])]


class BGNBD(PurchaseModel):
    """BG/NBD model (Fader, Hardie & Lee 2005). Parameters r, alpha (purchase rate), a, b
    (drop-out after each repeat purchase).

    Example
    -------
    >>> model = BGNBD().fit(x, t_x, T)
    >>> model.expected_purchases(39, x, t_x, T)
    """

    name: ClassVar[str] = "bgnbd"
    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _modified: ClassVar[bool] = False

    def _fit_compressed(self, x: FloatArray, t_x: FloatArray, T: FloatArray,
                        w: FloatArray) -> None:
        xgroups = np.unique(x, return_inverse=True)
        mod = self._modified

        def loglik_grad(p: FloatArray) -> tuple[float, FloatArray]:
            out = bg_loglik(p, x, t_x, T, modified=mod, xgroups=xgroups, weights=w)
            assert isinstance(out, tuple)
            return out

        def loglik(p: FloatArray) -> float:
            return loglik_grad(p)[0]

        self._fit_mle(loglik, bg_starts(x, T, w), float(w.sum()), x.size, loglik_grad)

    def _loglik_rows(self, params: FloatArray, x: FloatArray, t_x: FloatArray,
                     T: FloatArray) -> FloatArray:
        out = bg_loglik(params, x, t_x, T, modified=self._modified)
        assert isinstance(out, np.ndarray)
        return out

    def _expected(self, t: FloatArray, x: FloatArray, t_x: FloatArray,
                  T: FloatArray) -> FloatArray:
        return bg_expected(self._theta(), t, x, t_x, T, modified=self._modified)

    def p_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        """Probability that a customer with history (x, t_x, T) is still alive at T."""
        xa, ta, Ta, _ = check_purchase_data(x, t_x, T, None)
        return bg_p_alive(self._theta(), xa, ta, Ta, modified=self._modified)

    def expected_purchases_new(self, t: ArrayLike) -> FloatArray:
        """E[X(t)]: expected repeat purchases of a new customer in (0, t] (FHL 2005 eq. 9)."""
        t = np.asarray(t, dtype=float)
        zero = np.zeros_like(t)
        return self.expected_purchases(t, zero, zero, zero)
