"""The data-quality checks: per-row flags as Polars expressions over a table's raw columns, one pass per file.

Each check is a boolean expression over `Table.raw` (and the parse expressions `Table.exprs`); one lazy
`select` per file counts the flagged rows and keeps the first N row numbers and example values of each.
Column-level problems (missing columns, undecidable date formats, personal-data columns) are found
from the mapping and a small sample, without a pass over the data (personal data: `fidelcli.privacy.scan`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from dataclasses import dataclass

import polars as pl

from fidelcli.errors import DateFormatError
from fidelcli.io.columns import fields
from fidelcli.io.read import Table
from fidelcli.io.values import MAX_ABS_NUMBER
from fidelcli.privacy.scan import pii_columns
from fidelcli.validate.findings import FileInfo, Finding, finding

ROW = "__fidelcli_row"
OLDEST_DATE = dt.date(1990, 1, 1)
MAX_AGE = 120
OUTLIER_IQR = 3.0
OUTLIER_MIN_VALUES = 20
# A number the readers refuse as text (not finite, or not below `MAX_ABS_NUMBER`: its cents would
# overflow the analyses' 64-bit sums) is refused in a typed column (Parquet, Excel) and as a product
# quantity x unit_price too: an unparseable value.
MAX_NUMBER = MAX_ABS_NUMBER
NUMBER = "__fidelcli_number_"

# Score scales (SPEC section 1).
RANGES: dict[tuple[str, str], tuple[float, float]] = {
    ("surveys", "nps"): (0, 10),
    ("surveys", "csat"): (1, 5),
    ("surveys", "ces"): (1, 7),
    ("touchpoints", "satisfaction"): (1, 5),
}
# Money that should not be negative (transactions amounts are returns when negative: reported apart).
NON_NEGATIVE = {("spend", "spend"), ("subscriptions", "price"), ("campaigns", "revenue"), ("campaigns", "cost")}
OUTLIER_FIELDS = {("transactions", "amount"), ("subscriptions", "price"), ("spend", "spend"), ("campaigns", "revenue")}

# Optional fields whose empty value means something (an active subscription has no end date).
MEANINGFUL_NULLS = {("subscriptions", "end_date")}

_UNPARSEABLE = {"date": "unparseable-date", "datetime": "unparseable-date", "number": "unparseable-number", "bool": "unparseable-bool"}
_WHAT = {"date": "not a valid date", "datetime": "not a valid date", "number": "not a valid number", "bool": "not a yes/no value"}
@dataclass
class RowCheck:
    """A per-row check: `flag` is true on the offending rows; `value` gives the example shown (None: PII)."""

    code: str
    flag: pl.Expr
    message: str
    column: str | None = None
    field: str | None = None
    value: pl.Expr | None = None


def _is_missing(table: Table, src: str) -> pl.Expr:
    col = pl.col(src)
    if table.raw.collect_schema()[src] == pl.String:
        return col.is_null() | (col.str.strip_chars() == "")
    return col.is_null()


def _required(table: Table) -> set[str]:
    req = {f.name for f in fields(table.kind) if f.required}
    if table.kind == "transactions":
        # SPEC section 1: the amount, or quantity and unit price, is required when the file has it.
        req |= {"amount"} if "amount" in table.mapping else {"quantity", "unit_price"}
    return req


def _amount_column(table: Table) -> str | None:
    if "amount" in table.mapping:
        return table.mapping["amount"]
    if "amount" in table.exprs:
        return f"{table.mapping['quantity']} x {table.mapping['unit_price']}"
    return None


def _as_date(table: Table, name: str) -> pl.Expr:
    expr = table.exprs[name]
    return expr.dt.date() if next(f.type for f in fields(table.kind) if f.name == name) == "datetime" else expr


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def outlier_fence(raw: pl.LazyFrame, value: pl.Expr) -> float | None:
    """Q3 x (Q3/Q1)^3 of the positive values (Q3 + 3 x IQR on the log scale), or None when there are
    fewer than 20 positive values or no spread. One streaming pass over that column only."""
    log = value.filter(value > 0).log()
    q = raw.select(
        n=log.count(),
        q1=log.quantile(0.25, interpolation="linear"),
        q3=log.quantile(0.75, interpolation="linear"),
    ).collect(engine="streaming").row(0, named=True)
    if q["n"] < OUTLIER_MIN_VALUES or q["q1"] is None or not q["q3"] > q["q1"]:
        return None
    return float(math.exp(q["q3"] + OUTLIER_IQR * (q["q3"] - q["q1"])))


def duplicate_rows(table: Table, *, examples: int) -> Finding | None:
    """Rows identical to an earlier row on every column.

    Rows are compared by a 64-bit hash of all their values, computed in a streaming pass, so memory stays
    at 8 bytes a row (a false match needs a hash collision: about 1 in 10^7 for 10 million distinct rows).
    """
    columns = table.raw.collect_schema().names()
    hashes = table.raw.select(h=pl.struct(columns).hash(seed=0)).collect(engine="streaming")
    repeats = hashes.with_row_index(ROW, offset=1).filter(~pl.col("h").is_first_distinct())[ROW]
    if repeats.len() == 0:
        return None
    count = repeats.len()
    return finding(
        "duplicate-row", kind=table.kind, file=table.file, rows=repeats.head(examples).to_list(), count=count,
        message=f"exact repeat of an earlier row on {count:,} row" + "s" * (count != 1),
    )


def _numbers(table: Table) -> list[str]:
    """Number fields read from a column of the source (not the amount computed from quantity x unit price)."""
    types = {f.name: f.type for f in fields(table.kind)}
    return [n for n in table.exprs if types.get(n) == "number" and n in table.mapping]


def with_numbers(table: Table) -> pl.LazyFrame:
    """`table.raw` with each number field parsed once, into a hidden column `NUMBER + field`: the checks
    that read a number (unusable, negative, zero, outlier, range) share that parse instead of each
    parsing the text again."""
    return table.raw.with_columns(table.exprs[n].alias(NUMBER + n) for n in _numbers(table))


def row_checks(
    table: Table, *, as_of: dt.date, customer_ids: pl.Series | None = None, pii: set[str] | None = None, frame: pl.LazyFrame | None = None,
) -> list[RowCheck]:
    """Every per-row check that applies to `table`, as expressions over `with_numbers(table)`.

    Parameters
    ----------
    as_of: exclusive reference date: dates on or after it are in the future.
    frame: `with_numbers(table)`, when the caller has it already (the outlier fences are computed on it).
    customer_ids: the ids of the customers table, for the orphan check (None: no customers table).
    pii: source columns whose values must never be shown.
    """
    pii = pii or set()
    kind, mapping, exprs = table.kind, table.mapping, table.exprs
    types = {f.name: f.type for f in fields(kind)}
    required = _required(table)
    checks: list[RowCheck] = []
    # Numbers the analyses refuse (NaN, infinite, too large to count in cents) are unparseable values;
    # the other checks see them as empty, as they see the values that did not parse.
    frame = with_numbers(table) if frame is None else frame
    unusable: dict[str, pl.Expr] = {}
    values: dict[str, pl.Expr] = dict(exprs)

    def usable(name: str, number: pl.Expr) -> None:
        unusable[name] = number.is_nan() | number.is_infinite() | (number.abs() >= MAX_NUMBER)
        values[name] = pl.when(unusable[name]).then(None).otherwise(number)

    for name in _numbers(table):
        usable(name, pl.col(NUMBER + name))
    if kind == "transactions" and "amount" in exprs and "amount" not in mapping:
        # quantity x unit_price, each a usable number, whose product may still be too large.
        usable("amount", values["quantity"] * values["unit_price"])

    def shown(src: str | None, name: str) -> pl.Expr | None:
        if src is not None and src in pii:
            return None
        if name in mapping:
            return pl.col(mapping[name]).cast(pl.String)
        if (kind, name) == ("transactions", "amount") and name in exprs:
            # Computed as quantity x unit_price: show both as written.
            return pl.concat_str([pl.col(mapping["quantity"]).cast(pl.String), pl.col(mapping["unit_price"]).cast(pl.String)], separator=" x ")
        return None

    # Whole rows repeated exactly.
    # Exact repeats are found apart, from a hash of each row (see `duplicate_rows`).

    for name, src in mapping.items():
        ftype = types[name]
        missing = _is_missing(table, src)
        if (kind, name) == ("transactions", "customer_id"):
            checks.append(RowCheck("missing-customer", missing, "no customer id on {rows}", src, name))
        elif name in required:
            checks.append(RowCheck("null-required", missing, f"{name} is empty on " + "{rows}", src, name))
        elif (kind, name) not in MEANINGFUL_NULLS:
            checks.append(RowCheck("null-optional", missing, f"{name} is empty on " + "{rows}", src, name))
        if ftype in _UNPARSEABLE:
            # Text that did not parse (`Table.failed`: what the analyses refuse), and numbers they cannot use.
            hint = " (use --date-format or fix the values)" if ftype in ("date", "datetime") else ""
            typed_number = ftype == "number" and name not in table.parsed_from_text
            what = f"not a usable number (NaN, infinite, or {MAX_NUMBER:g} or more)" if typed_number else _WHAT[ftype]
            flag = table.failed(name) | unusable[name] if name in unusable else table.failed(name)
            checks.append(RowCheck(_UNPARSEABLE[ftype], flag, what + " on {rows}" + hint, src, name, shown(src, name)))
        if ftype in ("date", "datetime") and name in exprs:
            day = _as_date(table, name)
            if name == "birth_date":
                oldest = _years_before(as_of - dt.timedelta(days=1), MAX_AGE)
                flag = (day >= as_of) | (day < oldest)
                checks.append(RowCheck("implausible-date", flag, f"birth date giving an age below 0 or above {MAX_AGE} on " + "{rows}",
                                       src, name, shown(src, name)))
                continue
            if (kind, name) != ("subscriptions", "end_date"):  # a scheduled end is legitimate
                checks.append(RowCheck("future-date", day >= as_of, f"date on or after {as_of.isoformat()} on " + "{rows}", src, name, shown(src, name)))
            checks.append(RowCheck("implausible-date", day < OLDEST_DATE, f"date before {OLDEST_DATE.isoformat()} on " + "{rows}", src, name, shown(src, name)))

    amount_col = _amount_column(table)
    if kind == "transactions" and amount_col is not None and "amount" not in mapping:
        checks.append(RowCheck("unparseable-number", unusable["amount"], "quantity x unit_price too large to count in cents on {rows}",
                               amount_col, "amount", shown(amount_col, "amount")))
    if kind == "transactions" and amount_col is not None:
        amount = values["amount"]
        checks.append(RowCheck("negative-amount", amount < 0, "negative amount (a return or cancellation) on {rows}", amount_col, "amount",
                               shown(amount_col, "amount")))
        checks.append(RowCheck("zero-amount", amount == 0, "amount of zero on {rows}", amount_col, "amount", shown(amount_col, "amount")))
    for name in exprs:
        column = amount_col if (kind, name) == ("transactions", "amount") else mapping.get(name)
        value = values[name]
        if (kind, name) in NON_NEGATIVE:
            checks.append(RowCheck("negative-value", value < 0, f"negative {name} on " + "{rows}", column, name, shown(column, name)))
        if (kind, name) in OUTLIER_FIELDS:
            # Money is multiplicative: the fence is Q3 + 3 x IQR on the log scale, i.e. Q3 x (Q3 / Q1)^3.
            fence = outlier_fence(frame, value)
            if fence is None:
                continue
            flag = value > fence
            checks.append(RowCheck("outlier", flag, f"{name} far above the others (over Q3 x (Q3/Q1)^3) on " + "{rows}", column, name, shown(column, name)))
        if (kind, name) in RANGES:
            lo, hi = RANGES[kind, name]
            checks.append(
                RowCheck("out-of-range", (value < lo) | (value > hi), f"{name} outside {lo:g}-{hi:g} on " + "{rows}", column, name, shown(column, name))
            )

    if kind == "surveys" and {"type", "score"} <= exprs.keys():
        score_type = exprs["type"].str.strip_chars().str.to_lowercase()
        score = values["score"]
        outside = pl.lit(False)
        for (k, name), (lo, hi) in RANGES.items():
            if k == "surveys":
                outside = outside | ((score_type == name) & ((score < lo) | (score > hi)))
        src = mapping["score"]
        checks.append(RowCheck("out-of-range", outside, "score outside the scale of its type (nps 0-10, csat 1-5, ces 1-7) on {rows}", src, "score",
                               shown(src, "score")))
        known = score_type.is_in([n for k, n in RANGES if k == "surveys"])
        checks.append(
            RowCheck("unknown-score-type", exprs["type"].is_not_null() & ~known, "score type other than nps, csat, ces on {rows}",
                     mapping["type"], "type", shown(mapping["type"], "type"))
        )

    if kind == "subscriptions" and {"start_date", "end_date"} <= exprs.keys():
        src = mapping["end_date"]
        checks.append(RowCheck("end-before-start", exprs["end_date"] < exprs["start_date"], "end_date before start_date on {rows}", src, "end_date",
                               shown(src, "end_date")))

    if kind == "customers" and "customer_id" in exprs:
        ids = exprs["customer_id"]
        src = mapping["customer_id"]
        checks.append(RowCheck("duplicate-id", ids.is_not_null() & ids.is_duplicated(), "customer id shared by several rows on {rows}", src, "customer_id",
                               shown(src, "customer_id")))

    if customer_ids is not None:
        for name in ("customer_id", "referred_by") if kind == "customers" else ("customer_id",):
            if name in exprs and (kind != "customers" or name != "customer_id"):
                ids = exprs[name]
                src = mapping[name]
                flag = ids.is_not_null() & (ids != "") & ~ids.is_in(customer_ids.implode())
                checks.append(RowCheck("orphan-customer", flag, "customer id absent from the customers table on {rows}", src, name, shown(src, name)))
    return checks


def column_findings(table: Table, pii: dict[str, str]) -> list[Finding]:
    """Findings about columns rather than rows: missing score or amount columns, undecidable date formats, PII."""
    out: list[Finding] = []
    kind, file = table.kind, table.file
    free = [c for c in table.raw.collect_schema().names() if c not in table.mapping.values()]

    def candidates(*names: str) -> str:
        guesses = sorted({g for n in names for g in difflib.get_close_matches(n, free, n=3, cutoff=0.3)}) or free
        return ", ".join(map(repr, guesses)) or "none"

    if kind == "transactions" and "amount" not in table.exprs:
        # The analyses run without amounts (timing-only models, counts), so this is not an error.
        out.append(finding("missing-amount", kind=kind, file=file, field="amount",
                           message=f"no column for amount (nor quantity and unit_price): monetary figures are unavailable; "
                           f"candidates: {candidates('amount', 'quantity', 'unit_price')}; name one with --map amount=COLUMN"))
    if kind == "surveys" and not ({"nps", "csat", "ces"} & table.mapping.keys() or {"type", "score"} <= table.mapping.keys()):
        out.append(finding("missing-column", kind=kind, file=file, field="score",
                           message="no score column: nps, csat or ces (wide) or type and score (long); "
                           f"candidates: {candidates('nps', 'csat', 'ces', 'score')}; name one with --map nps=COLUMN"))
    for name, exc in table.unparsed.items():
        # the format inference says which (`DateFormatError.code`); any other error reading a date
        # column (typed values that are not dates, a file unreadable during the full scan) is no known format
        code = exc.code if isinstance(exc, DateFormatError) else "unknown-date-format"
        message = exc.message + (f"; {exc.hint}" if exc.hint else "")
        if code == "unknown-date-format":
            message = f"no known date format fits the values ({exc.message}); use --date-format"
        if table.mapping[name] in pii:
            message = f"the date format of {name} cannot be inferred; use --date-format"
        out.append(finding(code, kind=kind, file=file, column=table.mapping[name], field=name, message=message))
    for column, what in pii.items():
        field = next((n for n, c in table.mapping.items() if c == column), None)
        out.append(finding("pii-column", kind=kind, file=file, column=column, field=field,
                           message=f"personal data ({what}): values are never shown; pseudonymize before sharing"))
    return out


def check_table(table: Table, *, as_of: dt.date, examples: int = 5, customer_ids: pl.Series | None = None) -> tuple[FileInfo, list[Finding]]:
    """Run every check on one table in one lazy pass.

    Returns
    -------
    The file's description (kind, rows, mapping) and its findings, unsorted.
    """
    pii = pii_columns(table)
    frame = with_numbers(table)
    checks = row_checks(table, as_of=as_of, customer_ids=customer_ids, pii=set(pii), frame=frame)
    # One streaming pass counts every check's rows; examples are then fetched only for the checks that
    # found something (a pass that stops at the first `examples` matches).
    indexed = frame.with_row_index(ROW, offset=1)
    counts = indexed.select(
        pl.len().alias("n"), *[c.flag.fill_null(False).sum().alias(f"c{i}") for i, c in enumerate(checks)]
    ).collect(engine="streaming").row(0, named=True)
    nrows = int(counts["n"])
    found = column_findings(table, pii)
    if nrows == 0:
        # A header and nothing else: every analysis would run on nothing.
        found.append(finding("empty-file", kind=table.kind, file=table.file, message="no data rows: the file has a header only"))
    duplicates = duplicate_rows(table, examples=examples)
    if duplicates is not None:
        found.append(duplicates)
    for i, c in enumerate(checks):
        count = int(counts[f"c{i}"])
        if count == 0:
            continue
        shown = [pl.col(ROW)] + ([c.value.alias("value")] if c.value is not None else [])
        first = indexed.filter(c.flag.fill_null(False)).select(shown).head(examples).collect(engine="streaming")
        code, message = c.code, c.message.format(rows=f"{count:,} row" + "s" * (count != 1))
        if code == "null-optional" and count == nrows:
            code, message = "empty-column", f"{c.field} is empty on every row"
        values = [str(v) for v in first["value"]] if c.value is not None else []
        found.append(
            finding(code, kind=table.kind, file=table.file, column=c.column, field=c.field, rows=first[ROW].to_list(),
                    count=count, examples=values, message=message)
        )
    return FileInfo(kind=table.kind, file=table.file, rows=nrows, columns=dict(table.mapping)), found
