"""The Spark expressions the Spark reductions share: money in cents, a line's profit, periods, and
the grouping of lines into purchase occasions (the Spark side of `fidelcli.engine.periods` and of
`fidelcli.engine.polars._by_occasion`). Money is summed in integer cents (`bround`: halves to even,
as Polars' `round`), so totals are exact and never depend on row order or partitioning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from fidelcli.clean import Occasion, Transactions, occasion_key
from fidelcli.engine.periods import Period
from fidelcli.engine.spark_read import SparkTransactions

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

# The Spark unit of `date_trunc` of each period (weeks start on Monday, as in Polars).
TRUNC: dict[Period, str] = {"day": "day", "week": "week", "month": "month", "quarter": "quarter", "year": "year"}


def frame(tx: Transactions) -> DataFrame:
    """The Spark frame of transactions loaded by the Spark engine (after their profile: the
    warnings are said, and a value that does not parse raises, before any reduction).

    Raises InputError for transactions loaded by another engine."""
    from fidelcli.errors import InputError

    if not isinstance(tx, SparkTransactions):
        raise InputError("these transactions were not loaded by the Spark engine", file=tx.file,
                         hint="load them with get_engine('spark').load(...)")
    tx.resolve()
    return tx.spark_tx


def keyed_by(tx: Transactions, occasion: Occasion | None, df: DataFrame | None = None) -> DataFrame:
    """`Transactions.keyed_by` in Spark: the occasion column recomputed for another rule."""
    from pyspark.sql import functions as F

    df = frame(tx) if df is None else df
    if occasion is None or occasion == tx.occasion:
        return df
    occasion, _ = occasion_key(occasion, has_order_id="order_id" in df.columns, file=tx.file)
    return df.withColumn("occasion", F.col("order_id") if occasion == "order" else F.col("date"))


def cents(c: Column) -> Column:
    """An amount in integer cents (each line rounded to the cent, halves to even)."""
    from pyspark.sql import functions as F

    return F.bround(c * 100, 0).cast("bigint")


def null_cents() -> Column:
    from pyspark.sql import functions as F

    return F.lit(None).cast("bigint")


def profit_line(columns: list[str]) -> Column | None:
    """`periods.profit_line` in Spark: the margin, else amount - cost (missing counts 0); negative for a return."""
    from pyspark.sql import functions as F

    if "margin" in columns:
        line = F.coalesce(F.col("margin"), F.lit(0.0))
    elif "cost" in columns and "amount" in columns:
        line = F.col("amount") - F.coalesce(F.col("cost"), F.lit(0.0))
    else:
        return None
    return F.when(F.col("is_return"), -F.abs(line)).otherwise(line)


def period_start(c: Column, period: Period) -> Column:
    """First day of the period containing the date (weeks start on Monday)."""
    from pyspark.sql import functions as F

    return c if period == "day" else F.to_date(F.date_trunc(TRUNC[period], c))


def by_occasion(df: DataFrame, *keys: Column, value: bool = False, profit: Column | None = None, line_date: bool = False) -> DataFrame:
    """The lines grouped by (customer, keys, occasion): date (first day of the purchase lines; null
    for a group made only of returns), total_cents (net; null without amounts), returns (return
    lines) and on demand value_cents (purchase lines), profit_cents and line_date (first day of any line)."""
    from pyspark.sql import functions as F

    purchase = ~F.col("is_return")
    money = "amount" in df.columns
    aggs = [F.min(F.when(purchase, F.col("date"))).alias("date")]
    if line_date:
        aggs.append(F.min("date").alias("line_date"))
    aggs.append((F.sum(cents(F.col("amount"))) if money else F.max(null_cents())).alias("total_cents"))
    aggs.append(F.sum(F.col("is_return").cast("bigint")).alias("returns"))
    if value:
        aggs.append((F.coalesce(F.sum(F.when(purchase, cents(F.col("amount")))), F.lit(0).cast("bigint")) if money
                     else F.max(null_cents())).alias("value_cents"))
    if profit is not None:
        aggs.append(F.sum(cents(profit)).alias("profit_cents"))
    return df.groupBy("customer_id", *keys, "occasion").agg(*aggs)


def net_occasions(df: DataFrame) -> DataFrame:
    """`fidelcli.engine.polars.net_occasions` in Spark, with the net value in cents: customer_id,
    occasion, date (null for a group made only of returns), line_date, value_cents."""
    return by_occasion(df, line_date=True).select("customer_id", "occasion", "date", "line_date",
                                                   by_occasion_value("total_cents"))


def by_occasion_value(column: str) -> Column:
    from pyspark.sql import functions as F

    return F.col(column).alias("value_cents")


def with_money(frame: pl.DataFrame, **columns: str) -> pl.DataFrame:
    """`frame` with money columns in currency units from their cents ({name: cents column}), as the
    Polars engine computes them (`cents / 100`)."""
    return frame.with_columns(**{name: pl.col(c) / 100 for name, c in columns.items()})


def spark_frame(small: pl.DataFrame, like: DataFrame) -> DataFrame:
    """A small Polars frame (anchors, per-customer days) as a Spark frame of the same session."""
    return like.sparkSession.createDataFrame(small.to_arrow())
