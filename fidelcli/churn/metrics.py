"""Churn validation metrics: AUC, PR-AUC, Brier, top-decile lift; calibration table; paired AUC tests.

Churned is the positive class everywhere. `auc_difference` gives the standard error of the
difference between two scores' AUCs on the same customers (DeLong, DeLong & Clarke-Pearson 1988,
computed with midranks as in Sun & Xu 2014), which `churn train` uses to tell a real gain from noise.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from fidelcli.stats import FloatArray

Labels = NDArray[np.int_]  # one per customer: 1 = churned, 0 = still active


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


def finite(v: float | None) -> float | None:
    """`v` as a float, or None when it is missing or not finite (JSON has no NaN)."""
    return None if v is None or not math.isfinite(v) else float(v)


def evaluate(y: Labels, score: FloatArray, prob: FloatArray | None = None) -> Metrics:
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
    return Metrics(customers=n, churn_rate=rate, auc=finite(auc), pr_auc=finite(pr),
                   brier=float(brier_score_loss(y, np.clip(prob, 0, 1))), top_decile_lift=finite(lift),
                   top_decile_capture=finite(capture))


def calibration_table(y: Labels, prob: FloatArray) -> list[CalibrationRow]:
    """Customers split in ten equal groups by predicted probability: mean predicted vs observed."""
    order = np.argsort(prob, kind="stable")
    rows = []
    for i, idx in enumerate(np.array_split(order, 10), start=1):
        if idx.size:
            rows.append(CalibrationRow(decile=i, customers=int(idx.size), mean_predicted=float(prob[idx].mean()),
                                       observed=float(np.asarray(y)[idx].mean())))
    return rows


Placements = tuple[FloatArray, FloatArray]


def auc_placements(y: Labels, score: FloatArray) -> Placements | None:
    """DeLong's structural components of one score's AUC (None with fewer than two customers of a class).

    For each churner, the share of non-churners it outranks (ties count half); for each
    non-churner, the share of churners that outrank it. Their means are both the AUC.
    With midranks, a churner's rank among all customers minus its rank among churners counts the
    non-churners below it (Sun & Xu 2014, section 3), so this costs three sorts.
    """
    from scipy.stats import rankdata

    y = np.asarray(y, dtype=int)
    score = np.asarray(score, dtype=np.float64)
    pos, neg = score[y == 1], score[y == 0]
    m, n = pos.size, neg.size
    if m < 2 or n < 2:
        return None
    ranks = rankdata(np.concatenate([pos, neg]))
    v10 = (ranks[:m] - rankdata(pos)) / n
    v01 = 1.0 - (ranks[m:] - rankdata(neg)) / m
    return v10, v01


def auc_difference(a: Placements, b: Placements) -> tuple[float, float]:
    """AUC(a) - AUC(b) on the same customers and its standard error (DeLong's paired test).

    `a` and `b` are `auc_placements` of two scores of the same customers. Var = var(V10_a - V10_b)
    / churners + var(V01_a - V01_b) / non-churners (DeLong, DeLong & Clarke-Pearson 1988, the
    variance of the contrast a - b). Two scores that rank every customer alike differ by 0 with
    standard error 0.
    """
    d10, d01 = a[0] - b[0], a[1] - b[1]
    var = np.var(d10, ddof=1) / d10.size + np.var(d01, ddof=1) / d01.size
    return float(d10.mean()), float(math.sqrt(max(float(var), 0.0)))
