"""Fitting the CLV models: the purchase model (chosen by `--model auto`), the spend model, and the
checks that keep a degenerate fit from ever being used.

A fit is *usable* when its parameters are finite and plausible (no shape parameter run off to 0 or
infinity), its standard errors are finite (the likelihood is not flat in some direction), and its
predictions are finite (checked on the outputs, `predict.check_finite`). Anything else is reported
with its reason and left out; `--model auto` then uses the next model.

Model choice (`choose`): with a holdout, the lowest mean absolute error of the holdout purchases
per customer; without one, the lowest BIC, where models within 2 BIC points of the lowest are
statistically indistinguishable and the simplest of them is kept (fewest parameters, then
BG/NBD, MBG/NBD, Pareto/NBD).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from fidelcli.analyses.clv.summary import Summary, arrays
from fidelcli.errors import ConfigError, FitError, InputError
from fidelcli.stats import weighted_corr

if TYPE_CHECKING:
    from fidelcli.models import GammaGamma
    from fidelcli.models.base import Fitted, PurchasePredictor

ModelName = Literal["auto", "bgnbd", "pnbd", "mbgnbd", "bgbb"]
CONTINUOUS = ("bgnbd", "pnbd", "mbgnbd")
# Among models that fit equally well, the simplest first: fewest parameters, then this order
# (MBG/NBD is BG/NBD with one more way to drop out; Pareto/NBD needs hypergeometric terms).
SIMPLEST_FIRST = ("bgnbd", "mbgnbd", "pnbd", "bgbb")
BIC_INDISTINGUISHABLE = 2.0  # Kass & Raftery (1995): a BIC difference under 2 is "not worth more than a bare mention"
# Shape parameters (scale-free) beyond these bounds mean the likelihood runs towards a limit the
# model cannot reach (no heterogeneity, no drop-out): the data do not identify it. Scale
# parameters (alpha, beta, v) depend on the time unit and the currency and are not bounded here.
SHAPE_RANGE = (1e-5, 1e5)
SCALE_PARAMETERS = {"bgnbd": ("alpha",), "mbgnbd": ("alpha",), "pnbd": ("alpha", "beta"), "gamma_gamma": ("v",)}
DEGENERATE_HINT = ("with few customers, or too little drop-out or variation to estimate, try --penalizer 0.01, a longer "
                   "history, or a historical CLV (--lifetime)")


# The models (SciPy: slow to import, see docs/performance.md) are imported when first needed, so a
# command that fits no model never loads them.
def purchase_models() -> dict[str, type[PurchasePredictor]]:
    """The purchase model classes by name (imported on first use): `fidelcli.models.PURCHASE_MODELS`."""
    from fidelcli.models import PURCHASE_MODELS

    return dict(PURCHASE_MODELS)


@dataclass
class Fit:
    """The chosen purchase model, the spend model (None without monetary values) and the comparison.

    `ranked`: the usable purchase models, best first (`purchase` is the first); `clv_analysis` moves
    to the next when a model's predictions turn out not to be finite. `notes`: how the model was
    chosen, for the analyst (not warnings).
    """

    purchase: PurchasePredictor
    spend: GammaGamma | None
    comparison: pl.DataFrame
    spend_frequency_correlation: float | None = None
    warnings: list[str] = field(default_factory=list)
    ranked: list[PurchasePredictor] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def drop_purchase(self, problem: str) -> Fit:
        """This fit without its purchase model (its predictions are unusable: `problem`), the next
        ranked model taking its place.

        Raises FitError when no other model is left.
        """
        name = self.purchase.name
        rest = [m for m in self.ranked if m is not self.purchase]
        message = f"{name}: {problem}"
        if not rest:
            if self.comparison.height > 1:
                errors = [message if m == name else e for m, e in self.comparison.select("model", "error").iter_rows() if m == name or e]
                message = (f"no purchase model could be fitted ({', '.join(self.comparison['model'])}); "
                           + "; ".join(distinct_problems(errors)))
            raise FitError(message, hint=DEGENERATE_HINT)
        comparison = self.comparison.with_columns(
            error=pl.when(pl.col("model") == name).then(pl.lit(message)).otherwise(pl.col("error")),
            best=pl.col("model") == rest[0].name,
        )
        return Fit(purchase=rest[0], spend=self.spend, comparison=comparison,
                   spend_frequency_correlation=self.spend_frequency_correlation,
                   warnings=[*self.warnings, f"model {message} (left out; {rest[0].name} is used)"], ranked=rest,
                   notes=self.notes)


def distinct_problems(errors: list[str]) -> list[str]:
    """The models' errors ("name: problem"), each problem said once (the first model naming it)."""
    seen: set[str] = set()
    out = []
    for e in errors:
        problem = e.split(": ", 1)[-1]
        if problem not in seen:
            seen.add(problem)
            out.append(e)
    return out


def fit_problem(model: Fitted) -> str | None:
    """Why a fitted model is not a usable fit (None when it is): parameters not finite or run off
    to an implausible value, or standard errors that are not finite (a flat likelihood)."""
    params = model.params_
    bad = [k for k, v in params.items() if not (math.isfinite(v) and v > 0)]
    if bad:
        return f"parameters are not finite positive numbers ({', '.join(bad)})"
    scale = SCALE_PARAMETERS.get(model.name, ())
    low, high = SHAPE_RANGE
    absurd = [f"{k} = {v:.3g}" for k, v in params.items() if k not in scale and not low <= v <= high]
    if absurd:
        return f"parameters run to implausible values ({', '.join(absurd)}): the data do not identify the model"
    ses = model.std_errors_
    flat = [k for k in model.param_names if not math.isfinite(ses.get(k, math.nan))]
    if flat:
        return (f"standard errors are not finite ({', '.join(flat)}): the likelihood is flat, "
                "the data do not identify the model")
    return None


def fit_purchase_model(summary: Summary, name: str, *, penalizer: float = 0.0) -> PurchasePredictor:
    """Fit one purchase model on the summary (BG/BB on a discrete summary only).

    Raises
    ------
    ConfigError
        BG/BB asked on a continuous summary, or a continuous model on a discrete one.
    FitError
        The model cannot be fitted (see the message for what was tried).
    """
    models = purchase_models()
    if name not in models:
        raise ConfigError(f"unknown model {name!r}", hint="use auto, bgnbd, pnbd, mbgnbd or bgbb")
    if (name == "bgbb") != summary.discrete:
        hint = ("give a discrete summary (--summary with frequency, recency, periods) for bgbb" if name == "bgbb"
                else "use --model bgbb with a discrete summary (periods)")
        raise ConfigError(f"model {name} does not apply to a {'discrete' if summary.discrete else 'continuous-time'} summary", hint=hint)
    x, t_x, age, w = arrays(summary.frame, "frequency", "recency", summary.age, "weight")
    model = models[name](penalizer=penalizer)
    return model.fit(x, t_x, age, weights=w)


def spend_known(frame: pl.DataFrame) -> pl.Expr:
    """True for the customers whose spend the Gamma-Gamma model can describe: a repeat customer with
    a positive net spend per repeat occasion, or a one-time buyer (valued at the population mean);
    in both cases with a positive net spend overall (`revenue`, from transactions). A customer whose
    returns cancel her purchases has no positive monetary value."""
    ok = (pl.col("frequency") == 0) | (pl.col("monetary_value") > 0)
    if "revenue" in frame.columns:
        ok = ok & (pl.col("revenue") > 0)
    return ok.fill_null(False)


def fit_spend_model(summary: Summary, *, penalizer: float = 0.0) -> tuple[GammaGamma | None, float | None, list[str]]:
    """Gamma-Gamma on the repeat customers with a positive net spend (`spend_known`), the checks of
    `fit_problem`, and the independence check.

    Returns
    -------
    (model or None without monetary values, Pearson correlation between frequency and monetary
    value among repeat customers, warnings).

    Raises
    ------
    FitError
        Fewer than 3 such customers, a degenerate fit, or expected values that are not finite.
    """
    from fidelcli.models import GammaGamma

    if not summary.has_monetary:
        return None, None, []
    frame = summary.frame
    known = spend_known(frame)
    rep = frame.filter(pl.col("frequency") > 0)
    warnings = []
    dropped = int(rep.select((~known).sum()).item())
    if dropped:
        warnings.append(f"{dropped:,} repeat customers whose returns cancel their repeat purchases (net spend <= 0) are "
                        "left out of the spend model: their expected_value is empty and their clv 0")
    rep = rep.filter(known)
    if rep.height < 3:
        raise FitError(f"gamma_gamma: only {rep.height} customer(s) with repeat purchases and a positive spend",
                       hint="the spend model needs several repeat customers; use a longer calibration period")
    x, m, w = arrays(rep, "frequency", "monetary_value", "weight")
    corr = weighted_corr(x, m, w)
    if corr is not None and abs(corr) > 0.3:
        warnings.append(f"frequency and mean spend are correlated (r = {corr:.2f}): the Gamma-Gamma "
                        "independence assumption is doubtful, read expected values with care")
    model = GammaGamma(penalizer=penalizer).fit(x, m, weights=w)
    problem = fit_problem(model)
    if problem is None:
        valued = frame.filter(known).select("frequency", pl.col("monetary_value").clip(0.0)).unique()
        ev = model.expected_spend(*arrays(valued, "frequency", "monetary_value"))
        if not np.all(np.isfinite(ev) & (ev > 0)):
            problem = (f"the expected order value is not finite (q = {model.params_['q']:.3g} <= 1: the mean spend of "
                       "the population is infinite)")
    if problem is not None:
        raise FitError(f"gamma_gamma: {problem}", hint=DEGENERATE_HINT)
    return model, corr, warnings


def n_params(model: Fitted) -> int:
    return len(model.param_names)


def comparison_row(model: Fitted, n: float) -> dict[str, Any]:
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


def _simplicity(name: str, k: int) -> tuple[int, int]:
    return k, SIMPLEST_FIRST.index(name) if name in SIMPLEST_FIRST else len(SIMPLEST_FIRST)


def choose(rows: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Rank usable models (comparison rows without an error), best first, and say how.

    With `holdout_mae` in the rows: by it (ties: the simplest). Otherwise by BIC, except that the
    models within `BIC_INDISTINGUISHABLE` of the lowest BIC cannot be told apart and the simplest of
    them comes first (fewest parameters, then `SIMPLEST_FIRST`).

    Returns (model names best first, notes).
    """
    usable = [r for r in rows if r.get("error") is None]
    if not usable:
        return [], []
    if any(r.get("holdout_mae") is not None for r in usable):
        ranked = sorted(usable, key=lambda r: (r["holdout_mae"], _simplicity(r["model"], r["parameters"])))
        notes = [f"model chosen on the holdout: {ranked[0]['model']} has the lowest mean absolute error of holdout purchases "
                 f"per customer ({ranked[0]['holdout_mae']:.4g})"] if len(ranked) > 1 else []
        return [r["model"] for r in ranked], notes
    lowest = min(r["bic"] for r in usable)
    tied = sorted((r for r in usable if r["bic"] - lowest < BIC_INDISTINGUISHABLE),
                  key=lambda r: _simplicity(r["model"], r["parameters"]))
    rest = sorted((r for r in usable if r not in tied), key=lambda r: r["bic"])
    notes = []
    if len(tied) > 1:
        notes.append(f"models {', '.join(r['model'] for r in tied)} are statistically indistinguishable (BIC within "
                     f"{BIC_INDISTINGUISHABLE:g} of the lowest): kept the simplest, {tied[0]['model']}")
    return [r["model"] for r in [*tied, *rest]], notes


def fit_models(
    summary: Summary,
    *,
    model: ModelName = "auto",
    penalizer: float = 0.0,
    holdout_errors: Callable[[PurchasePredictor], tuple[float, float]] | None = None,
) -> Fit:
    """Fit the purchase model(s) and the spend model, leaving out any degenerate fit.

    `model="auto"` fits every applicable model (BG/NBD, Pareto/NBD and MBG/NBD on a continuous
    summary; BG/BB on a discrete one) and ranks the usable ones with `choose`: with a holdout,
    `holdout_errors(model)` gives each model's holdout (MAE, RMSE) of purchases per customer and
    the lowest MAE wins; without one, the lowest BIC, the simplest of the indistinguishable models
    first. A model that cannot be fitted, or whose fit is degenerate (`fit_problem`, or holdout
    predictions that are not finite), is listed with its error and left out, with a warning. A spend
    model that cannot be fitted (fewer than 3 repeat customers with a positive spend, or a
    degenerate fit) leaves `spend` None, with a warning.

    Returns
    -------
    A `Fit`; its comparison frame has model, log_likelihood, parameters, aic, bic, converged,
    holdout_mae and holdout_rmse (with a holdout), error, best.

    Raises
    ------
    FitError
        No usable model (naming the summary's input file and every model's problem).
    """
    names = ([*CONTINUOUS] if not summary.discrete else ["bgbb"]) if model == "auto" else [model]
    n = float(summary.frame["weight"].sum())
    fitted: dict[str, PurchasePredictor] = {}
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    hints: list[str | None] = []
    for name in names:
        row: dict[str, Any] = {"model": name}
        try:
            m = fit_purchase_model(summary, name, penalizer=penalizer)
        except InputError as exc:  # a summary value the model refuses (row and column known)
            exc.file = exc.file or summary.file
            raise
        except FitError as exc:
            if len(names) == 1:
                exc.file = exc.file or summary.file
                raise
            row["error"] = exc.message if exc.message.startswith(f"{name}:") else f"{name}: {exc.message}"
            hints.append(exc.hint)
        else:
            row.update(comparison_row(m, n))
            problem = fit_problem(m)
            if problem is None and holdout_errors is not None:
                mae, rmse = holdout_errors(m)
                if math.isfinite(mae) and math.isfinite(rmse):
                    row.update(holdout_mae=mae, holdout_rmse=rmse)
                else:
                    problem = "its holdout predictions are not finite"
            if problem is not None:
                row["error"] = f"{name}: {problem}"
                hints.append(DEGENERATE_HINT)
            else:
                fitted[name] = m
        if "error" in row:
            errors.append(row["error"])
        rows.append(row)
    order, notes = choose(rows)
    if not order:
        if len(names) == 1:
            raise FitError(errors[0], file=summary.file, hint=hints[0])
        raise FitError(f"no purchase model could be fitted ({', '.join(names)}); {'; '.join(distinct_problems(errors))}",
                       file=summary.file, hint=hints[0])
    comparison = pl.DataFrame(rows, infer_schema_length=None)
    if holdout_errors is not None:
        for c in ("holdout_mae", "holdout_rmse"):
            if c not in comparison.columns:
                comparison = comparison.with_columns(pl.lit(None, dtype=pl.Float64).alias(c))
    if "error" not in comparison.columns:
        comparison = comparison.with_columns(error=pl.lit(None, dtype=pl.String))
    columns = ["model", "log_likelihood", "parameters", "aic", "bic", "converged",
               *(["holdout_mae", "holdout_rmse"] if holdout_errors is not None else []), "error"]
    comparison = comparison.select(columns).with_columns(best=pl.col("model") == order[0])
    try:
        spend, corr, warnings = fit_spend_model(summary, penalizer=penalizer)
    except FitError as exc:
        # The purchase predictions stand on their own: report them, leave the monetary ones empty.
        spend, corr = None, None
        warnings = [f"{exc.message}: expected_value and clv are left empty (expected purchases and P(alive) are reported)"]
    ranked = [fitted[name] for name in order]
    return Fit(purchase=ranked[0], spend=spend, comparison=comparison, spend_frequency_correlation=corr,
               warnings=[*warnings, *(f"model {e} (left out of the comparison)" for e in errors)], ranked=ranked,
               notes=notes)
