"""CLV predictions of a fitted model: expected and discounted purchases over a horizon, bootstrap
intervals, and the check that no prediction is NaN or infinite."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from fidelcli.analyses.clv.fit import Fit, spend_known
from fidelcli.analyses.clv.summary import Summary, arrays
from fidelcli.analyses.timeunits import Horizon, rate_per_period
from fidelcli.engine.periods import TimeUnit
from fidelcli.errors import ConfigError, FitError
from fidelcli.stats import FloatArray, compound_rate

if TYPE_CHECKING:
    from fidelcli.models.base import PurchasePredictor


@dataclass(frozen=True)
class ClvOptions:
    """Prediction options: horizon (with its unit), annual discount rate, margin rate (or None to use
    the per-customer `margin_rate` column of the summary), lifetime for historical CLV (years; None
    estimates it from the data), bootstrap level and seed."""

    horizon: Horizon = Horizon(12, "month")
    discount_rate: float = 0.1
    margin: float | None = 1.0
    lifetime_years: float | None = None
    ci: float | None = None
    n_bootstrap: int = 100
    seed: int = 0


def discrete_horizon(horizon: Horizon, time_unit: TimeUnit) -> tuple[int, str | None]:
    """Whole BG/BB periods in the horizon, and a warning when a partial period is dropped.

    BG/BB predicts whole transaction opportunities: the horizon is floored to whole periods (18m on
    yearly periods is 1 year, with a warning).

    Raises
    ------
    ConfigError
        The horizon is shorter than one period (6m on yearly periods).
    """
    length = horizon.length(time_unit)
    periods = math.floor(length + 1e-9)
    if periods < 1:
        raise ConfigError(f"horizon {horizon} is shorter than one {time_unit}, the period of the BG/BB model",
                          hint=f"give a horizon of at least one {time_unit}, e.g. --horizon 1{time_unit[0]}")
    if abs(length - periods) > 1e-9:
        return periods, (f"horizon {horizon} is {length:.3g} {time_unit}s: BG/BB predicts whole periods, "
                         f"the horizon used is {periods} {time_unit}{'s' if periods > 1 else ''}")
    return periods, None


def discount_steps(horizon: Horizon, time_unit: TimeUnit, annual_rate: float, discrete: bool) -> tuple[int, float, float]:
    """(number of steps, step length in the model's unit, discount rate per step).

    Continuous models step through the horizon in (about) monthly steps whatever unit the horizon
    is written in: n = max(1, round(horizon in months)) equal steps spanning the horizon exactly,
    each discounted at (1 + annual rate) ** (step in years) - 1, so 1y, 12m, 52w and 365d give the
    same discounted CLV up to their small length differences. BG/BB steps one period at a time.
    """
    if discrete:
        return discrete_horizon(horizon, time_unit)[0], 1.0, rate_per_period(annual_rate, time_unit)
    steps = max(1, round(horizon.length("month")))
    return steps, horizon.length(time_unit) / steps, compound_rate(annual_rate, horizon.years() / steps)


def purchase_predictions(
    model: PurchasePredictor, frame: pl.DataFrame, *, age: str, horizon: Horizon, time_unit: TimeUnit, annual_rate: float,
    discrete: bool = False, p_alive: bool = True,
) -> pl.DataFrame:
    """Purchase predictions per row of `frame`, computed once per distinct (frequency, recency, age).

    Returns
    -------
    p_alive (unless `p_alive=False`), expected_purchases (in (T, T + horizon]), discounted_purchases
    (expected purchases over the horizon, each step discounted), one row per row of `frame`.
    """
    keys = ["frequency", "recency", age]
    # Distinct rows and, for each, the rows holding it (lighter than joining the predictions back).
    uniq = frame.select(keys).with_row_index("_row").group_by(keys).agg("_row")
    x, t_x, T = arrays(uniq, *keys)
    length = discrete_horizon(horizon, time_unit)[0] if discrete else horizon.length(time_unit)
    steps, _, rate = discount_steps(horizon, time_unit, annual_rate, discrete)
    preds: dict[str, FloatArray] = {}
    # The BG/NBD family computes the three together, sharing their terms; the other models one by
    # one, with step = length / steps (1.0 for BG/BB, whose `length` is `steps` whole periods).
    alive, expected, discounted = model.horizon_predictions(x, t_x, T, length=length, steps=steps,
                                                            discount_rate_per_period=rate, p_alive=p_alive)
    if alive is not None:
        preds["p_alive"] = alive
    preds["expected_purchases"], preds["discounted_purchases"] = expected, discounted
    # Spread each distinct row's prediction to the rows holding it.
    rows = uniq.get_column("_row")
    where, repeat = rows.explode().to_numpy(), rows.list.len().to_numpy()
    out = {}
    for name, values in preds.items():
        full = np.empty(frame.height)
        full[where] = np.repeat(np.asarray(values, dtype=float), repeat)
        out[name] = full
    return pl.DataFrame(out)


class NonFiniteError(FitError):
    """Predictions that are NaN or infinite: the fit behind them is degenerate and is not used.
    `problem` says which, without the model's name."""

    def __init__(self, message: str, *, problem: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.problem = problem


def check_finite(frame: pl.DataFrame, *, model: str, file: str | None = None) -> None:
    """Raise `NonFiniteError` when a float column of `frame` holds NaN or an infinite value (a
    missing value is null, never NaN: no output of fidelcli holds NaN or inf)."""
    floats = [c for c, t in frame.schema.items() if t.is_float()]
    if not floats:
        return
    bad = frame.select(pl.col(c).is_nan().or_(pl.col(c).is_infinite()).sum().alias(c) for c in floats).row(0, named=True)
    found = [f"{c} ({n:,} rows)" for c, n in bad.items() if n]
    if found:
        problem = f"predictions are not finite numbers: {', '.join(found)}"
        raise NonFiniteError(f"{model}: {problem}", problem=problem, file=file,
                             hint="the fit is degenerate; try --penalizer 0.01, a longer history, or a historical CLV (--lifetime)")


def bootstrap_intervals(summary: Summary, fit: Fit, options: ClvOptions) -> pl.DataFrame:
    """Seeded nonparametric bootstrap: customers are resampled with replacement (multinomial
    weights on the distinct summary rows), both models are refitted from the original estimates'
    settings and the predictions recomputed; the interval is the central `ci` share of the draws.
    Draws whose refit fails or whose predictions are not finite are skipped.

    Returns
    -------
    customer_id, expected_purchases_lower, expected_purchases_upper, clv_lower, clv_upper (in the
    summary's row order).
    """
    ci = options.ci
    if ci is None or not 0 < ci < 1:
        raise ConfigError(f"--ci must be a level between 0 and 1, found {ci}", hint="e.g. --ci 0.9")
    if options.n_bootstrap < 2:
        raise ConfigError("the bootstrap needs at least 2 draws", hint="e.g. --bootstrap 100")
    from fidelcli.models import GammaGamma

    frame = summary.frame.with_columns(_known=spend_known(summary.frame))
    age = summary.age
    keys = ["frequency", "recency", age, "monetary_value", "_known"]
    base = frame.select(*keys, "weight").with_columns(pl.col("monetary_value").fill_null(0.0))
    grouped = base.group_by(keys, maintain_order=True).agg(pl.col("weight").sum())
    rng = np.random.default_rng(options.seed)
    w = grouped["weight"].to_numpy()
    total = int(round(w.sum()))
    p = w / w.sum()
    x, t_x, T, m = arrays(grouped, *keys[:4])
    known = grouped["_known"].to_numpy()
    ep_draws, clv_draws = [], []
    margin = options.margin if options.margin is not None else frame["margin_rate"].to_numpy()
    cust = frame.with_columns(pl.col("monetary_value").fill_null(0.0).clip(0.0))
    cust_x, cust_m = arrays(cust, "frequency", "monetary_value")
    cust_known = cust["_known"].to_numpy()
    for _ in range(options.n_bootstrap):
        bw = rng.multinomial(total, p).astype(float)
        try:
            pm = type(fit.purchase)(penalizer=fit.purchase.penalizer).fit(x, t_x, T, weights=bw)
        except FitError:
            continue
        preds = purchase_predictions(pm, summary.frame, age=age, horizon=options.horizon, time_unit=summary.time_unit,
                                     annual_rate=options.discount_rate, discrete=summary.discrete, p_alive=False)
        expected, discounted = preds["expected_purchases"].to_numpy(), preds["discounted_purchases"].to_numpy()
        if not (np.all(np.isfinite(expected)) and np.all(np.isfinite(discounted))):
            continue
        ep_draws.append(expected)
        if fit.spend is not None:
            keep = (x > 0) & (m > 0) & known & (bw > 0)
            try:
                sm = GammaGamma(penalizer=fit.spend.penalizer).fit(x[keep], m[keep], weights=bw[keep])
            except FitError:
                continue
            with np.errstate(invalid="ignore"):
                value = np.where(cust_known, margin * sm.expected_spend(cust_x, cust_m) * discounted, 0.0)
            if np.all(np.isfinite(value)):
                clv_draws.append(value)
    if len(ep_draws) < 2:
        raise FitError("the bootstrap refits failed", file=summary.file, hint="drop --ci or use a larger sample")
    lo, hi = (1 - ci) / 2, 1 - (1 - ci) / 2
    eps = np.vstack(ep_draws)
    cols: dict[str, Any] = {
        "customer_id": frame["customer_id"],
        "expected_purchases_lower": np.quantile(eps, lo, axis=0),
        "expected_purchases_upper": np.quantile(eps, hi, axis=0),
    }
    if len(clv_draws) >= 2:
        clvs = np.vstack(clv_draws)
        cols["clv_lower"] = np.quantile(clvs, lo, axis=0)
        cols["clv_upper"] = np.quantile(clvs, hi, axis=0)
    else:
        cols["clv_lower"] = pl.Series([None] * frame.height, dtype=pl.Float64)
        cols["clv_upper"] = pl.Series([None] * frame.height, dtype=pl.Float64)
    return pl.DataFrame(cols)
