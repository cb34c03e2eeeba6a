"""Numerical building blocks of the models' predictions: gamma-function ratios without cancellation
(`log_poch`, `log_poch_ratio`), expectations over a Beta distribution by quadrature
(`beta_expectation`), a Gauss-Legendre rule graded towards a boundary layer (`graded_nodes`).

The closed forms of the papers (hypergeometric functions, ratios of gamma functions) are fast and
accurate for the parameters a fit usually returns, but an optimiser can also return extreme ones:
when nobody seems to drop out, BG/NBD's a and b run off to 1e9 with a/(a+b) fixed, and
(1-z)^(a-1) 2F1(...) becomes 0 * inf. The models evaluate their closed form first and recompute the
rows where it is not finite, leaves its mathematical bounds or is known to lose its accuracy with
the stable representations here, which only need bounded integrands.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import (
    betainc,
    betaincc,
    betainccinv,
    betaincinv,
    betaln,
    expit,
    gammaln,
    roots_hermite,
    roots_legendre,
)

from fidelcli.stats import FloatArray as FloatArray  # re-exported: the models import it from here

Integrand = Callable[[FloatArray, FloatArray, NDArray[np.intp]], FloatArray]

EPS = float(np.finfo(float).eps)
_STIRLING_MIN = 20.0  # log_poch uses Stirling's series when both gamma arguments are at least this
_BLOCK_VALUES = 1 << 20  # rows x nodes evaluated at once by beta_expectation (8 MiB per array)


def scalars(params: FloatArray) -> tuple[np.float64, ...]:
    """The entries of a parameter vector as NumPy scalars, for `r, alpha, a, b = scalars(params)`
    (unpacking the array itself gives the same values, but untyped)."""
    return tuple(params)


def _stirling_correction(z: FloatArray) -> FloatArray:
    """log Gamma(z) - [(z - 1/2) log z - z + log(2 pi)/2] for z >= 20: the asymptotic series
    1/(12 z) - 1/(360 z^3) + 1/(1260 z^5) - 1/(1680 z^7) + 1/(1188 z^9) (Abramowitz & Stegun
    6.1.41), whose next term is below 1e-17 there."""
    w = 1.0 / (z * z)
    return (1.0 / 12.0 + w * (-1.0 / 360.0 + w * (1.0 / 1260.0 + w * (-1.0 / 1680.0
                                                                       + w / 1188.0)))) / z


def log_poch(a: ArrayLike, k: ArrayLike) -> FloatArray:
    """log Gamma(a + k) - log Gamma(a), the log of the rising factorial (a)_k (broadcasts).

    For a > 0 and a + k > 0 (k may be negative or fractional). The plain difference of two
    `gammaln` values loses everything when both arguments are large (gammaln(1e12) ~ 2.6e13 is
    known to ~0.01 only); with both arguments >= 20 this uses Stirling's series instead,

        (a - 1/2) log1p(k/a) + k (log(a + k) - 1) + c(a + k) - c(a),

    c the Stirling correction, which keeps the relative accuracy of the result. Ratios of Beta
    functions with shifted arguments, B(a + i, b + j) / B(a, b), are sums of these.

    Example
    -------
    >>> float(log_poch(3.0, 2.0))  # log(3 * 4)
    2.4849066497880004
    """
    a, k = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(k, dtype=float))
    b = a + k
    big = np.minimum(a, b) >= _STIRLING_MIN
    a_s = np.where(big, a, _STIRLING_MIN)
    b_s = np.where(big, b, _STIRLING_MIN)
    k_s = b_s - a_s
    stirling = ((a_s - 0.5) * np.log1p(k_s / a_s) + k_s * (np.log(b_s) - 1.0)
                + _stirling_correction(b_s) - _stirling_correction(a_s))
    return np.where(big, stirling, gammaln(np.where(big, 1.0, b)) - gammaln(np.where(big, 1.0, a)))


def log_poch_ratio(a: ArrayLike, gap: ArrayLike, k: ArrayLike) -> FloatArray:
    """log[(a)_k / (a + gap)_k] = log_poch(a, k) - log_poch(a + gap, k) (broadcasts), for a > 0,
    a + gap > 0, k >= 0; the gap is passed on its own so that it keeps all its digits.

    When a and a + gap are both >= 20 the two Stirling expansions are subtracted term by term
    (b = a + gap, c the Stirling correction):

        (a - 1/2) log1p(k gap / (a (b+k))) - gap log1p(k/b) - k log1p(gap/(a+k))
        + c(a+k) - c(a) - c(b+k) + c(b),

    which keeps the relative accuracy of a result that is tiny against each log rising factorial
    (a huge, gap small: the survival of a customer base that hardly churns).
    """
    a, gap, k = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, gap, k)))
    b = a + gap
    big = np.minimum(a, b) >= _STIRLING_MIN
    a_s, b_s = np.where(big, a, _STIRLING_MIN), np.where(big, b, _STIRLING_MIN)
    g_s, k_s = np.where(big, gap, 0.0), np.where(big, k, 0.0)
    stirling = ((a_s - 0.5) * np.log1p(k_s * g_s / (a_s * (b_s + k_s)))
                - g_s * np.log1p(k_s / b_s) - k_s * np.log1p(g_s / (a_s + k_s))
                + _stirling_correction(a_s + k_s) - _stirling_correction(a_s)
                - _stirling_correction(b_s + k_s) + _stirling_correction(b_s))
    return np.where(big, stirling, log_poch(a, k) - log_poch(b, k))


def log1mexp(d: FloatArray) -> FloatArray:
    """log(1 - exp(d)) for d < 0, accurate on both sides of -log 2 (Maechler 2012, "Accurately
    computing log(1 - exp(-|a|))")."""
    near = d > -0.6931471805599453
    return np.where(near, np.log(-np.expm1(np.where(near, d, -1.0))),
                    np.log1p(-np.exp(np.where(near, -1.0, d))))


def _series(z: FloatArray, coefs: tuple[float, ...], limit: float
            ) -> tuple[NDArray[np.bool_], FloatArray]:
    """(|z| < limit, z^2 sum_n coefs[n] z^n) by Horner, z set to 0 outside the limit."""
    small = np.abs(z) < limit
    zs = np.where(small, z, 0.0)
    acc = np.zeros_like(zs)
    for c in reversed(coefs):
        acc = c + zs * acc
    return small, zs * zs * acc


_EXPM1_COEFS = tuple(1.0 / float(np.prod(np.arange(1, n + 1))) for n in range(2, 14))
_LOG1P_COEFS = tuple((-1.0) ** n / n for n in range(2, 31))


def log1m(p: FloatArray, q: FloatArray) -> FloatArray:
    """log(1 - p) given p and q = 1 - p from a quadrature rule: log1p(-p) where p < 1/2 (exact for
    tiny p), log(q) elsewhere (exact for p near 1, where 1 - p has no digits left)."""
    low = p < 0.5
    return np.where(low, np.log1p(-np.where(low, p, 0.0)), np.log(np.where(low, 1.0, q)))


def expm1_minus_x(d: FloatArray) -> FloatArray:
    """exp(d) - 1 - d without cancellation (Taylor series, 12 terms, for |d| < 1/4)."""
    small, series = _series(d, _EXPM1_COEFS, 0.25)
    return np.where(small, series, np.expm1(np.where(small, 0.0, d)) - d)


def x_minus_log1p(u: FloatArray) -> FloatArray:
    """u - log(1 + u) for u > -1 without cancellation (Taylor series, 29 terms, for |u| < 1/4)."""
    small, series = _series(u, _LOG1P_COEFS, 0.25)
    return np.where(small, series, u - np.log1p(np.where(small, 0.0, u)))


# ------------------------------------------------------------------ expectations over a Beta
# Gauss-Hermite rules in the logit for concentrated Betas: (smallest shape, nodes). Measured
# against 50-digit values of the BG/NBD conditional expectation (mpmath): relative error below
# 1e-13 for shapes from 50 to 1e12.
_HERMITE_RULES = ((1e5, 8), (1e3, 12), (50.0, 20))
_TANH_SINH_STEP = 1.0 / 32.0
_TANH_SINH_END = 3.2  # weights beyond |t| = 3.2 are below 1e-16


@cache
def _hermite(n: int) -> tuple[FloatArray, FloatArray]:
    xi, om = roots_hermite(n)
    return xi, np.log(om) + xi * xi


@cache
def _tanh_sinh() -> tuple[FloatArray, FloatArray, FloatArray]:
    """Tanh-sinh rule on (0, 1): nodes as fractions of the interval, the complementary fractions
    (exact near 1) and weights."""
    t = np.arange(-_TANH_SINH_END, _TANH_SINH_END + _TANH_SINH_STEP / 2, _TANH_SINH_STEP)
    s = np.pi * np.sinh(t)
    frac, cfrac = expit(s), expit(-s)
    w = np.pi * np.cosh(t) * frac * cfrac
    return frac, cfrac, w / w.sum()


def _hermite_nodes(a: FloatArray, b: FloatArray, n: int
                   ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Gauss-Hermite in y = logit(p) around the mode, importance-weighted by the exact density.

    In y the Beta(a, b) density is exp(a y - (a + b) log(1 + e^y)), log-concave with mode
    y* = log(a/b) and curvature ab/(a+b); its log ratio to the mode at y* + d is
    (a + b) [phi2(mu (e^d - 1)) - mu phi1(d)], mu = a/(a+b), phi1(d) = e^d - 1 - d,
    phi2(u) = u - log(1 + u), evaluated without cancellation (with mu <= 1/2: the density of
    1 - p is used when a > b). Weights are self-normalised, so B(a, b) is never needed.
    """
    swap = a > b
    lo, hi = np.where(swap, b, a)[:, None], np.where(swap, a, b)[:, None]
    xi, log_om = _hermite(n)
    sigma = np.sqrt(1.0 / lo + 1.0 / hi)
    d = np.sqrt(2.0) * sigma * xi[None, :]
    mu = lo / (lo + hi)
    log_ratio = (lo + hi) * (x_minus_log1p(mu * np.expm1(d)) - mu * expm1_minus_x(d))
    log_w = log_om[None, :] + log_ratio
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    y = np.log(lo) - np.log(hi) + d
    small, large = expit(y), expit(-y)  # the variable with the smaller shape, and 1 minus it
    sw = swap[:, None]
    return np.where(sw, large, small), np.where(sw, small, large), w


def _quantile_nodes(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Tanh-sinh rule in the probability scale: E f(p) = int_0^1 f(F^-1(u)) du.

    Split where p = 1/2, u0 = I_{1/2}(a, b) and v0 = 1 - u0: the lower part holds p, the upper
    part 1 - p, each found with `betaincinv` from its mass below in the half of the part next to
    its outer end and with `betainccinv` from its mass above in the half next to the split. So p
    and 1 - p are exact near 0, the upper tail of a
    distribution with all its mass below 1/2 (e.g. Beta(0.3, 1e12)) is not rounded to u = 1, the
    near-jump of F^-1 of a U-shaped Beta (both shapes tiny) falls on the split, where tanh-sinh
    clusters nodes, and the double-exponential clustering at the ends absorbs the endpoint
    singularities of F^-1 for any shapes.
    """
    frac, cfrac, w = _tanh_sinh()
    a2, b2 = a[:, None], b[:, None]
    u0, v0 = betainc(a2, b2, 0.5), betaincc(a2, b2, 0.5)
    total = u0 + v0
    u0, v0 = u0 / total, v0 / total
    near = frac[None, :] <= 0.5  # nearer to the outer end (p = 0 or p = 1) than to the split

    def part(mass: FloatArray, rest: FloatArray, shape1: FloatArray, shape2: FloatArray
             ) -> FloatArray:
        below = mass * frac[None, :]
        x: FloatArray = np.where(near, betaincinv(shape1, shape2, np.where(near, below, 0.5)),
                     betainccinv(shape1, shape2, np.where(near, 0.5, rest + mass * cfrac[None, :])))
        # betaincinv returns NaN for some tiny masses with a tiny shape; there the quantile is
        # small and I_x(a, b) ~ x^a / (a B(a, b)) gives it.
        lost = ~np.isfinite(x)
        if lost.any():
            log_x = (np.log(np.maximum(below, np.finfo(float).tiny)) + np.log(shape1)
                     + betaln(shape1, shape2)) / shape1
            x = np.where(lost, np.exp(np.minimum(log_x, 0.0)), x)
        return np.clip(x, 0.0, 0.5)

    p_low = part(u0, v0, a2, b2)
    q_high = part(v0, u0, b2, a2)
    p = np.concatenate([p_low, 1.0 - q_high], axis=1)
    q = np.concatenate([1.0 - p_low, q_high], axis=1)
    weights = np.concatenate([u0 * w[None, :], v0 * w[None, :]], axis=1)
    return p, q, weights


def beta_nodes(a: ArrayLike, b: ArrayLike) -> list[tuple[NDArray[np.intp], FloatArray,
                                                          FloatArray, FloatArray]]:
    """Quadrature rules for E f(p), p ~ Beta(a[i], b[i]): sum_j w[i, j] f(p[i, j]).

    Concentrated Betas (both shapes >= 50) get Gauss-Hermite in the logit (8 to 20 nodes), the
    others a tanh-sinh rule in the probability scale (410 nodes). The rules are exact for
    constants (weights sum to 1) and positive, so a bounded integrand gives a value within its
    bounds.

    Returns
    -------
    One (indices into a and b, p, 1 - p, weights) per group of pairs sharing a rule; p, 1 - p and
    the weights have one row per index. p and 1 - p are both at least the smallest normal float,
    so their logs are finite.
    """
    a = np.atleast_1d(np.asarray(a, dtype=float))
    b = np.atleast_1d(np.asarray(b, dtype=float))
    shape = np.minimum(a, b)
    groups = []
    todo = np.ones(a.shape, dtype=bool)
    for least, n in _HERMITE_RULES:
        idx = np.flatnonzero(todo & (shape >= least))
        todo[idx] = False
        if idx.size:
            groups.append((idx, *_hermite_nodes(a[idx], b[idx], n)))
    idx = np.flatnonzero(todo)
    if idx.size:
        groups.append((idx, *_quantile_nodes(a[idx], b[idx])))
    tiny = np.finfo(float).tiny
    return [(idx, np.maximum(p, tiny), np.maximum(q, tiny), w) for idx, p, q, w in groups]


def beta_expectation(integrand: Integrand, a: ArrayLike, b: ArrayLike, *,
                     index: NDArray[np.intp] | None = None) -> FloatArray:
    """E[f_i(p)] with p ~ Beta(a[i], b[i]), for each element i (a, b broadcast together).

    Parameters
    ----------
    integrand
        Called as integrand(p, q, rows) with nodes p and q = 1 - p of shape (m, n) and the
        elements `rows` (m,) they belong to; returns f_rows(p) of shape (m, n). It should be
        bounded on [0, 1]: the result then stays within the same bounds.
    a, b
        Beta shapes (> 0); the rules are built once per distinct (a, b) pair.
    index
        When given, a and b are the distinct shapes (1-d) and element i has a[index[i]],
        b[index[i]]: callers that know their few distinct shapes (one per frequency x) save the
        search for them among many elements.

    Returns
    -------
    The expectations, shaped as a and b broadcast together (as `index` when given).

    Example
    -------
    >>> e2 = beta_expectation(lambda p, q, rows: p * p, 2.0, 3.0)  # a(a+1)/((a+b)(a+b+1)) = 0.2
    >>> round(float(e2), 12)
    0.2
    """
    if index is None:
        a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
        shape = a.shape
        flat_a, flat_b = a.ravel(), b.ravel()
        if flat_a.size and np.all(flat_a == flat_a[0]):  # the usual case: one a, b per frequency
            pair_b, index = np.unique(flat_b, return_inverse=True)
            pair_a = np.full(pair_b.shape, flat_a[0])
        else:
            pairs, index = np.unique(np.stack([flat_a, flat_b]), axis=1, return_inverse=True)
            pair_a, pair_b = pairs
    else:
        shape = index.shape
        pair_a, pair_b = np.broadcast_arrays(np.atleast_1d(np.asarray(a, dtype=float)),
                                             np.atleast_1d(np.asarray(b, dtype=float)))
    index = np.asarray(index).ravel()
    out = np.empty(index.size)
    position = np.empty(pair_a.size, dtype=np.intp)
    for idx, p, q, w in beta_nodes(pair_a, pair_b):
        position.fill(-1)
        position[idx] = np.arange(idx.size)
        which = position[index]  # row of the rule of each element, -1 for other rules
        rows = np.flatnonzero(which >= 0)
        which = which[rows]
        block = max(1, _BLOCK_VALUES // p.shape[1])
        for lo in range(0, rows.size, block):
            r, k = rows[lo:lo + block], which[lo:lo + block]
            out[r] = np.einsum("ij,ij->i", w[k], integrand(p[k], q[k], r))
    return out.reshape(shape)


# ------------------------------------------------------------------ integrals with a boundary layer
_GRADED_ORDER = 10


@cache
def _legendre() -> tuple[FloatArray, FloatArray]:
    x, w = roots_legendre(_GRADED_ORDER)
    return (x + 1.0) / 2.0, w / 2.0


def graded_nodes(length: FloatArray, layer: FloatArray, *, pieces: int = 32
                 ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Composite Gauss-Legendre rule on [0, length] graded towards 0, for integrands that vary on
    the scale `layer` near 0 and more slowly further out (log-convex decreasing ones).

    The pieces are [0, d1], [d1, rho d1], ..., [rho^(K-2) d1, length], K = `pieces` of 10 nodes,
    rho = max(2, (8 length / layer)^(1/(K-1))): the first piece is at most an eighth of the layer
    and each further one twice (rho times) the previous, so every scale between the layer and the
    length gets its own nodes. With rho = 2 an exponential layer or a power-law decay is
    integrated to ~1e-15; 32 pieces keep rho = 2 up to length/layer = 2.7e8 and still give 3e-9
    at length/layer = 1e20.

    Returns
    -------
    (d, e, w), each of shape (m, 10 K): nodes as distances from 0, their distances from `length`
    (computed without cancellation), and weights (summing to `length`).
    """
    length = np.asarray(length, dtype=float).reshape(-1, 1)
    layer = np.asarray(layer, dtype=float).reshape(-1, 1)
    k = pieces
    ratio = np.maximum(2.0, (8.0 * length / np.minimum(layer, length)) ** (1.0 / (k - 1)))
    powers = np.arange(-(k - 1), 1, dtype=float)[None, :]  # breakpoints length * rho^j
    ends = np.concatenate([np.zeros_like(length), length * ratio ** powers], axis=1)
    # distance of each breakpoint from `length`: length (1 - rho^j), exact near j = 0
    back = np.concatenate([length, -length * np.expm1(powers * np.log(ratio))], axis=1)
    x, w = _legendre()
    width = np.diff(ends, axis=1)
    d = (ends[:, :-1, None] + width[:, :, None] * x[None, None, :]).reshape(length.shape[0], -1)
    e = (back[:, :-1, None] - width[:, :, None] * x[None, None, :]).reshape(length.shape[0], -1)
    weights = (width[:, :, None] * w[None, None, :]).reshape(length.shape[0], -1)
    return d, e, weights
