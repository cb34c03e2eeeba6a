"""fidelcli: customer-loyalty analytics. The library behind the `fidelcli` command.

Example
-------
>>> import fidelcli
>>> tx = fidelcli.clean_transactions(fidelcli.scan_table("sales.csv", "transactions"))  # doctest: +SKIP
>>> result = fidelcli.rfm_analysis(tx, engine=fidelcli.get_engine("polars"))  # doctest: +SKIP
>>> result.tables()["customers"]  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public names and the module that defines each; imported on first use, so that `import fidelcli`
# (and every command) pays only for what it uses (SciPy and scikit-learn load with the models).
_EXPORTS = {
    "FidelError": "fidelcli.errors", "InputError": "fidelcli.errors", "MappingError": "fidelcli.errors",
    "ConfigError": "fidelcli.errors", "FitError": "fidelcli.errors", "CheckFailed": "fidelcli.errors",
    "ModelFileError": "fidelcli.errors", "OutputError": "fidelcli.errors", "DependencyError": "fidelcli.errors",
    "Config": "fidelcli.config", "load_config": "fidelcli.config",
    "Table": "fidelcli.io.read", "scan_table": "fidelcli.io.read",
    "write_frame": "fidelcli.io.write",
    "Transactions": "fidelcli.clean", "clean_transactions": "fidelcli.clean",
    "Engine": "fidelcli.engine", "PolarsEngine": "fidelcli.engine", "get_engine": "fidelcli.engine",
    "ENGINES": "fidelcli.engine", "TableSpec": "fidelcli.engine", "CleanOptions": "fidelcli.engine",
    "rfm": "fidelcli.analyses.rfm", "rfm_summary": "fidelcli.analyses.rfm", "rfm_analysis": "fidelcli.analyses.rfm",
    "kpi": "fidelcli.analyses.kpi", "kpi_analysis": "fidelcli.analyses.kpi",
    "cohorts": "fidelcli.analyses.cohort", "cohort_analysis": "fidelcli.analyses.cohort",
    "clv_analysis": "fidelcli.analyses.clv", "customer_lifetime_value": "fidelcli.analyses.clv",
    "subscription_analysis": "fidelcli.analyses.subscription", "Result": "fidelcli.result",
    "train_churn": "fidelcli.churn", "score_churn": "fidelcli.churn", "churn_score_analysis": "fidelcli.churn",
    "journey": "fidelcli.analyses.journey", "JourneyResult": "fidelcli.analyses.journey",
    "recommend_rules": "fidelcli.analyses.recommend", "recommend_customers": "fidelcli.analyses.recommend",
    "basket_table": "fidelcli.io.baskets",
    "abtest": "fidelcli.analyses.roi", "abtest_analysis": "fidelcli.analyses.roi", "retention_scenario": "fidelcli.analyses.roi",
    "program_roi": "fidelcli.analyses.roi.program", "ProgramCosts": "fidelcli.analyses.roi.program",
    "simulate_loyalty": "fidelcli.analyses.loyalty", "LoyaltyRules": "fidelcli.analyses.loyalty",
    "scan_results": "fidelcli.io.results",
    "target_analysis": "fidelcli.analyses.target", "write_target_lists": "fidelcli.analyses.target",
    "validate": "fidelcli.validate", "generate_sample": "fidelcli.sample",
}
_RENAMED = {"generate_sample": "generate"}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'fidelcli' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
