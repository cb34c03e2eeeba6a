"""Pareto/NBD purchase model: Schmittlein, Morrison & Colombo (1987); formulas from Fader & Hardie
(2005), "A Note on Deriving the Pareto/NBD Model and Related Expressions".

While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); her
lifetime is exponential with rate mu ~ Gamma(s, beta).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import digamma, expit, gammaln, hyp2f1, logsumexp

from fidelcli.models._validation import check_purchase_data
from fidelcli.models.base import PurchaseModel
from fidelcli.models.numerics import EPS, FloatArray, graded_nodes, log1mexp, scalars
from fidelcli.stats import weighted_mean


def _log1mexp(d: FloatArray) -> FloatArray:
    """log(1 - exp(d)) for d <= 0, accurate on both sides of -log 2 (-inf at d = 0)."""
    with np.errstate(divide="ignore"):
        return np.where(d > -0.6931471805599453, np.log(-np.expm1(d)), np.log1p(-np.exp(d)))


def log_a0_term(params: FloatArray, x: FloatArray, t: FloatArray) -> FloatArray:
    """log of 2F1(r+s+x, B; r+s+x+1; z_t) / (max(alpha, beta) + t)^(r+s+x), one of the two terms
    of A_0 in the likelihood (Fader-Hardie 2005 note, the expression for A_0), with the branch
    chosen as in the note so that 0 <= z < 1:

    alpha >= beta: B = s+1,  z_t = (alpha-beta)/(alpha+t)
    alpha <  beta: B = r+x,  z_t = (beta-alpha)/(beta+t)

    With A = r+s+x and C = A+1, Euler's transformation 2F1(A, B; C; z) = (1-z)^(C-A-B)
    2F1(C-A, C-B; C; z) gives log 2F1 = (1-B) log(1-z) + log 2F1(1, C-B; C; z): the (1-z) power
    carries the growth near z = 1 in log space, and the remaining 2F1 has first argument 1 (cheap,
    no overflow for large x). alpha = beta gives z = 0 and 2F1 = 1 on both branches, so the branch
    switch is continuous.
    """
    r, alpha, s, beta = scalars(params)
    big_a = r + s + x
    big_b: np.float64 | FloatArray
    if alpha >= beta:
        big_b = s + 1.0
        m = alpha
        z = (alpha - beta) / (alpha + t)
    else:
        big_b = r + x
        m = beta
        z = (beta - alpha) / (beta + t)
    c = big_a + 1.0
    log_f: FloatArray = (1.0 - big_b) * np.log1p(-z) + np.log(hyp2f1(1.0, c - big_b, c, z))  # SciPy: untyped
    return log_f - big_a * np.log(m + t)


def pnbd_parts(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray,
               log_term_tx: FloatArray | None = None, log_term_T: FloatArray | None = None,
               ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The three log pieces of the Pareto/NBD likelihood (Fader-Hardie 2005 note, the
    likelihood with A_0):

    L = Gamma(r+x) alpha^r beta^s / Gamma(r) [ 1 / ((alpha+T)^(r+x) (beta+T)^s)
                                               + s/(r+s+x) A_0 ],
    A_0 = term(t_x) - term(T)   (see `log_a0_term`).

    Returns
    -------
    (log of the prefactor, log of the "alive at T" term, log of s/(r+s+x) A_0).
    """
    r, alpha, s, beta = scalars(params)
    if log_term_tx is None:
        log_term_tx = log_a0_term(params, x, t_x)
    if log_term_T is None:
        log_term_T = log_a0_term(params, x, T)
    pre = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    l_alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    # A_0 > 0 is the integral over death times in (t_x, T]; rounding can put term(T) a hair
    # above term(t_x) when t_x ~ T, hence the clip.
    d = np.minimum(log_term_T - log_term_tx, 0.0)
    l_dead = np.log(s) - np.log(r + s + x) + log_term_tx + _log1mexp(d)
    return pre, l_alive, l_dead


def pnbd_loglik(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray
                ) -> FloatArray:
    """Per-row Pareto/NBD log-likelihood (Fader-Hardie 2005 note, likelihood with A_0)."""
    pre, l_alive, l_dead = pnbd_parts(params, x, t_x, T)
    return pre + np.logaddexp(l_alive, l_dead)


def _expm1_ratio(s1: float, u: FloatArray) -> FloatArray:
    """[1 - exp(-s1 u)] / s1, continuous at s1 = 0 (value u)."""
    if abs(s1) < 1e-10:
        return u * (1.0 - 0.5 * s1 * u)
    return -np.expm1(-s1 * u) / s1


@dataclass(frozen=True)
class PairedData:
    """Compressed rows plus the distinct (x, t) pairs that the A_0 terms depend on.

    The hypergeometric terms depend on (x, t_x) and (x, T) only: with dates in days there are far
    fewer such pairs than rows, so they are computed once per distinct pair.
    """

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    w: FloatArray
    ux: FloatArray
    ut: FloatArray
    inv_tx: NDArray[np.intp]
    inv_T: NDArray[np.intp]

    @classmethod
    def build(cls, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray) -> PairedData:
        ux, ut, inv = _unique_pairs(np.concatenate([x, x]), np.concatenate([t_x, T]))
        return cls(x, t_x, T, w, ux, ut, inv[: x.size], inv[x.size:])


def pnbd_loglik_grad(params: FloatArray, d: PairedData) -> tuple[float, FloatArray]:
    """Weighted total log-likelihood and its gradient in (r, alpha, s, beta).

    Analytic chain rule over rows; only the derivatives of the log A_0 terms (no closed form in
    the 2F1 parameters) are central finite differences, taken on the few distinct (x, t) pairs:
    a gradient costs one pass over the rows instead of eight.
    """
    r, alpha, s, beta = (float(v) for v in params)
    x, t_x, T, w = d.x, d.t_x, d.T, d.w
    lt = log_a0_term(params, d.ux, d.ut)
    dlt = np.empty((4, lt.size))
    for j in range(4):
        h = 6e-6 * params[j]
        e = np.zeros(4)
        e[j] = h
        dlt[j] = (log_a0_term(params + e, d.ux, d.ut)
                  - log_a0_term(params - e, d.ux, d.ut)) / (2 * h)
    lt_tx, lt_T = lt[d.inv_tx], lt[d.inv_T]
    pre, l_alive, l_dead = pnbd_parts(params, x, t_x, T, lt_tx, lt_T)
    m = np.logaddexp(l_alive, l_dead)
    total = float(w @ (pre + m))
    wa = w * np.exp(l_alive - m)
    wd = w * np.exp(l_dead - m)
    # d log(1 - e^D)/dD = -1/expm1(-D), D = lt_T - lt_tx <= 0; rows with D = 0 have wd = 0.
    dd = np.minimum(lt_T - lt_tx, 0.0)
    live = wd > 0
    with np.errstate(divide="ignore"):
        fprime = np.where(live, -1.0 / np.expm1(-np.where(live, dd, -1.0)), 0.0)
    wdf = wd * fprime
    rsx = r + s + x
    n = float(w.sum())
    # d/d(param) of l_dead = [log s - log(r+s+x)]' + lt_tx' + f'(D) (lt_T' - lt_tx')
    g_dead = np.array([wd @ dlt[j][d.inv_tx] + wdf @ (dlt[j][d.inv_T] - dlt[j][d.inv_tx])
                       for j in range(4)])
    w_rsx = wd @ (1.0 / rsx)
    grad = np.array([
        w @ (digamma(r + x) - digamma(r)) + n * np.log(alpha) - wa @ np.log(alpha + T) - w_rsx
        + g_dead[0],
        n * r / alpha - wa @ ((r + x) / (alpha + T)) + g_dead[1],
        n * np.log(beta) - wa @ np.log(beta + T) + float(wd.sum()) / s - w_rsx + g_dead[2],
        n * s / beta - s * (wa @ (1.0 / (beta + T))) + g_dead[3],
    ])
    return total, grad


_PNBD_MIN_1MZ = 0.02  # closer to z = 1, pnbd_log_dead_odds integrates instead of using 2F1


def pnbd_log_dead_odds(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray
                       ) -> FloatArray:
    """log R, R = P(dead at T | x, t_x, T) / P(alive at T | x, t_x, T), so P(alive) = 1/(1+R).

    Given lambda and mu the likelihood is lambda^x e^-(lambda+mu)T (alive at T) plus the integral
    of lambda^x mu e^-(lambda+mu)tau over the death time tau in (t_x, T]; integrating the rates
    over their Gammas (Fader-Hardie 2005 note, the likelihood) gives

        R = s int_{t_x}^T ((alpha+T)/(alpha+tau))^(r+x) ((beta+T)/(beta+tau))^s dtau/(beta+tau),

    0 when t_x = T. Closed form: R = s/(r+s+x) A_0 (alpha+T)^(r+x) (beta+T)^s with A_0 from the
    2F1 terms (`log_a0_term`). Kept where 2F1 is finite and within its bounds [1, 1/(1-z)],
    1 - z >= 0.02 (scipy sums ~1/(1-z) terms of 2F1(1, b; c; z), slower than the quadrature
    below 0.02, and loses digits below 1e-3, e.g. when alpha/beta or beta/alpha is huge) and the
    estimated rounding error of log R, from the large terms that cancel ((r+s+x) log(alpha+T)
    ...) and from A_0 = term(t_x) - term(T), is below 1e-9.
    Elsewhere the integral itself is computed in log space (`pnbd_log_dead_odds_quadrature`).
    """
    x, t_x, T = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(t_x, dtype=float),
                                    np.asarray(T, dtype=float))
    shape = x.shape
    x, t_x, T = x.ravel(), np.minimum(t_x, T).ravel(), T.ravel()
    log_r, ok = pnbd_log_dead_odds_closed(params, x, t_x, T)
    redo = ~ok
    if redo.any():
        log_r[redo] = pnbd_log_dead_odds_quadrature(params, x[redo], t_x[redo], T[redo])
    return log_r.reshape(shape)


def _a0_log_term(params: FloatArray, x: FloatArray, t: FloatArray
                 ) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """`log_a0_term` without its failure modes: (value, its rounding scale, trusted)."""
    r, alpha, s, beta = scalars(params)
    big_a = r + s + x
    big_b: np.float64 | FloatArray
    if alpha >= beta:
        big_b, lo, hi = s + 1.0, beta, alpha
    else:
        big_b, lo, hi = r + x, alpha, beta
    c = big_a + 1.0
    log_1mz = np.log(lo + t) - np.log(hi + t)  # 1 - z_t = (lo + t)/(hi + t), never 0
    one_minus_z = (lo + t) / (hi + t)
    usable = one_minus_z >= _PNBD_MIN_1MZ
    # z = 0 where 2F1 is not used: its series near z = 1 is both slow and inaccurate
    f = hyp2f1(1.0, c - big_b, c, np.where(usable, (hi - lo) / (hi + t), 0.0))
    ok = usable & (f >= 1.0 - 1e-12) & (f * one_minus_z <= 1.0 + 1e-12)
    log_f = np.log(np.where(ok, f, 1.0))
    lead = big_a * np.log(hi + t)
    value = (1.0 - big_b) * log_1mz + log_f - lead
    scale = np.abs(lead) + np.abs((1.0 - big_b) * log_1mz) + np.abs(log_f)
    return value, scale, ok


def pnbd_log_dead_odds_closed(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray
                               ) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Closed form of `pnbd_log_dead_odds` (flat arrays, t_x <= T) and where it can be trusted;
    untrusted values may be anything."""
    r, alpha, s, beta = scalars(params)
    lt_tx, scale_tx, ok_tx = _a0_log_term(params, x, t_x)
    lt_T, scale_T, ok_T = _a0_log_term(params, x, T)
    d = lt_T - lt_tx  # A_0 = e^lt_tx (1 - e^d) > 0 needs d < 0
    live = (d < 0.0) & ok_tx & ok_T
    d_safe = np.where(live, d, -1.0)
    alive_terms = (r + x) * np.log(alpha + T) + s * np.log(beta + T)
    log_r = (np.log(s) - np.log(r + s + x) + lt_tx + log1mexp(d_safe) + alive_terms)
    # Rounding error of log R: the big terms cancel, and log(1 - e^d) amplifies the error of d
    # by e^d / (1 - e^d).
    amplify = -1.0 / np.expm1(np.minimum(d_safe, -1e-300))
    error = 4.0 * EPS * (scale_tx + np.abs(alive_terms) + (scale_T + scale_tx) * amplify)
    ok = live & (error <= 1e-9)
    same = t_x >= T  # no time to die unseen: R = 0
    return np.where(same, -np.inf, np.where(ok, log_r, 0.0)), ok | same


def pnbd_log_dead_odds_quadrature(params: FloatArray, x: FloatArray, t_x: FloatArray,
                                  T: FloatArray) -> FloatArray:
    """log R of `pnbd_log_dead_odds` by quadrature of its integral, for t_x < T.

    The log integrand psi(tau) = (r+x) log1p((T-tau)/(alpha+tau)) + s log1p((T-tau)/(beta+tau))
    - log(beta+tau) is convex and decreasing, steepest at t_x where it falls on the scale
    1/((r+x)/(alpha+t_x) + (s+1)/(beta+t_x)) and bends on the scale min(alpha, beta) + t_x. A
    Gauss-Legendre rule graded towards t_x (`graded_nodes`) resolves that layer and every slower
    scale up to T, and the sum is a log-sum-exp, so R may be astronomically large or small.
    """
    r, alpha, s, beta = scalars(params)
    length = T - t_x
    # The integrand falls at the rate (r+x)/(alpha+tau) + (s+1)/(beta+tau), and with a small r+x
    # (or s) it still bends on the scale alpha + t_x (or beta + t_x).
    layer = np.minimum(1.0 / ((r + x) / (alpha + t_x) + (s + 1.0) / (beta + t_x)),
                       np.minimum(alpha, beta) + t_x)
    out = np.empty(x.size)
    # The fewest pieces that reach the layer with ratio 2 (8 length/layer <= 2^(pieces-1)), 32 at
    # most: rows are grouped by that number, so a smooth integrand gets few nodes.
    need = np.log2(np.maximum(8.0 * length / layer, 1.0)) + 1.0
    pieces = np.select([need <= 6, need <= 10, need <= 16], [6, 10, 16], 32)
    for k in np.unique(pieces):
        rows = pieces == k
        d, e, w = graded_nodes(length[rows], layer[rows], pieces=int(k))
        tau_a = alpha + t_x[rows, None] + d
        tau_b = beta + t_x[rows, None] + d
        psi = ((r + x[rows])[:, None] * np.log1p(e / tau_a) + s * np.log1p(e / tau_b)
               - np.log(tau_b) + np.log(np.maximum(w, np.finfo(float).tiny)))
        out[rows] = np.log(s) + logsumexp(psi, axis=1)
    return out


class ParetoNBD(PurchaseModel):
    """Pareto/NBD model. Parameters r, alpha (purchase rate), s, beta (lifetime).

    Example
    -------
    >>> model = ParetoNBD().fit(x, t_x, T)
    >>> model.p_alive(x, t_x, T)
    """

    name: ClassVar[str] = "pnbd"
    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")

    def _fit_compressed(self, x: FloatArray, t_x: FloatArray, T: FloatArray,
                        w: FloatArray) -> None:
        data = PairedData.build(x, t_x, T, w)

        def loglik(p: FloatArray) -> float:
            lt = log_a0_term(p, data.ux, data.ut)
            pre, l_alive, l_dead = pnbd_parts(p, x, t_x, T, lt[data.inv_tx], lt[data.inv_T])
            return float(w @ (pre + np.logaddexp(l_alive, l_dead)))

        def loglik_grad(p: FloatArray) -> tuple[float, FloatArray]:
            return pnbd_loglik_grad(p, data)

        mean_t = weighted_mean(T, w)
        rate = max(weighted_mean(x, w), 1e-3) / max(mean_t, 1e-9)
        starts = [np.array([1.0, 1.0 / rate, 1.0, mean_t]),
                  np.array([0.5, 0.5 / rate, 0.5, 0.5 * mean_t]),
                  np.array([2.0, 2.0 / rate, 2.0, 2.0 * mean_t])]
        self._fit_mle(loglik, starts, float(w.sum()), x.size, loglik_grad)

    def _loglik_rows(self, params: FloatArray, x: FloatArray, t_x: FloatArray,
                     T: FloatArray) -> FloatArray:
        return pnbd_loglik(params, x, t_x, T)

    def _p_alive(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        p_alive: FloatArray = expit(-pnbd_log_dead_odds(self._theta(), x, t_x, T))  # SciPy: untyped
        return p_alive

    def p_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        """P(alive | x, t_x, T) = the "alive at T" term over the whole likelihood (Fader-Hardie
        2005 note, the P(alive) expression), i.e. 1 / (1 + R) with R from
        `pnbd_log_dead_odds`."""
        xa, ta, Ta, _ = check_purchase_data(x, t_x, T, None)
        return self._p_alive(xa, ta, Ta)

    def _expected(self, t: FloatArray, x: FloatArray, t_x: FloatArray,
                  T: FloatArray) -> FloatArray:
        """E[Y(t) | x, t_x, T] (Fader-Hardie 2005 note, the conditional expectation;
        Schmittlein et al. 1987):
        (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)] P(alive),
        written with expm1/log1p so that s = 1 is the continuous limit. It lies in
        [0, (r+x) t/(alpha+T) P(alive)] (no purchase after death). P(alive) is computed once per
        history, not once per t."""
        r, alpha, s, beta = scalars(self._theta())
        hist = np.broadcast_shapes(np.shape(x), np.shape(t_x), np.shape(T))
        xh, txh, Th = (np.broadcast_to(v, hist).ravel() for v in (x, t_x, T))
        pa = self._p_alive(xh, np.minimum(txh, Th), Th).reshape(hist)
        shape = np.broadcast_shapes(np.shape(t), hist)
        xb, Tb, tb, pab = (np.broadcast_to(v, shape) for v in (x, T, t, pa))
        u = np.log1p(tb / (beta + Tb))
        out = (r + xb) * (beta + Tb) / (alpha + Tb) * _expm1_ratio(s - 1.0, u)
        return np.clip(out, 0.0, (r + xb) * tb / (alpha + Tb)) * pab

    def expected_purchases_new(self, t: ArrayLike) -> FloatArray:
        """E[X(t)] of a new customer (Schmittlein et al. 1987):
        r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)], continuous at s = 1."""
        r, alpha, s, beta = scalars(self._theta())
        t = np.asarray(t, dtype=float)
        return r * beta / alpha * _expm1_ratio(s - 1.0, np.log1p(t / beta))


def _unique_pairs(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray, NDArray[np.intp]]:
    """Distinct (a, b) pairs and the index of each row's pair."""
    order = np.lexsort([b, a])
    sa, sb = a[order], b[order]
    new = np.empty(a.size, dtype=bool)
    new[:1] = True
    new[1:] = (sa[1:] != sa[:-1]) | (sb[1:] != sb[:-1])
    group = np.cumsum(new) - 1
    inv = np.empty(a.size, dtype=np.intp)
    inv[order] = group
    return sa[new], sb[new], inv
