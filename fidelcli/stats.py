"""Weighted statistics and discount rates shared by the models and the analyses.

Each summary row of a model's input may stand for several customers (`weight`): the mean, the
correlation and the median here count every customer as many times as her weight. The discount
rate rule and its conversion to a period are written once here, for every command that discounts
(`clv`, `subscription`) and every model that sums discounted expectations.
"""

from __future__ import annotations

import math
import numbers

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
