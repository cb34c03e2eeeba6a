"""Per-user results tables of an experiment (`roi abtest --variant COL --metric COL`): any table with
one row per user, a variant column, 0/1 or yes/no outcome columns, money columns, and other columns
kept as features (Hillstrom's e-mail test, Cookie Cats' gate test load as they are).

Parsing lives here, like the canonical inputs' in `read.py`: outcomes are booleans (true/false, yes/no,
1/0, in English and French), money is a number as exports write it; a value that does not parse is an
`InputError` naming its 1-based row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from fidelcli.errors import InputError, MappingError
from fidelcli.io import values as V
from fidelcli.io.dialect import Encoding
from fidelcli.io.sources import display, open_source
from fidelcli.io.text import Ragged

SAMPLE_ROWS = 1000


@dataclass
class ResultsTable:
    """A per-user results table: `lf` has the columns `variant` (text), each outcome (Boolean), `revenue`
    and `cost` (Float64) when named, `by` (text) when named, and the feature columns (Float64, or text
    for categories) under their own names."""

    file: str
    lf: pl.LazyFrame
    metrics: list[str]
    features: list[str]
    has_revenue: bool
    has_cost: bool
    # {output column: source column}, for the mapping line on stderr.
    mapping: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def mapping_text(self) -> str:
        """The line that says which source column became which role."""
        return f"{self.file}: columns: " + ", ".join(f'{k} <- "{v}"' for k, v in self.mapping.items())


def _find(names: Sequence[str], wanted: str, *, file: str, flag: str) -> str:
    if wanted in names:
        return wanted
    matches = [n for n in names if n.lower() == wanted.lower()]
    if len(matches) == 1:
        return matches[0]
    raise MappingError(f"{flag} {wanted}: no such column", code="no-such-column", candidates=list(names), file=file,
                       hint="use one of: " + ", ".join(names))


def _bool(col: str, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.Boolean:
        return pl.col(col)
    if dtype.is_numeric():
        c = pl.col(col).cast(pl.Float64)
        return pl.when(c == 1.0).then(True).when(c == 0.0).then(False).otherwise(None)
    return V.bool_expr(col)


def _number(col: str, dtype: pl.DataType, sample: pl.Series) -> pl.Expr:
    if dtype.is_numeric() or dtype == pl.Boolean:
        return pl.col(col).cast(pl.Float64)
    texts = [v for v in sample.cast(pl.String).drop_nulls().to_list() if v.strip()]
    plain = V.is_plain_numeric(texts)
    return V.number_expr(col, decimal_comma=not plain and V.infer_decimal_comma(texts), plain=plain)


def _feature(col: str, dtype: pl.DataType, sample: pl.Series) -> pl.Expr:
    """A numeric feature when every sample value reads as a plain number, else a text category."""
    if dtype.is_numeric() or dtype == pl.Boolean:
        return pl.col(col).cast(pl.Float64)
    texts = [v for v in sample.cast(pl.String).drop_nulls().to_list() if v.strip()]
    if texts and V.is_plain_numeric(texts):
        return pl.col(col).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    return pl.col(col).cast(pl.String)


def scan_results(
    source: str | Path,
    *,
    variant: str,
    metrics: Sequence[str],
    revenue: str | None = None,
    cost: str | None = None,
    by: str | None = None,
    exclude: Sequence[str] = (),
    encoding: Encoding | None = None,
    sheet: str | None = None,
    ragged: Ragged = "error",
    delimiter: str | None = None,
    header: bool = True,
) -> ResultsTable:
    """Read a per-user results table lazily, with its roles given by column name (matched exactly, else
    case-insensitively). Every other column, except those in `exclude` (an id, a date), is a feature
    for the uplift model. Values are checked in one pass (`check_results`).

    Raises
    ------
    MappingError: a named column is missing (the message lists the columns).
    InputError: an unreadable source, or a value that does not parse (file, column, row).
    """
    file = display(source)
    opened = open_source(source, encoding=encoding, sheet=sheet, ragged=ragged, delimiter=delimiter, header=header)
    raw = opened.frame
    schema = raw.collect_schema()
    names = list(schema.names())
    src_variant = _find(names, variant, file=file, flag="--variant")
    src_metrics = [_find(names, m, file=file, flag="--metric") for m in metrics]
    src_revenue = _find(names, revenue, file=file, flag="--revenue") if revenue else None
    src_cost = _find(names, cost, file=file, flag="--cost-column") if cost else None
    src_by = _find(names, by, file=file, flag="--by") if by else None
    excluded = {_find(names, e, file=file, flag="--exclude") for e in exclude}
    used = {src_variant, *src_metrics, src_revenue, src_cost, src_by, *excluded}
    sample = raw.head(SAMPLE_ROWS).collect()
    exprs: dict[str, pl.Expr] = {"variant": pl.col(src_variant).cast(pl.String).str.strip_chars()}
    mapping = {"variant": src_variant}
    parsed: dict[str, tuple[str, str]] = {}  # output: (source, what it must be)
    for m in src_metrics:
        exprs[m] = _bool(m, schema[m])
        mapping[m] = m
        parsed[m] = (m, "a yes/no outcome (true/false, 1/0)")
    for role, src in (("revenue", src_revenue), ("cost", src_cost)):
        if src is not None:
            exprs[role] = _number(src, schema[src], sample[src])
            mapping[role] = src
            parsed[role] = (src, "a number")
    if src_by is not None:
        exprs["by"] = pl.col(src_by).cast(pl.String)
        mapping["by"] = src_by
    features = [n for n in names if n not in used and n not in exprs]
    for f in features:
        exprs[f] = _feature(f, schema[f], sample[f])
    lf = raw.select([e.alias(k) for k, e in exprs.items()])
    table = ResultsTable(file=file, lf=lf, metrics=list(src_metrics), features=features, has_revenue=src_revenue is not None,
                         has_cost=src_cost is not None, mapping=mapping, warnings=list(opened.warnings))
    check_results(raw, exprs, parsed, file=file)
    return table


def check_results(raw: pl.LazyFrame, exprs: dict[str, pl.Expr], parsed: dict[str, tuple[str, str]], *, file: str) -> None:
    """One streaming pass: raise InputError at the first value of a parsed column that does not parse."""
    if not parsed:
        return
    frame = raw.with_row_index("__row", offset=1)
    failed = {out: pl.col(src).is_not_null() & (pl.col(src).cast(pl.String).str.strip_chars() != "") & exprs[out].is_null()
              for out, (src, _) in parsed.items()}
    first = frame.select(pl.col("__row").filter(cond).min().alias(out) for out, cond in failed.items()).collect(engine="streaming")
    bad = {out: row for out, row in first.row(0, named=True).items() if row is not None}
    if bad:
        out = min(bad, key=lambda k: bad[k])
        src, what = parsed[out]
        raise InputError(f"the value is not {what}", file=file, column=src, row=int(bad[out]),
                         hint="fix the value, or name another column")
