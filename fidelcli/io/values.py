"""Infer how values are written (dates, numbers, booleans) from a sample, and parse them lazily.

Parsing is lenient (a value that does not parse becomes null); `failed()` gives the expression that
flags those values, so the read step can report them with their row numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

from fidelcli.errors import InputError

NULL_VALUES = ["", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "#N/A"]

_ISO = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_YMD_SLASH = re.compile(r"^\d{4}/\d{1,2}/\d{1,2}$")
_COMPACT = re.compile(r"^\d{8}$")
_DMY = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})([/.-])(\d{4}|\d{2})$")
_DATE_PART = r"^\s*([^\sT]+)"
_TIME_PART = r"[T\s](\d{1,2}:\d{2}(?::\d{2})?)"

_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_NUMBER_JUNK = r"[\s'€$£¥]|EUR|USD|GBP|CHF"

TRUE_WORDS = ["true", "t", "yes", "y", "1", "oui", "o", "vrai", "x"]
FALSE_WORDS = ["false", "f", "no", "n", "0", "non", "faux"]


def date_part(values: Sequence[str]) -> list[str]:
    """The date part of each value (before a space or a `T`)."""
    out = []
    for v in values:
        m = re.match(_DATE_PART, v)
        if m:
            out.append(m.group(1))
    return out


def infer_date_format(
    values: Sequence[str], *, column: str, file: str, full_max: tuple[int, int] | None = None
) -> str:
    """A strptime format for the date part of `values`, refusing ambiguity.

    `dd/mm/yyyy` and `mm/dd/yyyy` are told apart only by a value above 12 in one position; when the
    sample has none, `full_max` (the largest first and second number over the whole column) decides.
    Raises `InputError` when no format fits every value or the order stays ambiguous.
    """
    parts = date_part(values)
    if not parts:
        raise InputError("no date values to infer a format from", file=file, column=column)
    for pattern, fmt in ((_ISO, "%Y-%m-%d"), (_YMD_SLASH, "%Y/%m/%d"), (_COMPACT, "%Y%m%d")):
        if all(pattern.match(p) for p in parts):
            return fmt
    matches = [_DMY.match(p) for p in parts]
    if not all(matches):
        bad = next(p for p, m in zip(parts, matches) if not m)
        raise InputError(
            f"{bad!r} is not a date in a known format", file=file, column=column, hint="use --date-format, e.g. %d/%m/%Y"
        )
    seps = {(m.group(2), m.group(4)) for m in matches if m}
    years = {len(m.group(5)) for m in matches if m}
    if len(seps) != 1 or len(years) != 1:
        raise InputError("dates are written in several formats", file=file, column=column, hint="use --date-format")
    (s1, s2), ylen = seps.pop(), years.pop()
    first = max(int(m.group(1)) for m in matches if m)
    second = max(int(m.group(3)) for m in matches if m)
    if full_max is not None:
        first, second = max(first, full_max[0]), max(second, full_max[1])
    y = "%Y" if ylen == 4 else "%y"
    if first > 12 and second > 12:
        raise InputError("values are neither day/month nor month/day", file=file, column=column, hint="use --date-format")
    if first > 12:
        return f"%d{s1}%m{s2}{y}"
    if second > 12:
        return f"%m{s1}%d{s2}{y}"
    raise InputError(
        f"dates are ambiguous: {parts[0]!r} may be day/month or month/day",
        file=file,
        column=column,
        hint=f"use --date-format %d{s1}%m{s2}{y} (or %m{s1}%d{s2}{y})",
    )


def needs_full_scan(values: Sequence[str]) -> bool:
    """True when the sample is day/month-ambiguous and the whole column must be looked at."""
    matches = [_DMY.match(p) for p in date_part(values)]
    return bool(matches) and all(matches) and all(int(m.group(1)) <= 12 and int(m.group(3)) <= 12 for m in matches if m)


def full_scan_max(lf: pl.LazyFrame, column: str) -> tuple[int, int]:
    """Largest first and second number of `d/m/y`-like dates over the whole column (one lazy pass)."""
    rx = r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]"
    row = lf.select(
        pl.col(column).str.extract(rx, 1).cast(pl.Int32, strict=False).max().alias("a"),
        pl.col(column).str.extract(rx, 2).cast(pl.Int32, strict=False).max().alias("b"),
    ).collect(engine="streaming")
    return int(row["a"][0] or 0), int(row["b"][0] or 0)


def date_part_length(values: Sequence[str]) -> int | None:
    """0 when every value is a bare date; L when every value's date part has length L (then a time
    follows); None otherwise. Lets the parser slice instead of running a regex on every row."""
    parts = date_part(values)
    if len(parts) != len(values):
        return None
    if all(p == v for p, v in zip(parts, values)):
        return 0
    lengths = {len(p) for p in parts}
    if len(lengths) == 1 and all(v[len(p)] in " T" for p, v in zip(parts, values) if len(v) > len(p)):
        return lengths.pop()
    return None


def date_expr(column: str, fmt: str, *, part_length: int | None = None, strict: bool = False) -> pl.Expr:
    """Parse the date part of a text column with `fmt`.

    `strict=True` raises on the first value that does not parse (analyses: never a silent null);
    `strict=False` gives null (validate, and the diagnosis of which row failed). Both read values alike.
    """
    col = pl.col(column)
    if part_length == 0:
        part = col
    elif part_length:
        part = col.str.slice(0, part_length)
    else:
        part = col.str.extract(_DATE_PART, 1)
    return part.str.to_date(fmt, strict=strict)


def datetime_expr(column: str, fmt: str, *, part_length: int | None = None, strict: bool = False) -> pl.Expr:
    """Parse a text date with an optional time (`HH:MM` or `HH:MM:SS`) into a Datetime."""
    time = pl.col(column).str.extract(_TIME_PART, 1)
    time = pl.when(time.str.len_chars() <= 5).then(time + ":00").otherwise(time)
    t = time.str.to_time("%H:%M:%S", strict=False).fill_null(pl.time(0))
    return date_expr(column, fmt, part_length=part_length, strict=strict).dt.combine(t)


def infer_decimal_comma(values: Sequence[str], *, separator: str = ",") -> bool:
    """True when the sample writes decimals with a comma (`12,50`, `1 234,56`, `1.234,56`)."""
    ambiguous = False
    for raw in values:
        v = re.sub(_NUMBER_JUNK, "", raw)
        if "," not in v:
            continue
        if "." in v:
            return v.rfind(",") > v.rfind(".")
        if re.search(r",\d{3}$", v) and not re.search(r",\d{3},?\d*,", v):
            ambiguous = True  # `1,234` is a thousand or one point two three four
            continue
        return True
    return ambiguous and separator == ";"


def is_plain_numeric(values: Sequence[str]) -> bool:
    """True when every sample value is a plain number that a cast parses directly."""
    return all(_PLAIN_NUMBER.match(v.strip()) for v in values)


def number_expr(column: str, *, decimal_comma: bool, plain: bool = False, strict: bool = False) -> pl.Expr:
    """Parse amounts written as exports write them: `1 234,56 €`, `(12.50)`, `$1,234.56`.

    `plain`: every value is a bare number, cast directly. `strict`: raise on a value that does not parse.
    """
    col = pl.col(column)
    if plain:
        return col.str.strip_chars().cast(pl.Float64, strict=strict)
    s = col.str.replace_all(_NUMBER_JUNK, "")
    negative = s.str.starts_with("(") & s.str.ends_with(")")
    s = s.str.strip_chars("()")
    if decimal_comma:
        s = s.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    else:
        s = s.str.replace_all(",", "", literal=True)
    value = s.cast(pl.Float64, strict=strict)
    return pl.when(negative).then(-value).otherwise(value)


_BOOLS = {**dict.fromkeys(TRUE_WORDS, True), **dict.fromkeys(FALSE_WORDS, False)}


def bool_expr(column: str, *, strict: bool = False) -> pl.Expr:
    """Parse yes/no values in English and French (`true`, `1`, `oui`, `x`...)."""
    s = pl.col(column).str.strip_chars().str.to_lowercase()
    if strict:
        return s.replace_strict(_BOOLS, return_dtype=pl.Boolean)
    return s.replace_strict(_BOOLS, default=None, return_dtype=pl.Boolean)


def id_expr(column: str) -> pl.Expr:
    """Identifiers stay text, trimmed; leading zeros are kept."""
    return pl.col(column).str.strip_chars()


