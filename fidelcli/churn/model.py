"""Churn model: the candidates, their fit and the choice between them, for a time-based training.

Training (`fidelcli.churn.train.train_churn`) works with a time split. The candidates are fitted on the features at the
cutoffs one and two horizons before the validation cutoff, each labelled by the horizon after it
(so with labels observed up to the validation cutoff at most), then validated on the features at the
validation cutoff with the labels of the horizon after it: the validation customers' futures were
never seen in training. Two candidates, a logistic regression and gradient-boosted trees, are
compared with three baselines: a logistic regression on recency, frequency, monetary value and
tenure (the honest baseline, what an analyst fits by hand on an RFM table), recency alone and
BG/NBD P(alive). The candidate that validates best (AUC; the simpler one unless the other is better
by more than one standard error) is refitted the same way on the latest labelled cutoff and saved.

The model and its file (JSON data, checked against a schema when loaded, never code) are in
`fidelcli.churn.modelfile`; the metrics in `fidelcli.churn.metrics`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray
from pydantic import BaseModel

from fidelcli.churn.linear import Linear
from fidelcli.churn.metrics import (
    CalibrationRow,
    Labels,
    Metrics,
    Placements,
    auc_difference,
)
from fidelcli.churn.modelfile import ChurnModel, SigmoidCalibration
from fidelcli.churn.trees import export_hgb
from fidelcli.errors import FitError
from fidelcli.stats import FloatArray

Calibration = Literal["sigmoid", "isotonic"]
Candidate = Literal["logistic_regression", "gradient_boosting"]
# simplest first: a candidate is saved only when it validates better than every simpler one by
# more than one standard error (the "one standard error rule", Hastie, Tibshirani & Friedman,
# The Elements of Statistical Learning, 2nd ed., section 7.10)
CANDIDATES: tuple[Candidate, ...] = ("logistic_regression", "gradient_boosting")
# the model file's `kind` of each candidate
KINDS = {"logistic_regression": "logistic_regression", "gradient_boosting": "gradient_boosted_trees"}
SELECTION_METRIC: Final = "auc"
BASELINES = ("rfm_logistic", "recency", "p_alive")
# the honest baseline's features (those the data provides: no monetary value without amounts)
RFM_FEATURES = ("recency_days", "frequency", "monetary", "tenure_days")
NAMES = {"logistic_regression": "logistic regression", "gradient_boosting": "gradient boosting",
         "rfm_logistic": "the RFM logistic baseline", "recency": "recency alone", "p_alive": "P(alive)"}
IDENTITY: SigmoidCalibration = {"method": "sigmoid", "a": 1.0, "b": 0.0}


class ChurnReport(BaseModel):
    """What `churn train` measured.

    `metrics` holds the candidates (`logistic_regression`, `gradient_boosting`) and the baselines
    (`rfm_logistic`, `recency`, `p_alive` when fitted) on the validation customers. The gains are the
    saved model's AUC minus the baseline's; `auc_gain_std_errors` their DeLong standard errors, by
    the name of the model compared. `beats_baselines`: a positive gain over every baseline.
    """

    horizon: str
    train_cutoff: dt.date
    validation_cutoff: dt.date
    final_cutoff: dt.date
    data_end: dt.date
    validation: str
    calibration: str
    features: list[str]
    train_cutoffs: list[dt.date]
    final_cutoffs: list[dt.date]
    train_rows: int
    validation_customers: int
    final_rows: int
    metrics: dict[str, Metrics]
    saved_model: Candidate
    selection_metric: Literal["auc"]
    selection: str
    rfm_features: list[str]
    auc_gain_vs_rfm_logistic: float | None
    auc_gain_vs_recency: float | None
    auc_gain_vs_p_alive: float | None
    auc_gain_std_errors: dict[str, float | None]
    beats_rfm_logistic: bool | None
    beats_baselines: bool | None
    calibration_table: list[CalibrationRow]
    warnings: list[str]


# --------------------------------------------------------------------------------------- training
# Shallow trees, strong L2: churn data is small and shifts between cutoffs (CDNOW: 2,357 customers).
HGB_PARAMS: dict[str, Any] = dict(
    learning_rate=0.05, max_iter=200, max_depth=3, max_leaf_nodes=8, min_samples_leaf=50,
    l2_regularization=5.0, early_stopping=False,
)
CALIBRATION_SHARE = 0.2
TRAIN_CUTOFFS = 2


def _calibration_rows(ids: pl.Series, seed: int) -> NDArray[np.bool_]:
    """Seeded 20 % of the customers (the same customer always on the same side, whatever the row order)."""
    unique = ids.unique().sort()
    held = pl.DataFrame({"customer_id": unique, "held": np.random.default_rng(seed).random(unique.len()) < CALIBRATION_SHARE})
    return ids.to_frame().join(held, on="customer_id", how="left", maintain_order="left")["held"].to_numpy()


def _two_classes(y: Labels, file: str | None) -> None:
    if len(np.unique(y)) < 2:
        raise FitError(f"every training customer has the same label ({'churned' if y[0] else 'active'}), nothing to learn",
                       file=file, hint="use a longer history, another --cutoff or another --horizon")


def fit_trees(X: FloatArray, y: Labels, ids: pl.Series, *, seed: int, calibration: Calibration, features: list[str],
               file: str | None = None) -> ChurnModel:
    """Boosted trees on 80 % of the customers, calibration map on the other 20 % (seeded split)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    _two_classes(y, file)
    calib = _calibration_rows(ids, seed)
    if len(np.unique(y[calib])) < 2 or len(np.unique(y[~calib])) < 2:
        calib = np.zeros(y.size, dtype=bool)  # too few customers to hold some out: calibrate in-sample
    fit_rows = ~calib
    params = dict(HGB_PARAMS, min_samples_leaf=min(HGB_PARAMS["min_samples_leaf"], max(5, int(fit_rows.sum()) // 50)))
    # OpenMP threads only pay off on large data; on small data (or a busy machine) they mostly wait
    with threadpool_limits(limits=1 if y.size < 200_000 else None, user_api="openmp"):
        hgb = HistGradientBoostingClassifier(**params, random_state=seed).fit(X[fit_rows], y[fit_rows])
    baseline, trees = export_hgb(hgb)
    model = ChurnModel(features=features, baseline=baseline, trees=trees, calibration={"method": "sigmoid", "a": 1.0, "b": 0.0})
    rows = calib if calib.any() else fit_rows
    raw = model.raw(np.ascontiguousarray(X[rows]))
    if calibration == "sigmoid":
        # Platt scaling on the held-out log-odds: monotone, so ranking metrics are unchanged
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(raw.reshape(-1, 1), y[rows])
        model.calibration = {"method": "sigmoid", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}
    else:
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(1 / (1 + np.exp(-raw)), y[rows])
        model.calibration = {"method": "isotonic", "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
    return model


def fit_logistic(X: FloatArray, y: Labels) -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                         LogisticRegression(max_iter=2000)).fit(X, y)


def fit_linear(X: FloatArray, y: Labels, *, features: list[str], file: str | None = None) -> ChurnModel:
    """The logistic regression as a model (its own probabilities: maximum likelihood needs no calibration map)."""
    _two_classes(y, file)
    return ChurnModel(features=features, baseline=0.0, trees=[], calibration=IDENTITY.copy(),
                      linear=Linear.from_pipeline(fit_logistic(X, y), X))


def choose_model(metrics: dict[str, Metrics], places: dict[str, Placements | None]) -> tuple[Candidate, str]:
    """The candidate to save, and why, in one sentence.

    The metric is the validation AUC: it measures the whole ranking (the risk bands split every
    customer, not only the top), and it does not depend on the churn rate, which moves between
    cutoffs and data sets (84 % on CDNOW, where PR-AUC can only range from 0.84 to 1). The simplest
    candidate is kept unless a more complex one beats it by more than one standard error of the
    paired AUC difference (`places`: DeLong placements of each candidate's validation scores): a
    smaller gain is a tie on this validation sample.
    """
    aucs: dict[str, float] = {c: a for c in CANDIDATES if (a := metrics[c].auc) is not None}
    if len(aucs) < len(CANDIDATES):
        return CANDIDATES[0], (f"{NAMES[CANDIDATES[0]]} saved: every validation customer has the same label, so no AUC "
                               f"compares the models; the simpler one is kept")

    def se(a: str, b: str) -> float:
        pa, pb = places[a], places[b]
        return auc_difference(pa, pb)[1] if pa is not None and pb is not None else 0.0

    best = max(CANDIDATES, key=lambda c: aucs[c])  # max keeps the first (simplest) of equal values
    simpler = CANDIDATES[:CANDIDATES.index(best)]
    for c in simpler:
        if aucs[best] - aucs[c] <= (s := se(best, c)):
            return c, (f"{NAMES[c]} saved: validation AUC {aucs[c]:.4f} vs {NAMES[best]} {aucs[best]:.4f}, "
                       f"a difference within one standard error ({s:.4f}): the simpler model is kept")
    others = ", ".join(f"{NAMES[c]} {aucs[c]:.4f}" for c in CANDIDATES if c != best)
    if not simpler:
        return best, f"{NAMES[best]} saved: the best validation AUC ({aucs[best]:.4f}; {others})"
    runner_up = max(simpler, key=lambda c: aucs[c])
    return best, (f"{NAMES[best]} saved: the best validation AUC ({aucs[best]:.4f}; {others}), "
                  f"{aucs[best] - aucs[runner_up]:+.4f} over {NAMES[runner_up]}, more than one standard error "
                  f"({se(best, runner_up):.4f})")


def compare(saved: str, metrics: dict[str, Metrics], places: dict[str, Placements | None],
            rfm: list[str]) -> tuple[dict[str, float | None], dict[str, float | None], dict[str, bool | None], list[str]]:
    """The saved model against every other model: AUC gains, their standard errors, verdicts, warnings.

    Returns gains and standard errors by the name of the model compared (the other candidate and
    the baselines); `{"rfm_logistic": gain > 0, "all": a positive gain over every baseline}` (None
    when an AUC is missing); and the warning when the saved model does not clearly beat the RFM
    logistic baseline (no gain, or a gain within one standard error), which it must to be worth it.
    """
    gains: dict[str, float | None] = {}
    std_errors: dict[str, float | None] = {}
    for other in metrics:
        if other != saved:
            a, b = metrics[saved].auc, metrics[other].auc
            gains[other] = None if a is None or b is None else a - b
            pa, pb = places[saved], places[other]
            std_errors[other] = auc_difference(pa, pb)[1] if pa is not None and pb is not None else None
    known = [g for b in BASELINES if b in gains and (g := gains[b]) is not None]
    g_rfm, se_rfm = gains["rfm_logistic"], std_errors["rfm_logistic"]
    beats = {"rfm_logistic": None if g_rfm is None else g_rfm > 0,
             "all": None if len(known) < len([b for b in BASELINES if b in gains]) else all(g > 0 for g in known)}
    words = f"the RFM logistic baseline ({', '.join(rfm)})"
    notes = []
    if g_rfm is not None and g_rfm <= 0:
        notes.append(f"the saved model ({NAMES[saved]}) does not beat {words}: validation AUC "
                     f"{metrics[saved].auc:.4f} vs {metrics['rfm_logistic'].auc:.4f}")
    elif g_rfm is not None and se_rfm is not None and g_rfm <= se_rfm:
        notes.append(f"the saved model ({NAMES[saved]}) beats {words} by only {g_rfm:+.4f} AUC, within one "
                     f"standard error ({se_rfm:.4f}): no clear gain over it")
    return gains, std_errors, beats, notes
