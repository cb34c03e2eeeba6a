"""Weighted statistics and discount rates shared by the models and the analyses.

Each summary row of a model's input may stand for several customers (`weight`): the mean, the
correlation and the median here count every customer as many times as her weight. The discount
rate rule and its conversion to a period are written once here, for every command that discounts
(`clv`, `subscription`) and every model that sums discounted expectations.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from fidelcli.errors import ConfigError

FloatArray = NDArray[np.float64]

ANNUAL_RATE_HINT = "give a yearly rate as a fraction, e.g. --discount-rate 0.1 for 10 %"


def weighted_mean(values: FloatArray, weights: FloatArray) -> float:
    """Weighted mean, 0.0 when the weights sum to zero.

    Example
    -------
    >>> weighted_mean(np.array([1.0, 4.0]), np.array([2.0, 1.0]))
    2.0
    """
    total = float(weights.sum())
    return float((values * weights).sum() / total) if total > 0 else 0.0


def weighted_corr(x: FloatArray, y: FloatArray, w: FloatArray) -> float | None:
    """Weighted Pearson correlation; None when either variable is constant."""
    wsum = w.sum()
    mx, my = (w @ x) / wsum, (w @ y) / wsum
    vx, vy = w @ (x - mx) ** 2, w @ (y - my) ** 2
    if vx <= 0 or vy <= 0:
        return None
    return float((w @ ((x - mx) * (y - my))) / math.sqrt(vx * vy))


def weighted_median(values: pl.Series, weights: pl.Series) -> float | None:
    """Median of `values` where each stands for `weights` customers (nulls left out): the value at
    half the customers, the mean of the two middle values when half falls between them (the plain
    median with weights of 1)."""
    df = pl.DataFrame({"v": values, "w": weights}).filter(pl.col("v").is_not_null(), pl.col("w") > 0).sort("v")
    if df.height == 0:
        return None
    v, cum = df["v"].to_numpy(), df["w"].cum_sum().to_numpy()
    half = cum[-1] / 2
    i = int(np.searchsorted(cum, half - 1e-9 * cum[-1]))
    if abs(cum[i] - half) <= 1e-9 * cum[-1] and i + 1 < v.size:
        return float((v[i] + v[i + 1]) / 2)
    return float(v[i])


def is_real_number(value: object) -> bool:
    """True for an int or float (NumPy's included), False for a bool, a string or None."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_discount_rate(rate: float, *, annual: bool = True) -> float:
    """The one rule for a discount rate: a finite number >= 0; an annual rate also < 1.

    - >= 0: a negative rate values future money above present money, and the lifetime sums of the
      subscription model (sum over every future period of S(t) / (1 + d)^t) diverge with it; 0 is
      "no discounting".
    - annual < 1: a rate of 1 or more (100 % a year) is almost surely a percentage typed as a
      number (10 for 10 %). A rate per period (`annual=False`, what the models take) has no upper
      bound: a long period may have a large rate.

    Returns the rate as a float.

    Raises
    ------
    ConfigError
        The rate breaks the rule.
    """
    ok = is_real_number(rate) and math.isfinite(rate) and rate >= 0
    if annual and not (ok and rate < 1):
        raise ConfigError(f"discount rate must be an annual rate >= 0 and < 1, found {rate!r}", hint=ANNUAL_RATE_HINT)
    if not ok:
        raise ConfigError(f"discount rate per period must be a number >= 0, found {rate!r}",
                          hint="give the rate of one period, e.g. 0.008 a month for 10 % a year")
    return float(rate)


def compound_rate(annual_rate: float, years: float) -> float:
    """Discount rate of a period lasting `years` equivalent to an annual rate, by compounding:
    (1 + annual) ** years - 1 (10 % a year is 0.797 % a month). The annual rate is checked by
    `check_discount_rate`.

    Example
    -------
    >>> round(compound_rate(0.1, 1 / 12), 8)
    0.00797414
    """
    return float((1.0 + check_discount_rate(annual_rate)) ** years - 1.0)


# --------------------------------------------------------------------------------------------
# Experiments: intervals and tests on two groups, power, multiple testing, sample-ratio mismatch
# (docs/roi.md gives each formula with its reference).
# --------------------------------------------------------------------------------------------
def z_quantile(confidence: float) -> float:
    """The two-sided normal quantile of a confidence level (1.959964 for 0.95)."""
    from scipy.special import ndtri  # norm.ppf without importing scipy.stats (seconds on a cold start)

    return float(ndtri(0.5 + confidence / 2))


def wilson_interval(successes: float, n: float, *, confidence: float = 0.95) -> tuple[float, float] | tuple[None, None]:
    """Wilson score interval of a proportion (Wilson 1927; Agresti & Coull 1998): (None, None) for n = 0.

    Example
    -------
    >>> [round(v, 4) for v in wilson_interval(81, 263)]  # Newcombe (1998), Table I: 81/263
    [0.2553, 0.3662]
    """
    if n <= 0:
        return None, None
    z = z_quantile(confidence)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(centre - half, 0.0), min(centre + half, 1.0)


def newcombe_interval(x1: float, n1: float, x2: float, n2: float, *, confidence: float = 0.95) -> tuple[float, float] | tuple[None, None]:
    """Interval of the difference of two independent proportions p1 - p2 by Newcombe's hybrid score
    method (Newcombe 1998, method 10): Wilson limits of each proportion, combined by the square-and-add rule."""
    if n1 <= 0 or n2 <= 0:
        return None, None
    p1, p2 = x1 / n1, x2 / n2
    (l1, u1), (l2, u2) = wilson_interval(x1, n1, confidence=confidence), wilson_interval(x2, n2, confidence=confidence)
    assert l1 is not None and u1 is not None and l2 is not None and u2 is not None
    d = p1 - p2
    return d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def ratio_interval(x1: float, n1: float, x2: float, n2: float, *, confidence: float = 0.95) -> tuple[float, float] | tuple[None, None]:
    """Interval of the risk ratio p1 / p2 on the log scale (Katz et al. 1978): exp(log RR +- z
    sqrt(1/x1 - 1/n1 + 1/x2 - 1/n2)); (None, None) when a group has no success."""
    if min(x1, x2, n1, n2) <= 0:
        return None, None
    z = z_quantile(confidence)
    rr = (x1 / n1) / (x2 / n2)
    se = math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
    return rr * math.exp(-z * se), rr * math.exp(z * se)


def two_proportion_test(x1: float, n1: float, x2: float, n2: float) -> tuple[float, float] | tuple[None, None]:
    """Two-sided two-proportion z test with the pooled variance (Agresti 2013, 3.1.4): (z, p-value);
    z squared is Pearson's chi-square of the 2 x 2 table without continuity correction. (None, None)
    when the pooled proportion is 0 or 1."""
    from scipy.stats import norm

    if n1 <= 0 or n2 <= 0:
        return None, None
    pooled = (x1 + x2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var <= 0:
        return None, None
    z = (x1 / n1 - x2 / n2) / math.sqrt(var)
    return z, float(2 * norm.sf(abs(z)))


def chi_square_test(table: FloatArray) -> tuple[float, float, int]:
    """Pearson's chi-square test of independence of an r x c table of counts, without continuity
    correction: (statistic, p-value, degrees of freedom)."""
    from scipy.stats import chi2

    table = np.asarray(table, dtype=float)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    stat = float(((table - expected) ** 2 / np.where(expected > 0, expected, 1.0)).sum())
    dof = (table.shape[0] - 1) * (table.shape[1] - 1)
    return stat, float(chi2.sf(stat, dof)), dof


@dataclass(frozen=True)
class WelchTest:
    """Welch's unequal-variance t test of mean1 - mean2 (Welch 1947), from each group's n, mean and variance."""

    difference: float
    std_error: float
    df: float
    t: float | None
    p_value: float | None
    low: float | None
    high: float | None


def welch_test(n1: float, mean1: float, var1: float, n2: float, mean2: float, var2: float, *, confidence: float = 0.95) -> WelchTest:
    """Welch's t test and interval of mean1 - mean2 from summary statistics (sample variances, ddof=1);
    degrees of freedom by Welch-Satterthwaite. t, p and the interval are None when both variances are 0."""
    from scipy.stats import t as student

    diff = mean1 - mean2
    a, b = var1 / n1, var2 / n2
    se = math.sqrt(a + b)
    if se <= 0:
        return WelchTest(diff, 0.0, float(n1 + n2 - 2), None, None, None, None)
    df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    q = float(student.ppf(0.5 + confidence / 2, df))
    t = diff / se
    return WelchTest(diff, se, df, t, float(2 * student.sf(abs(t), df)), diff - q * se, diff + q * se)


def bootstrap_mean_difference(
    values1: FloatArray, counts1: FloatArray, values2: FloatArray, counts2: FloatArray, *, n_boot: int = 2000, seed: int = 0,
    confidence: float = 0.95,
) -> tuple[FloatArray, FloatArray]:
    """Seeded nonparametric bootstrap of two means (Efron & Tibshirani 1993), each group given as its
    distinct values and their counts: resampling n values with replacement draws the counts of the
    distinct values from a multinomial, so the cost grows with distinct values, not rows (a revenue
    column of mostly zeros has few). Returns the `n_boot` resampled means of each group; the
    percentile interval of their difference is `np.quantile(m1 - m2, [a/2, 1 - a/2])`."""
    rng = np.random.default_rng(seed)
    out = []
    for values, counts in ((values1, counts1), (values2, counts2)):
        n = int(counts.sum())
        means = np.empty(n_boot)
        chunk = max(1, min(n_boot, 4_000_000 // max(values.size, 1)))  # bounded memory: chunk x distinct values
        for start in range(0, n_boot, chunk):
            draws = rng.multinomial(n, counts / n, size=min(chunk, n_boot - start))
            means[start:start + draws.shape[0]] = draws @ values / n
        out.append(means)
    return out[0], out[1]


def power_proportions(p1: float, p2: float, n1: float, n2: float, *, alpha: float = 0.05) -> float:
    """Power of the two-sided two-proportion z test at alpha to detect p1 vs p2 with n1 and n2, on
    Cohen's arcsine effect size h = 2 asin(sqrt p1) - 2 asin(sqrt p2) (Cohen 1988, ch. 6): what
    statsmodels' NormalIndPower gives with proportion_effectsize."""
    h = 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))
    return _normal_power(h, n1, n2, alpha)


def _normal_power(effect: float, n1: float, n2: float, alpha: float) -> float:
    from scipy.stats import norm

    shift = abs(effect) * math.sqrt(n1 * n2 / (n1 + n2))
    crit = float(norm.isf(alpha / 2))
    return float(norm.sf(crit - shift) + norm.cdf(-crit - shift))


def power_means(difference: float, sd: float, n1: float, n2: float, *, alpha: float = 0.05) -> float:
    """Power of the two-sided two-sample t test at alpha for a difference of means with common
    standard deviation `sd`: noncentral t with n1 + n2 - 2 degrees of freedom (Cohen 1988, ch. 2;
    statsmodels' TTestIndPower with d = difference / sd)."""
    from scipy.stats import nct
    from scipy.stats import t as student

    df = n1 + n2 - 2
    nc = abs(difference) / sd * math.sqrt(n1 * n2 / (n1 + n2))
    crit = float(student.isf(alpha / 2, df))
    return float(nct.sf(crit, df, nc) + nct.cdf(-crit, df, nc))


def sample_size(power_at: Callable[[float], float], *, power: float = 0.8) -> float | None:
    """The smallest n1 (not rounded) at which `power_at(n1)` reaches `power`, by bracketing and Brent's
    method; None when even 10^12 is not enough (no effect to detect)."""
    from scipy.optimize import brentq

    lo, hi = 2.0, 4.0
    while power_at(hi) < power:
        lo, hi = hi, hi * 4
        if hi > 1e12:
            return None
    return float(brentq(lambda n: power_at(n) - power, lo, hi, xtol=1e-6))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (Holm 1979): the k-th smallest of m is multiplied by
    m - k + 1, made non-decreasing, capped at 1; None stays None (and does not count in m)."""
    known = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(known)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for k, (p, i) in enumerate(known):
        running = max(running, min(1.0, (m - k) * p))
        out[i] = running
    return out


def sample_ratio_test(observed: Sequence[float], expected_shares: Sequence[float]) -> tuple[float, float]:
    """Sample-ratio-mismatch check (Kohavi, Tang & Xu 2020, ch. 21): Pearson's chi-square goodness of
    fit of the recipients per variant to the designed split: (statistic, p-value)."""
    from scipy.stats import chi2

    obs = np.asarray(observed, dtype=float)
    shares = np.asarray(expected_shares, dtype=float)
    expected = obs.sum() * shares / shares.sum()
    stat = float(((obs - expected) ** 2 / expected).sum())
    return stat, float(chi2.sf(stat, obs.size - 1))


# --------------------------------------------------------------------------------------------
# Logistic regression with standard errors, and its adjusted risk difference (docs/journey.md).
# --------------------------------------------------------------------------------------------
def _expit(eta: FloatArray) -> FloatArray:
    from scipy.special import expit

    out: FloatArray = expit(eta)  # 1 / (1 + exp(-eta)) without overflow
    return out


@dataclass(frozen=True)
class LogisticFit:
    """A maximum-likelihood logistic regression: `coef` (one per column of the design, intercept
    included by the caller), `cov` (their covariance: the inverse Fisher information)."""

    coef: FloatArray
    cov: FloatArray
    iterations: int

    def std_errors(self) -> FloatArray:
        return np.sqrt(np.diag(self.cov))


def logistic_regression(x: FloatArray, y: FloatArray, *, max_iter: int = 100, tol: float = 1e-10) -> LogisticFit | None:
    """Logistic regression of a 0/1 outcome `y` on the design `x` (n x k, the intercept a column of
    ones) by Newton-Raphson, i.e. iteratively reweighted least squares (McCullagh & Nelder 1989,
    section 4.4), with Wald standard errors from the inverse information (X' W X)^-1 at the optimum.

    Returns None when there is no finite maximum: the information matrix is singular (a constant or
    collinear column) or a coefficient keeps growing (complete or quasi-complete separation, e.g.
    every customer of one group has the same outcome), or Newton does not converge.

    Example
    -------
    >>> x = np.c_[np.ones(4), [0.0, 0.0, 1.0, 1.0]]
    >>> fit = logistic_regression(x, np.array([0.0, 1.0, 1.0, 1.0]))
    >>> fit is None  # group 1 always has the outcome: separation
    True
    """
    beta = np.zeros(x.shape[1])
    for iteration in range(1, max_iter + 1):
        eta = x @ beta
        p = _expit(eta)
        w = p * (1.0 - p)
        info = x.T @ (x * w[:, None])
        try:
            step = np.linalg.solve(info, x.T @ (y - p))
        except np.linalg.LinAlgError:
            return None
        beta = beta + step
        if not np.all(np.isfinite(beta)) or np.max(np.abs(beta)) > 50:
            return None  # separation: the likelihood has no finite maximum
        if np.max(np.abs(step)) < tol * (1.0 + np.max(np.abs(beta))):
            p = _expit(x @ beta)
            info = x.T @ (x * (p * (1.0 - p))[:, None])
            if np.linalg.cond(info) > 1e12:
                return None
            cov = np.asarray(np.linalg.inv(info), dtype=np.float64)
            return LogisticFit(coef=beta, cov=cov, iterations=iteration)
    return None


def logistic_risk_difference(fit: LogisticFit, x: FloatArray, column: int) -> tuple[float, float]:
    """The adjusted risk difference of a 0/1 column of the design, by standardisation (g-computation,
    the average marginal effect of a binary regressor; Greenland 1987, Austin 2010): the mean over
    every row of P(y | column = 1, its other values) - P(y | column = 0, its other values), and its
    delta-method standard error. Returns (difference, standard error)."""
    x1, x0 = x.copy(), x.copy()
    x1[:, column], x0[:, column] = 1.0, 0.0
    p1 = _expit(x1 @ fit.coef)
    p0 = _expit(x0 @ fit.coef)
    grad = ((p1 * (1 - p1))[:, None] * x1 - (p0 * (1 - p0))[:, None] * x0).mean(axis=0)
    return float((p1 - p0).mean()), float(math.sqrt(max(grad @ fit.cov @ grad, 0.0)))


def standardized_mean_difference(x1: FloatArray, x2: FloatArray, w1: FloatArray, w2: FloatArray) -> float | None:
    """Standardised mean difference of a covariate between two weighted groups (Austin 2009, eq. 1):
    (mean1 - mean2) / sqrt((var1 + var2) / 2), weighted means and variances. The balance statistic
    of matching and weighting: |SMD| < 0.1 is the usual threshold. None when a group has no weight;
    0.0 when both variances are 0 and the means agree.

    Example
    -------
    >>> round(standardized_mean_difference(np.array([1.0, 3.0]), np.array([1.0, 1.0]), np.ones(2), np.ones(2)), 6)
    1.414214
    """
    s1, s2 = float(w1.sum()), float(w2.sum())
    if s1 <= 0 or s2 <= 0:
        return None
    m1, m2 = float(w1 @ x1) / s1, float(w2 @ x2) / s2
    v1, v2 = float(w1 @ (x1 - m1) ** 2) / s1, float(w2 @ (x2 - m2) ** 2) / s2
    pooled = math.sqrt((v1 + v2) / 2)
    if pooled == 0:
        return 0.0 if m1 == m2 else None
    return (m1 - m2) / pooled
