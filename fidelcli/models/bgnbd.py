"""BG/NBD purchase model: Fader, Hardie & Lee (2005), "Counting your customers the easy way".

While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after each
repeat purchase she drops out with probability p ~ Beta(a, b). The MBG/NBD variant (mbgnbd.py) adds
a drop-out chance right after the first purchase; both share the code here.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln, digamma, expit, gammaln

from fidelcli.models._parallel import BLOCK_ROWS, run_chunked
from fidelcli.models._validation import check_purchase_data, check_values
from fidelcli.models.base import PurchaseModel
from fidelcli.models.bg_conditional import bg_conditional
from fidelcli.models.numerics import FloatArray, scalars
from fidelcli.stats import check_discount_rate, weighted_mean


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
    ll: FloatArray = g_x[inv] + r * np.log(alpha) + m  # SciPy (gammaln, betaln): untyped
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


class BGKernel:
    """Weighted total log-likelihood and gradient of (M)BG/NBD on fixed compressed rows.

    The same quantities as `bg_loglik(..., weights=w)`, arranged for the many evaluations of a fit:
    the terms that depend on x only are summed per distinct x (weights aggregated once), the two
    likelihood terms are combined as max + log1p(exp(-|l1 - l2|)) so one exponential gives both
    their shares, and log(alpha + T), 1 / (alpha + T) (and the same for t_x) are computed once per
    distinct T (t_x) and gathered: computed from whole days, they take a few hundred values.
    """

    def __init__(self, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray, *,
                 modified: bool) -> None:
        self.ux, self.inv = np.unique(x, return_inverse=True)
        self.x, self.w = x, w
        self.uT, self.iT = np.unique(T, return_inverse=True)
        self.utx, self.itx = np.unique(t_x, return_inverse=True)
        self.c1, self.c2 = (1.0, 0.0) if modified else (0.0, -1.0)
        self.has2 = np.ones(self.ux.shape, dtype=bool) if modified else self.ux > 0
        self.xs2 = np.where(self.has2, self.ux + self.c2, 1.0)
        self.w_x = np.bincount(self.inv, weights=w, minlength=self.ux.size)
        self.n = float(w.sum())
        self._buffers: dict[int, FloatArray] = {}

    def __call__(self, params: FloatArray) -> tuple[float, FloatArray]:
        r, alpha, a, b = (float(v) for v in params)
        ux, has2, xs2, c1, n, w_x = self.ux, self.has2, self.xs2, self.c1, self.n, self.w_x
        blab = betaln(a, b)
        g_x = gammaln(r + ux) - gammaln(r)
        b1 = betaln(a, b + ux + c1) - blab
        b2 = np.where(has2, betaln(a + 1, b + xs2) - blab, -np.inf)
        aT, atx = self.uT + alpha, self.utx + alpha
        per_T, per_tx = (np.log(aT), 1.0 / aT), (np.log(atx), 1.0 / atx)
        parts = run_chunked(lambda sl: self._rows(sl, r, per_T, per_tx, b1, b2), self.x.size)
        ll_rows = sum(pt[0] for pt in parts)
        s_lat = sum(pt[1] for pt in parts)
        s_alpha = sum(pt[2] for pt in parts)
        wp1_x = np.sum([pt[3] for pt in parts], axis=0)
        wp2_x = w_x - wp1_x
        total = float(w_x @ g_x) + n * r * math.log(alpha) + ll_rows
        psi_ab = digamma(a + b)
        da1 = psi_ab - digamma(a + b + ux + c1)
        db1 = digamma(b + ux + c1) - digamma(a + b + ux + c1) - digamma(b) + psi_ab
        da2 = np.where(has2, digamma(a + 1) - digamma(a + b + 1 + xs2) - digamma(a) + psi_ab, 0.0)
        db2 = np.where(has2, digamma(b + xs2) - digamma(a + b + 1 + xs2) - digamma(b) + psi_ab, 0.0)
        d_r = w_x @ (digamma(r + ux) - digamma(r)) + n * math.log(alpha) - s_lat
        d_alpha = n * r / alpha - s_alpha
        d_a = wp1_x @ da1 + wp2_x @ da2
        d_b = wp1_x @ db1 + wp2_x @ db2
        return total, np.array([d_r, d_alpha, d_a, d_b])

    def _rows(self, sl: slice, r: float, per_T: tuple[FloatArray, FloatArray], per_tx: tuple[FloatArray, FloatArray],
              b1: FloatArray, b2: FloatArray) -> tuple[float, float, float, FloatArray]:
        """Row sums over rows `sl`: sum w m, sum w (p1 lat + p2 latx), the alpha derivative's
        sum, and sum w p1 per distinct x.

        Works in place in buffers kept per slice: a fit evaluates this dozens of times, and fresh
        arrays of this size cost a page fault per 4 KiB each time.
        """
        size = sl.stop - sl.start
        bufs = self._buffers.get(sl.start)
        if bufs is None or bufs.shape[1] != size:
            bufs = self._buffers[sl.start] = np.empty((9, size))
        rx, aT, lat, atx, latx, l1, l2, d, e = bufs
        inv, w, x, iT, itx = self.inv[sl], self.w[sl], self.x[sl], self.iT[sl], self.itx[sl]
        np.add(x, r, out=rx)
        np.take(per_T[0], iT, out=lat)            # log(alpha + T)
        np.take(per_tx[0], itx, out=latx)         # log(alpha + t_x)
        np.take(b1, inv, out=l1)
        np.multiply(rx, lat, out=d)
        l1 -= d                                   # l1 = b1 - (r + x) log(alpha + T)
        np.take(b2, inv, out=l2)
        np.multiply(rx, latx, out=d)
        l2 -= d                                   # l2 = b2 - (r + x) log(alpha + t_x)
        np.subtract(l2, l1, out=d)                # d = l2 - l1
        np.abs(d, out=e)
        np.negative(e, out=e)
        np.exp(e, out=e)                          # e = exp(-|d|)
        np.maximum(l1, l2, out=l1)                # l1 = max(l1, l2)
        first = d <= 0
        np.copyto(d, e)
        d[first] = 1.0
        np.add(e, 1.0, out=l2)
        d /= l2                                   # d = p1 = share of the first term
        np.log1p(e, out=e)
        e += l1                                   # e = log-likelihood of each row, less the x terms
        ll = float(w @ e)
        np.multiply(w, d, out=l1)                 # l1 = w p1
        np.subtract(w, l1, out=l2)                # l2 = w p2
        # numpy's stub types bincount as integer even with float weights, where it returns float64
        wp1_x: FloatArray = np.bincount(inv, weights=l1, minlength=self.ux.size)  # type: ignore[assignment]
        s_lat = float(l1 @ lat + l2 @ latx)
        l1 *= rx
        l2 *= rx
        np.take(per_T[1], iT, out=aT)             # 1 / (alpha + T)
        np.take(per_tx[1], itx, out=atx)          # 1 / (alpha + t_x)
        s_alpha = float(l1 @ aT + l2 @ atx)
        return ll, s_lat, s_alpha, wp1_x


def bg_p_alive(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray, *,
               modified: bool) -> FloatArray:
    """P(alive | x, t_x, T).

    BG/NBD (Fader, Hardie & Lee, note "Computing P(alive) using the BG/NBD model"):
        1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x));
    MBG/NBD (Batislam et al. 2007): 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)) for every x.
    The log odds use log1p((T - t_x)/(alpha + t_x)), exact even when r + x is huge.
    """
    r, alpha, a, b = scalars(params)
    if modified:
        denom_b = b + x
    else:
        denom_b = np.where(x > 0, b + x - 1, 1.0)
    log_odds = np.log(a) - np.log(denom_b) + (r + x) * np.log1p((T - t_x) / (alpha + t_x))
    if not modified:
        log_odds = np.where(x > 0, log_odds, -np.inf)
    p_alive: FloatArray = expit(-log_odds)  # SciPy: untyped
    return p_alive


def bg_expected(params: FloatArray, t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray,
                *, modified: bool, curve: bool = False) -> FloatArray:
    """E[Y(t) | x, t_x, T], expected purchases in (T, T+t] (broadcasts).

    BG/NBD, FHL 2005 eq. 10:
        (a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)] P(alive)
    MBG/NBD, Batislam et al. 2007:
        (a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; z)] P(alive)
    with z = t/(alpha+T+t); see `bg_conditional` for how the factor of P(alive) is evaluated.
    With x = t_x = T = 0 it is E[X(t)] of a new customer (FHL 2005 eq. 9). `curve`: t runs along
    the last axis (see `bg_conditional`).
    """
    alive = bg_p_alive(params, x, t_x, T, modified=modified)
    return bg_cumulative(params, t, x, T, alive, modified=modified, curve=curve)


def bg_cumulative(params: FloatArray, t: FloatArray, x: FloatArray, T: FloatArray,
                  p_alive: FloatArray, *, modified: bool, curve: bool = False) -> FloatArray:
    """`bg_expected` given P(alive) (broadcasts): `bg_conditional` times P(alive)."""
    return bg_conditional(params, t, x, T, modified=modified, curve=curve) * p_alive


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
        kernel = BGKernel(x, t_x, T, w, modified=self._modified)

        def loglik(p: FloatArray) -> float:
            return kernel(p)[0]

        self._fit_mle(loglik, bg_starts(x, T, w), float(w.sum()), x.size, kernel)

    def _loglik_rows(self, params: FloatArray, x: FloatArray, t_x: FloatArray,
                     T: FloatArray) -> FloatArray:
        out = bg_loglik(params, x, t_x, T, modified=self._modified)
        assert isinstance(out, np.ndarray)
        return out

    def _expected(self, t: FloatArray, x: FloatArray, t_x: FloatArray,
                  T: FloatArray) -> FloatArray:
        # discounted_expected_transactions asks for curves: t of shape (1, steps)
        curve = t.ndim == 2 and t.shape[0] == 1 and t.shape[1] > 1
        return bg_expected(self._theta(), t, x, t_x, T, modified=self._modified, curve=curve)

    def p_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        """Probability that a customer with history (x, t_x, T) is still alive at T."""
        xa, ta, Ta, _ = check_purchase_data(x, t_x, T, None)
        return bg_p_alive(self._theta(), xa, ta, Ta, modified=self._modified)

    def horizon_predictions(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, *, length: float,
                            steps: int, discount_rate_per_period: float, p_alive: bool = True,
                            ) -> tuple[FloatArray | None, FloatArray, FloatArray]:
        """P(alive), expected purchases in (T, T + length] and their discounted sum, together.

        The same values as `p_alive`, `expected_purchases(length, ...)` and
        `discounted_expected_transactions(..., horizon=steps, step=length / steps)`, sharing their
        terms: P(alive) is computed once, the expected purchases over the horizon are the last
        point of the cumulative curve used for the discounting, and the curve is evaluated on two
        threads for large inputs.

        Returns
        -------
        (p_alive or None, expected purchases, discounted expected purchases), one value per row.
        """
        params = self._theta()
        xa, ta, Ta = (check_values(v, n) for v, n in ((x, "x"), (t_x, "t_x"), (T, "T")))
        step = float(length) / steps
        rate = check_discount_rate(discount_rate_per_period, annual=False)
        factors = (1.0 + rate) ** -np.arange(1, steps + 1, dtype=float)
        times = np.arange(1, steps + 1, dtype=float) * step
        times[-1] = float(length)
        alive = bg_p_alive(params, xa, ta, Ta, modified=self._modified)

        def work(sl: slice) -> tuple[FloatArray, FloatArray]:
            # Blocks of rows keep the (rows x steps) temporaries small (a few MiB each).
            expected, discounted = np.empty(sl.stop - sl.start), np.empty(sl.stop - sl.start)
            for lo in range(sl.start, sl.stop, BLOCK_ROWS):
                b = slice(lo, min(lo + BLOCK_ROWS, sl.stop))
                cum = bg_cumulative(params, times[None, :], xa[b, None], Ta[b, None],
                                    alive[b, None], modified=self._modified, curve=True)
                out = slice(b.start - sl.start, b.stop - sl.start)
                expected[out] = cum[:, -1]
                discounted[out] = np.diff(cum, axis=-1, prepend=0.0) @ factors
            return expected, discounted

        parts = run_chunked(work, xa.size)
        expected = np.concatenate([pt[0] for pt in parts])
        discounted = np.concatenate([pt[1] for pt in parts])
        return (alive if p_alive else None), expected, discounted

    def expected_purchases_new(self, t: ArrayLike) -> FloatArray:
        """E[X(t)]: expected repeat purchases of a new customer in (0, t] (FHL 2005 eq. 9)."""
        t = np.asarray(t, dtype=float)
        zero = np.zeros_like(t)
        return self.expected_purchases(t, zero, zero, zero)
