"""Churn model: validation against baselines on a simulated shop, exact export, safe model files."""

from __future__ import annotations

import datetime as dt
import json
import pickle
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from churn_data import load
from churn_sim import START, simulate
from polars.testing import assert_frame_equal
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from fidelcli.churn import ChurnModel, TrainResult, evaluate, score_churn, train_churn
from fidelcli.churn.modelfile import digest
from fidelcli.churn.trees import Tree, export_hgb, raw_scores
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.errors import FitError, InputError, ModelFileError

CUT = dt.date(2024, 9, 30)


def test_exported_trees_score_exactly_like_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 5))
    X[rng.random(X.shape) < 0.15] = np.nan  # missing values take the side learned in training
    y = ((np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) * np.isnan(X[:, 2]) + rng.normal(size=3000)) > 0).astype(int)
    with threadpool_limits(limits=1, user_api="openmp"):  # OpenMP threads mostly wait on a busy machine
        hgb = HistGradientBoostingClassifier(max_iter=30, max_depth=4, random_state=0).fit(X, y)
    baseline, trees = export_hgb(hgb)
    X_new = rng.normal(size=(2000, 5))
    X_new[rng.random(X_new.shape) < 0.15] = np.nan
    np.testing.assert_array_equal(raw_scores(X_new, baseline, trees, block=512), hgb.decision_function(X_new))
    # and after a round trip through plain JSON (+inf thresholds are written as null)
    text = json.dumps([t.to_dict() for t in trees], allow_nan=False)
    again = [Tree.from_dict(d, 5) for d in json.loads(text)]
    np.testing.assert_array_equal(raw_scores(X_new, baseline, again), hgb.decision_function(X_new))


def test_evaluate_by_hand() -> None:
    # 20 customers, 5 churners; the 2 highest scores (the top decile) hold 1 churner.
    y = np.array([1, 0] + [1] * 4 + [0] * 14)
    score = np.linspace(1.0, 0.0, 20)
    m = evaluate(y, score)
    assert m.customers == 20 and m.churn_rate == 0.25
    assert m.top_decile_lift == pytest.approx((1 / 2) / 0.25)  # 2.0
    assert m.top_decile_capture == pytest.approx(1 / 5)
    # AUC: pairs (churner, non-churner) ranked right: the first churner beats 15, the 4 next beat 14 each
    assert m.auc == pytest.approx((15 + 4 * 14) / (5 * 15))
    # Brier of the scores taken as probabilities: mean of (score - y)^2
    assert m.brier == pytest.approx(float(np.mean((score - y) ** 2)))


def test_beats_both_baselines_on_the_simulated_shop(sim_result: TrainResult) -> None:
    rep = sim_result.report
    assert (rep.train_cutoffs, rep.validation_cutoff) == ([dt.date(2024, 7, 2), dt.date(2024, 4, 3)], CUT)
    m = rep.metrics
    assert set(m) == {"gradient_boosting", "logistic_regression", "rfm_logistic", "recency", "p_alive"}
    assert rep.saved_model == "gradient_boosting"
    assert rep.auc_gain_vs_recency == pytest.approx(m["gradient_boosting"].auc - m["recency"].auc)
    assert rep.auc_gain_vs_recency > 0.01 and rep.auc_gain_vs_p_alive > 0.01 and rep.beats_baselines
    assert "p_alive" in rep.features and rep.warnings == []
    # calibrated: the mean predicted probability is within 3 points of the observed churn rate
    table = rep.calibration_table
    mean_pred = sum(r.mean_predicted * r.customers for r in table) / sum(r.customers for r in table)
    assert abs(mean_pred - m["gradient_boosting"].churn_rate) < 0.03


def test_scores_find_the_customers_who_truly_dropped_out(sim_files: tuple[Path, pl.DataFrame], sim_model_file: Path) -> None:
    """Known truth: customers whose simulated drop-out happened before the scoring date score higher."""
    as_of = dt.date(2024, 12, 31)
    tx = load(sim_files[0], as_of=as_of + dt.timedelta(days=1))
    scored = score_churn(tx, ChurnModel.load(sim_model_file), engine=DEFAULT_ENGINE, cutoff=as_of).frame
    truth = sim_files[1].with_columns(dead=pl.col("dropout_day").fill_nan(None) <= (as_of - START).days).with_columns(pl.col("dead").fill_null(False))
    joined = scored.join(truth, on="customer_id")
    assert roc_auc_score(joined["dead"], joined["churn_probability"]) > 0.85


def test_same_seed_same_model_and_reload_scores_identically(tmp_path: Path) -> None:
    tx_df, _ = simulate(800, seed=11)
    path = tmp_path / "tx.parquet"
    tx_df.write_parquet(path)
    tx = load(path)
    end = tx.as_of - dt.timedelta(days=1)
    a = train_churn(tx, engine=DEFAULT_ENGINE, data_end=end, horizon="90d", seed=5)
    b = train_churn(tx, engine=DEFAULT_ENGINE, data_end=end, horizon="90d", seed=5)
    assert a.model.to_dict() == b.model.to_dict()
    a.model.save(tmp_path / "m.json")
    reloaded = ChurnModel.load(tmp_path / "m.json")
    first = score_churn(tx, a.model, engine=DEFAULT_ENGINE, cutoff=end).frame
    again = score_churn(tx, reloaded, engine=DEFAULT_ENGINE, cutoff=end).frame
    assert_frame_equal(first, again)
    assert first.columns == ["customer_id", "churn_probability", "risk_band", "driver_1", "driver_2", "driver_3"]


def test_isotonic_calibration(sim_files: tuple[Path, pl.DataFrame]) -> None:
    tx = load(sim_files[0])
    result = train_churn(tx, engine=DEFAULT_ENGINE, data_end=tx.as_of - dt.timedelta(days=1), cutoff=CUT, calibration="isotonic", seed=0)
    cal = result.model.calibration
    assert cal["method"] == "isotonic" and cal["x"] == sorted(cal["x"]) and all(0 <= v <= 1 for v in cal["y"])
    assert result.report.metrics["gradient_boosting"].brier < result.report.metrics["recency"].brier


def test_too_little_history_is_a_fit_error(tiny: Path) -> None:
    tx = load(tiny)
    with pytest.raises(FitError, match="customers have a purchase on or before the training cutoff"):
        train_churn(tx, engine=DEFAULT_ENGINE, data_end=dt.date(2024, 9, 15), cutoff=dt.date(2024, 5, 31))


# -------------------------------------------------------------------------------- model files
def _doc(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_model_file_is_json_with_metadata(sim_model_file: Path) -> None:
    doc = _doc(sim_model_file)
    meta = doc["body"]["metadata"]
    assert doc["format"] == "fidelcli-churn-model" and doc["format_version"] == 1 and len(doc["sha256"]) == 64
    assert meta["horizon"] == "90d" and meta["cutoffs"]["validation"] == "2024-09-30"
    assert set(meta["versions"]) >= {"fidelcli", "scikit-learn", "polars", "numpy"}
    assert meta["features"] == doc["body"]["model"]["features"] and meta["p_alive_model"]["name"] == "bgnbd"
    assert set(meta["metrics"]) == {"gradient_boosting", "logistic_regression", "rfm_logistic", "recency", "p_alive"}
    assert (meta["saved_model"], meta["selection_metric"], doc["body"]["model"]["kind"]) == ("gradient_boosting", "auc", "gradient_boosted_trees")


def test_tampered_model_file_is_refused(sim_model_file: Path, tmp_path: Path) -> None:
    doc = _doc(sim_model_file)
    doc["body"]["model"]["trees"][0]["value"][-1] += 1.0
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"tampered.json: model file was modified after it was written \(SHA-256 mismatch\)"):
        ChurnModel.load(bad)


def test_incompatible_version_is_refused(sim_model_file: Path, tmp_path: Path) -> None:
    doc = _doc(sim_model_file)
    doc["format_version"] = 2
    bad = tmp_path / "future.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"model file format 2 is not supported \(this fidelcli reads format 1\)"):
        ChurnModel.load(bad)


def test_a_pickle_is_never_executed(tmp_path: Path) -> None:
    bad = tmp_path / "model.json"
    marker = tmp_path / "executed"

    class Marker:
        def __reduce__(self) -> tuple:
            return (Path.write_text, (marker, "x"))

    bad.write_bytes(pickle.dumps(Marker()))
    with pytest.raises(ModelFileError, match=r"model.json: a Python pickle, not a churn model file \(JSON\): pickles are never loaded"):
        ChurnModel.load(bad)
    assert not marker.exists()
    pickle.loads(bad.read_bytes())  # the payload is live: unpickling it would have run it
    assert marker.exists()


def test_mismatched_features_are_refused(sim_files: tuple[Path, pl.DataFrame], sim_model_file: Path) -> None:
    model = ChurnModel.load(sim_model_file)
    model.features = [*model.features[:-1], "last_nps"]  # as if trained with --surveys
    tx = load(sim_files[0])
    with pytest.raises(InputError, match="the model needs feature\\(s\\) the data does not provide: last_nps") as exc:
        score_churn(tx, model, engine=DEFAULT_ENGINE, cutoff=CUT)
    assert exc.value.hint == "pass the same --surveys input as in training"


def test_inconsistent_tree_is_refused(sim_model_file: Path) -> None:
    doc = _doc(sim_model_file)
    doc["body"]["model"]["trees"][0]["feature"][0] = 999  # a feature index out of range
    doc["sha256"] = digest(doc["body"])  # even with a matching hash
    with pytest.raises(ModelFileError, match=r"at body\.model: tree 1, node 0: feature index 999 is out of range \(the model has \d+ features\)"):
        ChurnModel.from_dict(doc)


def test_data_too_short_after_the_cutoff_validates_earlier(sim_files: tuple[Path, pl.DataFrame]) -> None:
    tx = load(sim_files[0])
    end = tx.as_of - dt.timedelta(days=1)
    assert end == dt.date(2024, 12, 30)  # last simulated day (730 days from 2023-01-01)
    rep = train_churn(tx, engine=DEFAULT_ENGINE, data_end=end, cutoff=dt.date(2024, 12, 15), horizon="90d", seed=0).report
    # 2024-12-15 + 90 d is past the data: validation moves one horizon back, to 2024-09-16
    assert rep.validation_cutoff == dt.date(2024, 9, 16)
    assert rep.warnings == [
        "the data ends on 2024-12-30, before 2024-12-15 + 90d: validated on the earlier split (features at 2024-09-16 "
        "labelled by (2024-09-16, 2024-12-15]); trained on features at 2024-06-18 and 2024-03-20 (each labelled by the "
        "horizon after it)"
    ]


def test_p_alive_left_out_when_bgnbd_cannot_be_fitted(sim_files: tuple[Path, pl.DataFrame], monkeypatch: pytest.MonkeyPatch) -> None:
    from fidelcli.models.bgnbd import BGNBD

    def refuse(self: BGNBD, *args: object, **kwargs: object) -> BGNBD:
        raise FitError("bgnbd: every optimisation attempt failed")

    monkeypatch.setattr(BGNBD, "fit", refuse)
    tx = load(sim_files[0])
    result = train_churn(tx, engine=DEFAULT_ENGINE, data_end=tx.as_of - dt.timedelta(days=1), cutoff=CUT, seed=0)
    rep = result.report
    assert rep.warnings == ["P(alive) left out: bgnbd: every optimisation attempt failed"]
    assert "p_alive" not in rep.features and "p_alive" not in rep.metrics
    assert rep.auc_gain_vs_p_alive is None and rep.beats_baselines is (rep.auc_gain_vs_recency > 0)
    assert result.model.metadata["p_alive_model"] is None
