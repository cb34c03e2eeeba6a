"""Input checks of the models (sklearn's `utils/validation.py` idea): columns, weights, values,
and the compression of identical rows that every fit runs on.

Internal to `fidelcli.models` (the model modules import it; nothing outside the package does).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from numpy.typing import ArrayLike

from fidelcli.errors import ConfigError, InputError
from fidelcli.models.numerics import FloatArray
from fidelcli.stats import is_real_number


def compress(*columns: ArrayLike, weights: ArrayLike | None = None) -> tuple[FloatArray, ...]:
    """Collapse identical rows into one row with the summed weight.

    Parameters
    ----------
    *columns
        One or more equal-length 1-d columns (e.g. x, t_x, T).
    weights
        Weight of each row (default 1); rows with zero weight are dropped.

    Returns
    -------
    The distinct rows as one array per column, sorted lexicographically, followed by their summed
    weights. The result does not depend on the order of the rows: weights are summed in a sorted
    order, so even fractional weights give bit-identical sums after a shuffle.

    Example
    -------
    >>> compress([1, 0, 1], [2.0, 0.0, 2.0])
    (array([0., 1.]), array([0., 2.]), array([1., 2.]))
    """
    if not columns:
        raise ValueError("compress needs at least one column")
    cols = [np.asarray(c, dtype=float).ravel() + 0.0 for c in columns]  # + 0.0: -0.0 -> 0.0
    n = cols[0].size
    if any(c.size != n for c in cols):
        raise InputError(
            f"columns have different lengths: {[c.size for c in cols]}",
            hint="pass one value per customer in every column",
        )
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).ravel() + 0.0
    if w.size != n:
        raise InputError(f"weights has {w.size} values for {n} rows", column="weights")
    keep = w != 0
    if not keep.all():
        cols = [c[keep] for c in cols]
        w = w[keep]
        n = w.size
    if n == 0:
        return (*(np.empty(0) for _ in cols), np.empty(0))
    # Grouping by hash (multi-threaded Polars) then sorting only the distinct rows is several times
    # faster than a lexsort of every row; weights are summed in sorted order, so the sums do not
    # depend on the order of the rows.
    names = [f"c{i}" for i in range(len(cols))]
    frame = pl.DataFrame({**dict(zip(names, cols, strict=True)), "w": w})
    # Whole weights (counts of customers) sum exactly in any order: no need to sort them first.
    whole = bool(np.all(w == np.round(w))) and float(np.abs(w).sum()) < 2.0 ** 53
    total = pl.col("w").sum() if whole else pl.col("w").sort().sum()
    grouped = frame.group_by(names).agg(total).sort(names)
    return (*(grouped.get_column(n).to_numpy() for n in names), grouped.get_column("w").to_numpy())


def check_column(
    values: ArrayLike,
    name: str,
    *,
    integer: bool = False,
    positive: bool = False,
) -> FloatArray:
    """Return `values` as a 1-d float array, or raise InputError on NaN, inf, negative values.

    Parameters
    ----------
    values
        The column (anything np.asarray accepts).
    name
        Column name used in the error message.
    integer
        Require whole numbers (counts of transactions, periods).
    positive
        Require values > 0 instead of >= 0.

    Raises
    ------
    InputError
        With the column and the 1-based row of the first bad value.
    """
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric ({exc})", column=name,
                         hint=f"convert {name} to numbers before fitting") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InputError(f"{name} must be one-dimensional, found shape {arr.shape}", column=name)
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"{name} must be a finite number, found {arr[i]}", column=name, row=i + 1,
                         hint="drop or fill missing values before fitting")
    bad = arr <= 0 if positive else arr < 0
    if bad.any():
        i = int(np.argmax(bad))
        need = "> 0" if positive else ">= 0"
        raise InputError(f"{name} must be {need}, found {arr[i]:g}", column=name, row=i + 1,
                         hint=f"check the {name} column (time units, sign)")
    if integer:
        bad = arr != np.round(arr)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"{name} must be a whole number, found {arr[i]:g}", column=name,
                             row=i + 1, hint=f"{name} counts transactions or periods")
    return arr


def check_weights(weights: ArrayLike | None, n: int) -> FloatArray:
    """Validate optional per-row weights (default ones)."""
    if weights is None:
        return np.ones(n)
    w = check_column(weights, "weights")
    if w.size != n:
        raise InputError(f"weights has {w.size} values for {n} rows", column="weights",
                         hint="pass one weight per row")
    return w


def check_same_length(**columns: FloatArray) -> int:
    """Return the common length of the columns or raise InputError."""
    sizes = {k: v.size for k, v in columns.items()}
    if len(set(sizes.values())) > 1:
        raise InputError(f"columns have different lengths: {sizes}",
                         hint="pass one value per customer in every column")
    return next(iter(sizes.values()))


def check_values(values: ArrayLike, name: str) -> FloatArray:
    """Return `values` (any shape) as floats; InputError on NaN, inf or negative values."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric ({exc})", column=name) from None
    flat = arr.ravel()
    bad = ~np.isfinite(flat) | (flat < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"{name} must be a finite number >= 0, found {flat[i]}", column=name,
                         row=i + 1, hint="drop or fill missing values; check the sign")
    return arr


def check_purchase_data(x: ArrayLike, t_x: ArrayLike, T: ArrayLike, weights: ArrayLike | None
                        ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Validate a recency/frequency summary: x whole >= 0, 0 <= t_x <= T, finite weights."""
    xa = check_column(x, "x", integer=True)
    ta = check_column(t_x, "t_x")
    Ta = check_column(T, "T")
    n = check_same_length(x=xa, t_x=ta, T=Ta)
    bad = ta > Ta * (1 + 1e-12) + 1e-12
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"t_x ({ta[i]:g}) must not exceed T ({Ta[i]:g})", column="t_x",
                         row=i + 1, hint="t_x is the time of the last purchase, T the time "
                         "since the first; both in the same unit")
    return xa, np.minimum(ta, Ta), Ta, check_weights(weights, n)


def check_penalizer(penalizer: float) -> float:
    """The penalizer setting as a float; ConfigError unless it is a finite number >= 0."""
    if not (is_real_number(penalizer) and math.isfinite(penalizer) and penalizer >= 0):
        raise ConfigError(f"penalizer must be a finite number >= 0, found {penalizer!r}",
                          hint="use e.g. penalizer=0.01")
    return float(penalizer)
