"""A logistic regression as plain data: export a fitted scikit-learn pipeline, score it with NumPy.

`churn train` may save a logistic regression instead of the boosted trees (when it validates as
well or better, see `fidelcli.churn.model`). Like the trees, it is saved as numbers, never as
code: the median of each feature (missing values are replaced by it), the bounds of its values,
the mean and standard deviation used to standardise it, one coefficient per standardised feature
and the intercept. The log-odds of churn are intercept + sum(coef * (x - mean) / std), which is
what scikit-learn's pipeline `SimpleImputer(median) -> StandardScaler -> LogisticRegression`
computes, with one difference: a value is first clipped to the feature's training range widened
by its width on each side, [min - (max - min), max + (max - min)].

Why: a feature nearly constant in training (P(alive) of 1.000 for everyone when BG/NBD finds no
drop-out at the training cutoffs) gets a tiny standard deviation, and a different value at scoring
time would weigh thousands of standard deviations and flip every prediction (a simulated shop's
validation AUC fell to 0.21). Clipping to the training range itself would stop that but also
the mild, useful extrapolation of features that grow with time (tenure at a later cutoff, on a
single-cohort file like CDNOW: its validation AUC fell from 0.817 to 0.806); one range width beyond
it keeps every real data set's results unchanged. The fit itself is unchanged (training values are
inside their bounds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fidelcli.stats import FloatArray

BLOCK = 131_072  # rows scored at a time: bounds the memory of the standardised copy


@dataclass(frozen=True)
class Linear:
    """Median imputation, standardisation and a linear predictor (the log-odds of churn)."""

    medians: FloatArray
    lower: FloatArray
    upper: FloatArray
    center: FloatArray
    scale: FloatArray
    coef: FloatArray
    intercept: float

    def raw(self, X: FloatArray) -> FloatArray:
        """Log-odds of churn per row of `X` (columns in the model's feature order; NaN = missing)."""
        out = np.empty(X.shape[0], dtype=np.float64)
        for start in range(0, X.shape[0], BLOCK):
            block = X[start:start + BLOCK]
            z = (np.clip(np.where(np.isnan(block), self.medians, block), self.lower, self.upper) - self.center) / self.scale
            out[start:start + BLOCK] = z @ self.coef + self.intercept
        return out

    def to_dict(self) -> dict[str, Any]:
        arrays = {"medians": self.medians, "lower": self.lower, "upper": self.upper, "center": self.center,
                  "scale": self.scale, "coef": self.coef}
        return {**{k: v.tolist() for k, v in arrays.items()}, "intercept": self.intercept}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Linear:
        """Rebuild from `to_dict` (the model file's schema has checked the lengths and the numbers)."""
        return cls(medians=np.asarray(d["medians"], dtype=np.float64), lower=np.asarray(d["lower"], dtype=np.float64),
                   upper=np.asarray(d["upper"], dtype=np.float64), center=np.asarray(d["center"], dtype=np.float64),
                   scale=np.asarray(d["scale"], dtype=np.float64), coef=np.asarray(d["coef"], dtype=np.float64),
                   intercept=float(d["intercept"]))

    @classmethod
    def from_pipeline(cls, pipeline: Any, X: FloatArray) -> Linear:
        """Export a `make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression())` fitted on `X`.

        A feature with no value in training is imputed with 0 (`keep_empty_features=True`), its bounds
        are [0, 0]; a constant feature has standard deviation 1 in scikit-learn's scaler, kept as is.
        """
        imputer, scaler, lr = (pipeline[i] for i in range(3))
        medians = np.nan_to_num(np.asarray(imputer.statistics_, dtype=np.float64))
        # the range of the training values (fmin/fmax skip NaN without a copy of X or a warning); the
        # medians, which replace missing values, lie inside it; a column with no value has [0, 0]
        low = np.fmin(np.fmin.reduce(X, axis=0), medians) if X.shape[0] else medians
        high = np.fmax(np.fmax.reduce(X, axis=0), medians) if X.shape[0] else medians
        return cls(
            medians=medians,
            lower=np.asarray(low - (high - low), dtype=np.float64),
            upper=np.asarray(high + (high - low), dtype=np.float64),
            center=np.asarray(scaler.mean_, dtype=np.float64),
            scale=np.asarray(scaler.scale_, dtype=np.float64),
            coef=np.asarray(lr.coef_[0], dtype=np.float64),
            intercept=float(lr.intercept_[0]),
        )
