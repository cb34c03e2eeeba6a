"""Customer lifetime value: recency/frequency summaries, model fits and per-customer predictions.

The summary follows Fader, Hardie & Lee (2005): per customer, x = repeat purchase occasions (the
first is not counted), t_x = time from the first to the last purchase, T = time from the first
purchase to the end of calibration, all from whole days as fractional values of the time unit.
The spend model's monetary value is the mean value of the repeat occasions (the first excluded),
as in Fader & Hardie's gamma-gamma note.

Predictions combine a purchase model (BG/NBD, Pareto/NBD, MBG/NBD or BG/BB) with the Gamma-Gamma
spend model: P(alive), expected purchases over a horizon, expected order value and the discounted
CLV = margin x expected order value x discounted expected purchases. They are computed once per
distinct (x, t_x, T) row and joined back to the customers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from fidelcli.analyses.timeunits import DAYS_PER_YEAR, Horizon, TimeUnit, days_per, parse_horizon, rate_per_period
from fidelcli.clean import Transactions
from fidelcli.errors import ConfigError, FitError, InputError, ModelFileError
from fidelcli.io.jsonfile import read_json, schema_problem
from fidelcli.summary import DEFAULT_ENGINE, Engine, cents, period_index

if TYPE_CHECKING:
    from fidelcli.models import GammaGamma
    from fidelcli.models._fit import FittedModel

ModelName = Literal["auto", "bgnbd", "pnbd", "mbgnbd", "bgbb"]
CONTINUOUS = ("bgnbd", "pnbd", "mbgnbd")
TIERS = ((0.01, "top 1%"), (0.05, "top 5%"), (0.20, "top 20%"))
HIGH_POTENTIAL_RATIO = 2.0


# The models (SciPy, ~0.4 s to import) are imported when first needed, so the CLI can import them in
# the background while Polars builds the summary.
def _purchase_models() -> dict[str, type[FittedModel]]:
    """The purchase model classes by name (imported on first use)."""
    from fidelcli.models import BGBB, BGNBD, MBGNBD, ParetoNBD

    return {"bgnbd": BGNBD, "pnbd": ParetoNBD, "mbgnbd": MBGNBD, "bgbb": BGBB}


def __getattr__(name: str) -> Any:
    """`PURCHASE_MODELS` (name -> model class) and the model classes, imported on first access."""
    if name == "PURCHASE_MODELS":
        return _purchase_models()
    if name in ("BGBB", "BGNBD", "MBGNBD", "GammaGamma", "ParetoNBD"):
        import fidelcli.models

        return getattr(fidelcli.models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------------------------
# Summary statistics
# --------------------------------------------------------------------------------------------
@dataclass
class Summary:
    """Per-customer recency/frequency summary and the dates it was computed with.

    `frame` columns: customer_id, frequency (x), recency (t_x), T, monetary_value, weight; from
    transactions also first_purchase, last_purchase (calibration), revenue (calibration spend of
    purchase occasions) and, with a holdout, holdout_frequency and holdout_value. BG/BB summaries
    have `periods` instead of `T`. `occasions_by_day` (from transactions, with a calibration end):
    date, occasions — the calibration cohort's purchase occasions per day before `as_of`, for the
    holdout tracking.
    """

    frame: pl.DataFrame
    time_unit: str
    calibration_end: dt.date | None = None
    as_of: dt.date | None = None
    holdout_length: float | None = None
    discrete: bool = False
    has_monetary: bool = True
    occasions_by_day: pl.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)
    weighted: bool = False  # a summary table with a weight column: each row stands for `weight` customers
    file: str | None = None  # the input it was computed from, named in the errors of the analysis

    @property
    def age(self) -> str:
        """The column holding the customers' observation length: T, or periods for BG/BB."""
        return "periods" if self.discrete else "T"

    @property
    def has_holdout(self) -> bool:
        return "holdout_frequency" in self.frame.columns


def _customer_plan(occasions: pl.LazyFrame, calibration_end: dt.date | None) -> pl.LazyFrame:
    """Per customer of the calibration cohort, from purchase occasions: first_purchase, last_purchase,
    n (calibration occasions), total_cents, first_cents (value of the first occasion) and, with a
    calibration end, holdout_frequency and holdout_cents (occasions after it)."""
    schema = occasions.collect_schema()
    value = pl.col("value") if "value" in schema else pl.lit(0.0)
    # Without order ids the occasion is the date itself (ids are text, never dates).
    order = ["date", "occasion"] if schema.get("occasion") not in (None, pl.Date) else ["date"]
    lf = occasions.select("customer_id", *order, value_cents=cents(value.fill_null(0.0)))
    date, v = pl.col("date"), pl.col("value_cents")
    # First occasion: earliest date, ties broken by occasion id, so row order cannot matter.
    first_cents = v.sort_by(order).first()
    if calibration_end is None:
        return lf.group_by("customer_id").agg(
            first_purchase=date.min(), last_purchase=date.max(), n=pl.len().cast(pl.Int64),
            total_cents=v.sum(), first_cents=first_cents,
        )
    cal = date <= pl.lit(calibration_end)
    return lf.group_by("customer_id").agg(
        first_purchase=date.filter(cal).min(), last_purchase=date.filter(cal).max(), n=cal.sum().cast(pl.Int64),
        total_cents=v.filter(cal).sum(), first_cents=first_cents,
        holdout_frequency=(~cal).sum().cast(pl.Float64), holdout_cents=v.filter(~cal).sum(),
    ).filter(pl.col("n") > 0)


def _summary_queries(occasions: pl.LazyFrame, calibration_end: dt.date | None) -> list[pl.LazyFrame]:
    """The reductions behind a summary, collected together so that they share one pass: the
    per-customer plan and (with a holdout) the cohort's occasions per day."""
    customers = _customer_plan(occasions, calibration_end)
    queries = [customers.sort("customer_id")]
    if calibration_end is not None:
        queries.append(occasions.join(customers.select("customer_id"), on="customer_id", how="semi")
                       .group_by("date").agg(occasions=pl.len().cast(pl.Int64)).sort("date"))
    return queries


def _summary_from_reductions(frames: list[pl.DataFrame], occasions: pl.LazyFrame, *, as_of: dt.date,
                             calibration_end: dt.date | None, time_unit: TimeUnit, file: str | None = None) -> Summary:
    """The `Summary` from the `_summary_queries` results (`occasions` is read again only to name the
    first purchase in the error when no customer is left)."""
    unit = days_per(time_unit)
    last_day = as_of - dt.timedelta(days=1)
    cal_end = calibration_end or last_day
    if cal_end > last_day:
        raise InputError(f"calibration end {cal_end} is not before the analysis date {as_of}",
                         hint="choose a calibration end inside the data, or a later --as-of")
    agg = frames[0]
    if agg.height == 0:
        first = occasions.select(pl.col("date").min()).collect(engine="streaming").item()
        where = f"before the first purchase ({first})" if first is not None else "but there is no purchase"
        raise InputError(f"calibration end {cal_end} is {where}: no customer to model", file=file,
                         hint="choose a --calibration-end inside the data")
    n = pl.col("n")
    frame = agg.select(
        "customer_id",
        frequency=(n - 1).cast(pl.Float64),
        recency=(pl.col("last_purchase") - pl.col("first_purchase")).dt.total_days() / unit,
        T=(pl.lit(cal_end) - pl.col("first_purchase")).dt.total_days() / unit,
        monetary_value=pl.when(n > 1).then((pl.col("total_cents") - pl.col("first_cents")) / (n - 1) / 100).otherwise(0.0),
        weight=pl.lit(1.0),
        first_purchase="first_purchase",
        last_purchase="last_purchase",
        revenue=pl.col("total_cents") / 100,
        **({"holdout_frequency": "holdout_frequency", "holdout_value": pl.col("holdout_cents") / 100}
           if calibration_end is not None else {}),
    )
    holdout_length = None
    if cal_end < last_day:
        holdout_length = ((as_of - cal_end).days - 1) / unit
    else:
        frame = frame.drop("holdout_frequency", "holdout_value", strict=False)
    return Summary(frame=frame, time_unit=time_unit, calibration_end=calibration_end, as_of=as_of,
                   holdout_length=holdout_length, occasions_by_day=frames[1] if len(frames) > 1 else None, file=file)


def summary_from_occasions(
    occasions: pl.DataFrame | pl.LazyFrame,
    *,
    as_of: dt.date,
    calibration_end: dt.date | None = None,
    time_unit: TimeUnit = "week",
) -> Summary:
    """Recency/frequency/monetary summary of each customer from purchase occasions.

    Customers first seen after the calibration end are not part of the calibration cohort and are
    left out. Purchases on the calibration end day are included in the calibration; purchases after
    it and before `as_of` (exclusive) are the holdout.

    Parameters
    ----------
    occasions
        One row per purchase occasion: customer_id, occasion, date, value
        (`DEFAULT_ENGINE.occasions(tx)`).
    as_of
        Analysis date, exclusive.
    calibration_end
        Last day of the calibration period (inclusive); default the day before `as_of` (no holdout).
    time_unit
        day, week (7 days) or month (365.25/12 days).

    Returns
    -------
    A `Summary` whose frame has customer_id, frequency, recency, T, monetary_value, weight,
    first_purchase, last_purchase, revenue and, when calibration_end is before the day before
    as_of, holdout_frequency and holdout_value. Sorted by customer_id.

    Raises
    ------
    InputError
        The calibration end is on or after `as_of`, or before every purchase.
    """
    occ = occasions.lazy().filter(pl.col("date") < pl.lit(as_of))
    frames = pl.collect_all(_summary_queries(occ, calibration_end), engine="streaming")
    return _summary_from_reductions(frames, occ, as_of=as_of, calibration_end=calibration_end, time_unit=time_unit)


def discrete_summary_from_occasions(
    occasions: pl.DataFrame,
    *,
    as_of: dt.date,
    calibration_end: dt.date | None = None,
    time_unit: TimeUnit = "year",
    file: str | None = None,
) -> Summary:
    """BG/BB summary: purchases counted as transaction opportunities, one per calendar period.

    The period of a customer's first purchase is her period 0; the opportunities are the following
    complete periods up to the calibration end (a period counts once it has ended). Per customer:
    periods = n opportunities, frequency = x of them with at least one purchase, recency = t_x the
    last of them (0 when x = 0), as in Fader, Hardie & Shang (2010). The calibration is the complete
    periods up to the calibration end: revenue and monetary value count their occasions only, and a
    calibration end inside a period is moved back to the end of the last complete period (with a
    warning; `Summary.calibration_end` is that day). The holdout counts the complete periods after
    the calibration with a purchase. Customers first seen after the calibration are left out.

    Returns
    -------
    A discrete `Summary` (frame: customer_id, frequency, recency, periods, monetary_value, weight,
    first_purchase, last_purchase (of the calibration), revenue [, holdout_frequency, holdout_value]).

    `file` (the transactions' name) is named by the errors and kept in the summary.

    Raises
    ------
    InputError
        The calibration end is outside the data or leaves no complete period.
    """
    last_day = as_of - dt.timedelta(days=1)
    cal_end = calibration_end or last_day
    if cal_end > last_day:
        raise InputError(f"calibration end {cal_end} is not before the analysis date {as_of}",
                         hint="choose a calibration end inside the data, or a later --as-of")

    def complete_through(day: dt.date) -> int:
        # the last period that has ended by `day` (inclusive)
        here, nxt = (pl.select(period_index(pl.lit(d), time_unit)).item() for d in (day, day + dt.timedelta(days=1)))
        return int(here if nxt != here else here - 1)

    cal_last = complete_through(cal_end)
    # The calibration is made of the complete periods up to the calibration end; the holdout starts
    # with the period after the last of them, so an occasion is never in both.
    effective_end = _period_first_day(cal_last + 1, time_unit) - dt.timedelta(days=1)
    warnings: list[str] = []
    if calibration_end is not None and effective_end != calibration_end:
        warnings.append(f"calibration end {calibration_end} is inside a {time_unit}: the calibration is the complete "
                        f"{time_unit}s up to {effective_end} and the holdout starts on {effective_end + dt.timedelta(days=1)}")
    occ = occasions.lazy().select("customer_id", "date", value_cents=cents(pl.col("value").fill_null(0.0)),
                                  k=period_index(pl.col("date"), time_unit))
    occ = occ.with_columns(k0=pl.col("k").min().over("customer_id")).filter(pl.col("k0") <= cal_last)
    idx = pl.col("k") - pl.col("k0")
    in_cal = (pl.col("k") > pl.col("k0")) & (pl.col("k") <= cal_last)
    cal_occ = pl.col("k") <= cal_last
    agg = {
        "first_purchase": pl.col("date").min(),
        "last_purchase": pl.col("date").filter(cal_occ).max(),
        "k0": pl.col("k0").first(),
        "frequency": pl.col("k").filter(in_cal).n_unique().cast(pl.Float64),
        "recency": idx.filter(in_cal).max().fill_null(0).cast(pl.Float64),
        "n_cal": cal_occ.sum(),  # occasions in the calibration periods, first included
        "total_cents": pl.col("value_cents").filter(cal_occ).sum(),
        "first_cents": pl.col("value_cents").first(),
    }
    holdout_n = None
    if cal_end < last_day:
        hold_last = complete_through(last_day)
        holdout_n = max(hold_last - cal_last, 0)
        in_hold = (pl.col("k") > cal_last) & (pl.col("k") <= cal_last + holdout_n)
        agg["holdout_frequency"] = pl.col("k").filter(in_hold).n_unique().cast(pl.Float64)
        agg["holdout_cents"] = pl.col("value_cents").filter(in_hold).sum()
    frame = occ.group_by("customer_id").agg(**agg).with_columns(periods=(pl.lit(cal_last) - pl.col("k0")).cast(pl.Float64))
    n = pl.col("n_cal") - 1
    cols = [
        "customer_id", "frequency", "recency", "periods",
        pl.when(n > 0).then((pl.col("total_cents") - pl.col("first_cents")) / n / 100).otherwise(0.0).alias("monetary_value"),
        pl.lit(1.0).alias("weight"), "first_purchase", "last_purchase", (pl.col("total_cents") / 100).alias("revenue"),
    ]
    if holdout_n is not None:
        cols += ["holdout_frequency", (pl.col("holdout_cents") / 100).alias("holdout_value")]
    out = frame.select(cols).sort("customer_id").collect()
    if out.height == 0:
        raise InputError(f"calibration end {cal_end} leaves no complete {time_unit} after a first purchase: no customer to model",
                         file=file, hint="choose a later --calibration-end, or a shorter --time-unit")
    return Summary(frame=out, time_unit=time_unit, calibration_end=effective_end if calibration_end is not None else None,
                   as_of=as_of, holdout_length=None if holdout_n is None else float(holdout_n), discrete=True,
                   warnings=warnings, file=file)


def _period_first_day(k: int, unit: str) -> dt.date:
    """First day of the calendar period numbered `k` by `period_index` (its inverse)."""
    if unit == "year":
        return dt.date(k, 1, 1)
    if unit == "month":
        return dt.date((k - 1) // 12, (k - 1) % 12 + 1, 1)
    epoch = dt.date(1970, 1, 1)
    return epoch + dt.timedelta(days=7 * k - 3 if unit == "week" else k)


def summary_from_transactions(
    tx: Transactions,
    *,
    calibration_end: dt.date | None = None,
    time_unit: TimeUnit = "week",
    discrete: bool = False,
    engine: Engine = DEFAULT_ENGINE,
) -> Summary:
    """`summary_from_occasions` (or, with `discrete`, the BG/BB `discrete_summary_from_occasions`)
    on cleaned transactions. The continuous summary is reduced in one streaming pass over the
    transactions (shared with their profile), without materialising the occasions.

    Example
    -------
    >>> s = summary_from_transactions(tx, calibration_end=dt.date(1997, 9, 30), time_unit="week")
    """
    if discrete:
        summary = discrete_summary_from_occasions(engine.occasions(tx), as_of=tx.as_of, calibration_end=calibration_end,
                                                  time_unit=time_unit, file=tx.file)
    else:
        occ = engine.occasions_plan(tx)
        frames = tx.collect(*_summary_queries(occ, calibration_end))
        summary = _summary_from_reductions(frames, occ, as_of=tx.as_of, calibration_end=calibration_end,
                                           time_unit=time_unit, file=tx.file)
    summary.has_monetary = tx.has_amount
    return summary


SUMMARY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer_id": ("customer_id", "customer", "id", "cust", "customerid"),
    "frequency": ("frequency", "x"),
    "recency": ("recency", "t_x", "t.x"),
    "T": ("t", "t.cal", "t_cal", "age"),
    "periods": ("periods", "n", "n.cal", "n_cal"),
    "monetary_value": ("monetary_value", "monetary", "m", "m.x", "m_x"),
    "weight": ("weight", "weights", "custs", "count", "customers"),
}


def read_summary(raw: pl.DataFrame, *, time_unit: TimeUnit = "week", discrete: bool = False, file: str | None = None) -> Summary:
    """A per-customer summary table given by the analyst (`--summary FILE`).

    Columns (case-insensitive, literature names accepted): frequency (x), recency (t_x), T (or
    periods for the discrete BG/BB), optional customer_id, monetary_value and weight (customers
    the row stands for). Values are in `time_unit`.

    Raises
    ------
    InputError
        A required column is missing, or a value is missing, negative or not a number.
    """
    lower = {c.lower().strip(): c for c in raw.columns}
    found: dict[str, str] = {}
    for canon, names in SUMMARY_SYNONYMS.items():
        for n in names:
            if n in lower:
                found[canon] = lower[n]
                break
    needed = ["frequency", "recency", "periods" if discrete else "T"]
    missing = [c for c in needed if c not in found]
    if missing:
        raise InputError(f"summary table misses column(s) {', '.join(missing)}; found {', '.join(raw.columns)}", file=file,
                         hint="name the columns frequency, recency, " + ("periods" if discrete else "T") + " (and optionally monetary_value, weight)")
    age = "periods" if discrete else "T"
    numeric = ["frequency", "recency", age] + [c for c in ("monetary_value", "weight") if c in found]
    exprs = [pl.col(found[c]).cast(pl.Float64, strict=False).alias(c) for c in numeric]
    cid = pl.col(found["customer_id"]).cast(pl.String) if "customer_id" in found else (pl.int_range(pl.len()) + 1).cast(pl.String)
    frame = raw.select(cid.alias("customer_id"), *exprs)
    for c in numeric:
        bad = frame.with_row_index("row", offset=1).filter(pl.col(c).is_null() | ~pl.col(c).is_finite() | (pl.col(c) < 0))
        if bad.height:
            row = bad.row(0, named=True)
            raise InputError(f"{c} must be a number >= 0, found {raw[found[c]][row['row'] - 1]!r}", file=file, column=found[c], row=row["row"])
    if "weight" not in frame.columns:
        frame = frame.with_columns(weight=pl.lit(1.0))
    has_monetary = "monetary_value" in frame.columns
    if not has_monetary:
        frame = frame.with_columns(monetary_value=pl.lit(None, dtype=pl.Float64))
    cols = ["customer_id", "frequency", "recency", age, "monetary_value", "weight"]
    return Summary(frame=frame.select(cols), time_unit=time_unit, discrete=discrete, has_monetary=has_monetary,
                   weighted="weight" in found, file=file)


# --------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------
@dataclass
class Fit:
    """The chosen purchase model, the spend model (None without monetary values) and the comparison."""

    purchase: FittedModel
    spend: GammaGamma | None
    comparison: pl.DataFrame
    spend_frequency_correlation: float | None = None
    warnings: list[str] = field(default_factory=list)


def _arrays(frame: pl.DataFrame, *cols: str) -> list[np.ndarray]:
    return [np.asarray(frame[c].to_numpy(), dtype=float) for c in cols]  # no copy for Float64 columns


def fit_purchase_model(summary: Summary, name: str, *, penalizer: float = 0.0) -> FittedModel:
    """Fit one purchase model on the summary (BG/BB on a discrete summary only).

    Raises
    ------
    ConfigError
        BG/BB asked on a continuous summary, or a continuous model on a discrete one.
    FitError
        The model cannot be fitted (see the message for what was tried).
    """
    models = _purchase_models()
    if name not in models:
        raise ConfigError(f"unknown model {name!r}", hint="use auto, bgnbd, pnbd, mbgnbd or bgbb")
    if (name == "bgbb") != summary.discrete:
        hint = ("give a discrete summary (--summary with frequency, recency, periods) for bgbb" if name == "bgbb"
                else "use --model bgbb with a discrete summary (periods)")
        raise ConfigError(f"model {name} does not apply to a {'discrete' if summary.discrete else 'continuous-time'} summary", hint=hint)
    x, t_x, age, w = _arrays(summary.frame, "frequency", "recency", summary.age, "weight")
    model = models[name](penalizer=penalizer)
    return model.fit(x, t_x, age, weights=w)


def fit_spend_model(summary: Summary, *, penalizer: float = 0.0) -> tuple[GammaGamma | None, float | None, list[str]]:
    """Gamma-Gamma on the repeat customers with a positive mean spend, and the independence check.

    Returns
    -------
    (model or None without monetary values, Pearson correlation between frequency and monetary
    value among repeat customers, warnings).
    """
    from fidelcli.models import GammaGamma

    if not summary.has_monetary:
        return None, None, []
    rep = summary.frame.filter(pl.col("frequency") > 0)
    warnings = []
    zero = rep.filter(pl.col("monetary_value") <= 0)
    if zero.height:
        warnings.append(f"{zero.height:,} repeat customers with a zero mean spend are left out of the spend model")
    rep = rep.filter(pl.col("monetary_value") > 0)
    if rep.height < 3:
        raise FitError(f"gamma_gamma: only {rep.height} customer(s) with repeat purchases and a positive spend",
                       hint="the spend model needs several repeat customers; use a longer calibration period")
    x, m, w = _arrays(rep, "frequency", "monetary_value", "weight")
    corr = _weighted_corr(x, m, w)
    if corr is not None and abs(corr) > 0.3:
        warnings.append(f"frequency and mean spend are correlated (r = {corr:.2f}): the Gamma-Gamma "
                        "independence assumption is doubtful, read expected values with care")
    return GammaGamma(penalizer=penalizer).fit(x, m, weights=w), corr, warnings


def _weighted_corr(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float | None:
    wsum = w.sum()
    mx, my = (w @ x) / wsum, (w @ y) / wsum
    vx, vy = w @ (x - mx) ** 2, w @ (y - my) ** 2
    if vx <= 0 or vy <= 0:
        return None
    return float((w @ ((x - mx) * (y - my))) / math.sqrt(vx * vy))


def n_params(model: FittedModel) -> int:
    return len(model.param_names)


def comparison_row(model: FittedModel, n: float) -> dict[str, Any]:
    """Log-likelihood, AIC = 2k - 2LL and BIC = k ln(n) - 2LL of a fitted model."""
    k = n_params(model)
    ll = float(model.log_likelihood_)
    return {
        "model": model.name,
        "log_likelihood": ll,
        "parameters": k,
        "aic": 2 * k - 2 * ll,
        "bic": k * math.log(n) - 2 * ll,
        "converged": bool(model.converged_),
    }


def fit_models(
    summary: Summary,
    *,
    model: ModelName = "auto",
    penalizer: float = 0.0,
    holdout_error: Any = None,
) -> Fit:
    """Fit the purchase model(s) and the spend model.

    `model="auto"` fits every applicable model (BG/NBD, Pareto/NBD and MBG/NBD on a continuous
    summary; BG/BB on a discrete one), ranks them by BIC on the calibration data and keeps the
    best. With a holdout, the `holdout_error(model)` callable gives each model's holdout RMSE, shown
    in the comparison as information (it does not choose the model). A model that cannot be fitted
    is listed with its error and skipped, unless none can be fitted. A spend model that cannot be
    fitted (fewer than 3 repeat customers with a positive spend) leaves `spend` None, with a warning.

    Returns
    -------
    A `Fit`; its comparison frame has model, log_likelihood, parameters, aic, bic, converged,
    holdout_rmse (with a holdout), error, best.

    Raises
    ------
    FitError
        No model could be fitted (naming the summary's input file).
    """
    names = ([*CONTINUOUS] if not summary.discrete else ["bgbb"]) if model == "auto" else [model]
    n = float(summary.frame["weight"].sum())
    fitted: list[FittedModel] = []
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    failures: list[FitError] = []
    for name in names:
        try:
            m = fit_purchase_model(summary, name, penalizer=penalizer)
        except InputError as exc:  # a summary value the model refuses (row and column known)
            exc.file = exc.file or summary.file
            raise
        except FitError as exc:
            if len(names) == 1:
                exc.file = exc.file or summary.file
                raise
            failures.append(exc)
            errors.append(exc.message if exc.message.startswith(f"{name}:") else f"{name}: {exc.message}")
            rows.append({"model": name, "error": exc.message})
            continue
        row = comparison_row(m, n)
        if holdout_error is not None:
            row["holdout_rmse"] = float(holdout_error(m))
        rows.append(row)
        fitted.append(m)
    if not fitted:
        raise FitError(f"no purchase model could be fitted ({', '.join(names)}); {errors[0]}", file=summary.file,
                       hint=failures[0].hint)
    # Chosen by BIC on the calibration data; the holdout RMSE is information only (choosing by it
    # would tune the model on the holdout that is meant to assess it).
    best = min(fitted, key=lambda m: next(r["bic"] for r in rows if r["model"] == m.name))
    comparison = pl.DataFrame(rows, infer_schema_length=None)
    if "error" not in comparison.columns:
        comparison = comparison.with_columns(error=pl.lit(None, dtype=pl.String))
    comparison = comparison.with_columns(best=pl.col("model") == best.name)
    try:
        spend, corr, warnings = fit_spend_model(summary, penalizer=penalizer)
    except FitError as exc:
        # The purchase predictions stand on their own: report them, leave the monetary ones empty.
        spend, corr = None, None
        warnings = [f"{exc.message}: expected_value and clv are left empty (expected purchases and P(alive) are reported)"]
    return Fit(purchase=best, spend=spend, comparison=comparison, spend_frequency_correlation=corr,
               warnings=[*warnings, *(f"model {e} (left out of the comparison)" for e in errors)])


# --------------------------------------------------------------------------------------------
# Predictions
# --------------------------------------------------------------------------------------------
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


def discrete_horizon(horizon: Horizon, time_unit: str) -> tuple[int, str | None]:
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


def _discount_steps(horizon: Horizon, time_unit: str, annual_rate: float, discrete: bool) -> tuple[int, float, float]:
    """(number of steps, step length in the model's unit, discount rate per step).

    Continuous models step through the horizon in (about) monthly steps whatever unit the horizon
    is written in: n = max(1, round(horizon in months)) equal steps spanning the horizon exactly,
    each discounted at (1 + annual rate) ** (step in years) - 1, so 1y, 12m, 52w and 365d give the
    same discounted CLV up to their small length differences. BG/BB steps one period at a time.
    """
    if discrete:
        return discrete_horizon(horizon, time_unit)[0], 1.0, rate_per_period(annual_rate, time_unit)
    steps = max(1, round(horizon.length("month")))
    rate_per_period(annual_rate, "month")  # validates the annual rate
    step_years = horizon.years() / steps
    return steps, horizon.length(time_unit) / steps, (1.0 + annual_rate) ** step_years - 1.0


def purchase_predictions(
    model: FittedModel, frame: pl.DataFrame, *, age: str, horizon: Horizon, time_unit: str, annual_rate: float,
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
    x, t_x, T = _arrays(uniq, *keys)
    length = discrete_horizon(horizon, time_unit)[0] if discrete else horizon.length(time_unit)
    steps, step, rate = _discount_steps(horizon, time_unit, annual_rate, discrete)
    preds: dict[str, np.ndarray] = {}
    joint = getattr(model, "horizon_predictions", None)
    if joint is not None and not discrete:
        # BG/NBD family: P(alive), expected and discounted purchases share their terms.
        alive, expected, discounted = joint(x, t_x, T, length=length, steps=steps,
                                            discount_rate_per_period=rate, p_alive=p_alive)
        if alive is not None:
            preds["p_alive"] = alive
        preds["expected_purchases"], preds["discounted_purchases"] = expected, discounted
    else:
        if p_alive:
            preds["p_alive"] = model.p_alive(x, t_x, T)  # type: ignore[attr-defined]
        preds["expected_purchases"] = model.expected_purchases(length, x, t_x, T)  # type: ignore[attr-defined]
        preds["discounted_purchases"] = model.discounted_expected_transactions(  # type: ignore[attr-defined]
            x, t_x, T, horizon=steps, discount_rate_per_period=rate, step=step)
    # Spread each distinct row's prediction to the rows holding it.
    rows = uniq.get_column("_row")
    where, repeat = rows.explode().to_numpy(), rows.list.len().to_numpy()
    out = {}
    for name, values in preds.items():
        full = np.empty(frame.height)
        full[where] = np.repeat(np.asarray(values, dtype=float), repeat)
        out[name] = full
    return pl.DataFrame(out)


def estimate_lifetime_years(customers: pl.DataFrame, *, as_of: dt.date) -> float | None:
    """Expected relationship duration in years as analysts estimate it, 1 / annual churn rate.

    From each customer's first and last purchase before `as_of` (exclusive). The churn rate is
    measured over a window of w = min(365, span // 2) days, span = days from the first purchase of
    anyone to `as_of`: the customers active in the earlier window [as_of - 2w, as_of - w) (first
    purchase before its end, last purchase on or after its start) are the base; the retained are
    those of them whose last purchase is in the last window [as_of - w, as_of). The retention is
    converted to a yearly rate by compounding (retention ** (365.25 / w)). Returns None when it
    cannot be measured (no customer in the base, or no churn at all).

    Example: as_of 2024-01-01, first purchase of anyone 2022-01-01 -> w = 365; a customer with
    purchases from 2022-03-01 to 2023-06-01 is retained; one whose last purchase is 2022-11-30 has
    churned; one first seen on 2023-02-01 is not in the base.
    """
    first = customers["first_purchase"].min()
    if first is None:
        return None
    span = (as_of - first).days  # type: ignore[operator]
    window = min(365, span // 2)
    if window < 1:
        return None
    mid, start = as_of - dt.timedelta(days=window), as_of - dt.timedelta(days=2 * window)
    base = customers.select("first_purchase", "last_purchase").filter(pl.col("first_purchase") < mid,
                                                                      pl.col("last_purchase") >= start)
    if base.height == 0:
        return None
    retention = float(base.select((pl.col("last_purchase") >= mid).mean()).item())
    annual_retention = retention ** (DAYS_PER_YEAR / window)
    churn = 1.0 - annual_retention
    return None if churn <= 0 else 1.0 / churn


def historical_clv(yearly_profit: float | pl.Expr, lifetime_years: float) -> float | pl.Expr:
    """Historical CLV = average yearly profit x expected relationship duration (years).

    Example: 200 €/year of profit for a customer expected to stay 5 years is worth 200 x 5 = 1,000 €.
    """
    return yearly_profit * lifetime_years


def value_tiers(value: pl.Expr) -> pl.Expr:
    """`top 1%`, `top 5%`, `top 20%` or `other` by the rank of `value` (largest first; ties share the
    best rank, so equal values are in the same tier and row order never matters). Null values are
    `other`. One row = one customer; see `weighted_value_tiers` for summary rows with weights."""
    return _tiers_of_rank(value.rank(method="min", descending=True), value.count())


def _tiers_of_rank(rank: pl.Expr, n: pl.Expr | int) -> pl.Expr:
    """The tier of a (min, descending) rank among `n` ranked values; a null rank is `other`."""
    expr = pl.when(rank.is_null()).then(pl.lit("other"))
    for share, name in TIERS:
        cut = max(1, math.floor(n * share)) if isinstance(n, int) else pl.max_horizontal(pl.lit(1), (n * share).floor())
        expr = expr.when(rank <= cut).then(pl.lit(name))
    return expr.otherwise(pl.lit("other"))


def weighted_value_tiers(frame: pl.DataFrame, value: str, weight: str = "weight") -> pl.Series:
    """`value_tiers` counting customers, not rows: a row standing for `weight` customers is in the top
    s % when fewer than max(1, floor(s x customers)) customers have a strictly larger value (ties
    share the best rank). With weights of 1 it is `value_tiers`.

    Returns
    -------
    A String series `value_tier`, one per row of `frame`.
    """
    if bool((frame.get_column(weight) == 1.0).all()):
        # One row per customer: `value_tiers`, with the rank computed once (not once per tier).
        ranks = frame.select(pl.col(value).rank(method="min", descending=True))
        return ranks.select(value_tier=_tiers_of_rank(pl.col(value), frame.get_column(value).count()))["value_tier"]
    known = frame.select(value, weight).filter(pl.col(value).is_not_null())
    total = float(known[weight].sum())
    ahead = (
        known.group_by(value).agg(w=pl.col(weight).sum())
        .sort(value, descending=True)
        .with_columns(_ahead=pl.col("w").cum_sum() - pl.col("w"))
        .select(value, "_ahead")
    )
    expr = pl.when(pl.col("_ahead").is_null()).then(pl.lit("other"))
    for share, name in TIERS:
        expr = expr.when(pl.col("_ahead") < max(1.0, math.floor(total * share + 1e-9))).then(pl.lit(name))
    return (frame.select(value).join(ahead, on=value, how="left", maintain_order="left", nulls_equal=False)
            .select(value_tier=expr.otherwise(pl.lit("other")))["value_tier"])


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


def pseudonym(customer_id: pl.Expr, key: str) -> pl.Expr:
    """A short keyed hash of the id (first 10 hex digits of HMAC-SHA256) for terminal summaries.

    The key must be secret for the hash not to be reversible by hashing candidate ids: the CLI takes
    it from FIDELCLI_PSEUDONYM_KEY, or draws a random one per run."""
    k = key.encode()
    return customer_id.map_elements(
        lambda v: hmac.new(k, str(v).encode(), hashlib.sha256).hexdigest()[:10], return_dtype=pl.String)


def margin_rates(tx: Transactions, *, calibration_end: dt.date | None = None) -> tuple[pl.DataFrame, list[str]]:
    """Per-customer margin rate for `--margin column`: margin (or amount - cost) over amount of the
    purchase lines, from the calibration period only (lines dated up to `calibration_end`, included)
    so the holdout never informs the prediction. A customer whose purchases sum to 0 gets the overall
    rate of all customers; rates outside [0, 1] are clipped to it, with a warning counting them.

    Returns
    -------
    (frame customer_id, margin_rate; warnings).

    Raises
    ------
    ConfigError
        The transactions have neither a margin nor a cost column.
    """
    names = tx.lf.collect_schema().names()
    if "margin" in names:
        profit = pl.col("margin")
    elif "cost" in names:
        profit = pl.col("amount") - pl.col("cost")
    else:
        raise ConfigError("--margin column needs a margin or cost column in the transactions",
                          hint="map it with --map margin=COLUMN, or give a rate: --margin 0.3")
    lines = tx.lf.filter(~pl.col("is_return"))
    if calibration_end is not None:
        lines = lines.filter(pl.col("date") <= pl.lit(calibration_end))
    per = lines.group_by("customer_id").agg(profit=profit.fill_null(0).sum(), amount=pl.col("amount").sum()).collect()
    total = per["amount"].sum()
    overall = min(max(per["profit"].sum() / total, 0.0), 1.0) if total else 0.0
    raw = per.select("customer_id", rate=pl.when(pl.col("amount") > 0).then(pl.col("profit") / pl.col("amount")).otherwise(overall))
    clipped = int(((raw["rate"] < 0) | (raw["rate"] > 1)).sum())
    warnings = [f"{clipped:,} customers have a margin rate outside [0, 1] (negative margin or margin above the amount): "
                "clipped to [0, 1]"] if clipped else []
    return raw.select("customer_id", margin_rate=pl.col("rate").clip(0.0, 1.0)).sort("customer_id"), warnings


@dataclass
class ClvResult:
    """Everything `fidelcli clv` shows: per-customer predictions, the fit and the totals.

    `totals` count customers (summary rows times their weight): customers, total_expected_purchases,
    total_clv (None without a spend model), high_potential_customers.
    """

    customers: pl.DataFrame
    fit: Fit
    summary: Summary
    options: ClvOptions
    lifetime_years: float | None
    warnings: list[str] = field(default_factory=list)
    totals: dict[str, float | None] = field(default_factory=dict)


CUSTOMER_COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary_value", "p_alive", "expected_purchases",
                    "expected_value", "clv", "value_tier"]


def predict_clv(summary: Summary, fit: Fit, options: ClvOptions = ClvOptions()) -> ClvResult:
    """Per-customer predictions over the horizon.

    - p_alive, expected_purchases: from the purchase model (purchases in (T, T + horizon]; BG/BB:
      whole periods, the horizon floored with a warning, an error below one period).
    - expected_value: Gamma-Gamma conditional expected order value (null without a spend model).
    - clv = margin x expected_value x discounted expected purchases over the horizon, discounted in
      about monthly steps (see `_discount_steps`; BG/BB: one step per period) at the equivalent of
      the annual rate.
    - historical_clv = average yearly profit x expected relationship duration: yearly profit is the
      total spend (first purchase included) x margin / years since the first purchase (at least one
      year). From transactions the total spend is the calibration revenue; from a summary table it
      is approximated as (frequency + 1) x monetary_value.
    - value_tier: top 1/5/20 % of customers (weights counted) by clv (by expected purchases without
      a spend model).
    - high_potential: the customer's past value is known (yearly profit > 0) and the predicted value
      over the horizon is at least twice what the past pace (yearly profit x horizon years) would
      give and at least the (weighted) median predicted value.
    - with `options.ci`: seeded bootstrap intervals (customers resampled, models refitted)
      expected_purchases_lower/upper and clv_lower/upper.

    Returns
    -------
    A `ClvResult`; `customers` has customer_id, frequency, recency, T (periods for BG/BB),
    monetary_value, [weight, for a weighted summary table,] p_alive, expected_purchases,
    expected_value, clv, value_tier, historical_clv, high_potential (+ interval columns), in the
    summary's row order.

    Raises
    ------
    ConfigError
        A lifetime that is not > 0, no margin, or a BG/BB horizon shorter than one period.
    """
    life = options.lifetime_years
    if life is not None and not (math.isfinite(life) and life > 0):
        raise ConfigError(f"--lifetime must be a number of years > 0, found {life!r}", hint="e.g. --lifetime 3 for three years")
    frame = summary.frame
    age = summary.age
    tu = summary.time_unit
    warnings = list(fit.warnings)
    if summary.discrete:
        _, partial = discrete_horizon(options.horizon, tu)
        if partial:
            warnings.append(partial)
    from fidelcli.models._fit import single_threaded_blas

    with single_threaded_blas():
        preds = purchase_predictions(fit.purchase, frame, age=age, horizon=options.horizon, time_unit=tu,
                                     annual_rate=options.discount_rate, discrete=summary.discrete)
    out = frame.hstack(preds.select("p_alive", "expected_purchases"))
    disc = preds["discounted_purchases"]
    margin = pl.lit(options.margin) if options.margin is not None else pl.col("margin_rate")
    if options.margin is None and "margin_rate" not in frame.columns:
        raise ConfigError("no margin rate given and no margin column in the data", hint="pass --margin 0.3 or map a margin column")
    if fit.spend is not None:
        ev = fit.spend.expected_spend(frame["frequency"].to_numpy(), frame["monetary_value"].fill_null(0.0).clip(0).to_numpy())
        out = out.with_columns(expected_value=pl.Series(np.asarray(ev, dtype=float)), _disc=disc)
        out = out.with_columns(clv=margin * pl.col("expected_value") * pl.col("_disc"))
    else:
        out = out.with_columns(expected_value=pl.lit(None, dtype=pl.Float64), clv=pl.lit(None, dtype=pl.Float64), _disc=disc)
    lifetime = life
    if lifetime is None and "last_purchase" in frame.columns and summary.as_of is not None:
        end = summary.calibration_end + dt.timedelta(days=1) if summary.calibration_end else summary.as_of
        lifetime = estimate_lifetime_years(frame, as_of=end)
    if "revenue" in out.columns and summary.as_of is not None:
        # Total spend of the calibration, first purchase included, over the years since the first purchase.
        end = (summary.calibration_end + dt.timedelta(days=1)) if summary.calibration_end else summary.as_of
        years = ((pl.lit(end) - pl.col("first_purchase")).dt.total_days() / DAYS_PER_YEAR).clip(lower_bound=1.0)
        yearly = pl.col("revenue") * margin / years
    else:
        # A summary table: total spend ~ (x + 1) purchases x mean spend, over the customer's age.
        years = (pl.col(age) * days_per(tu) / DAYS_PER_YEAR).clip(lower_bound=1.0)
        yearly = (pl.col("frequency") + 1) * pl.col("monetary_value") * margin / years
    out = out.with_columns(_yearly=yearly)
    hist = historical_clv(pl.col("_yearly"), lifetime) if lifetime is not None else pl.lit(None, dtype=pl.Float64)
    rank_by = "clv" if fit.spend is not None else "expected_purchases"
    median = weighted_median(out["clv"], out["weight"])
    out = out.with_columns(
        value_tier=weighted_value_tiers(out, rank_by),
        historical_clv=hist,
        high_potential=((pl.col("_yearly") > 0)
                        & (pl.col("clv") >= HIGH_POTENTIAL_RATIO * pl.col("_yearly") * options.horizon.years())
                        & (pl.col("clv") >= (median if median is not None else math.inf))).fill_null(False),
    )
    cols = [c if c != "T" else age for c in CUSTOMER_COLUMNS] + ["historical_clv", "high_potential"]
    if summary.weighted:
        cols.insert(cols.index("monetary_value") + 1, "weight")
    if options.ci is not None:
        out = out.hstack(bootstrap_intervals(summary, fit, options).select(pl.exclude("customer_id")))
        cols += ["expected_purchases_lower", "expected_purchases_upper", "clv_lower", "clv_upper"]
    if lifetime is None and summary.has_monetary:
        warnings.append("the expected relationship duration could not be measured from the data (a summary table, "
                        "or no churn observed): historical_clv is empty; pass --lifetime YEARS")
    w = pl.col("weight")
    totals = out.select(
        customers=w.sum(),
        total_expected_purchases=(pl.col("expected_purchases") * w).sum(),
        total_clv=pl.when(pl.col("clv").is_not_null().any()).then((pl.col("clv") * w).sum()),
        high_potential_customers=(pl.col("high_potential").cast(pl.Float64) * w).sum(),
    ).row(0, named=True)
    return ClvResult(customers=out.select(cols), fit=fit, summary=summary, options=options, lifetime_years=lifetime,
                     warnings=warnings, totals=totals)


def bootstrap_intervals(summary: Summary, fit: Fit, options: ClvOptions) -> pl.DataFrame:
    """Seeded nonparametric bootstrap: customers are resampled with replacement (multinomial
    weights on the distinct summary rows), both models are refitted from the original estimates'
    settings and the predictions recomputed; the interval is the central `ci` share of the draws.

    Returns
    -------
    customer_id, expected_purchases_lower, expected_purchases_upper, clv_lower, clv_upper (in the
    summary's row order).
    """
    if not (0 < (options.ci or 0) < 1):
        raise ConfigError(f"--ci must be a level between 0 and 1, found {options.ci}", hint="e.g. --ci 0.9")
    if options.n_bootstrap < 2:
        raise ConfigError("the bootstrap needs at least 2 draws", hint="e.g. --bootstrap 100")
    from fidelcli.models import GammaGamma

    frame = summary.frame
    age = summary.age
    keys = ["frequency", "recency", age, "monetary_value"]
    base = frame.select(*keys, "weight").with_columns(pl.col("monetary_value").fill_null(0.0))
    grouped = base.group_by(keys, maintain_order=True).agg(pl.col("weight").sum())
    rng = np.random.default_rng(options.seed)
    w = grouped["weight"].to_numpy()
    total = int(round(w.sum()))
    p = w / w.sum()
    x, t_x, T, m = _arrays(grouped, *keys)
    ep_draws, clv_draws = [], []
    margin = options.margin if options.margin is not None else frame["margin_rate"].to_numpy()
    cust_x, cust_m = _arrays(frame.with_columns(pl.col("monetary_value").fill_null(0.0)), "frequency", "monetary_value")
    for _ in range(options.n_bootstrap):
        bw = rng.multinomial(total, p).astype(float)
        try:
            pm = type(fit.purchase)(penalizer=fit.purchase.penalizer).fit(x, t_x, T, weights=bw)  # type: ignore[attr-defined]
        except FitError:
            continue
        preds = purchase_predictions(pm, frame, age=age, horizon=options.horizon, time_unit=summary.time_unit,
                                     annual_rate=options.discount_rate, discrete=summary.discrete, p_alive=False)
        ep_draws.append(preds["expected_purchases"].to_numpy())
        if fit.spend is not None:
            keep = (x > 0) & (m > 0) & (bw > 0)
            try:
                sm = GammaGamma(penalizer=fit.spend.penalizer).fit(x[keep], m[keep], weights=bw[keep])  # type: ignore[attr-defined]
            except FitError:
                continue
            clv_draws.append(margin * sm.expected_spend(cust_x, cust_m) * preds["discounted_purchases"].to_numpy())
    if len(ep_draws) < 2:
        raise FitError("the bootstrap refits failed", file=summary.file, hint="drop --ci or use a larger sample")
    lo, hi = (1 - options.ci) / 2, 1 - (1 - options.ci) / 2  # type: ignore[operator]
    eps = np.vstack(ep_draws)
    cols: dict[str, Any] = {
        "customer_id": frame["customer_id"],
        "expected_purchases_lower": np.quantile(eps, lo, axis=0),
        "expected_purchases_upper": np.quantile(eps, hi, axis=0),
    }
    if clv_draws:
        clvs = np.vstack(clv_draws)
        cols["clv_lower"] = np.quantile(clvs, lo, axis=0)
        cols["clv_upper"] = np.quantile(clvs, hi, axis=0)
    else:
        cols["clv_lower"] = pl.Series([None] * frame.height, dtype=pl.Float64)
        cols["clv_upper"] = pl.Series([None] * frame.height, dtype=pl.Float64)
    return pl.DataFrame(cols)


def top_customers(customers: pl.DataFrame, *, key: str, n: int = 10) -> pl.DataFrame:
    """The `n` most valuable customers with pseudonymised ids (a keyed hash, never the raw id).

    Columns: customer (hash), frequency, p_alive, expected_purchases, expected_value, clv, value_tier.
    """
    by = "clv" if customers["clv"].null_count() < customers.height else "expected_purchases"
    return (
        customers.lazy()  # lazy: the filter is fused with top_k instead of copying every customer
        .filter(pl.col(by).is_not_null())
        .top_k(n, by=[by, "customer_id"], reverse=[False, True])
        .sort([by, "customer_id"], descending=[True, False])
        .select(customer=pseudonym(pl.col("customer_id"), key), frequency="frequency", p_alive="p_alive",
                expected_purchases="expected_purchases", expected_value="expected_value", clv="clv", value_tier="value_tier")
        .collect()
    )


# --------------------------------------------------------------------------------------------
# Model files
# --------------------------------------------------------------------------------------------
def _count(v: float) -> int | float:
    return int(v) if float(v).is_integer() else float(v)


def model_document(fit: Fit, *, time_unit: str, calibration_end: dt.date | None, version: str) -> dict[str, Any]:
    """The `--save-model` JSON document (the shape of issue #5; `ClvModelDoc` is its schema)."""
    p = fit.purchase.to_dict()
    doc: dict[str, Any] = {
        "fidelcli_version": version,
        "time_unit": time_unit,
        "calibration_end": calibration_end.isoformat() if calibration_end else None,
        "purchase_model": {"name": p["name"], "params": p["params"], "log_likelihood": p["log_likelihood"],
                           "n_customers": _count(p["n_customers"]), "std_errors": p["std_errors"]},
        "spend_model": None,
    }
    if fit.spend is not None:
        s = fit.spend.to_dict()
        doc["spend_model"] = {"name": s["name"], "params": s["params"], "log_likelihood": s["log_likelihood"],
                              "n_customers": _count(s["n_customers"])}
    return doc


class _StrictDoc(BaseModel):
    """Exact JSON types, no unknown field, finite numbers only."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True, frozen=True)


_Name = Annotated[str, StringConstraints(max_length=40)]
_Params = Annotated[dict[_Name, Annotated[float, Field(gt=0)]], Field(max_length=10)]


class SavedSpendModel(_StrictDoc):
    name: Literal["gamma_gamma"]
    params: _Params
    log_likelihood: float | None
    n_customers: Annotated[float, Field(ge=0)] | None


class SavedPurchaseModel(SavedSpendModel):
    name: Literal["bgnbd", "pnbd", "mbgnbd", "bgbb"]  # type: ignore[assignment]
    std_errors: Annotated[dict[_Name, float | None], Field(max_length=10)] = {}


class ClvModelDoc(_StrictDoc):
    """Schema of the `--save-model` document, format 1 (`format_version` absent or 1)."""

    format_version: Literal[1] | None = None
    fidelcli_version: Annotated[str, StringConstraints(max_length=40)]
    time_unit: Literal["day", "week", "month", "year"]
    calibration_end: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None
    purchase_model: SavedPurchaseModel
    spend_model: SavedSpendModel | None


CLV_MODEL_FILE = "CLV model file"
SAVE_HINT = "write one with fidelcli clv --save-model FILE.json"


def fit_from_document(doc: Any, *, file: str | None = None) -> tuple[Fit, str, dt.date | None]:
    """Restore the models of a `--save-model` document: (fit, time unit, calibration end).

    The document is checked against `ClvModelDoc` (no unknown field, finite positive parameters,
    bounded sizes) before any model is built.

    Raises
    ------
    ConfigError
        The document is not a CLV model (a churn model, say), another format version, or does not
        have the expected shape.
    """
    if isinstance(doc, dict) and doc.get("format") == "fidelcli-churn-model":
        raise ConfigError("a churn model file (written by fidelcli churn train), not a CLV model", file=file,
                          hint="give the file written by fidelcli clv --save-model")
    if not isinstance(doc, dict) or "purchase_model" not in doc or "time_unit" not in doc:
        raise ConfigError("not a fidelcli CLV model file (no purchase_model / time_unit)", file=file, hint=SAVE_HINT)
    if doc.get("format_version", 1) != 1 or isinstance(doc.get("format_version"), bool):
        raise ConfigError(f"CLV model file format {doc['format_version']!r} is not supported (this fidelcli reads format 1)",
                          file=file, hint="save the model again with this version: fidelcli clv ... --save-model FILE.json")
    from fidelcli.models import GammaGamma

    models = _purchase_models()
    pm = doc["purchase_model"]
    name = pm.get("name") if isinstance(pm, dict) else None
    if name not in models:
        raise ConfigError(f"unknown purchase model {name!r} in the model file", file=file, hint="expected bgnbd, pnbd, mbgnbd or bgbb")
    if doc["time_unit"] not in ("day", "week", "month", "year"):
        raise ConfigError(f"unknown time unit {doc['time_unit']!r} in the model file", file=file, hint="expected day, week, month or year")
    try:
        checked = ClvModelDoc.model_validate(doc)
        cal_date = dt.date.fromisoformat(checked.calibration_end) if checked.calibration_end else None
    except ValidationError as exc:
        raise ConfigError(schema_problem(exc, CLV_MODEL_FILE), file=file, hint=SAVE_HINT) from None
    except ValueError:
        raise ConfigError(f"calibration_end {doc['calibration_end']!r} in the model file is not a YYYY-MM-DD date",
                          file=file, hint=SAVE_HINT) from None
    saved: list[tuple[type[Any], SavedSpendModel]] = [(models[name], checked.purchase_model)]
    if checked.spend_model is not None:
        saved.append((GammaGamma, checked.spend_model))
    restored = []
    for cls, m in saved:
        if set(m.params) != set(cls.param_names) or not set(getattr(m, "std_errors", {})) <= set(cls.param_names):
            raise ConfigError(f"{m.name} parameters must be {', '.join(cls.param_names)}; found {', '.join(m.params)}",
                              file=file, hint=SAVE_HINT)
        restored.append(cls.from_dict({**m.model_dump(), "converged": True}))
    purchase, spend = restored[0], (restored[1] if len(restored) > 1 else None)
    n = float(checked.purchase_model.n_customers or 1)
    comparison = pl.DataFrame([comparison_row(purchase, max(n, 1.0))]).with_columns(error=pl.lit(None, dtype=pl.String), best=pl.lit(True))
    return Fit(purchase=purchase, spend=spend, comparison=comparison), checked.time_unit, cal_date


def load_model_file(path: str | Path) -> tuple[Fit, str, dt.date | None]:
    """Read a `--save-model` file: parsed as bounded JSON, checked against `ClvModelDoc`, never executed.

    Returns (fit, time unit, calibration end), as `fit_from_document`.

    Raises
    ------
    ModelFileError
        Naming the file: missing, unreadable, larger than 50 MiB, a pickle, not UTF-8 JSON, nested
        too deep, holding NaN, Infinity or an overlong integer, a churn model, or content outside the
        schema.
    """
    file = str(path)
    doc = read_json(path, what=CLV_MODEL_FILE, hint=SAVE_HINT, error=ModelFileError)
    try:
        return fit_from_document(doc, file=file)
    except ConfigError as exc:
        raise ModelFileError(exc.message, file=file, hint=exc.hint) from None


def clv_analysis(
    summary: Summary,
    *,
    model: ModelName = "auto",
    penalizer: float = 0.0,
    options: ClvOptions = ClvOptions(),
    fit: Fit | None = None,
) -> ClvResult:
    """Fit (unless a loaded `fit` is given) and predict: the one library call behind `fidelcli clv`.

    `auto` chooses the model by BIC on the calibration data; with a holdout in the summary, every
    model's holdout RMSE is added to the comparison as information.
    """
    if fit is None:
        holdout_error = None
        if summary.has_holdout and model == "auto":
            from fidelcli.analyses.holdout import holdout_rmse

            def holdout_error(m: FittedModel) -> float:
                return holdout_rmse(m, summary)

        fit = fit_models(summary, model=model, penalizer=penalizer, holdout_error=holdout_error)
    result = predict_clv(summary, fit, options)
    result.warnings = [*summary.warnings, *result.warnings]
    return result


__all__ = [
    "ClvModelDoc", "ClvOptions", "ClvResult", "Fit", "Summary", "clv_analysis", "discrete_summary_from_occasions",
    "fit_from_document", "fit_models", "load_model_file", "historical_clv", "margin_rates", "weighted_median", "weighted_value_tiers",
    "model_document", "parse_horizon", "predict_clv", "read_summary", "summary_from_occasions",
    "summary_from_transactions", "top_customers", "value_tiers",
]
