"""Churn model: time-based training and validation, a choice of model, and a model file that is pure data.

Training (`train_churn`) works with a time split. The candidates are fitted on the features at the
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
import platform
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import BaseModel

from fidelcli.churn.features import ChurnInputs, FeatureSet, churn_features, feature_names, has_amounts
from fidelcli.churn.labels import parse_horizon, purchase_labels, shift, subscription_labels
from fidelcli.churn.linear import Linear
from fidelcli.churn.metrics import (
    CalibrationRow, Metrics, Placements, auc_difference, auc_placements, calibration_table, evaluate,
)
from fidelcli.churn.modelfile import ChurnModel, spend_features
from fidelcli.churn.trees import export_hgb
from fidelcli.clean import Transactions
from fidelcli.errors import FitError

Calibration = Literal["sigmoid", "isotonic"]
Candidate = Literal["logistic_regression", "gradient_boosting"]
# simplest first: a candidate is saved only when it validates better than every simpler one by
# more than one standard error (the "one standard error rule", Hastie, Tibshirani & Friedman,
# The Elements of Statistical Learning, 2nd ed., section 7.10)
CANDIDATES: tuple[Candidate, ...] = ("logistic_regression", "gradient_boosting")
# the model file's `kind` of each candidate
KINDS = {"logistic_regression": "logistic_regression", "gradient_boosting": "gradient_boosted_trees"}
SELECTION_METRIC = "auc"
BASELINES = ("rfm_logistic", "recency", "p_alive")
# the honest baseline's features (those the data provides: no monetary value without amounts)
RFM_FEATURES = ("recency_days", "frequency", "monetary", "tenure_days")
NAMES = {"logistic_regression": "logistic regression", "gradient_boosting": "gradient boosting",
         "rfm_logistic": "the RFM logistic baseline", "recency": "recency alone", "p_alive": "P(alive)"}
IDENTITY = {"method": "sigmoid", "a": 1.0, "b": 0.0}


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


def _calibration_rows(ids: pl.Series, seed: int) -> np.ndarray:
    """Seeded 20 % of the customers (the same customer always on the same side, whatever the row order)."""
    unique = ids.unique().sort()
    held = pl.DataFrame({"customer_id": unique, "held": np.random.default_rng(seed).random(unique.len()) < CALIBRATION_SHARE})
    return ids.to_frame().join(held, on="customer_id", how="left", maintain_order="left")["held"].to_numpy()


def _two_classes(y: np.ndarray, file: str | None) -> None:
    if len(np.unique(y)) < 2:
        raise FitError(f"every training customer has the same label ({'churned' if y[0] else 'active'}), nothing to learn",
                       file=file, hint="use a longer history, another --cutoff or another --horizon")


def _fit_trees(X: np.ndarray, y: np.ndarray, ids: pl.Series, *, seed: int, calibration: Calibration, features: list[str],
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


def _fit_logistic(X: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                         LogisticRegression(max_iter=2000)).fit(X, y)


def _fit_linear(X: np.ndarray, y: np.ndarray, *, features: list[str], file: str | None = None) -> ChurnModel:
    """The logistic regression as a model (its own probabilities: maximum likelihood needs no calibration map)."""
    _two_classes(y, file)
    return ChurnModel(features=features, baseline=0.0, trees=[], calibration=dict(IDENTITY),
                      linear=Linear.from_pipeline(_fit_logistic(X, y), X))


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


@dataclass
class TrainResult:
    """The refitted model and the validation report."""

    model: ChurnModel
    report: ChurnReport


Cache = dict[dt.date, tuple[FeatureSet, np.ndarray]]


def _dataset(tx: pl.LazyFrame, occasions: pl.LazyFrame, cutoff: dt.date, horizon: str, inputs: ChurnInputs,
             tiers: list[str] | None, cache: Cache) -> tuple[FeatureSet, np.ndarray]:
    """Features at `cutoff` with their labels over the horizon after it (customers in both); computed once per cutoff."""
    if cutoff in cache:
        fs, y = cache[cutoff]
        return FeatureSet(frame=fs.frame, cutoff=fs.cutoff, p_alive_params=fs.p_alive_params, tiers=fs.tiers,
                          warnings=list(fs.warnings)), y
    fs = churn_features(tx, occasions, cutoff, inputs=inputs, tiers=tiers)
    end = shift(cutoff, horizon)
    labels = (subscription_labels(inputs.subscriptions, cutoff, end) if inputs.subscriptions is not None
              else purchase_labels(occasions, cutoff, end)).collect(engine="streaming")
    frame = fs.frame.join(labels, on="customer_id", how="inner").sort("customer_id")
    fs.frame = frame.drop("churned")
    y = frame["churned"].to_numpy().astype(int)
    cache[cutoff] = (FeatureSet(frame=fs.frame, cutoff=cutoff, p_alive_params=fs.p_alive_params, tiers=fs.tiers,
                              warnings=list(fs.warnings)), y)
    return fs, y


def _stacked(tx: pl.LazyFrame, occasions: pl.LazyFrame, cutoff: dt.date, horizon: str, inputs: ChurnInputs,
             tiers: list[str] | None, cache: Cache) -> tuple[FeatureSet, np.ndarray, list[dt.date]]:
    """Training rows from `cutoff` and the cutoffs one, two... horizons before it (while they have customers)."""
    fs, y = _dataset(tx, occasions, cutoff, horizon, inputs, tiers, cache)
    frames, ys, used = [fs.frame], [y], [cutoff]
    earlier = cutoff
    for _ in range(TRAIN_CUTOFFS - 1):
        earlier = shift(earlier, horizon, sign=-1)
        more, y2 = _dataset(tx, occasions, earlier, horizon, inputs, fs.tiers, cache)
        if more.frame.height < 20 or len(np.unique(y2)) < 2 or set(more.frame.columns) != set(fs.frame.columns):
            break
        frames.append(more.frame.select(fs.frame.columns))
        ys.append(y2)
        used.append(earlier)
        fs.warnings += [w for w in more.warnings if w not in fs.warnings]
    fs.frame = pl.concat(frames)
    return fs, np.concatenate(ys), used


def _versions() -> dict[str, str]:
    import scipy
    import sklearn

    from fidelcli import __version__

    return {"fidelcli": __version__, "python": platform.python_version(), "polars": pl.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "scikit-learn": sklearn.__version__}


def train_churn(
    tx: Transactions | pl.LazyFrame,
    *,
    data_end: dt.date,
    cutoff: dt.date | None = None,
    horizon: str = "90d",
    inputs: ChurnInputs | None = None,
    calibration: Calibration = "sigmoid",
    seed: int = 0,
    occasions: pl.LazyFrame | None = None,
) -> TrainResult:
    """Train, validate, choose and refit a churn model with a time split.

    Let C be `cutoff` and H the horizon. Training uses the features at C - H with the label
    "no purchase in (C - H, C]" (and at C - 2H); validation the features at C with the label "no
    purchase in (C, C + H]". When the data does not reach C + H, both move one horizon earlier and
    the report says so. The candidate that validates best (`choose_model`: AUC, the simpler one
    unless the other is better by more than one standard error) is refitted on the latest labelled
    cutoffs (the validation one and the one before) and returned.

    Parameters
    ----------
    tx
        Cleaned transactions (or their `.lf`), including the data after the cutoff (labels). Without
        amounts (no amount column, or every amount 0) the model leaves the spend features out and
        the report says so; the model file lists the features it uses and those left out.
    data_end
        Last day covered by the data (the day before `Transactions.as_of`).
    cutoff
        Validation cutoff; default: the latest one whose horizon is covered, `data_end - H`.
    horizon
        `90d`, `12w`, `3m`.
    inputs
        Optional customers, surveys, campaigns and subscriptions (labels from cancellations).
    calibration
        `sigmoid` (Platt scaling, keeps the ranking) or `isotonic`.
    seed
        Seed of the boosted trees and of the calibration hold-out.
    occasions
        Purchase occasions of `tx` when already computed.

    Returns
    -------
    TrainResult with the model (ready to save) and a ChurnReport (metrics of both candidates and
    the three baselines on the validation customers, the choice, the saved model's AUC gains over
    the baselines with their standard errors, the saved model's calibration table). A warning says
    when the saved model does not clearly beat the RFM logistic baseline.

    Raises
    ------
    FitError
        Not enough history before the cutoffs, or a single class to learn from (naming the
        transactions file when `tx` is a `Transactions`).
    """
    from fidelcli.summary import DEFAULT_ENGINE

    file = tx.file if isinstance(tx, Transactions) else None
    amounts = has_amounts(tx)
    tx = tx.lf if isinstance(tx, Transactions) else tx
    parse_horizon(horizon)
    inputs = inputs or ChurnInputs()
    warnings: list[str] = []
    if occasions is None:
        occasions = DEFAULT_ENGINE.occasions(tx).lazy()
    latest = shift(data_end, horizon, sign=-1)
    if cutoff is None:
        cutoff = latest
    valid_cut = cutoff
    note = f"trained on features at {{train}}; validated on features at {valid_cut} labelled by ({valid_cut}, {shift(valid_cut, horizon)}]"
    if shift(cutoff, horizon) > data_end:
        valid_cut = min(shift(cutoff, horizon, sign=-1), latest)
        note = (f"the data ends on {data_end}, before {cutoff} + {horizon}: validated on the earlier split "
                f"(features at {valid_cut} labelled by ({valid_cut}, {shift(valid_cut, horizon)}]); trained on features at {{train}}")
    train_cut = shift(valid_cut, horizon, sign=-1)
    cache: Cache = {}
    train_fs, y_train, train_cuts = _stacked(tx, occasions, train_cut, horizon, inputs, None, cache)
    note = note.replace("{train}", " and ".join(str(c) for c in train_cuts) + " (each labelled by the horizon after it)", 1)
    if valid_cut != cutoff:
        warnings.append(note)
    if train_fs.frame.height < 20:
        raise FitError(f"only {train_fs.frame.height} customers have a purchase on or before the training cutoff {train_cut}",
                       file=file, hint=f"use a later --cutoff or a shorter --horizon (training needs data before {train_cut})")
    valid_fs, y_valid = _dataset(tx, occasions, valid_cut, horizon, inputs, train_fs.tiers, cache)
    if y_valid.size == 0:
        raise FitError(f"no customer to validate on at {valid_cut}", file=file, hint="use another --cutoff")
    warnings += [w for w in dict.fromkeys(train_fs.warnings + valid_fs.warnings)]

    features = feature_names(train_fs.frame)
    if "p_alive" not in valid_fs.frame.columns and "p_alive" in features:
        features.remove("p_alive")
    features = [f for f in features if f in valid_fs.frame.columns]
    # the final model's rows (the latest labelled cutoffs) are needed now to choose the features
    final_fs, y_final, final_cuts = _stacked(tx, occasions, valid_cut, horizon, inputs, train_fs.tiers, cache)
    left_out, notes = _left_out(features, [train_fs.frame, final_fs.frame], amounts=amounts)
    features = [f for f in features if f not in left_out]
    warnings += notes
    Xt, Xv = _matrix(train_fs.frame, features), _matrix(valid_fs.frame, features)
    trees = _fit_trees(Xt, y_train, train_fs.frame["customer_id"], seed=seed, calibration=calibration, features=features, file=file)
    linear = _fit_linear(Xt, y_train, features=features, file=file)
    # (ranking score, probability) on the validation customers; the trees rank by their raw log-odds
    p_lr = linear.predict_proba(Xv)
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "gradient_boosting": (trees.raw(Xv), trees.predict_proba(Xv)),
        "logistic_regression": (p_lr, p_lr),
    }
    # baselines, fitted on the same training matrix (columns of it)
    rfm = [f for f in RFM_FEATURES if f in features]
    cols = [features.index(f) for f in rfm]
    p_rfm = _fit_linear(Xt[:, cols], y_train, features=rfm).predict_proba(Xv[:, cols])
    scores["rfm_logistic"] = (p_rfm, p_rfm)
    rec = [features.index("recency_days")]
    scores["recency"] = (Xv[:, rec[0]], _fit_linear(Xt[:, rec], y_train, features=["recency_days"]).predict_proba(Xv[:, rec]))
    if "p_alive" in valid_fs.frame.columns:
        p_dead = 1.0 - valid_fs.frame["p_alive"].to_numpy()
        scores["p_alive"] = (p_dead, p_dead)
    metrics = {name: evaluate(y_valid, rank, prob) for name, (rank, prob) in scores.items()}
    places = {name: auc_placements(y_valid, rank) for name, (rank, _) in scores.items()}
    saved, selection = choose_model(metrics, places)

    gains, std_errors, beats, notes = compare(saved, metrics, places, rfm)
    warnings += notes

    # final model: the same recipe on the latest labelled cutoff
    Xf = _matrix(final_fs.frame, features)
    if saved == "gradient_boosting":
        final = _fit_trees(Xf, y_final, final_fs.frame["customer_id"], seed=seed, calibration=calibration, features=features, file=file)
        how = f"{calibration}: fitted on a seeded 20% of the customers held out from the trees"
    else:
        final = _fit_linear(Xf, y_final, features=features, file=file)
        how = f"none: the logistic regression's own probabilities (--calibration {calibration} applies to the trees)"
    report = ChurnReport(
        horizon=horizon, train_cutoff=train_cut, validation_cutoff=valid_cut, final_cutoff=valid_cut, data_end=data_end,
        validation=note, calibration=how,
        features=features, train_rows=int(y_train.size), validation_customers=int(y_valid.size), final_rows=int(y_final.size),
        train_cutoffs=train_cuts, final_cutoffs=final_cuts, metrics=metrics,
        saved_model=saved, selection_metric=SELECTION_METRIC, selection=selection, rfm_features=rfm,
        auc_gain_vs_rfm_logistic=gains["rfm_logistic"], auc_gain_vs_recency=gains["recency"], auc_gain_vs_p_alive=gains.get("p_alive"),
        auc_gain_std_errors=std_errors, beats_rfm_logistic=beats["rfm_logistic"], beats_baselines=beats["all"],
        calibration_table=calibration_table(y_valid, scores[saved][1]), warnings=warnings,
    )
    final.metadata = {
        "versions": _versions(),
        "features": features,
        "horizon": horizon,
        "cutoffs": {"train": [str(c) for c in train_cuts], "validation": str(valid_cut), "final": [str(c) for c in final_cuts]},
        "label": "subscription cancelled" if inputs.subscriptions is not None else "no purchase",
        "seed": seed,
        "calibration": calibration,
        "tiers": train_fs.tiers,
        "p_alive_model": valid_fs.p_alive_params if "p_alive" in features else None,
        "metrics": {k: v.model_dump() for k, v in metrics.items()},
        "hgb_params": HGB_PARAMS,
        "features_left_out": left_out,
        "saved_model": saved,
        "selection_metric": SELECTION_METRIC,
        "selection": selection,
    }
    return TrainResult(model=final, report=report)


def _left_out(features: list[str], frames: list[pl.DataFrame], *, amounts: bool) -> tuple[dict[str, str], list[str]]:
    """Features the model cannot learn from, with the reason, and the warnings saying so.

    Without amounts the spend features are all 0 or undefined: they describe the export, not the
    customers. A feature no training customer has a value for (every value missing at the
    training cutoffs) carries nothing to learn, and the trees' binning cannot handle it.
    """
    left_out: dict[str, str] = {}
    notes: list[str] = []
    if not amounts:
        spend = spend_features(features)
        left_out |= dict.fromkeys(spend, "no amounts in the transactions")
        if spend:
            notes.append(f"no amounts in the transactions (no amount column, or every amount is 0): the model is trained "
                         f"without the spend features ({', '.join(spend)})")
    empty = [f for f in features if f not in left_out and any(fr[f].null_count() == fr.height for fr in frames)]
    left_out |= dict.fromkeys(empty, "no customer has a value at the training cutoffs")
    if empty:
        notes.append(f"feature(s) left out, no customer has a value at the training cutoffs: {', '.join(empty)}")
    return left_out, notes


def _matrix(frame: pl.DataFrame, features: list[str]) -> np.ndarray:
    return frame.select(pl.col(f).cast(pl.Float64) for f in features).to_numpy(order="c").astype(np.float64, copy=False)
