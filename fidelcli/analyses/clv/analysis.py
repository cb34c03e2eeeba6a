"""The CLV analysis: per-customer predictions, values, tiers and totals (`predict_clv`), fit and
predict on a summary (`clv_analysis`), and the one library call behind `fidelcli clv`
(`customer_lifetime_value`: transactions or a summary table in, a `ClvResult` out)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from fidelcli.analyses.clv.fit import Fit, ModelName, fit_models, spend_known
from fidelcli.analyses.clv.predict import (
    ClvOptions,
    NonFiniteError,
    bootstrap_intervals,
    check_finite,
    discrete_horizon,
    purchase_predictions,
)
from fidelcli.analyses.clv.summary import SUMMARY_SYNONYMS, Summary, read_summary, summary_from_transactions
from fidelcli.analyses.clv.value import (
    HIGH_POTENTIAL_RATIO,
    estimate_lifetime_years,
    historical_clv,
    weighted_value_tiers,
)
from fidelcli.analyses.timeunits import DAYS_PER_YEAR, days_per
from fidelcli.clean import Occasion, Transactions
from fidelcli.engine.periods import TimeUnit
from fidelcli.errors import ConfigError, FitError
from fidelcli.result import Figure, JsonResult
from fidelcli.stats import check_discount_rate, weighted_median

if TYPE_CHECKING:
    from fidelcli.analyses.clv.holdout import HoldoutReport
    from fidelcli.engine import Engine
    from fidelcli.models.base import Fitted, PurchasePredictor

# The parameter whose smallness means "nobody drops out": p ~ Beta(a, b) (BG/NBD, MBG/NBD),
# mu ~ Gamma(s, beta) (Pareto/NBD), theta ~ Beta(gamma, delta) (BG/BB).
DROPOUT_PARAMETER = {"bgnbd": "a", "mbgnbd": "a", "pnbd": "s", "bgbb": "gamma"}
UNINFORMATIVE_P_ALIVE = 0.95


def customer_count(v: float | None) -> int | float:
    """A count of customers: an integer unless fractional weights make it fractional."""
    v = float(v or 0.0)
    return int(round(v)) if abs(v - round(v)) < 1e-9 else v


@dataclass
class ClvResult(JsonResult):
    """Everything `fidelcli clv` shows: per-customer predictions, the fit, the totals and the holdout.

    `totals` count customers (summary rows times their weight): customers, total_expected_purchases,
    total_clv (None without a spend model), high_potential_customers. `holdout`: the holdout report,
    when the summary has a holdout (`customer_lifetime_value`).
    """

    customers: pl.DataFrame
    fit: Fit
    summary: Summary
    options: ClvOptions
    lifetime_years: float | None
    warnings: list[str] = field(default_factory=list)
    totals: dict[str, float | None] = field(default_factory=dict)
    holdout: HoldoutReport | None = None

    def parameters(self) -> pl.DataFrame:
        """model, parameter, value, std_error (null when not finite) of the purchase and spend models."""
        rows = []
        for m in (self.fit.purchase, self.fit.spend):
            if m is None:
                continue
            for k, v in m.params_.items():
                se = m.std_errors_.get(k, math.nan)
                rows.append({"model": m.name, "parameter": k, "value": float(v), "std_error": None if not math.isfinite(se) else float(se)})
        return pl.DataFrame(rows, schema={"model": pl.String, "parameter": pl.String, "value": pl.Float64, "std_error": pl.Float64})

    def quality(self) -> dict[str, Figure]:
        """The model, its settings, convergence and the totals (the terminal's Summary table)."""
        fit, totals = self.fit, self.totals
        out: dict[str, Figure] = {
            "model": fit.purchase.name,
            "customers": customer_count(totals["customers"]),
            "time_unit": self.summary.time_unit,
            **({"occasion": self.summary.occasion} if self.summary.occasion else {}),
            "horizon": str(self.options.horizon),
            "annual_discount_rate": self.options.discount_rate,
            "converged": bool(fit.purchase.converged_),
        }
        if fit.spend is not None:
            out["spend_model_converged"] = bool(fit.spend.converged_)
        if fit.spend_frequency_correlation is not None:
            out["spend_frequency_correlation"] = round(fit.spend_frequency_correlation, 4)
        if self.lifetime_years is not None:
            out["expected_relationship_years"] = round(self.lifetime_years, 3)
        out["total_expected_purchases"] = float(totals["total_expected_purchases"] or 0.0)
        if totals["total_clv"] is not None:
            out["total_clv"] = float(totals["total_clv"])
        out["high_potential_customers"] = customer_count(totals["high_potential_customers"])
        return out

    def tables(self) -> dict[str, pl.DataFrame]:
        """customers, parameters, comparison (fit quality), and with a holdout holdout_customers,
        holdout_by_frequency, holdout_tracking."""
        out = {"customers": self.customers, "parameters": self.parameters(), "comparison": self.fit.comparison}
        if self.holdout is not None:
            out |= {"holdout_customers": self.holdout.customers, "holdout_by_frequency": self.holdout.by_frequency,
                    "holdout_tracking": self.holdout.tracking}
        return out

    def headline(self) -> dict[str, Figure]:
        """`quality()`, and the holdout metrics prefixed with holdout_."""
        metrics = self.holdout.metrics if self.holdout is not None else {}
        return {**self.quality(), **{f"holdout_{k}": v for k, v in metrics.items() if f"holdout_{k}" not in self.quality()}}


CUSTOMER_COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary_value", "p_alive", "expected_purchases",
                    "expected_value", "clv", "value_tier"]


def p_alive_warning(model: Fitted, mean_p_alive: float) -> str | None:
    """A warning when P(alive) cannot tell active from lapsed customers: almost everyone is alive
    (weighted mean above `UNINFORMATIVE_P_ALIVE`) and the drop-out parameter is not identified
    (its standard error exceeds its value)."""
    name = DROPOUT_PARAMETER.get(model.name)
    if name is None or not mean_p_alive > UNINFORMATIVE_P_ALIVE:
        return None
    value, se = model.params_[name], model.std_errors_.get(name, math.nan)
    if not (math.isfinite(se) and se > value):
        return None
    return (f"P(alive) is uninformative: its mean is {mean_p_alive:.3f} and the drop-out parameter {name} = {value:.3g} "
            f"has a standard error of {se:.3g}, larger than itself: the data show too little drop-out to tell active from "
            "lapsed customers; read p_alive and long horizons with care")


def predict_clv(summary: Summary, fit: Fit, options: ClvOptions = ClvOptions()) -> ClvResult:
    """Per-customer predictions over the horizon.

    - p_alive, expected_purchases: from the purchase model (purchases in (T, T + horizon]; BG/BB:
      whole periods, the horizon floored with a warning, an error below one period).
    - expected_value: Gamma-Gamma conditional expected order value; null without a spend model and
      for a customer without a positive net spend (`fit.spend_known`: returns cancelling the repeat
      purchases, or every purchase).
    - clv = margin x expected_value x discounted expected purchases over the horizon, discounted in
      about monthly steps (see `predict.discount_steps`; BG/BB: one step per period) at the
      equivalent of the annual rate; 0 for a customer without a positive net spend; null without a
      spend model.
    - historical_clv = average yearly profit x expected relationship duration: yearly profit is the
      net total spend (first purchase included, returns netted; 0 when it is negative) x margin /
      years since the first purchase (at least one year). From transactions the total spend is the
      calibration revenue; from a summary table it is approximated as (frequency + 1) x
      monetary_value.
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
    summary's row order. No value is NaN or infinite.

    Raises
    ------
    ConfigError
        A lifetime that is not > 0, no margin, or a BG/BB horizon shorter than one period.
    NonFiniteError
        A prediction is NaN or infinite (a degenerate fit, e.g. a model file's).
    """
    check_options(options)
    life = options.lifetime_years
    frame = summary.frame
    age = summary.age
    tu = summary.time_unit
    warnings = list(fit.warnings)
    if summary.discrete:
        _, partial = discrete_horizon(options.horizon, tu)
        if partial:
            warnings.append(partial)
    from fidelcli.models import single_threaded_blas

    with single_threaded_blas():
        preds = purchase_predictions(fit.purchase, frame, age=age, horizon=options.horizon, time_unit=tu,
                                     annual_rate=options.discount_rate, discrete=summary.discrete)
    # Before anything else is computed on them (the bootstrap): a degenerate fit stops here.
    check_finite(preds, model=fit.purchase.name, file=summary.file)
    out = frame.hstack(preds.select("p_alive", "expected_purchases"))
    disc = preds["discounted_purchases"]
    margin = pl.lit(options.margin) if options.margin is not None else pl.col("margin_rate")
    if options.margin is None and "margin_rate" not in frame.columns:
        raise ConfigError("no margin rate given and no margin column in the data", hint="pass --margin 0.3 or map a margin column")
    if fit.spend is not None:
        known = frame.select(spend_known(frame)).to_series().to_numpy()
        with np.errstate(invalid="ignore"):
            spend = fit.spend.expected_spend(frame["frequency"].to_numpy(), frame["monetary_value"].fill_null(0.0).clip(0).to_numpy())
        ev = pl.Series(np.asarray(spend, dtype=float)).scatter(np.flatnonzero(~known), None)
        out = out.with_columns(expected_value=ev, _disc=disc, _known=pl.Series(known))
        # No positive net spend to project: worth 0, not unknown (the purchases are predicted).
        out = out.with_columns(clv=pl.when(pl.col("_known")).then(margin * pl.col("expected_value") * pl.col("_disc")).otherwise(0.0))
    else:
        out = out.with_columns(expected_value=pl.lit(None, dtype=pl.Float64), clv=pl.lit(None, dtype=pl.Float64), _disc=disc)
    lifetime = life
    if lifetime is None and "last_purchase" in frame.columns and summary.as_of is not None:
        end = summary.calibration_end + dt.timedelta(days=1) if summary.calibration_end else summary.as_of
        lifetime = estimate_lifetime_years(frame, as_of=end)
    if "revenue" in out.columns and summary.as_of is not None:
        # Net spend of the calibration, first purchase included, over the years since the first purchase.
        # A net spend below 0 (returns of purchases made before the data) is a past loss, not a pace to project.
        end = (summary.calibration_end + dt.timedelta(days=1)) if summary.calibration_end else summary.as_of
        years = ((pl.lit(end) - pl.col("first_purchase")).dt.total_days() / DAYS_PER_YEAR).clip(lower_bound=1.0)
        yearly = pl.col("revenue").clip(lower_bound=0.0) * margin / years
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
        mean_p_alive=(pl.col("p_alive") * w).sum() / w.sum(),
    ).row(0, named=True)
    alive = p_alive_warning(fit.purchase, float(totals.pop("mean_p_alive")))
    if alive:
        warnings.append(alive)
    customers = out.select(cols)
    check_finite(customers, model=fit.purchase.name, file=summary.file)
    check_finite(pl.DataFrame([totals]), model=fit.purchase.name, file=summary.file)
    return ClvResult(customers=customers, fit=fit, summary=summary, options=options, lifetime_years=lifetime,
                     warnings=warnings, totals=totals)


def clv_analysis(
    summary: Summary,
    *,
    model: ModelName = "auto",
    penalizer: float = 0.0,
    options: ClvOptions = ClvOptions(),
    fit: Fit | None = None,
) -> ClvResult:
    """Fit (unless a loaded `fit` is given) and predict: the one library call behind `fidelcli clv`.

    `auto` chooses the model as `fit.choose` says: with a holdout in the summary, on the mean
    absolute error of each model's holdout purchases per customer; without one, on BIC, keeping the
    simplest of the models it cannot tell apart. A model whose predictions are not finite is left
    out (with a warning) and the next one used.

    Raises
    ------
    FitError
        No usable model (each one failed, or was degenerate), naming the input file.
    """
    if fit is None:
        holdout_errors = None
        if summary.has_holdout and model == "auto":
            from fidelcli.analyses.clv.holdout import holdout_errors as errors_of

            def holdout_errors(m: PurchasePredictor) -> tuple[float, float]:
                return errors_of(m, summary)

        fit = fit_models(summary, model=model, penalizer=penalizer, holdout_errors=holdout_errors)
    while True:
        try:
            result = predict_clv(summary, fit, options)
            break
        except NonFiniteError as exc:
            try:
                fit = fit.drop_purchase(exc.problem)
            except FitError as none_left:
                raise FitError(none_left.message, file=summary.file, hint=exc.hint) from None
    result.warnings = [*summary.warnings, *result.warnings]
    return result


def check_options(options: ClvOptions) -> None:
    """Refuse, before any work, a lifetime that is not > 0 years, an annual discount rate outside
    [0, 1) (`fidelcli.stats.check_discount_rate`), and an interval level outside (0, 1).

    Raises
    ------
    ConfigError
    """
    life = options.lifetime_years
    if life is not None and not (math.isfinite(life) and life > 0):
        raise ConfigError(f"--lifetime must be a number of years > 0, found {life!r}", hint="e.g. --lifetime 3 for three years")
    check_discount_rate(options.discount_rate)
    if options.ci is not None and not 0 < options.ci < 1:
        raise ConfigError(f"--ci must be a level between 0 and 1, found {options.ci}", hint="e.g. --ci 0.9")


def is_discrete_summary(columns: list[str]) -> bool:
    """A summary table is discrete (BG/BB) when it has a periods column and no T column
    (`SUMMARY_SYNONYMS` names both)."""
    names = {c.lower().strip() for c in columns}
    return bool(names & set(SUMMARY_SYNONYMS["periods"])) and not names & set(SUMMARY_SYNONYMS["T"])


def read_summary_file(path: str, *, time_unit: TimeUnit = "week", discrete: bool | None = None) -> Summary:
    """Read a per-customer summary table (`--summary FILE`, see `read_summary`); `discrete=None`
    (model auto) means discrete when it has periods and no T."""
    from fidelcli.io.read import scan_raw

    raw = scan_raw(path).collect()
    if discrete is None:
        discrete = is_discrete_summary(raw.columns)
    return read_summary(raw, time_unit=time_unit, discrete=discrete, file=path)


def customer_lifetime_value(
    data: Transactions | Summary,
    *,
    engine: Engine,
    model: ModelName = "auto",
    penalizer: float = 0.0,
    options: ClvOptions = ClvOptions(),
    fit: Fit | None = None,
    calibration_end: dt.date | None = None,
    time_unit: TimeUnit = "week",
    occasion: Occasion = "day",
) -> ClvResult:
    """The one library call behind `fidelcli clv`: summarise the transactions (or take a summary
    table), add the per-customer margin rates when `options.margin` is None, fit (unless `fit`
    is given) and predict (`clv_analysis`), and report the holdout when there is one.

    Parameters
    ----------
    data: cleaned transactions, or a summary table (`read_summary_file`).
    engine: the engine of the transaction reductions (`fidelcli.engine.get_engine`).
    calibration_end: fit on the purchases up to this day (included); the rest is the holdout.
    occasion: purchase occasions are shopping days (the BTYD literature's count) or order ids.
    options.margin None: each customer's margin rate from the margin or cost column, over the
        calibration only (the holdout does not leak into the CLV); a customer without purchases in
        it gets the mean rate.

    Raises
    ------
    ConfigError: a calibration end or a margin column with a summary table; bad options (`check_options`).
    FitError, InputError: as `clv_analysis`, `summary_from_transactions`.
    """
    check_options(options)
    warnings: list[str] = []
    if isinstance(data, Summary):
        if calibration_end is not None:
            raise ConfigError("--calibration-end needs transactions, not a summary table", hint="drop --calibration-end or use -t FILE")
        if options.margin is None:
            raise ConfigError("--margin column needs transactions", hint="give a rate, e.g. --margin 0.3")
        summary = data
    else:
        from fidelcli.analyses.clv.value import margin_rates

        discrete = model == "bgbb" or (fit is not None and fit.purchase.name == "bgbb")
        summary = summary_from_transactions(data, calibration_end=calibration_end, time_unit=time_unit, discrete=discrete,
                                            occasion=occasion, engine=engine)
        if options.margin is None:
            # From the calibration only (the summary's calibration end: a BG/BB one is moved back to
            # the end of the last complete period), so the holdout does not leak into the CLV.
            rates, warnings = margin_rates(data, calibration_end=summary.calibration_end, engine=engine)
            mean = rates["margin_rate"].mean()  # a float, None without customers
            overall = mean if isinstance(mean, float) else 0.0
            summary.frame = summary.frame.join(rates, on="customer_id", how="left").with_columns(pl.col("margin_rate").fill_null(overall))
    result = clv_analysis(summary, model=model, penalizer=penalizer, options=options, fit=fit)
    result.warnings = [*warnings, *result.warnings]
    if summary.has_holdout:
        from fidelcli.analyses.clv.holdout import holdout_report

        result.holdout = holdout_report(result.fit.purchase, summary)
    return result
