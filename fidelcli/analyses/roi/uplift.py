"""Whom the campaign moves: a two-model (T-learner) uplift estimator, cross-fitted, and its Qini.

For each variant against control, two gradient-boosting classifiers (scikit-learn's
HistGradientBoostingClassifier) learn P(outcome | features) on the variant's and on the control's
recipients; the predicted uplift of a recipient is the difference of the two (Kuenzel et al. 2019,
"T-learner"). Cross-fitting: the recipients are split into K seeded folds (stratified on variant x
outcome) and each fold is scored by models fitted on the other folds, so every score is held out.

Qini curve (Radcliffe 2007): recipients sorted by predicted uplift, best first; after the top
fraction x, Q(x) = Y_t(x) - Y_c(x) N_t(x) / N_c(x), the treated responders less the control
responders scaled to the treated count (tied scores enter together). The Qini coefficient is the
area between the curve and the random-targeting line, divided by the same area for the perfect
ordering (treated responders first, control responders last): 1 is perfect, 0 random, < 0 worse.
docs/roi.md gives the details.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from fidelcli.stats import FloatArray

DECILES = 10
# A text feature with more distinct values than this is left out (HistGradientBoosting takes at most 255 categories).
MAX_CATEGORIES = 250


@dataclass
class UpliftResult:
    """qini: one row per variant (variant, recipients, folds, observed_uplift of everyone, qini_area,
    qini_coefficient). deciles: one row per variant and decile of predicted uplift (1 = highest):
    recipients, treated, control, predicted_uplift, observed_uplift, and for targeting the top
    deciles down to this one: targeted_share, cumulative_uplift, incremental_outcomes,
    incremental_share (of the incremental outcomes of targeting everyone) and, with revenue,
    incremental_revenue."""

    qini: pl.DataFrame
    deciles: pl.DataFrame
    features: list[str]
    warnings: list[str] = field(default_factory=list)


def qini_curve(score: FloatArray, treated: NDArray[np.bool_], y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Points (x, Q) of the Qini curve, from (0, 0) to (1, Q(1)); x is the share of recipients
    targeted, Q is in outcomes (Radcliffe 2007). Tied scores form one step (Q is linear across it)."""
    order = np.argsort(-score, kind="stable")
    s, t, yy = score[order], treated[order].astype(float), y[order]
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])  # last index of each group of tied scores
    nt, nc = np.cumsum(t)[ends], np.cumsum(1 - t)[ends]
    yt, yc = np.cumsum(yy * t)[ends], np.cumsum(yy * (1 - t))[ends]
    q = yt - np.divide(yc * nt, nc, out=np.zeros_like(yc), where=nc > 0)
    return np.r_[0.0, (ends + 1) / score.size], np.r_[0.0, q]


def qini_coefficient(score: FloatArray, treated: NDArray[np.bool_], y: FloatArray) -> tuple[float, float | None]:
    """(qini_area, qini_coefficient): the area between the Qini curve and the random line, per treated
    recipient, and that area divided by the perfect ordering's (None when the perfect area is not positive).

    Example: a perfect ranking has coefficient 1.
    >>> t = np.array([True, True, False, False]); y = np.array([1.0, 0.0, 0.0, 1.0])
    >>> round(qini_coefficient(np.array([3.0, 2.0, 1.0, 0.0]), t, y)[1], 6)
    1.0
    """

    def area(s: FloatArray) -> float:
        x, q = qini_curve(s, treated, y)
        return float(np.sum((x[1:] - x[:-1]) * (q[1:] + q[:-1]) / 2) - q[-1] / 2)

    n_t = max(float(treated.sum()), 1.0)
    model = area(score)
    perfect = area(y * np.where(treated, 1.0, -1.0))
    return model / n_t, (model / perfect if perfect > 0 else None)


def _matrix(frame: pl.DataFrame, features: list[str]) -> tuple[FloatArray, NDArray[np.bool_], list[str], list[str]]:
    """The feature matrix (NaN for unknown), which columns are categories, the features kept and warnings."""
    cols: list[pl.Series] = []
    categorical: list[bool] = []
    kept: list[str] = []
    warns: list[str] = []
    for f in features:
        s = frame[f]
        if s.dtype == pl.String:
            if s.n_unique() > MAX_CATEGORIES:
                warns.append(f"uplift: feature {f!r} has more than {MAX_CATEGORIES} distinct values and is left out")
                continue
            s = (s.rank("dense") - 1).cast(pl.Float64)  # codes in sorted order of the values: deterministic
            categorical.append(True)
        else:
            categorical.append(False)
            s = s.cast(pl.Float64)
        cols.append(s.fill_null(float("nan")))
        kept.append(f)
    x = np.column_stack([c.to_numpy() for c in cols]) if cols else np.zeros((frame.height, 0))
    return x, np.array(categorical, dtype=bool), kept, warns


def _fit_predict(x: FloatArray, y: FloatArray, x_new: FloatArray, categorical: NDArray[np.bool_], seed: int) -> FloatArray:
    """P(y = 1) for `x_new` from a gradient-boosting classifier fitted on (x, y); the mean of y when
    y has one class."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    if y.min() == y.max():
        return np.full(x_new.shape[0], float(y[0]) if y.size else 0.0)
    model = HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=100, l2_regularization=1.0,
        categorical_features=categorical if categorical.any() else None, early_stopping=False, random_state=seed,
    )
    # OpenMP threads only pay off on large data; on small data (or a busy machine) they mostly wait.
    with threadpool_limits(limits=1 if y.size < 200_000 else None, user_api="openmp"):
        model.fit(x, y.astype(int))
        return np.asarray(model.predict_proba(x_new)[:, 1], dtype=float)


def cross_fitted_uplift(x: FloatArray, treated: NDArray[np.bool_], y: FloatArray, categorical: NDArray[np.bool_], *,
                        folds: int, seed: int) -> FloatArray:
    """Held-out T-learner uplift of every row: each fold scored by models fitted on the other folds."""
    from sklearn.model_selection import StratifiedKFold

    strata = treated.astype(int) * 2 + (y > 0).astype(int)
    counts = np.bincount(strata, minlength=4)
    k = int(min(folds, counts[counts > 0].min())) if counts.any() else 2
    score = np.zeros(y.size)
    if k < 2:
        return score
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for i, (train, test) in enumerate(splitter.split(x, strata)):
        tr_t, tr_c = train[treated[train]], train[~treated[train]]
        p_t = _fit_predict(x[tr_t], y[tr_t], x[test], categorical, seed + i)
        p_c = _fit_predict(x[tr_c], y[tr_c], x[test], categorical, seed + i)
        score[test] = p_t - p_c
    return score


def _deciles(variant: str, score: FloatArray, treated: NDArray[np.bool_], y: FloatArray, revenue: FloatArray | None) -> list[dict[str, Any]]:
    n = score.size
    order = np.argsort(-score, kind="stable")
    decile = np.empty(n, dtype=int)
    decile[order] = np.arange(n) * DECILES // n + 1
    everyone = _uplift(treated, y)
    total = (everyone or 0.0) * n
    rows = []
    for d in range(1, DECILES + 1):
        inside, top = decile == d, decile <= d
        up, cum = _uplift(treated[inside], y[inside]), _uplift(treated[top], y[top])
        inc = None if cum is None else cum * int(top.sum())
        row: dict[str, Any] = {
            "variant": variant, "decile": d, "recipients": int(inside.sum()), "treated": int((inside & treated).sum()),
            "control": int((inside & ~treated).sum()), "predicted_uplift": float(score[inside].mean()) if inside.any() else None,
            "observed_uplift": up, "targeted_share": float(top.mean()), "cumulative_uplift": cum, "incremental_outcomes": inc,
            "incremental_share": None if inc is None or total <= 0 else inc / total,
        }
        if revenue is not None:
            r = _uplift(treated[top], revenue[top])
            row["incremental_revenue"] = None if r is None else r * int(top.sum())
        rows.append(row)
    return rows


def _uplift(treated: NDArray[np.bool_], y: FloatArray) -> float | None:
    """Mean of y among treated minus among control; None when either is empty."""
    if not treated.any() or treated.all():
        return None
    return float(y[treated].mean() - y[~treated].mean())


def uplift_model(results: pl.LazyFrame, *, outcome: str, features: list[str], control: str, revenue: bool = False,
                 folds: int = 5, seed: int = 0) -> UpliftResult:
    """Cross-fitted T-learner uplift of each variant against control on `outcome` (see the module),
    its Qini coefficient and the gain of targeting the top deciles. Rows with an unknown outcome are
    left out. Returns an `UpliftResult`."""
    cols = ["variant", outcome, *features, *(["revenue"] if revenue else [])]
    frame = results.select(cols).filter(pl.col(outcome).is_not_null() & pl.col("variant").is_not_null()).collect()
    x_all, categorical, kept, warns = _matrix(frame, features)
    if not kept:
        warns.append("uplift: no feature to learn from (give a per-user table with other columns, or transactions): "
                     "every predicted uplift is the average")
    variant = frame["variant"].to_numpy()
    y_all = frame[outcome].cast(pl.Float64).to_numpy()
    rev_all = frame["revenue"].fill_null(0.0).to_numpy() if revenue else None
    qini_rows, decile_rows = [], []
    for v in sorted(set(variant.tolist()) - {control}):
        rows = np.flatnonzero((variant == v) | (variant == control))
        treated = variant[rows] == v
        y = y_all[rows]
        score = cross_fitted_uplift(x_all[rows], treated, y, categorical, folds=folds, seed=seed)
        area, coef = qini_coefficient(score, treated, y)
        qini_rows.append({"variant": v, "recipients": int(rows.size), "folds": folds, "observed_uplift": _uplift(treated, y),
                          "qini_area": area, "qini_coefficient": coef})
        decile_rows += _deciles(v, score, treated, y, None if rev_all is None else rev_all[rows])
        if coef is not None and coef <= 0:
            warns.append(f"uplift of {v!r}: the model ranks no better than random on held-out data (Qini coefficient {coef:.3g})")
    qini = pl.DataFrame(qini_rows, schema={"variant": pl.String, "recipients": pl.Int64, "folds": pl.Int64, "observed_uplift": pl.Float64,
                                           "qini_area": pl.Float64, "qini_coefficient": pl.Float64})
    deciles = pl.DataFrame(decile_rows, infer_schema_length=None) if decile_rows else pl.DataFrame({"variant": []}, schema={"variant": pl.String})
    floats = [c for c in deciles.columns if c not in ("variant", "decile", "recipients", "treated", "control")]
    return UpliftResult(qini=qini, deciles=deciles.cast({c: pl.Float64 for c in floats}), features=kept, warnings=warns)
