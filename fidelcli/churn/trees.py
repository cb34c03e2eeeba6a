"""Gradient-boosted trees as plain data: export a fitted scikit-learn model, score it with NumPy.

A saved churn model must never execute code when loaded, so the trees of a fitted
`HistGradientBoostingClassifier` are exported as arrays of numbers (feature, threshold, children,
leaf value) and scored here. The scoring follows scikit-learn's predictor exactly: go left when the
value is <= the threshold, missing values go the side learned at training, the raw score is the
baseline plus the leaf values summed tree by tree; so the exported model gives the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fidelcli.errors import InputError
from fidelcli.stats import FloatArray


@dataclass(frozen=True)
class Tree:
    """One tree in breadth-first order with right child = left child + 1.

    A leaf points to itself with threshold +inf, so a walk of `depth` steps ends on a leaf for every row.
    """

    feature: NDArray[np.int64]
    threshold: FloatArray
    missing_left: NDArray[np.bool_]
    left: NDArray[np.int64]
    value: FloatArray
    depth: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature.tolist(),
            # +inf (leaves, and splits that send only missing values right) is written as null: plain JSON
            "threshold": [None if math.isinf(t) else t for t in self.threshold.tolist()],
            "missing_left": self.missing_left.astype(int).tolist(),
            "left": self.left.tolist(),
            "value": self.value.tolist(),
            "depth": self.depth,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], n_features: int) -> Tree:
        """Rebuild and check a tree: every index in range, every array the same length."""
        try:
            feature = np.asarray(d["feature"], dtype=np.int64)
            threshold = np.asarray([math.inf if t is None else t for t in d["threshold"]], dtype=np.float64)
            missing_left = np.asarray(d["missing_left"], dtype=np.int64).astype(bool)
            left = np.asarray(d["left"], dtype=np.int64)
            value = np.asarray(d["value"], dtype=np.float64)
            depth = int(d["depth"])
        except (KeyError, TypeError, ValueError, OverflowError) as exc:  # OverflowError: an index beyond int64
            raise InputError(f"model file: malformed tree ({type(exc).__name__})") from None
        n = feature.size
        ok = (
            n > 0 and all(a.ndim == 1 and a.size == n for a in (threshold, missing_left, left, value))
            and 0 <= depth <= n and bool(((feature >= 0) & (feature < n_features)).all())
            and bool(((left >= 0) & (left < n)).all())
            and bool((left[left != np.arange(n)] + 1 < n).all())
            and bool(np.isfinite(value).all()) and not bool(np.isnan(threshold).any())
        )
        if not ok:
            raise InputError("model file: a tree has inconsistent node arrays")
        return cls(feature, threshold, missing_left, left, value, depth)


def export_hgb(model: Any) -> tuple[float, list[Tree]]:
    """Baseline and trees of a fitted binary `HistGradientBoostingClassifier` without categorical features."""
    baseline = float(np.asarray(model._baseline_prediction).ravel()[0])
    trees = []
    for per_class in model._predictors:
        nodes = per_class[0].nodes
        trees.append(_renumber(nodes))
    return baseline, trees


def _renumber(nodes: NDArray[np.void]) -> Tree:
    """scikit-learn's depth-first node array -> breadth-first with siblings side by side."""
    order = [0]
    new_index = {0: 0}
    i = 0
    while i < len(order):
        old = order[i]
        if not nodes["is_leaf"][old]:
            for child in (int(nodes["left"][old]), int(nodes["right"][old])):
                new_index[child] = len(order)
                order.append(child)
        i += 1
    n = len(order)
    feature = np.zeros(n, dtype=np.int64)
    threshold = np.full(n, np.inf)
    missing_left = np.ones(n, dtype=bool)
    left = np.arange(n, dtype=np.int64)
    value = np.zeros(n, dtype=np.float64)
    depth = 0
    for new, old in enumerate(order):
        if nodes["is_leaf"][old]:
            value[new] = float(nodes["value"][old])
            depth = max(depth, int(nodes["depth"][old]))
        else:
            feature[new] = int(nodes["feature_idx"][old])
            threshold[new] = float(nodes["num_threshold"][old])
            missing_left[new] = bool(nodes["missing_go_to_left"][old])
            left[new] = new_index[int(nodes["left"][old])]
    return Tree(feature, threshold, missing_left, left, value, depth)


def tree_values(X: FloatArray, tree: Tree) -> FloatArray:
    """Leaf value of every row of `X` (float64, C order, NaN = missing)."""
    n, nf = X.shape
    flat = X.ravel()
    base = np.arange(n, dtype=np.int64) * nf
    node = np.zeros(n, dtype=np.int64)
    has_nan = bool(np.isnan(flat).any())
    for _ in range(tree.depth):
        x = flat[base + tree.feature[node]]
        go_left = x <= tree.threshold[node]
        if has_nan:
            go_left |= np.isnan(x) & tree.missing_left[node]
        node = tree.left[node] + ~go_left
    return tree.value[node]


def raw_scores(X: FloatArray, baseline: float, trees: list[Tree], *, block: int = 200_000) -> FloatArray:
    """Baseline + sum of leaf values, tree after tree (the order scikit-learn adds them)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    out = np.empty(X.shape[0], dtype=np.float64)
    for start in range(0, X.shape[0], block):
        xb = X[start:start + block]
        acc = np.full(xb.shape[0], baseline, dtype=np.float64)
        for tree in trees:
            acc += tree_values(xb, tree)
        out[start:start + block] = acc
    return out
