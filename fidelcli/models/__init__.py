"""Model fitting: BTYD purchase models, spend, contractual retention (and churn, elsewhere).

Every probabilistic CLV model follows one contract: `Model(penalizer=...)`, `.fit(...)` returning
self, fitted attributes `params_`, `std_errors_`, `log_likelihood_` (total), `n_customers_`,
`converged_`, `n_distinct_`, and `to_dict()` / `from_dict()` for JSON model files.
"""

from __future__ import annotations

from typing import Any

from fidelcli.errors import ConfigError
from fidelcli.models._fit import FittedModel, compress
from fidelcli.models.bgbb import BGBB
from fidelcli.models.bgnbd import BGNBD
from fidelcli.models.gamma_gamma import GammaGamma
from fidelcli.models.mbgnbd import MBGNBD
from fidelcli.models.pnbd import ParetoNBD
from fidelcli.models.sbg import SBG

MODELS: dict[str, type[FittedModel]] = {
    cls.name: cls for cls in (BGNBD, ParetoNBD, MBGNBD, BGBB, GammaGamma, SBG)
}


def model_from_dict(d: dict[str, Any]) -> FittedModel:
    """Restore any saved model from its `to_dict()` output, dispatching on d["name"].

    Raises
    ------
    ConfigError
        Unknown model name or invalid parameters.
    """
    name = d.get("name") if isinstance(d, dict) else None
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r} in saved model",
                          hint=f"expected one of {', '.join(sorted(MODELS))}")
    return MODELS[name].from_dict(d)


__all__ = [
    "BGBB",
    "BGNBD",
    "MBGNBD",
    "MODELS",
    "SBG",
    "FittedModel",
    "GammaGamma",
    "ParetoNBD",
    "compress",
    "model_from_dict",
]
