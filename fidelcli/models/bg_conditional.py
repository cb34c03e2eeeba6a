"""E[Y(t) | alive]: the purchases expected from a BG/NBD or MBG/NBD customer who is alive, the
factor of P(alive) in Fader, Hardie & Lee (2005) eq. 10 and its MBG/NBD analogue (Batislam,
Denizel & Filiztekin 2007), evaluated stably for any parameters.

The papers' closed form (a hypergeometric function) serves the usual parameters; a series serves
short horizons and quadrature over the posterior of the drop-out probability p serves the rest:
concentrated posteriors (a, b -> infinity when nobody seems to drop out) and the elements where
the closed form overflows, cancels or leaves its bounds.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import hyp2f1

from fidelcli.models.numerics import FloatArray, beta_expectation

_CONCENTRATED = 50.0  # min(a, b') from which bg_conditional integrates by Gauss-Hermite


def bg_conditional(params: FloatArray, t: FloatArray, x: FloatArray, T: FloatArray, *,
                   modified: bool, curve: bool = False) -> FloatArray:
    """E[Y(t) | alive at T, x, T]: the factor of P(alive) in FHL 2005 eq. 10 (broadcasts).

    Given alive, lambda ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b') with b' = b+x (BG/NBD) or
    b+x+1 (MBG/NBD), and E[Y(t) | lambda, p] = (1 - exp(-lambda p t))/p, so

        E = E_p[(1 - (1 + p s)^-(r+x)) / p],  s = t/(alpha+T),

    whose integrand lies in [0, (r+x) s]. Closed form (FHL 2005 eq. 10, after Euler's
    transformation 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A,C-B;C;z), which does not overflow for
    large x): C/(a-1) [1 - (1-z)^(a-1) 2F1(C-r-x, a-1; C; z)], C = a+b'-1, z = s/(1+s).
    Evaluated per element as, in order:

    - s (r+x+12) <= 0.05: the series sum_k (-1)^k (r+x)_(k+1) s^(k+1) E[p^k] / (k+1)! with the
      Beta moments E[p^k] = (a)_k/(a+b')_k, 14 terms (the closed form cancels there);
    - min(a, b') >= 50 (e.g. a, b -> infinity when nobody seems to drop out): Gauss-Hermite
      quadrature over the concentrated posterior of p (`beta_expectation`), 8 to 20 nodes;
    - otherwise the closed form, kept where 2F1 is finite, the result lies in [0, (r+x) s] and
      the bracket 1 - (1-z)^(a-1) 2F1 is at least 1e-6 in magnitude (its cancellation then costs
      at most ~1e-10 of relative accuracy); within 2e-3 of a = 1 (a removable 0/0) it is the
      cubic through a = 1 +- 1e-3, 1 +- 2e-3;
    - the remaining elements by tanh-sinh quadrature over p (`beta_expectation`).

    With `curve`, t runs along the last axis and every row that needs the quadrature gets it at
    every t, so the cumulative curve is computed by one method and stays monotone.
    """
    r, alpha, a, b = (float(v) for v in params)
    t, x, T = (np.asarray(v, dtype=float) for v in (t, x, T))
    shape = np.broadcast_shapes(t.shape, x.shape, T.shape)
    if not shape:  # scalars: the in-place arithmetic below needs arrays
        return bg_conditional(params, t.reshape(1), x.reshape(1), T.reshape(1),
                              modified=modified).reshape(())
    n = r + x
    bp = b + x + (1.0 if modified else 0.0)
    s = t / (alpha + T)
    limit = 0.05 / (n + 12.0)  # the series serves s <= limit
    quad_rows = np.minimum(a, bp) >= _CONCENTRATED
    if quad_rows.any():  # extreme shapes: every element by its own method, one at a time
        distinct_bp, index = np.unique(bp, return_inverse=True)
        flat = (np.broadcast_to(v, shape).ravel() for v in (bp, n, s))
        return _bg_conditional_by_element(
            a, *flat, shape=shape, curve=curve, distinct_bp=distinct_bp,
            index=np.broadcast_to(index.reshape(bp.shape), shape).ravel()).reshape(shape)
    # Fast path: the closed form on the broadcast shapes, then the few elements it cannot serve.
    value, ok = _bg_closed_near_one(a, bp, n, s)  # both of the full shape
    some_series = float(np.min(s, initial=np.inf)) <= float(np.max(limit, initial=-np.inf))
    if not some_series and ok.all():
        return value
    series = np.broadcast_to(s <= limit, shape)
    fix = series | ~ok
    out = value
    bp_f, n_f, s_f = (np.broadcast_to(v, shape) for v in (bp, n, s))
    if series.any():
        out[series] = _bg_series(a, bp_f[series], n_f[series], s_f[series])
    quad = fix & ~series
    if curve and quad.any() and len(shape) > 1:
        quad = np.broadcast_to(quad.any(axis=-1, keepdims=True), shape) & ~series
    if quad.any():
        out[quad] = _bg_quadrature(a, bp_f[quad], n_f[quad], s_f[quad])
    return out


def _bg_conditional_by_element(a: float, bp: FloatArray, n: FloatArray, s: FloatArray, *,
                               shape: tuple[int, ...], curve: bool, distinct_bp: FloatArray,
                               index: NDArray[np.intp]) -> FloatArray:
    """`bg_conditional` on flat arrays (of the elements of `shape`) when some posteriors of p are
    concentrated (min(a, b') >= 50): those by Gauss-Hermite, the others as in the fast path.
    b' = distinct_bp[index]."""
    out = np.empty(n.size)
    series = s * (n + 12.0) <= 0.05
    quad = ~series & (np.minimum(a, bp) >= _CONCENTRATED)
    rest = ~series & ~quad
    if series.any():
        out[series] = _bg_series(a, bp[series], n[series], s[series])
    if rest.any():
        values, ok = _bg_closed_near_one(a, bp[rest], n[rest], s[rest])
        out[rest] = values
        quad[np.flatnonzero(rest)[~ok]] = True
    if curve and quad.any() and len(shape) > 1:
        rows = quad.reshape(shape).any(axis=-1, keepdims=True)
        quad = np.broadcast_to(rows, shape).ravel() & ~series
    if quad.any():
        out[quad] = _bg_quadrature(a, distinct_bp, n[quad], s[quad], index=index[quad])
    return out


def bg_conditional_closed(params: FloatArray, t: FloatArray, x: FloatArray, T: FloatArray, *,
                          modified: bool) -> tuple[FloatArray, NDArray[np.bool_]]:
    """The closed form of `bg_conditional` alone (FHL 2005 eq. 10 / Batislam et al. 2007), with
    where it can be trusted (see `bg_conditional`); untrusted values may be anything."""
    r, alpha, a, b = (float(v) for v in params)
    t, x, T = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=float)) for v in (t, x, T)))
    bp = b + x + (1.0 if modified else 0.0)
    return _bg_closed_near_one(a, bp, r + x, t / (alpha + T))


def bg_conditional_quadrature(params: FloatArray, t: FloatArray, x: FloatArray, T: FloatArray, *,
                              modified: bool) -> FloatArray:
    """`bg_conditional` by quadrature over the posterior of p alone, E_p[(1 - (1+p s)^-(r+x))/p]
    with p ~ Beta(a, b') (see `bg_conditional`), for any t, x, T (broadcasts)."""
    r, alpha, a, b = (float(v) for v in params)
    t, x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, x, T)))
    bp = b + x.ravel() + (1.0 if modified else 0.0)
    s = (t / (alpha + T)).ravel()
    return _bg_quadrature(a, bp, r + x.ravel(), s).reshape(t.shape)


def _bg_series(a: float, bp: FloatArray, n: FloatArray, s: FloatArray) -> FloatArray:
    """Series of `bg_conditional` for small s: term_k = term_(k-1) (-(n+k) s/(k+1))
    (a+k-1)/(a+b'+k-1), term_0 = n s; the ratio is at most 0.05 in magnitude, so 14 terms leave
    less than 1e-18."""
    term = n * s
    total = term.copy()
    for k in range(1, 14):
        term = term * (-(n + k) * s / (k + 1)) * ((a + k - 1) / (a + bp + k - 1))
        total += term
    return total


def _bg_closed(a: float, bp: FloatArray, n: FloatArray, s: FloatArray
               ) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Closed form of `bg_conditional` at a != 1 (broadcasts), and where it can be trusted:
    2F1 finite, result in [0, n s] (up to rounding) and the bracket at least 1e-6 in magnitude,
    so that the cancellation in 1 - (1-z)^(a-1) 2F1 costs at most ~1e-10 of relative accuracy.
    With value = C/(a-1) bracket >= 0 the last test is value >= 1e-6 |C/(a-1)|."""
    c = a + bp - 1.0
    one_plus_s = 1.0 + s
    z = np.divide(s, one_plus_s)
    power = np.power(one_plus_s, 1.0 - a, out=one_plus_s)  # (1-z)^(a-1), in [0, 1 + s]
    value = hyp2f1(c - n, a - 1.0, c, z)
    if (a - 1.0) * np.log1p(float(np.max(s, initial=0.0))) > 700.0:
        # (1-z)^(a-1) may underflow to 0: keep an infinite 2F1 out of 0 * inf
        value = np.where(np.abs(value) < 1e250, value, np.nan)
        power = np.where(power > 0.0, power, np.nan)
    factor = c / (a - 1.0)
    value *= power
    np.subtract(1.0, value, out=value)
    value *= factor  # C/(a-1) bracket; NaN and inf fail the tests below
    ok = value >= 1e-6 * np.abs(factor)
    # value <= n s, computed in the buffer of z when it has the full shape
    ceiling = s * (n * (1.0 + 1e-9)) if z.shape != value.shape else np.multiply(
        s, n * (1.0 + 1e-9), out=z)
    ok &= value <= ceiling
    return value, ok


def _bg_closed_near_one(a: float, bp: FloatArray, n: FloatArray, s: FloatArray
                        ) -> tuple[FloatArray, NDArray[np.bool_]]:
    """`_bg_closed`, with the removable singularity at a = 1 bridged by the cubic through
    a = 1 +- h, 1 +- 2h (h = 1e-3): interpolation error ~h^4, cancellation error ~eps/h."""
    h = 1e-3
    if abs(a - 1.0) >= 2.0 * h:
        return _bg_closed(a, bp, n, s)
    nodes = 1.0 + h * np.array([-2.0, -1.0, 1.0, 2.0])
    value: FloatArray | float = 0.0
    ok: NDArray[np.bool_] | bool = True
    for i, ai in enumerate(nodes):
        others = np.delete(nodes, i)
        weight = float(np.prod((a - others) / (ai - others)))
        v, good = _bg_closed(float(ai), bp, n, s)
        value = value + weight * v
        ok = ok & good
    value = np.asarray(value)
    ok = np.asarray(ok) & (value >= 0.0) & (value <= s * (n * (1.0 + 1e-9)))
    return value, ok


def _bg_quadrature(a: float, bp: FloatArray, n: FloatArray, s: FloatArray, *,
                   index: NDArray[np.intp] | None = None) -> FloatArray:
    """`bg_conditional` as E_p[(1 - (1 + p s)^-n)/p] over p ~ Beta(a, b') by quadrature
    (b' of element i is bp[index[i]] when index is given, else bp[i])."""

    def purchases(p: FloatArray, q: FloatArray, rows: NDArray[np.intp]) -> FloatArray:
        nr, sr = n[rows, None], s[rows, None]
        u = p * sr
        tiny = u < 1e-200  # (1 - (1+u)^-n)/p -> n s
        return np.where(tiny, nr * sr, -np.expm1(-nr * np.log1p(u)) / np.where(tiny, 1.0, p))

    return beta_expectation(purchases, a, bp, index=index)
