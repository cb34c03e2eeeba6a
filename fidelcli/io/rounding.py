"""What a number is (money, rate, count, measure) by its column name, and rounding by that kind.

Every result frame is rounded here once, at the boundary where it leaves the program (files through
`fidelcli.io.write`, standard output through the CLI's render step), so that the terminal, CSV, JSON,
Parquet and xlsx agree and identical inputs give identical bytes: a fixed number of decimals also
removes the last-bit noise of sums that threads add in different orders. docs/output.md lists the
kinds and their precisions.

- money (revenue, amount, monetary_value, clv, aov, profit, spend, cost, `*_value`...): to the cent,
  halves away from zero.
- rate (`*_rate`, `*_share`, share, `p_*`, `*_probability`, retention, survival...): 6 decimals.
- count (customers, orders, `*_customers`, `*_responses`...): an integer column when every value is
  whole (fractional weights keep 6 decimals).
- measure (anything else: durations, means, parameters, log-likelihoods, lifts): 6 decimals, or 6
  significant digits below 1 so that a small parameter keeps its digits.

A long frame with a key column (`kpi`, `name`) holds one figure per row in `value`, `previous`,
`current` and `delta`: each row is rounded by the kind of its key.

NaN and infinities are written as null (unknown is empty, SPEC section 1); meeting one is a bug of
the analysis that made it, reported as a `NonFiniteValueWarning` (an error under the test suite's
`filterwarnings = error`).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import Literal

import polars as pl

Kind = Literal["money", "rate", "count", "measure"]

MONEY_DECIMALS = 2
RATE_DECIMALS = 6
MEASURE_DECIMALS = 6
MEASURE_SIGNIFICANT = 6

# Exact names first: they settle what the patterns below would get wrong.
REGISTRY: dict[str, Kind] = {
    # money
    "amount": "money", "monetary": "money", "monetary_value": "money", "aov": "money", "clv": "money",
    "historical_clv": "money", "total_clv": "money", "cac": "money", "price": "money", "margin": "money",
    "expected_value": "money", "liability": "money", "cost_per_lead": "money",
    # rates, probabilities, shares (0..1)
    "share": "rate", "retention": "rate", "survival": "rate", "sbg_survival": "rate", "csat": "rate",
    "probability": "rate", "p_alive": "rate", "p_value": "rate", "annual_discount_rate": "rate",
    "top_decile_capture": "rate", "mean_churn_probability": "rate", "churn_probability": "rate",
    "discount_rate_per_period": "rate",
    # counts
    "customers": "count", "orders": "count", "retained": "count", "churned": "count", "at_risk": "count",
    "count": "count", "frequency": "count", "campaign_sent": "count", "subscriptions": "count",
    "active": "count", "n_customers": "count", "parameters": "count",
    "high_potential_customers": "count", "low": "count", "medium": "count", "high": "count",
    # measures that the patterns would take for money or counts
    "clv_to_cac": "measure", "spend_frequency_correlation": "measure", "purchase_frequency": "measure",
    "expected_purchases": "measure", "total_expected_purchases": "measure", "weight": "measure",
    "nps": "measure", "ces": "measure", "csat_mean": "measure", "value": "measure",
    "total_error_pct": "measure",
    "yearly_profit_change_pct": "measure", "incremental_margin": "money",
}
RATE_SUFFIXES = ("_rate", "_share", "_probability", "_capture")
COUNT_SUFFIXES = ("_customers", "_responses", "_orders", "_count", "_subscriptions")
MONEY_WORDS = frozenset({"revenue", "clv", "amount", "monetary", "aov", "price", "profit", "spend", "cost", "cac", "liability"})
# Bounds of an interval (`--ci`) have the kind of what they bound.
_BOUND = re.compile(r"_(lower|upper)$")

# Long frames: the key column names what each row's figure is.
KEY_COLUMNS = ("kpi", "name")
VALUE_COLUMNS = frozenset({"value", "previous", "current", "delta"})


class NonFiniteValueWarning(UserWarning):
    """A result held NaN or an infinity: written as null, but an analysis should never produce one."""


def column_kind(name: str) -> Kind:
    """The kind of a figure named `name` (a column, or a KPI in a long table).

    Example: column_kind("revenue_per_customer") == "money"; column_kind("repeat_purchase_rate") == "rate".
    """
    name = _BOUND.sub("", name.strip().lower())
    if name in REGISTRY:
        return REGISTRY[name]
    if name.isdigit():  # a period column of a cohort matrix holds retention
        return "rate"
    if name.endswith(RATE_SUFFIXES) or name.startswith("p_"):
        return "rate"
    if name.endswith(COUNT_SUFFIXES):
        return "count"
    if name.endswith("_value") or MONEY_WORDS & set(name.split("_")):
        return "money"
    return "measure"


def _rounded(expr: pl.Expr, kind: Kind) -> pl.Expr:
    if kind == "money":
        out = expr.round(MONEY_DECIMALS, mode="half_away_from_zero")
    elif kind in ("rate", "count"):
        out = expr.round(RATE_DECIMALS, mode="half_away_from_zero")
    else:
        out = pl.when(expr.abs() < 1).then(expr.round_sig_figs(MEASURE_SIGNIFICANT)).otherwise(
            expr.round(MEASURE_DECIMALS, mode="half_away_from_zero"))
    return pl.when(out == 0).then(0.0).otherwise(out)  # no "-0.0" in a file


def _finite(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.is_finite()).then(expr)


def rounding_exprs(
    schema: Mapping[str, pl.DataType], *, kinds: Mapping[str, Kind] | None = None, keys: Mapping[str, Kind] | None = None
) -> list[pl.Expr]:
    """One expression per float column of `schema`: non-finite values to null, then rounded by kind.

    `kinds` overrides the kind of named columns; `keys` gives the kind of each value of the key column
    of a long frame (`round_frame` reads them from the data). Counts stay floats here.
    """
    kinds = kinds or {}
    key = next((k for k in KEY_COLUMNS if k in schema and schema[k] == pl.String), None) if keys else None
    exprs = []
    for name, dtype in schema.items():
        if not dtype.is_float():
            continue
        col = _finite(pl.col(name))
        if key is not None and keys and name in VALUE_COLUMNS and name not in kinds:
            kind = pl.col(key).replace_strict(dict(keys), default="measure", return_dtype=pl.String)
            exprs.append(pl.when(kind == "money").then(_rounded(col, "money")).when(kind == "measure").then(_rounded(col, "measure"))
                         .otherwise(_rounded(col, "rate")).cast(dtype).alias(name))
        else:
            exprs.append(_rounded(col, kinds.get(name) or column_kind(name)).cast(dtype).alias(name))
    return exprs


def row_kinds(df: pl.DataFrame) -> dict[str, Kind]:
    """The kind of each value of a long frame's key column (`kpi`, `name`); empty for other frames."""
    key = next((k for k in KEY_COLUMNS if k in df.columns and df.schema[k] == pl.String), None)
    if key is None or not VALUE_COLUMNS & set(df.columns):
        return {}
    return {k: column_kind(k) for k in df.get_column(key).drop_nulls().unique().to_list()}


def round_frame(df: pl.DataFrame, *, kinds: Mapping[str, Kind] | None = None) -> pl.DataFrame:
    """`df` as it is written and shown: float columns rounded by kind, whole counts as Int64,
    NaN and infinities as null (with a `NonFiniteValueWarning`, a bug of the analysis).

    Parameters
    ----------
    df: a result frame.
    kinds: the kind of columns whose name does not say it (see `column_kind`).

    Example: round_frame(pl.DataFrame({"revenue": [892.8000000000001]})) holds 892.8.
    """
    floats = [c for c, t in df.schema.items() if t.is_float()]
    if not floats:
        return df
    bad = df.select(pl.col(floats).is_nan().or_(pl.col(floats).is_infinite()).sum())
    for name, n in zip(bad.columns, bad.row(0), strict=True):
        if n:
            warnings.warn(f"column {name!r}: {n:,} value(s) that are not finite (NaN or infinite) are written as empty; "
                          "this is a bug, please report it", NonFiniteValueWarning, stacklevel=2)
    keys = row_kinds(df)
    out = df.with_columns(rounding_exprs(df.schema, kinds=kinds, keys=keys))
    kinds = kinds or {}
    counts = [c for c in floats if (kinds.get(c) or column_kind(c)) == "count" and not (keys and c in VALUE_COLUMNS)]
    whole = [c for c in counts if _whole(out.get_column(c))]
    return out.with_columns(pl.col(whole).cast(pl.Int64)) if whole else out


def _whole(s: pl.Series) -> bool:
    """Every value is a whole number an Int64 holds exactly (empty columns too)."""
    s = s.drop_nulls()
    return s.is_empty() or bool(((s == s.round(0)) & (s.abs() < 2.0**53)).all())
