"""Churn training (`train_churn`): features and labels at time-split cutoffs, the candidates and
baselines fitted and validated, the choice, and the final refit (see `fidelcli.churn.model`)."""

from __future__ import annotations

import datetime as dt
import platform
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from fidelcli.analyses.timeunits import parse_horizon
from fidelcli.churn.features import ChurnInputs, FeatureSet, churn_features, feature_names
from fidelcli.churn.labels import shift, subscription_labels
from fidelcli.churn.metrics import auc_placements, calibration_table, evaluate
from fidelcli.churn.model import (
    CANDIDATES,
    HGB_PARAMS,
    NAMES,
    RFM_FEATURES,
    SELECTION_METRIC,
    TRAIN_CUTOFFS,
    Calibration,
    ChurnReport,
    choose_model,
    compare,
    fit_linear,
    fit_trees,
)
from fidelcli.churn.modelfile import ChurnModel, feature_matrix, spend_features
from fidelcli.clean import Transactions
from fidelcli.engine import Engine
from fidelcli.errors import FitError
from fidelcli.result import Figure, JsonResult

Cache = dict[dt.date, tuple[FeatureSet, np.ndarray]]
SHORT_NAMES = {"rfm_logistic": "RFM logistic", "recency": "recency", "p_alive": "P(alive)"}


@dataclass
class TrainResult(JsonResult):
    """The refitted model and the validation report: the result of `churn train`.

    model: the model to save (`ChurnModel.save`; its document is `model.to_dict()`).
    report: what the training measured (`ChurnReport`, the `--report` JSON).
    warnings: the report's warnings (the same list).
    """

    model: ChurnModel
    report: ChurnReport
    warnings: list[str] = field(default_factory=list)

    def metrics_table(self) -> pl.DataFrame:
        """One row per model compared: model, role (saved, candidate or baseline), then its validation metrics."""
        rep = self.report
        return pl.DataFrame([{"model": name, "role": role(name, rep.saved_model), **m.model_dump()} for name, m in rep.metrics.items()])

    def calibration_table(self) -> pl.DataFrame:
        """The saved model's calibration on the validation customers: decile, customers, mean_predicted, observed."""
        schema = {"decile": pl.Int64, "customers": pl.Int64, "mean_predicted": pl.Float64, "observed": pl.Float64}
        return pl.DataFrame([r.model_dump() for r in self.report.calibration_table], schema=schema)

    def tables(self) -> dict[str, pl.DataFrame]:
        """metrics (candidates and baselines on the validation customers), calibration (the saved model's)."""
        return {"metrics": self.metrics_table(), "calibration": self.calibration_table()}

    def headline(self) -> dict[str, Figure]:
        rep = self.report
        return {
            "saved_model": rep.saved_model, "horizon": rep.horizon, "validation_cutoff": rep.validation_cutoff.isoformat(),
            "train_rows": rep.train_rows, "validation_customers": rep.validation_customers, "final_rows": rep.final_rows,
            "auc": rep.metrics[rep.saved_model].auc, "auc_gain_vs_rfm_logistic": rep.auc_gain_vs_rfm_logistic,
            "auc_gain_vs_recency": rep.auc_gain_vs_recency, "auc_gain_vs_p_alive": rep.auc_gain_vs_p_alive,
            "beats_baselines": rep.beats_baselines,
        }

    def verdict(self) -> str:
        """How far the saved model beats each baseline, and whether it beats them all (clearly), in one sentence."""
        rep = self.report
        gains = {b: g for b, g in (("rfm_logistic", rep.auc_gain_vs_rfm_logistic), ("recency", rep.auc_gain_vs_recency),
                                   ("p_alive", rep.auc_gain_vs_p_alive)) if g is not None}
        ses = rep.auc_gain_std_errors
        listed = ", ".join(f"{SHORT_NAMES[b]} {g:+.4f}" + (f" (standard error {se:.4f})" if (se := ses.get(b)) is not None else "")
                           for b, g in gains.items())
        unclear = [SHORT_NAMES[b] for b, g in gains.items() if (se := ses.get(b)) is not None and g <= se]
        if not rep.beats_baselines:
            verdict = "does NOT beat every baseline"
        elif unclear:
            verdict = f"beats the baselines, but by less than one standard error over {', '.join(unclear)}"
        else:
            verdict = "beats the baselines"
        return f"{NAMES[rep.saved_model]} (saved) {verdict}: AUC gain vs {listed}"


def role(name: str, saved: str) -> str:
    """A compared model's role: `saved`, `candidate` (the other candidate) or `baseline`."""
    return "saved" if name == saved else "candidate" if name in CANDIDATES else "baseline"


def _dataset(tx: Transactions, engine: Engine, cutoff: dt.date, horizon: str, inputs: ChurnInputs,
             tiers: list[str] | None, cache: Cache) -> tuple[FeatureSet, np.ndarray]:
    """Features at `cutoff` with their labels over the horizon after it (customers in both); computed once per cutoff."""
    if cutoff in cache:
        fs, y = cache[cutoff]
        return FeatureSet(frame=fs.frame, cutoff=fs.cutoff, p_alive_params=fs.p_alive_params, tiers=fs.tiers,
                          warnings=list(fs.warnings)), y
    fs = churn_features(tx, cutoff, engine=engine, inputs=inputs, tiers=tiers)
    end = shift(cutoff, horizon)
    labels = (subscription_labels(inputs.subscriptions, cutoff, end).collect(engine="streaming") if inputs.subscriptions is not None
              else engine.purchase_labels(tx, cutoff=cutoff, end=end))
    frame = fs.frame.join(labels, on="customer_id", how="inner").sort("customer_id")
    fs.frame = frame.drop("churned")
    y = frame["churned"].to_numpy().astype(int)
    cache[cutoff] = (FeatureSet(frame=fs.frame, cutoff=cutoff, p_alive_params=fs.p_alive_params, tiers=fs.tiers,
                              warnings=list(fs.warnings)), y)
    return fs, y


def _stacked(tx: Transactions, engine: Engine, cutoff: dt.date, horizon: str, inputs: ChurnInputs,
             tiers: list[str] | None, cache: Cache) -> tuple[FeatureSet, np.ndarray, list[dt.date]]:
    """Training rows from `cutoff` and the cutoffs one, two... horizons before it (while they have customers)."""
    fs, y = _dataset(tx, engine, cutoff, horizon, inputs, tiers, cache)
    frames, ys, used = [fs.frame], [y], [cutoff]
    earlier = cutoff
    for _ in range(TRAIN_CUTOFFS - 1):
        earlier = shift(earlier, horizon, sign=-1)
        more, y2 = _dataset(tx, engine, earlier, horizon, inputs, fs.tiers, cache)
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
    tx: Transactions,
    *,
    engine: Engine,
    data_end: dt.date | None = None,
    cutoff: dt.date | None = None,
    horizon: str = "90d",
    inputs: ChurnInputs | None = None,
    calibration: Calibration = "sigmoid",
    seed: int = 0,
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
        Cleaned transactions, including the data after the cutoff (labels). Without
        amounts (no amount column, or every amount 0) the model leaves the spend features out and
        the report says so; the model file lists the features it uses and those left out.
    data_end
        Last day covered by the data; default the day before `tx.as_of`.
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
    engine
        The engine of the transaction reductions (features and labels at each cutoff).

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
        transactions file).
    """
    file = tx.file
    data_end = tx.as_of - dt.timedelta(days=1) if data_end is None else data_end
    amounts = engine.has_amounts(tx)
    parse_horizon(horizon)
    inputs = inputs or ChurnInputs()
    warnings: list[str] = []
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
    train_fs, y_train, train_cuts = _stacked(tx, engine, train_cut, horizon, inputs, None, cache)
    note = note.replace("{train}", " and ".join(str(c) for c in train_cuts) + " (each labelled by the horizon after it)", 1)
    if valid_cut != cutoff:
        warnings.append(note)
    if train_fs.frame.height < 20:
        raise FitError(f"only {train_fs.frame.height} customers have a purchase on or before the training cutoff {train_cut}",
                       file=file, hint=f"use a later --cutoff or a shorter --horizon (training needs data before {train_cut})")
    valid_fs, y_valid = _dataset(tx, engine, valid_cut, horizon, inputs, train_fs.tiers, cache)
    if y_valid.size == 0:
        raise FitError(f"no customer to validate on at {valid_cut}", file=file, hint="use another --cutoff")
    warnings += [w for w in dict.fromkeys(train_fs.warnings + valid_fs.warnings)]

    features = feature_names(train_fs.frame)
    if "p_alive" not in valid_fs.frame.columns and "p_alive" in features:
        features.remove("p_alive")
    features = [f for f in features if f in valid_fs.frame.columns]
    # the final model's rows (the latest labelled cutoffs) are needed now to choose the features
    final_fs, y_final, final_cuts = _stacked(tx, engine, valid_cut, horizon, inputs, train_fs.tiers, cache)
    left_out, notes = _left_out(features, [train_fs.frame, final_fs.frame], amounts=amounts)
    features = [f for f in features if f not in left_out]
    warnings += notes
    Xt, Xv = feature_matrix(train_fs.frame, features), feature_matrix(valid_fs.frame, features)
    trees = fit_trees(Xt, y_train, train_fs.frame["customer_id"], seed=seed, calibration=calibration, features=features, file=file)
    linear = fit_linear(Xt, y_train, features=features, file=file)
    # (ranking score, probability) on the validation customers; the trees rank by their raw log-odds
    p_lr = linear.predict_proba(Xv)
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "gradient_boosting": (trees.raw(Xv), trees.predict_proba(Xv)),
        "logistic_regression": (p_lr, p_lr),
    }
    # baselines, fitted on the same training matrix (columns of it)
    rfm = [f for f in RFM_FEATURES if f in features]
    cols = [features.index(f) for f in rfm]
    p_rfm = fit_linear(Xt[:, cols], y_train, features=rfm).predict_proba(Xv[:, cols])
    scores["rfm_logistic"] = (p_rfm, p_rfm)
    rec = [features.index("recency_days")]
    scores["recency"] = (Xv[:, rec[0]], fit_linear(Xt[:, rec], y_train, features=["recency_days"]).predict_proba(Xv[:, rec]))
    if "p_alive" in valid_fs.frame.columns:
        p_dead = 1.0 - valid_fs.frame["p_alive"].to_numpy()
        scores["p_alive"] = (p_dead, p_dead)
    metrics = {name: evaluate(y_valid, rank, prob) for name, (rank, prob) in scores.items()}
    places = {name: auc_placements(y_valid, rank) for name, (rank, _) in scores.items()}
    saved, selection = choose_model(metrics, places)

    gains, std_errors, beats, notes = compare(saved, metrics, places, rfm)
    warnings += notes

    # final model: the same recipe on the latest labelled cutoff
    Xf = feature_matrix(final_fs.frame, features)
    if saved == "gradient_boosting":
        final = fit_trees(Xf, y_final, final_fs.frame["customer_id"], seed=seed, calibration=calibration, features=features, file=file)
        how = f"{calibration}: fitted on a seeded 20% of the customers held out from the trees"
    else:
        final = fit_linear(Xf, y_final, features=features, file=file)
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
    return TrainResult(model=final, report=report, warnings=report.warnings)


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
