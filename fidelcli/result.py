"""The protocol every command's result satisfies: named tables, headline figures, warnings, JSON.

The terminal, the output files and the HTML report all render this one object. A result class
implements `tables()` and `headline()`, keeps `warnings`, and inherits `to_json()` from `JsonResult`:
the tables rounded as every output rounds them (`fidelcli.io.rounding.round_frame`), no NaN or
infinity (written as null), keys in a fixed order, so equal results give equal bytes.

Example
-------
>>> result = rfm(summary, as_of=dt.date(2025, 1, 1))  # doctest: +SKIP
>>> result.tables()["customers"].columns[:3]  # doctest: +SKIP
['customer_id', 'recency', 'frequency']
>>> json.loads(result.to_json())["headline"]["customers"]  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Protocol, runtime_checkable

import polars as pl

from fidelcli.io.rounding import round_frame

Figure = float | int | str | bool | None


@runtime_checkable
class Result(Protocol):
    """What a command's library call returns."""

    warnings: list[str]

    def tables(self) -> dict[str, pl.DataFrame]:
        """The result's tables by name (the main one first)."""
        ...

    def headline(self) -> dict[str, Figure]:
        """A few figures that sum the result up (counts, totals, dates as ISO text)."""
        ...

    def to_json(self) -> str:
        """The whole result as deterministic JSON (no NaN)."""
        ...


def finite_frame(df: pl.DataFrame) -> pl.DataFrame:
    """`df` with every NaN or infinite float made null."""
    floats = [c for c, t in df.schema.items() if t.is_float()]
    return df.with_columns(pl.when(pl.col(c).is_finite()).then(pl.col(c)).alias(c) for c in floats) if floats else df


def figure(value: object) -> Figure:
    """A headline value as JSON can hold it: dates as ISO text, non-finite floats as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None or isinstance(value, (int, str, bool)):
        return value
    return str(value)


def result_json(result: Result) -> str:
    """`{"headline": ..., "tables": {name: [rows]}, "warnings": [...]}` as deterministic JSON."""
    tables = {name: round_frame(finite_frame(df)).to_dicts() for name, df in result.tables().items()}
    doc = {"headline": {k: figure(v) for k, v in result.headline().items()}, "tables": tables, "warnings": list(result.warnings)}
    return json.dumps(doc, default=_json_default, ensure_ascii=False, allow_nan=False, indent=2)


def _json_default(value: object) -> object:
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


class JsonResult:
    """Mixin giving a result class `to_json()` from its `tables()`, `headline()` and `warnings`."""

    def to_json(self) -> str:
        return result_json(self)  # type: ignore[arg-type]
