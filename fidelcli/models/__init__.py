"""Model fitting: BTYD purchase models, spend, contractual retention (and churn, elsewhere).

Every probabilistic CLV model follows one contract: `Model(penalizer=...)`, `.fit(...)` returning
self, fitted attributes `params_`, `std_errors_`, `log_likelihood_` (total), `n_customers_`,
`converged_`, `n_distinct_`, `fit_attempts_`, and `to_dict()` / `from_dict()` for JSON model files.
Every purchase model (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB) satisfies `base.PurchasePredictor`, the
predictions the analyses call.

`base` is the public base (`FittedModel`, `PurchaseModel`, `PurchasePredictor`); `_optimize`,
`_validation` and `_parallel` are this package's internals, imported by the model modules only.
"""

from __future__ import annotations

from typing import Any

from fidelcli.errors import ModelFileError
from fidelcli.models._parallel import single_threaded_blas
from fidelcli.models._validation import compress
from fidelcli.models.base import Fitted, FittedModel, PurchaseModel, PurchasePredictor
from fidelcli.models.bgbb import BGBB
from fidelcli.models.bgnbd import BGNBD
from fidelcli.models.gamma_gamma import GammaGamma
from fidelcli.models.mbgnbd import MBGNBD
from fidelcli.models.pnbd import ParetoNBD
from fidelcli.models.sbg import SBG

MODELS: dict[str, type[FittedModel]] = {
    cls.name: cls for cls in (BGNBD, ParetoNBD, MBGNBD, BGBB, GammaGamma, SBG)
}

# The purchase models by name (their order: `--model auto` tries them in it). The annotation makes
# mypy check that each one satisfies the prediction protocol, BG/BB included.
PURCHASE_MODELS: dict[str, type[PurchasePredictor]] = {
    "bgnbd": BGNBD, "pnbd": ParetoNBD, "mbgnbd": MBGNBD, "bgbb": BGBB,
}


def model_from_dict(d: Any) -> FittedModel:
    """Restore any saved model from its `to_dict()` output, dispatching on d["name"].

    Raises
    ------
    ModelFileError
        Unknown model name or invalid parameters.
    """
    name = d.get("name") if isinstance(d, dict) else None
    if name not in MODELS:
        raise ModelFileError(f"unknown model {name!r} in saved model",
                             hint=f"expected one of {', '.join(sorted(MODELS))}")
    return MODELS[name].from_dict(d)


__all__ = [
    "BGBB",
    "BGNBD",
    "MBGNBD",
    "MODELS",
    "PURCHASE_MODELS",
    "SBG",
    "Fitted",
    "FittedModel",
    "GammaGamma",
    "ParetoNBD",
    "PurchaseModel",
    "PurchasePredictor",
    "compress",
    "model_from_dict",
    "single_threaded_blas",
]
