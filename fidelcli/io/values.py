"""Infer how values are written (dates, numbers, booleans) from a sample, and parse them lazily.

Parsing is lenient (a value that does not parse becomes null) or strict (it raises); the read step
flags the lenient nulls to report them with their row numbers. Values the analyses cannot use are
parse failures too, not silent nulls or overflows later: numbers that are not finite or not below
`MAX_ABS_NUMBER` in absolute value, dates whose year is outside `YEARS`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence

import polars as pl

from fidelcli.errors import DateFormatError
from fidelcli.privacy.mask import shown

# Written for a missing value by spreadsheets, R and databases. Not "NaN": a NaN amount is a
# computation gone wrong in the export, refused like inf (see `MAX_ABS_NUMBER`), not a blank.
NULL_VALUES = ["", "NA", "N/A", "n/a", "null", "NULL", "None", "#N/A"]

# Largest absolute value a number may have (10 000 billion). Money is summed in integer cents: at
# this bound a line is 1e15 cents, so 9,000 such lines still fit in a 64-bit integer (9.2e18), and
# no real transaction, quantity or price comes near it. Larger values (1e300, inf, NaN, a quantity
# x unit price that overflows) are export errors and parse failures.
MAX_ABS_NUMBER = 1e13
MAX_ABS_TEXT = "1e13"
# Plausible years of a date, [first, last): a year outside (0201, 20240) is a typing or export error
# that would otherwise wreck recency and tenure. Birth dates may be older (see `BIRTH_YEARS`).
YEARS = (1900, 2200)
BIRTH_YEARS = (1800, 2200)

_ISO = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_YMD_SLASH = re.compile(r"^\d{4}/\d{1,2}/\d{1,2}$")
_COMPACT = re.compile(r"^\d{8}$")
_DMY = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})([/.-])(\d{4}|\d{2})$")
_DATE_PART = r"^\s*([^\sT]+)"
_TIME_PART = r"[T\s](\d{1,2}:\d{2}(?::\d{2})?)"
# A strptime directive of a time of day (`%M` is minutes, `%m` months).
_TIME_DIRECTIVE = re.compile(r"%[-_0^#]?[HIklMSTRrXcfpPzZs]")
# A date format of digits and separators only (every inferred one): its date part has no space or T.
_NUMERIC_DATE = re.compile(r"^(?:%[-_0]?[YyCmdjGgUuVWw]|[-/.,_])+$")
_TRAILING_TIME = r"(?:T|\s+)\d{1,2}:\d{2}.*$"
_MAX_TEXT = 1 << 20

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


def _shape(part: str) -> tuple[str, ...] | None:
    """How a date part is written: a fixed format, or ("dmy", sep1, sep2, year digits) for `nn/nn/yyyy`."""
    for pattern, fmt in ((_ISO, "%Y-%m-%d"), (_YMD_SLASH, "%Y/%m/%d"), (_COMPACT, "%Y%m%d")):
        if pattern.match(part):
            return (fmt,)
    m = _DMY.match(part)
    return ("dmy", m.group(2), m.group(4), str(len(m.group(5)))) if m else None


def dominant_dates(values: Sequence[str]) -> tuple[tuple[str, ...] | None, list[str]]:
    """The way most date parts of `values` are written, and those parts.

    A few rows written another way (`06/03/2024` among ISO dates) do not decide the format: they
    fail to parse and are reported with their rows.
    """
    parts = date_part(values)
    shapes = [_shape(p) for p in parts]
    counts: dict[tuple[str, ...], int] = {}
    for sh in shapes:
        if sh is not None:
            counts[sh] = counts.get(sh, 0) + 1
    if not counts:
        return None, parts
    best = max(counts, key=lambda sh: counts[sh])  # ties: the shape seen first (dicts keep order)
    return best, [p for p, sh in zip(parts, shapes, strict=True) if sh == best]


def infer_date_format(
    values: Sequence[str], *, column: str, file: str, full_max: tuple[int, int] | None = None, show_values: bool = False
) -> str:
    """A strptime format for the date part of `values`, refusing ambiguity.

    The format is the one most values are written in; values written otherwise then fail to parse,
    row by row. `dd/mm/yyyy` and `mm/dd/yyyy` are told apart only by a value above 12 in one position;
    when the sample has none, `full_max` (the largest first and second number over the whole column)
    decides. Raises `DateFormatError` (an `InputError`) when no value is a date in a known format
    (code `unknown-date-format`) or the order stays ambiguous (code `ambiguous-date`).
    """
    if not date_part(values):
        raise DateFormatError("no date values to infer a format from", code="unknown-date-format", file=file, column=column)
    shape, parts = dominant_dates(values)
    if shape is None:
        bad = shown(date_part(values)[0], show_values=show_values)
        raise DateFormatError(
            f"{bad} is not a date in a known format", code="unknown-date-format", file=file, column=column,
            hint="use --date-format, e.g. %d/%m/%Y",
        )
    if shape[0] != "dmy":
        return shape[0]
    matches = [m for m in (_DMY.match(p) for p in parts) if m]
    (s1, s2), ylen = (shape[1], shape[2]), int(shape[3])
    first = max(int(m.group(1)) for m in matches)
    second = max(int(m.group(3)) for m in matches)
    if full_max is not None:
        first, second = max(first, full_max[0]), max(second, full_max[1])
    y = "%Y" if ylen == 4 else "%y"
    if first > 12 and second > 12:
        raise DateFormatError("values are neither day/month nor month/day", code="unknown-date-format", file=file, column=column,
                              hint="use --date-format")
    if first > 12:
        return f"%d{s1}%m{s2}{y}"
    if second > 12:
        return f"%m{s1}%d{s2}{y}"
    raise DateFormatError(
        f"dates are ambiguous: {shown(parts[0], show_values=show_values)} may be day/month or month/day",
        code="ambiguous-date",
        file=file,
        column=column,
        hint=f"use --date-format %d{s1}%m{s2}{y} (or %m{s1}%d{s2}{y})",
    )


def needs_full_scan(values: Sequence[str]) -> bool:
    """True when the sample's dates are mostly `nn/nn/yyyy` with no number above 12: day/month-ambiguous,
    the whole column must be looked at."""
    shape, parts = dominant_dates(values)
    if shape is None or shape[0] != "dmy":
        return False
    matches = [m for m in (_DMY.match(p) for p in parts) if m]
    return all(int(m.group(1)) <= 12 and int(m.group(3)) <= 12 for m in matches)


def full_scan_max(lf: pl.LazyFrame, column: str) -> tuple[int, int]:
    """Largest first and second number of `d/m/y`-like dates over the whole column (one lazy pass)."""
    rx = r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]"
    row = lf.select(
        pl.col(column).str.extract(rx, 1).cast(pl.Int32, strict=False).max().alias("a"),
        pl.col(column).str.extract(rx, 2).cast(pl.Int32, strict=False).max().alias("b"),
    ).collect(engine="streaming")
    return int(row["a"][0] or 0), int(row["b"][0] or 0)


def bounded(value: pl.Expr, ok: pl.Expr, *, strict: bool) -> pl.Expr:
    """`value` where `ok` holds (or is null), else null; with `strict`, raise where it does not.

    Polars has no expression that raises: a strict cast of 1000 to Int8 fails exactly on the rows
    where `ok` is False (an `InvalidOperationError`, which `Table.check()` then locates).
    """
    ok = ok.fill_null(True)
    if not strict:
        return pl.when(ok).then(value)
    guard = ((~ok).cast(pl.Int16) * 1000).cast(pl.Int8, strict=True)
    return pl.when(guard == 0).then(value)


def number_ok(value: pl.Expr) -> pl.Expr:
    """True for a usable number: finite and below `MAX_ABS_NUMBER` in absolute value (False for NaN)."""
    return value.abs() < MAX_ABS_NUMBER


def year_ok(value: pl.Expr, years: tuple[int, int] = YEARS) -> pl.Expr:
    """True for a date (or datetime) whose year is in [years[0], years[1])."""
    return value.dt.year().is_between(years[0], years[1], closed="left")


def has_time(fmt: str) -> bool:
    """True when a strptime format reads a time of day too (`%m/%d/%Y %H:%M`), not only a date."""
    return _TIME_DIRECTIVE.search(fmt) is not None


def date_expr(column: str, fmt: str, *, strict: bool = False, years: tuple[int, int] = YEARS) -> pl.Expr:
    """Parse the date part of a text column with `fmt`; a year outside `years` is a failure.

    `strict=True` raises on the first value that does not parse (analyses: never a silent null);
    `strict=False` gives null (validate, and the diagnosis of which row failed). Both read values alike.
    """
    day = date_value(column, fmt, strict=strict)
    return bounded(day, year_ok(day, years), strict=strict)


def date_value(column: str, fmt: str, *, strict: bool = False) -> pl.Expr:
    """`date_expr` without the bound on the year.

    Every width the format allows is read: `1/4/2011` and `12/10/2010` alike (Polars' strptime reads
    one or two digits for `%d %m %H %M`), with or without a time after the date (a space or a `T`),
    the time itself with or without seconds. The date part ends at the first space or `T` of the value:
    never at a width seen in a sample (`12/1/2010 8:26` then `12/10/2010 9:33` would cut the year).
    A format with a time (`%m/%d/%Y %H:%M`) reads the whole value.
    """
    col = pl.col(column)
    if has_time(fmt):
        return col.str.strip_chars().str.to_datetime(fmt, strict=strict, time_unit="us").dt.replace_time_zone(None).dt.date()
    if _NUMERIC_DATE.match(fmt):
        # Only digits and separators in the date: its part ends at the first space or T (fast, no regex
        # replace over every row).
        part = col.str.head(col.str.find(r"[ T]").fill_null(_MAX_TEXT))
    else:
        # Month names, spaces (`05 Jan 2024`): remove a trailing time instead.
        part = col.str.replace(_TRAILING_TIME, "").str.strip_chars()
    return part.str.to_date(fmt, strict=strict)


def datetime_expr(column: str, fmt: str, *, strict: bool = False, years: tuple[int, int] = YEARS) -> pl.Expr:
    """Parse a text date with an optional time (`H:MM` or `HH:MM:SS`) into a Datetime."""
    value = datetime_value(column, fmt, strict=strict)
    return bounded(value, year_ok(value, years), strict=strict)


def datetime_value(column: str, fmt: str, *, strict: bool = False) -> pl.Expr:
    """`datetime_expr` without the bound on the year (a format with a time reads the whole value)."""
    if has_time(fmt):
        return pl.col(column).str.strip_chars().str.to_datetime(fmt, strict=strict, time_unit="us").dt.replace_time_zone(None)
    time = pl.col(column).str.extract(_TIME_PART, 1)
    time = pl.when(time.str.len_chars() <= 5).then(time + ":00").otherwise(time)
    t = time.str.to_time("%H:%M:%S", strict=False).fill_null(pl.time(0))
    return date_value(column, fmt, strict=strict).dt.combine(t)


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
    A number that is not finite or not below `MAX_ABS_NUMBER` in absolute value does not parse.
    """
    value = number_value(column, decimal_comma=decimal_comma, plain=plain, strict=strict)
    return bounded(value, number_ok(value), strict=strict)


def number_value(column: str, *, decimal_comma: bool, plain: bool = False, strict: bool = False) -> pl.Expr:
    """`number_expr` without the bound on the value (Polars computes a cast twice when an expression
    uses it twice: the read step parses once into a column, then bounds it)."""
    col = pl.col(column)
    if plain:
        return col.str.strip_chars().cast(pl.Float64, strict=strict)
    s = col.str.replace_all(_CURRENCY, "").str.strip_chars()
    negative = s.str.starts_with("(") & s.str.ends_with(")")
    s = s.str.strip_chars("()").str.strip_chars()
    # Separators must group thousands: `+33 6 12 34 56 78` is a phone number, not 33,612,345,678;
    # a value of another shape is given a text that no cast reads.
    s = pl.when(s.str.contains(number_shape(decimal_comma=decimal_comma))).then(s).otherwise(pl.lit("not a number"))
    s = s.str.replace_all(r"[\s']", "")
    if decimal_comma:
        s = s.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    else:
        s = s.str.replace_all(",", "", literal=True)
    # One use of the cast: Polars would compute it twice in `when(...).then(-x).otherwise(x)`.
    return s.cast(pl.Float64, strict=strict) * pl.when(negative).then(-1.0).otherwise(1.0)


_CURRENCY = r"[€$£¥]|EUR|USD|GBP|CHF"


def number_shape(*, decimal_comma: bool) -> str:
    """A regex for a number as written, once currency and accounting parentheses are removed: digits,
    optionally grouped by threes (spaces, apostrophes, and `.` or `,`: whichever is not the decimal mark),
    an optional decimal part and exponent."""
    group, mark = (r"[\s'.]", ",") if decimal_comma else (r"[\s',]", r"\.")
    return rf"^[+-]?(?:\d+|\d{{1,3}}(?:{group}\d{{3}})+)?(?:{mark}\d*)?(?:[eE][+-]?\d+)?$"


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




def out_of_bounds(value: object, kind: str, *, fmt: str | None = None, years: tuple[int, int] = YEARS) -> str | None:
    """Why `value`, which did not parse as a `kind` ("number", "date", "datetime"), was refused when it
    is a number or a date that the bounds refuse (for the error message); None when it is not one."""
    if kind == "number":
        if isinstance(value, (int, float)):
            number: float | None = float(value)
        else:
            text = re.sub(_CURRENCY, "", str(value)).strip().strip("()").strip()
            if text.lower().lstrip("+-") in ("inf", "infinity", "nan"):
                return "is not a finite number"
            if not any(re.match(number_shape(decimal_comma=c), text) for c in (False, True)):
                return None  # not written as a number: "not a valid number"
            text = re.sub(r"[\s']", "", text)
            number = None
            for candidate in (text.replace(",", ""), text.replace(".", "").replace(",", ".")):
                try:
                    number = float(candidate)
                    break
                except ValueError:
                    continue
        if number is None:
            return None
        if not math.isfinite(number):
            return "is not a finite number"
        return f"is out of range: numbers must be below {MAX_ABS_TEXT} in absolute value"
    if kind in ("date", "datetime"):
        if isinstance(value, (dt.date, dt.datetime)):
            year = value.year
        elif fmt is not None and date_part([str(value)]):
            text = str(value).strip() if has_time(fmt) else date_part([str(value)])[0]
            try:
                year = dt.datetime.strptime(text, fmt).year
            except ValueError:
                return None
        else:
            return None
        if years[0] <= year < years[1]:
            return None
        return f"has an implausible year ({year}): dates must fall in {years[0]}-{years[1] - 1}"
    return None
