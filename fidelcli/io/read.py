"""Read step: a source (file, glob, directory, database URI) becomes a lazy table of canonical fields.

Sniffing, column mapping and parsing live here and nowhere else. Text files are scanned with every
column as text (after a check that each row splits into the header's fields, see `fidelcli.io.text`),
then parsed by expressions inferred from a bounded sample. Parsing never fails silently: `Table.lf`
parses strictly (a bad value raises when a query reads it), and `Table.check()` (or
`Table.diagnosed()`) then names the file, column and row of the first value that did not parse.
A value the analyses cannot use (inf, NaN, 1e300, a year 201) does not parse either (`fidelcli.io.values`).

Every problem is an `InputError` naming the file (and the column and 1-based data row when there is
one); an input value is quoted only through `fidelcli.privacy.mask.shown`, so personal data is masked.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from fidelcli.errors import InputError, MappingError
from fidelcli.io import values as V
from fidelcli.io.columns import Field, Kind, fields, resolve_columns
from fidelcli.io.dialect import Encoding, read_error
from fidelcli.io.sources import TEXT_SUFFIXES, display, open_source
from fidelcli.io.spec import TableSpec
from fidelcli.io.text import Ragged
from fidelcli.privacy.mask import PII_FIELDS, masked, personal_kind, scrub, shown

__all__ = ["TEXT_SUFFIXES", "Table", "TableSpec", "read_failure", "scan_raw", "scan_table"]

SAMPLE_ROWS = 20_000
# Errors of a pass over a source's contents: a value that does not parse, bytes that do not decode.
_READ_ERRORS = (pl.exceptions.ComputeError, pl.exceptions.InvalidOperationError, OSError, EOFError, zlib.error)


def read_failure(exc: BaseException, file: str, *, show_values: bool = False) -> InputError:
    """The InputError for an exception raised while reading `file`'s contents (one line, no values)."""
    text = str(exc).strip()
    if isinstance(exc, (OSError, EOFError, zlib.error)):
        return read_error(exc, file)
    if "utf8" in text.lower() or "utf-8" in text.lower():
        return InputError("the file is not valid UTF-8", file=file, hint="pass --encoding cp1252 for a Windows export, or re-export it as UTF-8")
    if "more fields than defined" in text:
        return InputError("a row has more fields than the header", file=file, hint="pass --ragged skip to leave such rows out")
    first = text.splitlines()[0] if text else type(exc).__name__
    return InputError(
        f"cannot read the table: {first if show_values else scrub(first)}", file=file,
        hint="run `fidelcli validate` on this input to locate the bad rows",
    )


@dataclass
class Table:
    """A source mapped to canonical fields; `lf` is lazy, nothing is read until collected."""

    kind: Kind
    file: str
    mapping: dict[str, str]
    raw: pl.LazyFrame
    exprs: dict[str, pl.Expr]
    # Fields whose values are parsed (from text, or bounded) and so may fail: see `failed()`.
    parsed_from_text: set[str] = field(default_factory=set)
    # The same parsers, raising on a value that does not parse (used by `lf`), over the source columns
    # and the `staged` ones: {hidden column: strict parse}, so that each value is parsed once.
    strict_exprs: dict[str, pl.Expr] = field(default_factory=dict)
    staged: dict[str, pl.Expr] = field(default_factory=dict)
    # Only with `scan_table(lenient=True)`: date fields whose format could not be inferred, left out of `exprs`.
    unparsed: dict[str, InputError] = field(default_factory=dict)
    # Quote personal values in messages instead of masking them (`--show-values`).
    show_values: bool = False
    # Said once when the table is read (malformed rows skipped with `ragged="skip"`).
    warnings: list[str] = field(default_factory=list)
    # The format of each date field parsed from text, for the hints.
    date_formats: dict[str, str] = field(default_factory=dict)
    # False for a text file read with `--no-header`: its columns are `column_1`, `column_2`...
    header: bool = True
    # The same source described as plain data, for another engine (set by `scan_table`).
    spec: TableSpec | None = None

    def _named(self, column: str, *, quote: bool) -> str:
        """A source column as the mapping names it: `"Customer ID"` (`quote`), or `column 1` in a file
        without a header; a name that is itself personal data (an email...) is masked."""
        if not self.header and re.fullmatch(r"column_\d+", column):
            return f"column {column.removeprefix('column_')}"
        if not self.show_values and personal_kind(column) in ("email", "phone", "iban"):
            return masked(column)
        return f'"{column}"' if quote else column

    def _described(self, *, quote: bool) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in fields(self.kind):
            if f.name in self.mapping:
                out[f.name] = self._named(self.mapping[f.name], quote=quote)
            elif f.name == "amount" and self._derived_amount():
                q, p = (self._named(self.mapping[n], quote=quote) for n in ("quantity", "unit_price"))
                out[f.name] = f"{q} x {p}"
        return out

    def sources(self) -> dict[str, str]:
        """{field: where its values come from}, in the order of the input's fields: a source column
        (`Customer ID`, `column 1` without a header), or `Quantity x Price` for an amount computed as
        quantity x unit price. `validate` reports it as the input's `columns`."""
        return self._described(quote=False)

    def mapping_text(self) -> str:
        """The line that says which source column became which field, e.g.
        `sales.csv: columns: customer_id <- "Customer ID", date <- "InvoiceDate", amount <- "Quantity" x "Price"`
        (a computed amount stands for its quantity and unit price, which are not listed again)."""
        described = self._described(quote=True)
        if self._derived_amount():
            described = {k: v for k, v in described.items() if k not in ("quantity", "unit_price")}
        parts = [f"{name} <- {source}" for name, source in described.items()]
        return f"{self.file}: columns: {', '.join(parts)}" if parts else f"{self.file}: no column mapped"

    @property
    def lf(self) -> pl.LazyFrame:
        """Canonical columns, parsed strictly: collecting raises a Polars error at the first value that
        does not parse (only in the columns a query uses); `check()` then names its row."""
        exprs = {**self.exprs, **self.strict_exprs}
        source = self.raw.with_columns(**self.staged) if self.staged else self.raw
        return source.select([e.alias(name) for name, e in exprs.items()])

    @property
    def lenient(self) -> pl.LazyFrame:
        """Canonical columns; a value that does not parse is null (see `failed`)."""
        return self.raw.select([e.alias(name) for name, e in self.exprs.items()])

    def _derived_amount(self) -> bool:
        return self.kind == "transactions" and "amount" in self.exprs and "amount" not in self.mapping

    def failed(self, name: str) -> pl.Expr:
        """True where the source value of `name` is present but did not parse (for an amount computed
        as quantity x unit price: where both parsed but their product is out of range)."""
        if name == "amount" and self._derived_amount():
            return self.exprs["quantity"].is_not_null() & self.exprs["unit_price"].is_not_null() & self.exprs["amount"].is_null()
        src = self.mapping.get(name)
        if src is None or name not in self.parsed_from_text:
            return pl.lit(False)
        return pl.col(src).is_not_null() & self.exprs[name].is_null()

    @contextmanager
    def diagnosed(self) -> Iterator[None]:
        """Turn a Polars error raised inside the block while reading this table into an `InputError`
        naming the row of the value that did not parse (or, failing that, the file)."""
        try:
            yield
        except _READ_ERRORS as exc:
            self.check()  # raises the InputError when a value of this table does not parse
            raise read_failure(exc, self.file, show_values=self.show_values) from None

    def check(self, aggregates: dict[str, pl.Expr] | None = None) -> dict[str, Any]:
        """One lazy pass over the source: raise `InputError` naming the first value that did not
        parse, and return `aggregates` (expressions over the canonical columns) computed in the same pass.
        """
        checked = sorted(self.parsed_from_text) + (["amount"] if self._derived_amount() else [])
        aggregates = aggregates or {}
        if not checked and not aggregates:
            return {}
        frame = self.raw.with_row_index("__row", offset=1) if checked else self.raw
        frame = frame.select(
            *([pl.col("__row")] if checked else []),
            *[e.alias(name) for name, e in self.exprs.items()],
            *[self.failed(n).alias(f"__failed_{n}") for n in checked],
        )
        try:
            result = frame.select(
                *[pl.col("__row").filter(pl.col(f"__failed_{n}")).min().alias(f"__failed_{n}") for n in checked],
                **aggregates,
            ).collect(engine="streaming").row(0, named=True)
        except _READ_ERRORS as exc:
            raise read_failure(exc, self.file, show_values=self.show_values) from None
        bad = {n: result.pop(f"__failed_{n}") for n in checked}
        bad = {n: row for n, row in bad.items() if row is not None}
        if not bad:
            return result
        name = min(bad, key=lambda n: bad[n])
        raise self._failure(name, int(bad[name]))

    def _failure(self, name: str, row: int) -> InputError:
        """The error for the value of field `name` at data row `row`, which did not parse."""
        if name == "amount" and self._derived_amount():
            q, p = self.mapping["quantity"], self.mapping["unit_price"]
            qv, pv = self.raw.slice(row - 1, 1).select(q, p).collect().row(0)
            values = f"{shown(qv, show_values=self.show_values)} x {shown(pv, show_values=self.show_values)}"
            return InputError(
                f"quantity x unit price ({values}) is out of range: amounts must be below {V.MAX_ABS_TEXT}",
                file=self.file, column=f"{q} x {p}", row=row, hint="fix the quantity or the unit price",
            )
        src = self.mapping[name]
        value = self.raw.slice(row - 1, 1).select(src).collect().item()
        kind = next(f.type for f in fields(self.kind) if f.name == name)
        fmt = self.date_formats.get(name)
        hint = {
            "date": f"use --date-format, or fix the value{f' (the dates of this column are read as {fmt})' if fmt else ''}",
            "number": "write numbers like 1234.56 or 1 234,56, or fix the value",
            "bool": "use yes/no, true/false or 1/0",
        }.get("date" if kind == "datetime" else kind, "fix the value")
        # Personal data never goes into a message (SPEC section 3): a personal field's value is never
        # quoted, any other value only through `shown` (an email in an amount is "an email address").
        quoted = "the value" if name in PII_FIELDS and not self.show_values else shown(value, show_values=self.show_values)
        years = V.BIRTH_YEARS if name == "birth_date" else V.YEARS
        why = V.out_of_bounds(value, kind, fmt=fmt, years=years)
        if why is not None:
            return InputError(f"{quoted} {why}", file=self.file, column=src, row=row, hint="fix the value: it is an export error")
        return InputError(f"{quoted} is not a valid {kind}", file=self.file, column=src, row=row, hint=hint)


def scan_raw(
    source: str | Path, *, encoding: Encoding | None = None, sheet: str | None = None, ragged: Ragged = "error",
    delimiter: str | None = None, header: bool = True,
) -> pl.LazyFrame:
    """The source's own columns, lazily: text files as all-text columns, typed formats as they are.

    A text file's structure is checked first (one streaming pass over its lines): see `scan_table`.
    """
    return open_source(source, encoding=encoding, sheet=sheet, ragged=ragged, delimiter=delimiter, header=header).frame


_DATE_LIKE = re.compile(r"^(\d{4}[-/]\d{1,2}[-/]\d{1,2}|\d{8}|\d{1,2}[/.-]\d{1,2}[/.-](\d{4}|\d{2}))$")


@dataclass(frozen=True)
class Parser:
    """How a field is read: `value(strict)` parses a source column; `ok(value)`, when given, says which
    parsed values are usable (a bound: finite numbers below 1e13, plausible years)."""

    value: Callable[[bool], pl.Expr]
    ok: Callable[[pl.Expr], pl.Expr] | None = None

    def expr(self, *, strict: bool) -> pl.Expr:
        value = self.value(strict)
        return value if self.ok is None else V.bounded(value, self.ok(value), strict=strict)


def _fixed(expr: pl.Expr) -> Parser:
    """A parser that cannot fail (identifiers, text)."""
    return Parser(lambda strict: expr)


def _field_expr(
    f: Field, src: str, dtype: pl.DataType, sample: pl.Series, *, raw: pl.LazyFrame, file: str,
    date_format: str | None, separator: str, text_file: bool, show_values: bool = False,
) -> tuple[Parser, bool, str | None]:
    """How to parse one source column into field `f`; the bool says whether values may fail to parse;
    the last item is the date format read from text."""
    text = dtype == pl.String
    values = [v for v in sample.drop_nulls().to_list()] if text else []
    years = V.BIRTH_YEARS if f.name == "birth_date" else V.YEARS
    if f.type in ("date", "datetime") and values:
        # Infer from the values that look like dates; the others fail to parse and
        # are reported row by row instead of making the whole column fail.
        values = [v for v in values if any(_DATE_LIKE.match(d) for d in V.date_part([v]))] or values
    if f.type in ("id", "text"):
        if text:
            # Text exports may pad values with spaces; typed sources (Parquet, databases) are taken as they are.
            return _fixed(V.id_expr(src) if text_file else pl.col(src)), False, None
        if dtype.is_float():
            # Spreadsheets store ids as floats (17850.0): an integral float is written without `.0`.
            return _fixed(pl.col(src).cast(pl.Int64, strict=False).cast(pl.String)), False, None
        return _fixed(pl.col(src).cast(pl.String)), False, None
    if f.type in ("date", "datetime"):
        if not text:
            if dtype == pl.Date:
                day = pl.col(src) if f.type == "date" else pl.col(src).cast(pl.Datetime("us"))
            elif isinstance(dtype, pl.Datetime):
                day = pl.col(src).dt.date() if f.type == "date" else pl.col(src).dt.replace_time_zone(None)
            else:
                raise InputError(f"expected dates, found {dtype}", file=file, column=src, hint="export the column as dates")
            return Parser(lambda strict: day, lambda v: V.year_ok(v, years)), True, None
        fmt = date_format
        if fmt is None and values:
            try:
                full = V.full_scan_max(raw, src) if V.needs_full_scan(values) else None
            except _READ_ERRORS as exc:
                raise read_failure(exc, file, show_values=show_values) from None
            fmt = V.infer_date_format(values, column=src, file=file, full_max=full, show_values=show_values)
        fmt = fmt or "%Y-%m-%d"
        parse = V.date_value if f.type == "date" else V.datetime_value
        return Parser(lambda strict: parse(src, fmt, strict=strict), lambda v: V.year_ok(v, years)), True, fmt
    if f.type == "number":
        if not text:
            return Parser(lambda strict: pl.col(src).cast(pl.Float64), V.number_ok), True, None
        plain = V.is_plain_numeric(values)
        comma = not plain and V.infer_decimal_comma(values, separator=separator)
        return Parser(lambda strict: V.number_value(src, decimal_comma=comma, plain=plain, strict=strict), V.number_ok), True, None
    if f.type == "bool":
        if text:
            return Parser(lambda strict: V.bool_expr(src, strict=strict)), True, None
        return _fixed(pl.col(src).cast(pl.Boolean)), False, None
    raise AssertionError(f.type)


def scan_table(
    source: str | Path,
    kind: Kind,
    *,
    columns: dict[str, str] | None = None,
    date_format: str | None = None,
    lenient: bool = False,
    show_values: bool = False,
    ragged: Ragged = "error",
    sheet: str | None = None,
    encoding: Encoding | None = None,
    delimiter: str | None = None,
    header: bool = True,
    optional: frozenset[str] = frozenset(),
) -> Table:
    """Map and parse a source as an input `kind` (transactions, customers, surveys, ...).

    Parameters
    ----------
    source: a file, glob, directory or database URI.
    kind: the input kind, which fixes the canonical fields.
    columns: explicit `{field: source column}` mapping (`--map`, `[columns]` of the config).
    date_format: strptime format for every date column, when inference must not guess.
    lenient: when True (used by `validate`), a date column whose format cannot be inferred is left out of
        `exprs` and its error kept in `Table.unparsed`, and values that do not look like dates do not
        stop the inference (they fail to parse, row by row).
    show_values: quote personal values in error messages instead of masking them (`--show-values`).
    ragged: a text row that does not split into the header's fields is an error (`"error"`), or is
        left out and counted in `Table.warnings` (`"skip"`; rows named later count the rows kept).
    sheet: a workbook's sheet, by name or number from 1 (default: the first).
    encoding: a text file's encoding, when the detection from its first MiB is wrong.
    delimiter: a text file's separator, when the sniffing is wrong: one character (`;`, `\t`, ` `), or
        `"whitespace"` (runs of spaces and tabs). Sniffed by default, whitespace included.
    header: False when a text file's first line is data: its columns are then `column_1`, `column_2`...
        and `columns` maps fields to them or to their numbers (`{"customer_id": "1"}`).
    optional: required fields this reading does without (see `resolve_columns`).
    `source` may be `-`: standard input, spooled to a temporary file (named `<stdin>` in messages).

    Raises
    ------
    InputError, MappingError: unreadable source (missing, empty, binary, truncated, malformed rows,
    duplicate columns, files that disagree), missing or ambiguous columns, unknown date format.

    Text files are read once here, to check their structure (a streaming pass over the lines); the
    table itself stays lazy.
    """
    file = display(source)
    opened = open_source(source, encoding=encoding, sheet=sheet, ragged=ragged, delimiter=delimiter, header=header)
    raw = opened.frame
    try:
        schema = raw.collect_schema()
    except _READ_ERRORS as exc:
        raise read_failure(exc, file, show_values=show_values) from None
    try:
        mapping = resolve_columns(list(schema.names()), kind, explicit=columns, file=file, positional=not header, optional=optional)
    except MappingError as exc:
        if sheet is None and len(opened.sheets) > 1:
            others = ", ".join(map(repr, opened.sheets))
            raise MappingError(
                exc.message, code=exc.code, field=exc.field, candidates=exc.candidates, file=exc.file,
                hint=f"sheet {opened.sheet!r} was read; the workbook has sheets {others}: choose one with --sheet NAME",
            ) from None
        raise
    try:
        sample = raw.select(list(dict.fromkeys(mapping.values()))).head(SAMPLE_ROWS).collect()
    except _READ_ERRORS as exc:
        raise read_failure(exc, file, show_values=show_values) from None
    exprs: dict[str, pl.Expr] = {}
    parsed: set[str] = set()
    unparsed: dict[str, InputError] = {}
    strict_exprs: dict[str, pl.Expr] = {}
    staged: dict[str, pl.Expr] = {}
    formats: dict[str, str] = {}
    for f in fields(kind):
        src = mapping.get(f.name)
        if src is None:
            continue
        try:
            parser, may_fail, fmt = _field_expr(
                f, src, schema[src], sample[src], raw=raw, file=file, date_format=date_format, separator=opened.separator,
                text_file=opened.text, show_values=show_values,
            )
        except InputError as exc:
            if not lenient or f.type not in ("date", "datetime"):
                raise
            unparsed[f.name] = exc
            continue
        exprs[f.name] = parser.expr(strict=False)
        if fmt is not None:
            formats[f.name] = fmt
        if not may_fail:
            continue
        parsed.add(f.name)
        if parser.ok is None:
            strict_exprs[f.name] = parser.value(True)
        else:
            # Parsed once into a hidden column, then bounded: an expression that uses a parse twice
            # computes it twice (Polars does not share casts between uses).
            hidden = pl.col(f"__fidelcli_{f.name}")
            staged[f"__fidelcli_{f.name}"] = parser.value(True)
            strict_exprs[f.name] = V.bounded(hidden, parser.ok(hidden), strict=True)
    if kind == "transactions" and "amount" not in exprs and {"quantity", "unit_price"} <= exprs.keys():
        # A line total out of range (1e7 x 1e7) is refused like an amount out of range.
        product = exprs["quantity"] * exprs["unit_price"]
        exprs["amount"] = V.bounded(product, V.number_ok(product), strict=False)
        strict_product = strict_exprs.get("quantity", exprs["quantity"]) * strict_exprs.get("unit_price", exprs["unit_price"])
        strict_exprs["amount"] = V.bounded(strict_product, V.number_ok(strict_product), strict=True)
    spec = TableSpec(
        source=str(source), kind=kind, file=file, columns=dict(mapping), date_formats=dict(formats),
        delimiter=opened.separator if opened.text else None, encoding=encoding, header=header, sheet=opened.sheet or sheet,
        ragged=ragged, date_format=date_format, text=opened.text,
        amount_from_quantity=kind == "transactions" and "amount" in exprs and "amount" not in mapping,
    )
    return Table(
        kind=kind, file=file, mapping=mapping, raw=raw, exprs=exprs, parsed_from_text=parsed, unparsed=unparsed,
        strict_exprs=strict_exprs, staged=staged, show_values=show_values, warnings=list(opened.warnings), date_formats=formats,
        header=header, spec=spec,
    )
