"""Customer lifetime value: recency/frequency summaries, model fits and per-customer predictions.

Predictions combine a purchase model (BG/NBD, Pareto/NBD, MBG/NBD or BG/BB) with the Gamma-Gamma
spend model: P(alive), expected purchases over a horizon, expected order value and the discounted
CLV = margin x expected order value x discounted expected purchases. They are computed once per
distinct (x, t_x, T) row and joined back to the customers.

One module per step: `summary` (x, t_x, T and net monetary value from transactions or a table),
`fit` (fits, degenerate-fit checks, model choice), `predict` (predictions, bootstrap, the finite
check), `value` (historical CLV, tiers, margins, top customers), `analysis` (`predict_clv`,
`clv_analysis`), `holdout` (the calibration/holdout report), `modelfile` (`--save-model`).
"""

from __future__ import annotations

from typing import Any

from fidelcli.analyses.clv.analysis import (
    CUSTOMER_COLUMNS,
    ClvResult,
    check_options,
    clv_analysis,
    customer_count,
    customer_lifetime_value,
    is_discrete_summary,
    p_alive_warning,
    predict_clv,
    read_summary_file,
)
from fidelcli.analyses.clv.fit import (
    CONTINUOUS,
    Fit,
    ModelName,
    choose,
    comparison_row,
    fit_models,
    fit_problem,
    fit_purchase_model,
    fit_spend_model,
    n_params,
    purchase_models,
    spend_known,
)
from fidelcli.analyses.clv.modelfile import ClvModelDoc, fit_from_document, load_model_file, model_document
from fidelcli.analyses.clv.predict import (
    ClvOptions,
    NonFiniteError,
    bootstrap_intervals,
    check_finite,
    discount_steps,
    discrete_horizon,
    purchase_predictions,
)
from fidelcli.analyses.clv.summary import (
    SUMMARY_SYNONYMS,
    Summary,
    arrays,
    discrete_summary_from_occasions,
    read_summary,
    summary_from_occasions,
    summary_from_transactions,
)
from fidelcli.analyses.clv.value import (
    HIGH_POTENTIAL_RATIO,
    TIERS,
    estimate_lifetime_years,
    historical_clv,
    margin_rates,
    pseudonym,
    top_customers,
    value_tiers,
    weighted_value_tiers,
)
from fidelcli.analyses.timeunits import parse_horizon


def __getattr__(name: str) -> Any:
    """`PURCHASE_MODELS` (name -> model class) and the model classes, imported on first access (SciPy)."""
    if name == "PURCHASE_MODELS":
        return purchase_models()
    if name in ("BGBB", "BGNBD", "MBGNBD", "GammaGamma", "ParetoNBD"):
        import fidelcli.models

        return getattr(fidelcli.models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CONTINUOUS", "CUSTOMER_COLUMNS", "HIGH_POTENTIAL_RATIO", "SUMMARY_SYNONYMS", "TIERS",
    "ClvModelDoc", "ClvOptions", "ClvResult", "Fit", "ModelName", "NonFiniteError", "Summary",
    "arrays", "bootstrap_intervals", "check_finite", "check_options", "customer_count", "customer_lifetime_value",
    "is_discrete_summary", "read_summary_file", "choose", "clv_analysis", "comparison_row", "discount_steps",
    "discrete_horizon", "discrete_summary_from_occasions", "estimate_lifetime_years", "fit_from_document", "fit_models",
    "fit_problem", "fit_purchase_model", "fit_spend_model", "historical_clv", "load_model_file", "margin_rates",
    "model_document", "n_params", "p_alive_warning", "parse_horizon", "predict_clv", "pseudonym", "purchase_models",
    "purchase_predictions", "read_summary", "spend_known", "summary_from_occasions", "summary_from_transactions",
    "top_customers", "value_tiers", "weighted_value_tiers",
]
