"""Read step: a source (file, glob, directory, database URI) becomes a lazy table of canonical fields.

Sniffing, column mapping and parsing live here and nowhere else. Text files are scanned with every
column as text, then parsed by expressions inferred from a bounded sample. Parsing never fails
silently: `Table.lf` parses strictly (a bad value raises when a query reads it), and `Table.check()`
(or `Table.diagnosed()`) then names the file, column and row of the first value that did not parse.
"""

from __future__ import annotations

import atexit
import codecs
import glob as globmod
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import polars as pl

from fidelcli.errors import InputError
from fidelcli.io import values as V
from fidelcli.io.columns import Field, fields, resolve_columns
from fidelcli.io.dialect import open_binary, sniff

TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
PII_FIELDS = {"email", "phone", "name", "birth_date"}
SAMPLE_ROWS = 20_000
_TEMP_DIRS: list[str] = []


@atexit.register
def _cleanup() -> None:
    for d in _TEMP_DIRS:
        shutil.rmtree(d, ignore_errors=True)


@dataclass
class Table:
    """A source mapped to canonical fields; `lf` is lazy, nothing is read until collected."""

    kind: str
    file: str
    mapping: dict[str, str]
    raw: pl.LazyFrame
    exprs: dict[str, pl.Expr]
    parsed_from_text: set[str] = field(default_factory=set)
    # The same parsers, raising on a value that does not parse (used by `lf`).
    strict_exprs: dict[str, pl.Expr] = field(default_factory=dict)
    # Only with `scan_table(strict=False)`: date fields whose format could not be inferred, left out of `exprs`.
    unparsed: dict[str, InputError] = field(default_factory=dict)

    @property
    def lf(self) -> pl.LazyFrame:
        """Canonical columns, parsed strictly: collecting raises a Polars error at the first value that
        does not parse (only in the columns a query uses); `check()` then names its row."""
        exprs = {**self.exprs, **self.strict_exprs}
        return self.raw.select([e.alias(name) for name, e in exprs.items()])

    @property
    def lenient(self) -> pl.LazyFrame:
        """Canonical columns; a value that does not parse is null (see `failed`)."""
        return self.raw.select([e.alias(name) for name, e in self.exprs.items()])

    def failed(self, name: str) -> pl.Expr:
        """True where the source value of `name` is present but did not parse."""
        src = self.mapping.get(name)
        if src is None or name not in self.parsed_from_text:
            return pl.lit(False)
        return pl.col(src).is_not_null() & self.exprs[name].is_null()

    @contextmanager
    def diagnosed(self) -> Iterator[None]:
        """Turn a Polars parse error raised inside the block into an `InputError` naming the row."""
        try:
            yield
        except (pl.exceptions.ComputeError, pl.exceptions.InvalidOperationError):
            self.check()  # raises the InputError when a value of this table does not parse
            raise

    def check(self, aggregates: dict[str, pl.Expr] | None = None) -> dict[str, Any]:
        """One lazy pass over the source: raise `InputError` naming the first value that did not
        parse, and return `aggregates` (expressions over the canonical columns) computed in the same pass.
        """
        checked = sorted(self.parsed_from_text)
        aggregates = aggregates or {}
        if not checked and not aggregates:
            return {}
        frame = self.raw.with_row_index("__row", offset=1) if checked else self.raw
        frame = frame.select(
            *([pl.col("__row")] if checked else []),
            *[e.alias(name) for name, e in self.exprs.items()],
            *[self.failed(n).alias(f"__failed_{n}") for n in checked],
        )
        result = frame.select(
            *[pl.col("__row").filter(pl.col(f"__failed_{n}")).min().alias(f"__failed_{n}") for n in checked],
            **aggregates,
        ).collect(engine="streaming").row(0, named=True)
        bad = {n: result.pop(f"__failed_{n}") for n in checked}
        bad = {n: row for n, row in bad.items() if row is not None}
        if not bad:
            return result
        name = min(bad, key=lambda n: bad[n])
        row = int(bad[name])
        value = self.raw.slice(row - 1, 1).select(self.mapping[name]).collect().item()
        kind = next(f.type for f in fields(self.kind) if f.name == name)
        hint = {
            "date": "use --date-format, or fix the value",
            "datetime": "use --date-format, or fix the value",
            "number": "write numbers like 1234.56 or 1 234,56, or fix the value",
            "bool": "use yes/no, true/false or 1/0",
        }.get(kind, "fix the value")
        # Personal data never goes into a message (SPEC section 3): name the row, not the value.
        shown = "the value" if name in PII_FIELDS else repr(value)
        raise InputError(f"{shown} is not a valid {kind}", file=self.file, column=self.mapping[name], row=row, hint=hint)


def _display(source: str | Path) -> str:
    return Path(source).name if not str(source).count("://") else str(source).split("?")[0]


def _transcode(path: Path) -> Path:
    """Copy a Windows-1252 file to UTF-8 in a temporary file, in bounded chunks."""
    tmp = tempfile.mkdtemp(prefix="fidelcli-")
    _TEMP_DIRS.append(tmp)
    out = Path(tmp) / (path.stem.removesuffix(".csv") + ".csv")
    decoder = codecs.getincrementaldecoder("cp1252")(errors="replace")
    with open_binary(path) as src, open(out, "w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(1 << 22):
            dst.write(decoder.decode(chunk))
        dst.write(decoder.decode(b"", final=True))
    return out


def _files(source: Path | str) -> list[Path]:
    s = str(source)
    if any(ch in s for ch in "*?["):
        found = sorted(Path(p) for p in globmod.glob(s, recursive=True) if Path(p).is_file())
    elif Path(s).is_dir():
        found = sorted(p for p in Path(s).rglob("*") if p.is_file() and _suffix(p) in TEXT_SUFFIXES | {".parquet", ".xlsx"})
    elif Path(s).exists():
        return [Path(s)]
    else:
        raise InputError("no such file", file=s, hint="check the path")
    if not found:
        raise InputError("no data files match", file=s, hint="point to .csv, .parquet or .xlsx files")
    return found


def _suffix(path: Path) -> str:
    suffixes = [x.lower() for x in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def scan_raw(source: str | Path) -> pl.LazyFrame:
    """The source's own columns, lazily: text files as all-text columns, typed formats as they are."""
    s = str(source)
    if "://" in s:
        return _scan_database(s)
    files = _files(source)
    kinds = {_suffix(p) for p in files}
    if len(kinds) > 1:
        raise InputError(f"mixed file types {sorted(kinds)}", file=s, hint="point to files of one format")
    kind = kinds.pop()
    if kind == ".parquet":
        return pl.scan_parquet([str(p) for p in files], hive_partitioning=Path(s).is_dir())
    if kind == ".xlsx":
        frames = [pl.read_excel(p, engine="calamine") for p in files]
        return pl.concat(frames, how="diagonal_relaxed").lazy()
    if kind in TEXT_SUFFIXES:
        dialect = sniff(files[0])
        paths = [_transcode(p) if dialect.encoding == "cp1252" else p for p in files]
        sep = "\t" if kind == ".tsv" and dialect.separator == "," else dialect.separator
        return pl.scan_csv(
            [str(p) for p in paths],
            separator=sep,
            infer_schema=False,
            null_values=V.NULL_VALUES,
            truncate_ragged_lines=True,
        )
    raise InputError(f"unsupported file type {kind or '(none)'!r}", file=s, hint="use csv, tsv, txt, gz, parquet or xlsx")


def _scan_database(uri: str) -> pl.LazyFrame:
    """`sqlite:///path.db?table=sales` or `?query=SELECT ...`; also `duckdb:///path.db?table=...`.

    Paths follow the SQLAlchemy convention: three slashes for a relative path, four for an absolute one.
    """
    parsed = urlparse(uri)
    params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    query = params.get("query") or (f'SELECT * FROM "{params["table"]}"' if "table" in params else None)
    if query is None:
        raise InputError("a database URI needs ?table=NAME or ?query=SELECT...", file=uri.split("?")[0])
    # SQLAlchemy convention: sqlite:///relative.db, sqlite:////absolute/path.db
    path = parsed.path[1:] if parsed.path.startswith("/") else parsed.path
    if parsed.scheme == "sqlite":
        if not Path(path).exists():
            raise InputError("no such database file", file=path)
        with sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True) as conn:
            try:
                return pl.read_database(query, conn, infer_schema_length=None).lazy()
            except Exception as exc:  # sqlite3 errors carry the reason in their text
                raise InputError(f"query failed: {exc}", file=path) from None
    if parsed.scheme == "duckdb":
        try:
            import duckdb
        except ImportError:
            raise InputError("reading DuckDB needs the duckdb package", file=path, hint="pip install duckdb") from None
        with duckdb.connect(path, read_only=True) as conn:
            return conn.sql(query).pl().lazy()
    if parsed.scheme in {"postgresql", "postgres"}:
        try:
            import psycopg
        except ImportError:
            raise InputError("reading PostgreSQL needs psycopg", file=uri.split("?")[0], hint="pip install 'psycopg[binary]'") from None
        dsn = uri.split("?")[0]
        with psycopg.connect(dsn) as conn:
            return pl.read_database(query, conn, infer_schema_length=None).lazy()
    raise InputError(f"unsupported database scheme {parsed.scheme!r}", file=uri.split("?")[0], hint="use sqlite://, duckdb:// or postgresql://")


_DATE_LIKE = re.compile(r"^(\d{4}[-/]\d{1,2}[-/]\d{1,2}|\d{8}|\d{1,2}[/.-]\d{1,2}[/.-](\d{4}|\d{2}))$")


Parser = Callable[[bool], pl.Expr]


def _fixed(expr: pl.Expr) -> Parser:
    """A parser that cannot fail (typed sources, identifiers)."""
    return lambda strict: expr


def _field_expr(
    f: Field, src: str, dtype: pl.DataType, sample: pl.Series, *, raw: pl.LazyFrame, file: str,
    date_format: str | None, separator: str, text_file: bool, strict: bool = True,
) -> tuple[Parser, bool]:
    """How to parse one source column into field `f`: `parser(strict)` gives the expression; the bool
    says whether text is parsed (and so may fail)."""
    text = dtype == pl.String
    values = [v for v in sample.drop_nulls().to_list()] if text else []
    if f.type in ("date", "datetime") and values:
        # Infer from the values that look like dates; the others fail to parse and
        # are reported row by row instead of making the whole column fail.
        values = [v for v in values if any(_DATE_LIKE.match(d) for d in V.date_part([v]))] or values
    if f.type in ("id", "text"):
        if text:
            # Text exports may pad values with spaces; typed sources (Parquet, databases) are taken as they are.
            return _fixed(V.id_expr(src) if text_file else pl.col(src)), False
        if dtype.is_float():
            # Spreadsheets store ids as floats (17850.0): an integral float is written without `.0`.
            return _fixed(pl.col(src).cast(pl.Int64, strict=False).cast(pl.String)), False
        return _fixed(pl.col(src).cast(pl.String)), False
    if f.type in ("date", "datetime"):
        if not text:
            if dtype == pl.Date:
                return _fixed(pl.col(src) if f.type == "date" else pl.col(src).cast(pl.Datetime("us"))), False
            if isinstance(dtype, pl.Datetime):
                return _fixed(pl.col(src).dt.date() if f.type == "date" else pl.col(src).dt.replace_time_zone(None)), False
            raise InputError(f"expected dates, found {dtype}", file=file, column=src, hint="export the column as dates")
        fmt = date_format
        if fmt is None and values:
            full = V.full_scan_max(raw, src) if V.needs_full_scan(values) else None
            fmt = V.infer_date_format(values, column=src, file=file, full_max=full)
        fmt = fmt or "%Y-%m-%d"
        part = V.date_part_length(values) if values else None
        parse = V.date_expr if f.type == "date" else V.datetime_expr
        return (lambda strict: parse(src, fmt, part_length=part, strict=strict)), True
    if f.type == "number":
        if not text:
            return _fixed(pl.col(src).cast(pl.Float64)), False
        plain = V.is_plain_numeric(values)
        comma = not plain and V.infer_decimal_comma(values, separator=separator)
        return (lambda strict: V.number_expr(src, decimal_comma=comma, plain=plain, strict=strict)), True
    if f.type == "bool":
        return ((lambda strict: V.bool_expr(src, strict=strict)), True) if text else (_fixed(pl.col(src).cast(pl.Boolean)), False)
    raise AssertionError(f.type)


def scan_table(
    source: str | Path,
    kind: str,
    *,
    columns: dict[str, str] | None = None,
    date_format: str | None = None,
    strict: bool = True,
) -> Table:
    """Map and parse a source as an input `kind` (transactions, customers, surveys, ...).

    Parameters
    ----------
    source: a file, glob, directory or database URI.
    kind: the input kind, which fixes the canonical fields.
    columns: explicit `{field: source column}` mapping (`--map`, `[columns]` of the config).
    date_format: strptime format for every date column, when inference must not guess.
    strict: when False (used by `validate`), a date column whose format cannot be inferred is left out of
        `exprs` and its error kept in `Table.unparsed`, and values that do not look like dates do not
        stop the inference (they fail to parse, row by row).

    Raises
    ------
    InputError, MappingError: unreadable source, missing or ambiguous columns, unknown date format.
    """
    file = _display(source)
    raw = scan_raw(source)
    try:
        schema = raw.collect_schema()
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"cannot read the table: {str(exc).splitlines()[0]}", file=file) from None
    mapping = resolve_columns(list(schema.names()), kind, explicit=columns, file=file)
    text_file = "://" not in str(source) and _suffix(_files(source)[0]) in TEXT_SUFFIXES
    separator = sniff(_files(source)[0]).separator if text_file else ","
    sample = raw.select(list(dict.fromkeys(mapping.values()))).head(SAMPLE_ROWS).collect()
    exprs: dict[str, pl.Expr] = {}
    parsed: set[str] = set()
    unparsed: dict[str, InputError] = {}
    strict_exprs: dict[str, pl.Expr] = {}
    for f in fields(kind):
        src = mapping.get(f.name)
        if src is None:
            continue
        try:
            parser, from_text = _field_expr(
                f, src, schema[src], sample[src], raw=raw, file=file, date_format=date_format, separator=separator,
                text_file=text_file, strict=strict,
            )
        except InputError as exc:
            if strict or f.type not in ("date", "datetime"):
                raise
            unparsed[f.name] = exc
            continue
        exprs[f.name] = parser(False)
        if from_text:
            parsed.add(f.name)
            strict_exprs[f.name] = parser(True)
    if kind == "transactions" and "amount" not in exprs and {"quantity", "unit_price"} <= exprs.keys():
        exprs["amount"] = exprs["quantity"] * exprs["unit_price"]
        if {"quantity", "unit_price"} & strict_exprs.keys():
            strict_exprs["amount"] = strict_exprs.get("quantity", exprs["quantity"]) * strict_exprs.get("unit_price", exprs["unit_price"])
    return Table(kind=kind, file=file, mapping=mapping, raw=raw, exprs=exprs, parsed_from_text=parsed, unparsed=unparsed, strict_exprs=strict_exprs)
