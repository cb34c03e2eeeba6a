"""Read and clean transactions in Spark, with the column mapping and the cleaning rules of Polars.

The source is first scanned by `fidelcli.io.read.scan_table` on the driver (sniffing, mapping,
date formats, the decimal mark: the `Table` and its `TableSpec`), exactly as for the Polars engine.
Spark then reads the files itself and parses each field as `scan_table` parses it:

- CSV/TSV/TXT (plain or .gz; UTF-8, one delimiter, the same header in every file): every column as
  text, trimmed; the null markers of `fidelcli.io.values.NULL_VALUES`; dates with the inferred
  strptime format translated to a Spark pattern (`strptime_to_spark`); numbers with currency signs,
  thousands separators, decimal commas and accounting parentheses as `values.number_value` reads them;
- Parquet files, globs and directories (partitioned datasets included): typed columns cast as
  `scan_table` casts them (a float id 17850.0 is "17850", a timestamp's day in UTC).

Values out of bounds (numbers not below 1e13, years outside 1900-2199) fail like unparsable ones.
A value that does not parse is counted in the profile pass; when there is one, `Table.check()`
names its row (the same message as the Polars engine).

Sources Spark does not read (workbooks, database URIs, standard input, text in another encoding,
whitespace-aligned text, rows skipped with `--ragged skip`, a date format without a Spark pattern)
are loaded by Polars on the driver and handed to Spark through Arrow (`handover`): correct, but
bounded by the driver's memory.

The cleaning (`clean`) is `fidelcli.clean.clean_transactions` in Spark: the return flag, the
window, the returns policy, the occasion key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from fidelcli.clean import RETURN_STATUS, CleanOptions, Occasion, Transactions, numeric_invoices, occasion_key
from fidelcli.errors import InputError
from fidelcli.io import values as V
from fidelcli.io.columns import fields
from fidelcli.io.dialect import WHITESPACE, sniff
from fidelcli.io.read import SAMPLE_ROWS, Table
from fidelcli.io.sources import TEXT_SUFFIXES, list_files, suffix

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession



class SparkTransactions(Transactions):
    """Cleaned transactions whose frames live in Spark: `tx` (rows with a customer id) and `lines`
    (before the rows without one are dropped), Spark DataFrames. Kept as attributes, not in
    `cache` (which an analysis may clear to free memory between reductions)."""

    spark_tx: DataFrame
    spark_lines: DataFrame

# strptime directives and their Spark (java.time) patterns; one letter reads one or two digits.
_DIRECTIVES = {"%Y": "yyyy", "%m": "M", "%d": "d", "%H": "H", "%M": "m", "%S": "s", "%b": "MMM", "%B": "MMMM", "%y": "yy",
               "%-m": "M", "%-d": "d", "%e": "d", "%T": "H:m:s"}
PROFILE_SCHEMA = {"rows": pl.UInt32, "no_customer": pl.UInt32, "no_date": pl.UInt32, "no_amount": pl.UInt32,
                  "after_as_of": pl.UInt32, "max_date": pl.Date, "min_date": pl.Date, "max_any_date": pl.Date}


def strptime_to_spark(fmt: str) -> str | None:
    """The Spark datetime pattern of a strptime format (`%d/%m/%Y` -> `d/M/yyyy`), None when a
    directive has no equivalent (the source is then handed over by Polars)."""
    out, i = [], 0
    while i < len(fmt):
        two = fmt[i:i + 3] if fmt[i:i + 2] == "%-" else fmt[i:i + 2]
        if fmt[i] == "%":
            if two not in _DIRECTIVES:
                return None
            out.append(_DIRECTIVES[two])
            i += len(two)
        elif fmt[i].isalpha():
            out.append(f"'{fmt[i]}'")
            i += 1
        else:
            out.append("''" if fmt[i] == "'" else fmt[i])
            i += 1
    return "".join(out)


def _direct(table: Table) -> str | None:
    """How Spark reads the source itself ("text", "parquet"), None when Polars must hand it over."""
    spec = table.spec
    if spec is None or "://" in spec.source or spec.source == "-" or table.warnings:
        return None
    files = list_files(spec.source)
    kinds = {suffix(p) for p in files}
    if kinds == {".parquet"}:
        return "parquet"
    if not kinds <= TEXT_SUFFIXES or any(strptime_to_spark(f) is None for f in spec.date_formats.values()):
        return None
    dialects = [sniff(p, encoding=spec.encoding, delimiter=spec.delimiter, has_header=spec.header) for p in files]
    first = dialects[0]
    same = all(d.encoding == "utf8" and d.separator == first.separator and d.header == first.header for d in dialects)
    return "text" if same and first.separator != WHITESPACE and len(first.separator) == 1 else None


def read_raw(spark: SparkSession, table: Table) -> tuple[DataFrame, bool]:
    """The source's columns as Spark reads them, and whether they are still to be parsed (False:
    the canonical columns, parsed by Polars and handed over)."""
    from pyspark.sql.types import StringType, StructField, StructType

    how = _direct(table)
    assert table.spec is not None or how is None
    if how is None:
        with table.diagnosed():
            frame = table.lf.collect()
        return spark.createDataFrame(frame.to_arrow()), False
    spec = table.spec
    assert spec is not None
    files = [str(p.resolve()) for p in list_files(spec.source)]
    if how == "parquet":
        # A directory is read as a dataset: Spark finds its partition columns (`year=2024/`).
        paths = [str(Path(spec.source).resolve())] if Path(spec.source).is_dir() else files
        return spark.read.parquet(*paths), True
    names = table.raw.collect_schema().names()
    schema = StructType([StructField(n, StringType(), True) for n in names])
    reader = spark.read.options(header=spec.header, sep=spec.delimiter or ",", encoding="UTF-8", quote='"', escape='"',
                                mode="PERMISSIVE", enforceSchema=True, nullValue="", emptyValue="")
    return reader.schema(schema).csv(files), True


def _text(c: Column) -> Column:
    """A text value with the null markers as null, untrimmed."""
    from pyspark.sql import functions as F

    return F.when(c.isin(V.NULL_VALUES), F.lit(None)).otherwise(c)


def _strip(c: Column) -> Column:
    from pyspark.sql import functions as F

    return F.regexp_replace(c, r"(?U)^\s+|\s+$", "")  # (?U): Unicode spaces (a no-break space), as Polars


def _bounded_number(v: Column) -> Column:
    from pyspark.sql import functions as F

    return F.when(F.abs(v) < V.MAX_ABS_NUMBER, v)


def _bounded_date(v: Column, years: tuple[int, int] = V.YEARS) -> Column:
    from pyspark.sql import functions as F

    return F.when(F.year(v).between(years[0], years[1] - 1), v)


def _number_from_text(c: Column, values: list[str], separator: str) -> Column:
    """`values.number_value` in Spark (then bounded)."""
    from pyspark.sql import functions as F

    plain = V.is_plain_numeric(values)
    if plain:
        return _bounded_number(_strip(c).cast("double"))
    comma = V.infer_decimal_comma(values, separator=separator)
    s = _strip(F.regexp_replace(c, r"[€$£¥]|EUR|USD|GBP|CHF", ""))
    negative = s.startswith("(") & s.endswith(")")
    s = _strip(F.regexp_replace(s, r"^\(+|\)+$", ""))
    s = F.when(s.rlike("(?U)" + V.number_shape(decimal_comma=comma)), s).otherwise(F.lit("not a number"))
    s = F.regexp_replace(s, r"(?U)[\s']", "")
    s = F.regexp_replace(F.regexp_replace(s, r"\.", ""), ",", ".") if comma else F.regexp_replace(s, ",", "")
    return _bounded_number(s.cast("double") * F.when(negative, F.lit(-1.0)).otherwise(F.lit(1.0)))


def _date_from_text(c: Column, fmt: str) -> Column:
    """`values.date_value` in Spark (then bounded): the date part (or the whole value with a time)."""
    from pyspark.sql import functions as F

    pattern = strptime_to_spark(fmt)
    assert pattern is not None
    if V.has_time(fmt):
        return _bounded_date(F.to_date(F.to_timestamp(_strip(c), pattern)))
    if re.match(r"^(?:%[-_0]?[YyCmdjGgUuVWw]|[-/.,_])+$", fmt):
        part = F.regexp_extract(c, r"^([^ T]*)", 1)
    else:
        part = _strip(F.regexp_replace(c, r"(?U)(?:T|\s+)\d{1,2}:\d{2}.*$", ""))
    return _bounded_date(F.to_date(part, pattern))


def _typed(df: DataFrame, src: str, ftype: str) -> Column:
    """A typed (Parquet) column as `scan_table` casts it."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DateType, DoubleType, FloatType, StringType, TimestampNTZType, TimestampType

    dtype = df.schema[src].dataType
    c = F.col(f"`{src}`")
    if ftype in ("id", "text"):
        if isinstance(dtype, StringType):
            return c
        if isinstance(dtype, (DoubleType, FloatType)):
            return c.cast("bigint").cast("string")
        return c.cast("string")
    if ftype == "date":
        if isinstance(dtype, DateType):
            return _bounded_date(c)
        if isinstance(dtype, (TimestampType, TimestampNTZType)):
            return _bounded_date(F.to_date(c))
        raise InputError(f"expected dates, found {dtype.simpleString()}", file=None, column=src, hint="export the column as dates")
    return _bounded_number(c.cast("double"))


def canonical(raw: DataFrame, table: Table, *, parse: bool) -> tuple[DataFrame, dict[str, Column]]:
    """The canonical columns of the transactions, and per parsed field the condition of a value
    that did not parse (present in the source, null once parsed)."""
    from pyspark.sql import functions as F

    if not parse:
        return raw, {}
    spec = table.spec
    assert spec is not None
    text = spec.text
    mapping = table.mapping
    sample = table.raw.select(list(dict.fromkeys(mapping.values()))).head(SAMPLE_ROWS).collect() if text else None
    cols: dict[str, Column] = {}
    failed: dict[str, Column] = {}
    for f in fields(table.kind):
        src = mapping.get(f.name)
        if src is None:
            continue
        source = _text(F.col(f"`{src}`")) if text else F.col(f"`{src}`")
        if not text:
            cols[f.name] = _typed(raw, src, f.type)
            if f.type not in ("id", "text"):
                failed[f.name] = source.isNotNull() & cols[f.name].isNull()
            continue
        if f.type in ("id", "text"):
            cols[f.name] = _strip(source)
            continue
        assert sample is not None
        if f.type == "date":
            cols[f.name] = _date_from_text(source, spec.date_formats.get(f.name, "%Y-%m-%d"))
        else:
            values = [v for v in sample[src].drop_nulls().to_list()]
            cols[f.name] = _number_from_text(source, values, spec.delimiter or ",")
        failed[f.name] = source.isNotNull() & cols[f.name].isNull()
    if spec.amount_from_quantity and {"quantity", "unit_price"} <= cols.keys():
        product = cols["quantity"] * cols["unit_price"]
        cols["amount"] = _bounded_number(product)
        failed["amount"] = product.isNotNull() & cols["amount"].isNull()
    frame = raw.select(*[c.alias(name) for name, c in cols.items()],
                       *[F.coalesce(c, F.lit(False)).alias(f"__failed_{name}") for name, c in failed.items()])
    return frame, {name: F.col(f"__failed_{name}") for name in failed}


def profile(frame: DataFrame, failed: dict[str, Column], table: Table, *, has_amount: bool, as_of: Any) -> pl.DataFrame:
    """`fidelcli.clean.profile_plan` in Spark (one pass), after checking that every value parsed."""
    from pyspark.sql import functions as F

    customer, date = F.col("customer_id"), F.col("date")
    after = F.coalesce(date >= F.lit(as_of), F.lit(False)) if as_of else F.lit(False)
    aggs = [
        F.count(F.lit(1)).alias("rows"), F.count_if(customer.isNull()).alias("no_customer"), F.count_if(date.isNull()).alias("no_date"),
        (F.count_if(F.col("amount").isNull()) if has_amount else F.lit(0)).alias("no_amount"), F.count_if(after).alias("after_as_of"),
        F.max(F.when(customer.isNotNull(), date)).alias("max_date"), F.min(date).alias("min_date"), F.max(date).alias("max_any_date"),
        *[F.count_if(c).alias(f"failed_{name}") for name, c in failed.items()],
    ]
    row = frame.agg(*aggs).collect()[0].asDict()
    bad = {name: row.pop(f"failed_{name}") for name in failed if row.get(f"failed_{name}")}
    if bad:
        table.check()  # names the first value that does not parse, with its row (the Polars message)
        name, n = next(iter(bad.items()))
        raise InputError(f"{n:,} values of {name} do not parse", file=table.file, column=table.mapping.get(name),
                         hint="run fidelcli validate on the file to see their rows")
    return pl.DataFrame([row], schema=PROFILE_SCHEMA)


def clean(frame: DataFrame, table: Table, options: CleanOptions) -> tuple[DataFrame, Occasion]:
    """`clean_transactions` in Spark: the lines (rows without a customer id included) with
    is_return and occasion, and the occasion rule used."""
    from pyspark.sql import functions as F

    names = frame.columns
    occasion, _ = occasion_key(options.occasion, has_order_id="order_id" in names, file=table.file)
    flag = F.lit(False)
    if "amount" in names:
        flag = flag | F.coalesce(F.col("amount") < 0, F.lit(False))
    if numeric_invoices(table):
        flag = flag | F.coalesce(F.col("order_id").rlike(r"^[Cc]\d"), F.lit(False))
    if "status" in names:
        flag = flag | F.coalesce(F.col("status").rlike(RETURN_STATUS), F.lit(False))
    lf = frame.select(*[F.col(n) for n in names if not n.startswith("__failed_")]).withColumn("is_return", flag)
    lf = lf.filter(F.col("date").isNotNull())
    if options.as_of:
        lf = lf.filter(F.col("date") < F.lit(options.as_of))
    if options.start:
        lf = lf.filter(F.col("date") >= F.lit(options.start))
    if options.end:
        lf = lf.filter(F.col("date") <= F.lit(options.end))
    if "amount" in names:
        lf = lf.withColumn("amount", F.coalesce(F.col("amount"), F.lit(0.0)))
    if options.returns == "net":
        if "amount" in names:
            lf = lf.withColumn("amount", F.when(F.col("is_return"), -F.abs(F.col("amount"))).otherwise(F.col("amount")))
    elif options.returns == "drop":
        lf = lf.filter(~F.col("is_return"))
    else:
        lf = lf.withColumn("is_return", F.lit(False))
    return lf.withColumn("occasion", F.col("order_id") if occasion == "order" else F.col("date")), occasion


_POLARS_TYPES = {"string": pl.String, "date": pl.Date, "double": pl.Float64, "boolean": pl.Boolean, "bigint": pl.Int64}


def _not_in_polars() -> pl.DataFrame:
    raise AssertionError("transactions loaded by the Spark engine are reduced by it, not by Polars")


def transactions(spark: SparkSession, table: Table, options: CleanOptions, *,
                 on_warnings: Callable[[list[str]], None] | None = None) -> SparkTransactions:
    """The cleaned transactions as a `SparkTransactions` handle whose frames live in Spark; its `lf`
    has their schema but refuses to be collected by Polars. The
    profile (warnings, default analysis date) is one Spark pass, run when first needed."""
    if table.kind != "transactions":
        raise InputError(f"expected a transactions table, got {table.kind}", file=table.file)
    raw, parse = read_raw(spark, table)
    frame, failed = canonical(raw, table, parse=parse)
    has_amount = "amount" in frame.columns
    lines, occasion = clean(frame, table, options)
    schema = {f.name: _POLARS_TYPES.get(f.dataType.simpleString(), pl.String) for f in lines.schema.fields}
    state: dict[str, pl.DataFrame] = {}

    def profile_frame() -> pl.DataFrame:
        if "profile" not in state:
            state["profile"] = profile(frame, failed, table, has_amount=has_amount, as_of=options.as_of)
        return state["profile"]

    lf = pl.defer(_not_in_polars, schema=schema)
    tx = SparkTransactions(lf, file=table.file, profile=pl.defer(profile_frame, schema=PROFILE_SCHEMA), as_of=options.as_of,
                      start=options.start, end=options.end, has_amount=has_amount, table=table, on_warnings=on_warnings,
                      lines=lf, occasion=occasion, spec=table.spec, options=options)
    tx.spark_lines = lines
    tx.spark_tx = lines.filter(lines["customer_id"].isNotNull())
    return tx
