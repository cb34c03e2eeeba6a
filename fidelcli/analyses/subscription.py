"""Contractual retention: survival and churn of subscriptions, the shifted-beta-geometric (sBG) model
(Fader & Hardie 2007), remaining lifetime and subscription CLV.

A subscription runs from `start_date` to `end_date` (empty = still active at the analysis date).
Time is counted in whole periods (month, quarter = 3 months, year = 12 months) from the start date,
calendar-aware: a subscription that started on 15 January has completed its first month on 15
February. The analysis date `as_of` is exclusive, as everywhere in fidelcli: the last observed day is
as_of - 1 day. A subscription whose end date is on or after `as_of` (or empty) is active: its end is
not observed yet. An active subscription has survived the renewals dated up to the last observed day
(c completed periods, right-censored at c); one that ended during its k-th period (on its k-th
renewal date or before) churned in period k (at least 1), having survived k - 1 renewals. Observing
one more day never removes a renewal.

Survival per cohort (subscriptions starting in the same period) is the Kaplan-Meier estimate, which
handles the cohorts' different observation lengths: S(k) = prod_{j<=k} (1 - churned_j / at_risk_j),
where at_risk_j counts the subscriptions known to have reached renewal j.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from fidelcli.engine import Engine
from fidelcli.engine.periods import MONTHS, MonthPeriod
from fidelcli.errors import FitError, InputError
from fidelcli.io.read import Table
from fidelcli.models import SBG
from fidelcli.result import Figure, JsonResult
from fidelcli.stats import check_discount_rate, compound_rate

SubscriptionPeriod = MonthPeriod
FitScope = Literal["overall", "cohort"]
MIN_COHORT = 20  # fewer subscriptions than this do not identify a cohort's own sBG


@dataclass
class SubscriptionResult(JsonResult):
    """Survival, sBG fits and per-subscriber values.

    - `survival`: cohort ("all" or the cohort's first day), period (0, 1, ...), at_risk, churned,
      churn_rate, retention_rate, survival (Kaplan-Meier; null beyond the data), sbg_survival (fitted S(k),
      projected `projection` periods past the data), projected (True past the data).
    - `fits`: cohort, customers, alpha, beta, log_likelihood, converged, expected_lifetime (periods,
      undiscounted; null when infinite), discounted_lifetime (DEL at the discount rate), error.
    - `subscribers`: customer_id, cohort, plan, price, start_date, end_date, active, periods
      (completed periods if active, churn period otherwise), expected_remaining_periods
      (expected further renewals, null when infinite), discounted_remaining_lifetime (DERL),
      clv (price x DERL; 0 for churned subscriptions).
    """

    survival: pl.DataFrame
    fits: pl.DataFrame
    subscribers: pl.DataFrame
    model: SBG
    period: SubscriptionPeriod
    as_of: dt.date
    discount_rate_per_period: float
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pl.DataFrame]:
        """subscribers (one row each), survival, fits."""
        return {"subscribers": self.subscribers, "survival": self.survival, "fits": self.fits}

    def headline(self) -> dict[str, Figure]:
        """The active subscriptions: how many, their mean discounted remaining lifetime (periods) and
        their total CLV (None when no active subscription has a price)."""
        active = self.subscribers.filter(pl.col("active"))
        lifetime = active["discounted_remaining_lifetime"].mean()  # a float, None without active subscriptions
        return {
            "subscriptions": self.subscribers.height,
            "active": active.height,
            "discount_rate_per_period": round(self.discount_rate_per_period, 6),
            "mean_discounted_remaining_lifetime": lifetime if isinstance(lifetime, float) else None,
            "total_clv": float(active["clv"].sum()) if active["price"].null_count() < active.height else None,  # a Float64 sum
        }


def kaplan_meier(d: pl.DataFrame, *, by: str | None = None) -> pl.DataFrame:
    """Kaplan-Meier survival per period (see the module docstring).

    Returns
    -------
    [by,] period, at_risk, churned, churn_rate (churned / at_risk), retention_rate, survival;
    period 0 has survival 1 and at_risk the group's size.
    """
    keys = [by] if by else []
    data = d if by else d.with_columns(_g=pl.lit(0))
    g = [by] if by else ["_g"]
    counts = data.group_by(*g, "periods").agg(n=pl.len().cast(pl.Int64), churned=(~pl.col("active")).sum().cast(pl.Int64))
    tops = data.group_by(g).agg(top=pl.col("periods").max())
    grid = tops.with_columns(period=pl.int_ranges(1, pl.col("top") + 1, dtype=pl.Int64)).explode("period").drop("top").drop_nulls("period")
    km = (
        grid.join(counts.rename({"periods": "period"}), on=[*g, "period"], how="left")
        .with_columns(pl.col("n", "churned").fill_null(0))
        .sort(*g, "period")
        # at_risk at period j: every subscription with periods >= j (churned in j or later, or
        # active having completed at least j periods).
        .with_columns(at_risk=pl.col("n").reverse().cum_sum().reverse().over(g))
        .filter(pl.col("at_risk") > 0)
        .with_columns(churn_rate=pl.col("churned") / pl.col("at_risk"), retention_rate=1.0 - pl.col("churned") / pl.col("at_risk"))
        .with_columns(survival=pl.col("retention_rate").cum_prod().over(g))
    )
    size = data.group_by(g).agg(at_risk=pl.len().cast(pl.Int64)).with_columns(
        period=pl.lit(0, dtype=pl.Int64), churned=pl.lit(0, dtype=pl.Int64), churn_rate=pl.lit(None, dtype=pl.Float64),
        retention_rate=pl.lit(None, dtype=pl.Float64), survival=pl.lit(1.0))
    cols = [*g, "period", "at_risk", "churned", "churn_rate", "retention_rate", "survival"]
    out = pl.concat([size.select(cols), km.select(cols)]).sort(*g, "period")
    return out.select(*keys, *cols[1:])


def _fit_sbg(d: pl.DataFrame) -> SBG:
    churned = (~d["active"]).sum()
    if churned == 0:
        raise FitError("sbg: no subscription has ended, so the churn rate cannot be estimated",
                       hint="wait for churn to be observed, or check that end_date is mapped (--map end_date=COLUMN)")
    return SBG().fit(d["periods"].to_numpy().astype(float), d["active"].to_numpy())


def subscription_analysis(
    table: Table | pl.LazyFrame,
    *,
    engine: Engine,
    period: SubscriptionPeriod = "month",
    as_of: dt.date | None = None,
    fit: FitScope = "overall",
    projection: int = 12,
    discount_rate: float = 0.1,
    today: dt.date | None = None,
) -> SubscriptionResult:
    """Survival, churn, sBG fit and projection, remaining lifetime and CLV of subscriptions.

    Parameters
    ----------
    table
        Subscriptions: customer_id, start_date, optional end_date (empty = active), plan, price
        (per period).
    engine
        The engine that reduces them (`Engine.subscriptions`).
    period
        month, quarter or year.
    as_of
        Analysis date, exclusive (default: the day after the latest start or end date that is not
        after `today`: scheduled future terminations do not move the analysis date). Subscriptions
        starting on or after it are ignored; ends on or after it are not churn yet (still active).
    fit
        "overall": one sBG for every subscription; "cohort": one per cohort as well.
    projection
        Periods projected past the data.
    discount_rate
        Annual rate, converted to the period by compounding; must be >= 0 and < 1
        (`fidelcli.stats.check_discount_rate`).
    today
        The current date, for the default `as_of` (the CLI passes the system date; without it, every
        start or end date counts, scheduled terminations included).

    Returns
    -------
    A `SubscriptionResult`.

    Raises
    ------
    ConfigError
        The discount rate is not >= 0 and < 1 (a year).
    InputError
        An end date before its start date, or no subscription before `as_of`.
    FitError
        No churn observed (the sBG cannot be fitted).
    """
    check_discount_rate(discount_rate)
    file = table.file if isinstance(table, Table) else None
    warnings: list[str] = []
    reduced = engine.subscriptions(table, period=period, as_of=as_of, today=today)
    d, as_of = reduced.frame, reduced.as_of
    if reduced.late:
        warnings.append(f"{reduced.late:,} subscriptions starting on or after the analysis date {as_of} were ignored")
    if d.height == 0:
        raise InputError(f"no subscription started before the analysis date {as_of}", file=file, hint="choose a later --as-of")
    rate = compound_rate(discount_rate, MONTHS[period] / 12)
    model = _fit_sbg(d)
    fits = [_fit_row("all", d, model, rate)]
    km = kaplan_meier(d).with_columns(cohort=pl.lit("all"))
    cohort_km = kaplan_meier(d.with_columns(pl.col("cohort").cast(pl.String)), by="cohort")
    survival_parts = [_with_model(km, model, projection)]
    cohort_models: dict[str, SBG] = {}
    if fit == "cohort":
        for (c,), grp in d.with_columns(pl.col("cohort").cast(pl.String)).group_by(["cohort"], maintain_order=True):
            try:
                if grp.height < MIN_COHORT:
                    raise FitError(f"{grp.height} subscriptions, fewer than {MIN_COHORT}")
                m = _fit_sbg(grp)
            except FitError as exc:
                fits.append({"cohort": c, "customers": grp.height, "error": exc.message})
                continue
            cohort_models[str(c)] = m
            fits.append(_fit_row(str(c), grp, m, rate))
    for (c,), grp in cohort_km.group_by(["cohort"], maintain_order=True):
        cohort_model = cohort_models.get(str(c))
        survival_parts.append(_with_model(grp, cohort_model, projection if cohort_model is not None else 0))
    survival = pl.concat([p.select(SURVIVAL_COLUMNS) for p in survival_parts], how="vertical")
    subscribers = _subscriber_values(d, model, cohort_models, rate)
    if subscribers["expected_remaining_periods"].null_count() and model.params_["alpha"] <= 1:
        warnings.append(f"alpha = {model.params_['alpha']:.3f} <= 1: the undiscounted expected lifetime is infinite; "
                        "only the discounted lifetime and CLV are finite")
    return SubscriptionResult(survival=survival, fits=pl.DataFrame(fits, schema=FIT_SCHEMA), subscribers=subscribers, model=model,
                              period=period, as_of=as_of, discount_rate_per_period=rate, warnings=warnings)


SURVIVAL_COLUMNS = ["cohort", "period", "at_risk", "churned", "churn_rate", "retention_rate", "survival", "sbg_survival", "projected"]
FIT_SCHEMA = {"cohort": pl.String, "customers": pl.Int64, "alpha": pl.Float64, "beta": pl.Float64, "log_likelihood": pl.Float64,
              "converged": pl.Boolean, "expected_lifetime": pl.Float64, "discounted_lifetime": pl.Float64, "error": pl.String}


def _fit_row(cohort: str, d: pl.DataFrame, m: SBG, rate: float) -> dict[str, Any]:
    life = m.expected_lifetime()
    return {"cohort": cohort, "customers": d.height, "alpha": m.params_["alpha"], "beta": m.params_["beta"],
            "log_likelihood": m.log_likelihood_, "converged": m.converged_,
            "expected_lifetime": life if math.isfinite(life) else None,
            "discounted_lifetime": m.expected_lifetime(discount_rate=rate), "error": None}


def _with_model(km: pl.DataFrame, model: SBG | None, projection: int) -> pl.DataFrame:
    km = km.with_columns(pl.col("cohort").cast(pl.String), projected=pl.lit(False))
    top = km["period"].max()  # an int, None without periods
    last = top if isinstance(top, int) else 0
    if projection > 0:
        ahead = pl.DataFrame({"period": pl.int_range(last + 1, last + projection + 1, eager=True).cast(pl.Int64)}).with_columns(
            cohort=pl.lit(km["cohort"][0]), at_risk=pl.lit(None, dtype=pl.Int64), churned=pl.lit(None, dtype=pl.Int64),
            churn_rate=pl.lit(None, dtype=pl.Float64), retention_rate=pl.lit(None, dtype=pl.Float64),
            survival=pl.lit(None, dtype=pl.Float64), projected=pl.lit(True))
        km = pl.concat([km, ahead.select(km.columns)])
    if model is None:
        return km.with_columns(sbg_survival=pl.lit(None, dtype=pl.Float64))
    return km.with_columns(sbg_survival=pl.Series(model.survival(km["period"].to_numpy().astype(float))))


def _subscriber_values(d: pl.DataFrame, model: SBG, cohort_models: dict[str, SBG], rate: float) -> pl.DataFrame:
    n = d["periods"].to_numpy().astype(float)
    cohorts = d["cohort"].cast(pl.String).to_numpy()
    if cohort_models:
        derl = np.empty(n.size)
        rem = np.empty(n.size)
        for c in np.unique(cohorts):
            idx = cohorts == c
            m = cohort_models.get(c, model)
            derl[idx] = m.discounted_expected_residual_lifetime(n[idx], discount_rate=rate)
            rem[idx] = m.discounted_expected_residual_lifetime(n[idx], discount_rate=0.0)
    else:
        derl = model.discounted_expected_residual_lifetime(n, discount_rate=rate)
        rem = model.discounted_expected_residual_lifetime(n, discount_rate=0.0)
    active = d["active"].to_numpy()
    return d.with_columns(
        cohort=pl.col("cohort"),
        expected_remaining_periods=pl.Series(np.where(active & np.isfinite(rem), rem, np.where(active, np.nan, 0.0))).fill_nan(None),
        discounted_remaining_lifetime=pl.Series(np.where(active, derl, 0.0)),
    ).with_columns(clv=pl.col("price") * pl.col("discounted_remaining_lifetime")).select(
        "customer_id", "cohort", "plan", "price", "start_date", "end_date", "active", "periods",
        "expected_remaining_periods", "discounted_remaining_lifetime", "clv")


def model_document(result: SubscriptionResult, *, version: str) -> dict[str, Any]:
    """The `--save-model` JSON document of `fidelcli subscription` (issue #5 shape)."""
    m = result.model
    return {"fidelcli_version": version, "period": result.period,
            "model": {"name": "sbg", "params": {"alpha": m.params_["alpha"], "beta": m.params_["beta"]},
                      "log_likelihood": m.log_likelihood_}}
