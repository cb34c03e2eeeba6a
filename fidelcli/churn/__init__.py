"""Churn prediction: features at a cutoff, labels, a time-validated model, scoring with drivers.

Example
-------
>>> from fidelcli.churn import train_churn, score_churn  # doctest: +SKIP
>>> result = train_churn(tx, engine=engine, data_end=tx.as_of - dt.timedelta(days=1), horizon="90d")  # doctest: +SKIP
>>> result.model.save(Path("churn.json"))  # doctest: +SKIP
"""

from fidelcli.analyses.timeunits import parse_horizon
from fidelcli.churn.drivers import churn_drivers
from fidelcli.churn.features import ChurnInputs, FeatureSet, churn_features
from fidelcli.churn.labels import shift, subscription_labels
from fidelcli.churn.metrics import Metrics, evaluate
from fidelcli.churn.model import ChurnReport
from fidelcli.churn.modelfile import ChurnModel
from fidelcli.churn.score import DEFAULT_BANDS, ScoreResult, band_summary, check_bands, churn_score_analysis, churn_summary, score_churn
from fidelcli.churn.train import TrainResult, train_churn

__all__ = [
    "DEFAULT_BANDS", "ChurnInputs", "ChurnModel", "ChurnReport", "FeatureSet", "Metrics", "ScoreResult", "TrainResult",
    "band_summary", "check_bands", "churn_drivers", "churn_features", "churn_score_analysis", "churn_summary", "evaluate", "parse_horizon",
    "score_churn", "shift", "subscription_labels", "train_churn",
]
