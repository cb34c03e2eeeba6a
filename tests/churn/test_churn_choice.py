"""Which model `churn train` saves, the honest RFM baseline, and the paired AUC test behind both."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from churn_data import load, train_rule_shop
from churn_sim import interaction_truth
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fidelcli.churn import ChurnModel, TrainResult, churn_features, evaluate, shift
from fidelcli.churn.linear import Linear
from fidelcli.churn.metrics import auc_difference, auc_placements
from fidelcli.churn.model import CANDIDATES, KINDS, choose_model
from fidelcli.engine import DEFAULT_ENGINE


# ------------------------------------------------------------------------------ paired AUC test
def test_auc_difference_by_brute_force() -> None:
    """DeLong's variance from every (churner, non-churner) pair, with ties, against the midrank shortcut."""
    rng = np.random.default_rng(5)
    y = (rng.random(300) < 0.4).astype(int)
    a = np.round(y + rng.normal(size=300), 1)  # rounded: many ties, which count half
    b = np.round(0.5 * y + rng.normal(size=300), 1)

    def components(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos, neg = s[y == 1], s[y == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        return psi.mean(axis=1), psi.mean(axis=0)

    (a10, a01), (b10, b01) = components(a), components(b)
    m, n = int(y.sum()), int((1 - y).sum())
    var = np.var(a10 - b10, ddof=1) / m + np.var(a01 - b01, ddof=1) / n  # DeLong et al. 1988, the contrast a - b
    diff, se = auc_difference(auc_placements(y, a), auc_placements(y, b))  # type: ignore[arg-type]
    assert diff == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b), abs=1e-12)
    assert se == pytest.approx(np.sqrt(var), rel=1e-10)
    assert 0.01 < se < 0.1
    # a score against itself: no difference, no uncertainty; a single class: no test
    assert auc_difference(auc_placements(y, a), auc_placements(y, a)) == (0.0, 0.0)  # type: ignore[arg-type]
    assert auc_placements(np.ones(5, dtype=int), a[:5]) is None


# ------------------------------------------------------------------------ the saved linear model
def test_logistic_export_scores_like_scikit_learn() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2000, 4)) * [1.0, 10.0, 0.1, 3.0]
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) / 10 + rng.normal(size=2000) > 0).astype(int)
    pipe = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                         LogisticRegression(max_iter=2000)).fit(X, y)
    lin = Linear.from_pipeline(pipe, X)
    inside = X[:500]  # values seen in training (and missing ones)
    np.testing.assert_allclose(lin.raw(inside), pipe.decision_function(inside), rtol=1e-12, atol=1e-12)
    # far outside the training range [lo, hi] a value counts as hi + (hi - lo) or lo - (hi - lo): bounded extrapolation
    lo, hi = np.nanmin(X[:, 0]), np.nanmax(X[:, 0])
    far = np.array([[1e6, 0.0, 0.0, 0.0], [-1e6, 0.0, 0.0, 0.0], [hi + 0.5 * (hi - lo), 0.0, 0.0, 0.0]])
    ends = np.array([[2 * hi - lo, 0.0, 0.0, 0.0], [2 * lo - hi, 0.0, 0.0, 0.0], [hi + 0.5 * (hi - lo), 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(lin.raw(far), pipe.decision_function(ends), rtol=1e-12, atol=1e-12)
    assert Linear.from_dict(lin.to_dict()).to_dict() == lin.to_dict()


# --------------------------------------------------------------------------- choosing the model
def _metrics(aucs: dict[str, float]) -> dict:
    return {k: evaluate(np.array([0, 1]), np.array([0.0, 1.0])).model_copy(update={"auc": v}) for k, v in aucs.items()}


def test_a_gain_within_one_standard_error_keeps_the_simpler_model() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(1000) < 0.5).astype(int)
    lr = y + rng.normal(size=1000)
    places = {"logistic_regression": auc_placements(y, lr), "gradient_boosting": auc_placements(y, lr + 0.3 * rng.normal(size=1000))}
    se = auc_difference(places["gradient_boosting"], places["logistic_regression"])[1]  # type: ignore[arg-type]
    # the AUCs are given by hand here: only their difference against the standard error matters
    saved, why = choose_model(_metrics({"logistic_regression": 0.80, "gradient_boosting": 0.80 + 0.9 * se}), places)
    assert saved == "logistic_regression"
    assert why == (f"logistic regression saved: validation AUC 0.8000 vs gradient boosting {0.80 + 0.9 * se:.4f}, "
                   f"a difference within one standard error ({se:.4f}): the simpler model is kept")
    saved, why = choose_model(_metrics({"logistic_regression": 0.80, "gradient_boosting": 0.80 + 1.1 * se}), places)
    assert saved == "gradient_boosting" and why.endswith(f"more than one standard error ({se:.4f})")
    # an exact tie, and a better simple model
    assert choose_model(_metrics({"logistic_regression": 0.8, "gradient_boosting": 0.8}), places)[0] == "logistic_regression"
    assert choose_model(_metrics({"logistic_regression": 0.9, "gradient_boosting": 0.8}), places) == (
        "logistic_regression", "logistic regression saved: the best validation AUC (0.9000; gradient boosting 0.8000)")


@pytest.mark.slow
@pytest.mark.parametrize("expected", ["logistic_regression", "gradient_boosting"], ids=["linear truth", "interaction"])
def test_saves_the_model_that_validates_best(expected: str, linear_result: TrainResult, tmp_path: Path) -> None:
    """Seeded shops whose churn follows a known rule (tests/churn/churn_sim.py): linear in the features, or an interaction."""
    result = linear_result if expected == "logistic_regression" else train_rule_shop(tmp_path, interaction_truth)
    rep = result.report
    aucs = {c: rep.metrics[c].auc for c in CANDIDATES}
    best = max(aucs, key=aucs.__getitem__)  # type: ignore[arg-type]
    assert rep.saved_model == best == expected
    assert result.model.kind == KINDS[expected] and result.model.metadata["saved_model"] == expected
    assert rep.selection_metric == "auc" and rep.selection.startswith(f"{expected.replace('_', ' ')} saved: the best validation AUC")
    if expected == "gradient_boosting":  # chosen over the simpler model only on a clear gain
        assert aucs["gradient_boosting"] - aucs["logistic_regression"] > rep.auc_gain_std_errors["logistic_regression"]
    # its file scores like it after a round trip
    path = tmp_path / "m.json"
    result.model.save(path)
    again = ChurnModel.load(path)
    assert again.kind == result.model.kind and again.to_dict() == result.model.to_dict()
    X = np.random.default_rng(0).uniform(0, 400, size=(50, len(again.features)))
    np.testing.assert_array_equal(again.predict_proba(X), result.model.predict_proba(X))


# ---------------------------------------------------------------------------- the honest baseline
def test_report_compares_with_rfm_logistic_baseline(sim_files: tuple[Path, pl.DataFrame], sim_result: TrainResult) -> None:
    """The baseline refitted by hand: logistic regression on the four RFM columns of the training cutoffs."""
    rep = sim_result.report
    assert rep.rfm_features == ["recency_days", "frequency", "monetary", "tenure_days"]
    tx = load(sim_files[0])

    def rows(cutoff: dt.date) -> pl.DataFrame:
        labels = DEFAULT_ENGINE.purchase_labels(tx, cutoff=cutoff, end=shift(cutoff, "90d"))
        feats = churn_features(tx, cutoff, engine=DEFAULT_ENGINE, p_alive=False).frame
        return feats.join(labels, on="customer_id").sort("customer_id")

    train = pl.concat([rows(c).select(*rep.rfm_features, "churned") for c in rep.train_cutoffs])
    valid = rows(rep.validation_cutoff)
    pipe = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=2000))
    pipe.fit(train.select(rep.rfm_features).to_numpy().astype(float), train["churned"].to_numpy())
    by_hand = roc_auc_score(valid["churned"], pipe.predict_proba(valid.select(rep.rfm_features).to_numpy().astype(float))[:, 1])
    assert rep.metrics["rfm_logistic"].auc == pytest.approx(by_hand, abs=1e-9)
    saved = rep.metrics[rep.saved_model].auc
    assert rep.auc_gain_vs_rfm_logistic == pytest.approx(saved - by_hand, abs=1e-9)
    # a clear gain: more than one standard error, so no warning and the verdict is "beats"
    assert rep.auc_gain_vs_rfm_logistic > rep.auc_gain_std_errors["rfm_logistic"] > 0
    assert rep.beats_rfm_logistic and rep.beats_baselines and rep.warnings == []
    assert sim_result.model.metadata["metrics"]["rfm_logistic"] == rep.metrics["rfm_logistic"].model_dump()


def test_a_model_that_does_not_beat_the_rfm_baseline_says_so(linear_result: TrainResult) -> None:
    """Truth linear in recency, frequency and tenure: the RFM baseline is the right model, the saved one can't beat it."""
    rep = linear_result.report
    saved, base = rep.metrics[rep.saved_model].auc, rep.metrics["rfm_logistic"].auc
    assert saved <= base and rep.beats_rfm_logistic is False and rep.beats_baselines is False
    assert rep.warnings == [
        f"the saved model (logistic regression) does not beat the RFM logistic baseline (recency_days, frequency, "
        f"monetary, tenure_days): validation AUC {saved:.4f} vs {base:.4f}"
    ]


@pytest.mark.slow
def test_rfm_baseline_without_amounts_has_no_monetary_value(tmp_path: Path) -> None:
    rep = train_rule_shop(tmp_path, interaction_truth, amounts=False).report
    assert rep.rfm_features == ["recency_days", "frequency", "tenure_days"]
    assert "monetary" not in rep.features and rep.metrics["rfm_logistic"].auc is not None
