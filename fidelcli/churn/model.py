"""Churn model: time-based training and validation, calibration, and a model file that is pure data.

Training (`train_churn`) works with a time split. The model is fitted on the features at the
cutoffs one and two horizons before the validation cutoff, each labelled by the horizon after it
(so with labels observed up to the validation cutoff at most), then validated on the features at the
validation cutoff with the labels of the horizon after it: the validation customers' futures were
never seen in training. It is compared with a logistic regression and with two simple baselines
(recency alone, BG/NBD P(alive)). The model kept is refitted the same way on the latest labelled
cutoff.

The model and its file (JSON data, checked against a schema when loaded, never code) are in
`fidelcli.churn.modelfile`.
"""

from __future__ import annotations

import datetime as dt
import math
import platform
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import BaseModel

from fidelcli.churn.features import ChurnInputs, FeatureSet, churn_features, feature_names, has_amounts
from fidelcli.churn.labels import parse_horizon, purchase_labels, shift, subscription_labels
from fidelcli.churn.modelfile import ChurnModel, spend_features
from fidelcli.churn.trees import export_hgb
from fidelcli.clean import Transactions
from fidelcli.errors import FitError

Calibration = Literal["sigmoid", "isotonic"]


# ----------------------------------------------------------------------------------------- metrics
class Metrics(BaseModel):
    """Classification quality on one set of customers (churned = positive class)."""

    customers: int
    churn_rate: float
    auc: float | None
    pr_auc: float | None
    brier: float
    top_decile_lift: float | None
    top_decile_capture: float | None


class CalibrationRow(BaseModel):
    """One decile of predicted probability: how many customers, mean predicted, observed churn rate."""

    decile: int
    customers: int
    mean_predicted: float
    observed: float


class ChurnReport(BaseModel):
    """What `churn train` measured."""

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
    auc_gain_vs_recency: float | None
    auc_gain_vs_p_alive: float | None
    beats_baselines: bool | None
    calibration_table: list[CalibrationRow]
    warnings: list[str]


def _f(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def evaluate(y: np.ndarray, score: np.ndarray, prob: np.ndarray | None = None) -> Metrics:
    """AUC, PR-AUC, Brier score (of `prob`, default `score`), lift and capture rate in the top decile.

    The top decile is the 10 % of customers (rounded up) with the highest score; ties are broken by
    row order (customers are sorted by id). Lift = churn rate in it / overall churn rate; capture =
    share of all churners found in it.
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = np.asarray(y, dtype=int)
    prob = score if prob is None else prob
    n = y.size
    rate = float(y.mean()) if n else math.nan
    both = 0 < y.sum() < n
    auc = roc_auc_score(y, score) if both else math.nan
    pr = average_precision_score(y, score) if both else math.nan
    k = math.ceil(n / 10)
    top = np.argsort(-score, kind="stable")[:k]
    hits = float(y[top].sum())
    lift = (hits / k) / rate if k and rate > 0 else math.nan
    capture = hits / y.sum() if y.sum() > 0 else math.nan
    return Metrics(customers=n, churn_rate=rate, auc=_f(auc), pr_auc=_f(pr), brier=float(brier_score_loss(y, np.clip(prob, 0, 1))),
                   top_decile_lift=_f(lift), top_decile_capture=_f(capture))


def calibration_table(y: np.ndarray, prob: np.ndarray) -> list[CalibrationRow]:
    """Customers split in ten equal groups by predicted probability: mean predicted vs observed."""
    order = np.argsort(prob, kind="stable")
    rows = []
    for i, idx in enumerate(np.array_split(order, 10), start=1):
        if idx.size:
            rows.append(CalibrationRow(decile=i, customers=int(idx.size), mean_predicted=float(prob[idx].mean()),
                                       observed=float(np.asarray(y)[idx].mean())))
    return rows


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


def _fit_trees(X: np.ndarray, y: np.ndarray, ids: pl.Series, *, seed: int, calibration: Calibration, features: list[str],
               file: str | None = None) -> ChurnModel:
    """Boosted trees on 80 % of the customers, calibration map on the other 20 % (seeded split)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    if len(np.unique(y)) < 2:
        raise FitError(f"every training customer has the same label ({'churned' if y[0] else 'active'}), nothing to learn",
                       file=file, hint="use a longer history, another --cutoff or another --horizon")
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
    """Train, validate and refit a churn model with a time split.

    Let C be `cutoff` and H the horizon. Training uses the features at C - H with the label
    "no purchase in (C - H, C]"; validation the features at C with the label "no purchase in
    (C, C + H]". When the data does not reach C + H, both move one horizon earlier and the report
    says so. The final model is refitted on the latest labelled cutoff (the validation one).

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
    TrainResult with the model (ready to save) and a ChurnReport (metrics of the boosted model,
    the logistic regression and the baselines on the validation customers, calibration table).

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
    eval_model = _fit_trees(_matrix(train_fs.frame, features), y_train, train_fs.frame["customer_id"], seed=seed,
                            calibration=calibration, features=features, file=file)
    Xv = eval_model.matrix(valid_fs.frame)
    p_gb = eval_model.predict_proba(Xv)
    raw_gb = eval_model.raw(Xv)
    Xt = _matrix(train_fs.frame, features)
    lr = _fit_logistic(Xt, y_train)
    p_lr = lr.predict_proba(Xv)[:, 1]
    rec_idx = features.index("recency_days")
    rec_lr = _fit_logistic(Xt[:, [rec_idx]], y_train)
    metrics = {
        "gradient_boosting": evaluate(y_valid, raw_gb, p_gb),
        "logistic_regression": evaluate(y_valid, p_lr),
        "recency": evaluate(y_valid, Xv[:, rec_idx], rec_lr.predict_proba(Xv[:, [rec_idx]])[:, 1]),
    }
    if "p_alive" in valid_fs.frame.columns:
        metrics["p_alive"] = evaluate(y_valid, 1.0 - valid_fs.frame["p_alive"].to_numpy())

    def gain(base: str) -> float | None:
        a, b = metrics["gradient_boosting"].auc, metrics[base].auc if base in metrics else None
        return None if a is None or b is None else a - b

    g_rec, g_pa = gain("recency"), gain("p_alive")
    beats = None if g_rec is None else (g_rec > 0 and (g_pa is None or g_pa > 0))

    # final model: the same recipe on the latest labelled cutoff
    final = _fit_trees(_matrix(final_fs.frame, features), y_final, final_fs.frame["customer_id"], seed=seed,
                       calibration=calibration, features=features, file=file)
    report = ChurnReport(
        horizon=horizon, train_cutoff=train_cut, validation_cutoff=valid_cut, final_cutoff=valid_cut, data_end=data_end,
        validation=note,
        calibration=f"{calibration}: fitted on a seeded 20% of the customers held out from the trees",
        features=features, train_rows=int(y_train.size), validation_customers=int(y_valid.size), final_rows=int(y_final.size),
        train_cutoffs=train_cuts, final_cutoffs=final_cuts, metrics=metrics,
        auc_gain_vs_recency=g_rec, auc_gain_vs_p_alive=g_pa, beats_baselines=beats,
        calibration_table=calibration_table(y_valid, p_gb), warnings=warnings,
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
