"""The Spark engine: every reduction of `fidelcli.engine.Engine` with the PySpark DataFrame API.

The transactions are read and cleaned in Spark (`spark_read`: the same `TableSpec` and
`CleanOptions` as the Polars engine); each reduction is a Spark aggregation whose small result
comes back to Polars through Arrow (`spark_session.to_polars`), with the columns, dtypes and row
order of the Polars engine, so every analysis runs unchanged on it. No Python function runs on
rows (no UDF). Money is summed in integer cents, as in Polars: totals are exact.

What runs where: reading, cleaning and every pass over the transactions in Spark (executors); the
reduced tables (per customer, per customer and period, per item) and everything after them (scores,
model fits, predictions, rendering) in Polars on the driver. The subscriptions (a table per
subscription, not per transaction line) are reduced by Polars.

The session is created on the first `load` (`spark_session.session`: master `local[*]` by default,
`[engine] spark_master` and `[engine.spark_conf]` in the config).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from fidelcli.clean import CleanOptions, Occasion, Transactions
from fidelcli.engine import polars_journey, spark_models
from fidelcli.engine.periods import MonthPeriod, Period, TimeUnit
from fidelcli.engine.polars_subscriptions import subscription_periods
from fidelcli.engine.results import RFReductions, SubscriptionPeriods
from fidelcli.engine.spark_ops import (
    by_occasion,
    cents,
    frame,
    net_occasions,
    null_cents,
    period_start,
    profit_line,
    spark_frame,
    with_money,
)
from fidelcli.engine.spark_read import SparkTransactions, transactions
from fidelcli.engine.spark_session import DEFAULT_MASTER, session, to_polars
from fidelcli.errors import InputError
from fidelcli.io.read import Table, scan_table
from fidelcli.io.spec import TableSpec


class SparkEngine:
    """The reductions of `fidelcli.engine.Engine` in PySpark (`--engine spark`)."""

    name = "spark"

    def __init__(self, master: str | None = None, conf: Mapping[str, Any] | None = None) -> None:
        self.master = master or DEFAULT_MASTER
        self.conf = dict(conf or {})

    def load(self, source: TableSpec | Table, options: CleanOptions, *,
             on_warnings: Callable[[list[str]], None] | None = None) -> Transactions:
        """Scan the source on the driver (`scan_table`: mapping and formats; a `Table` is reused),
        then read and clean it in Spark (`spark_read.transactions`)."""
        if isinstance(source, TableSpec):
            source = scan_table(source.source, source.kind, columns=source.columns, date_format=source.date_format,
                                ragged=source.ragged, sheet=source.sheet, encoding=source.encoding,
                                delimiter=source.delimiter if source.text else None, header=source.header)
        return transactions(session(self.master, self.conf), source, options, on_warnings=on_warnings)

    def occasions(self, tx: Transactions) -> pl.DataFrame:
        """`PolarsEngine.occasions` (for tests: not small)."""
        from pyspark.sql import functions as F

        occ = by_occasion(frame(tx), value=True).filter(F.col("date").isNotNull())
        got = to_polars(occ.select("customer_id", F.col("occasion").cast("string").alias("occasion"), "date", "value_cents"))
        return with_money(got, value="value_cents").drop("value_cents").sort("customer_id", "date", "occasion")

    def customer_summary(self, tx: Transactions) -> pl.DataFrame:
        """`PolarsEngine.customer_summary`, sorted by customer_id."""
        from pyspark.sql import functions as F

        per = by_occasion(frame(tx)).groupBy("customer_id").agg(
            F.min("date").alias("first_purchase"), F.max("date").alias("last_purchase"), F.count("date").alias("frequency"),
            F.sum("total_cents").alias("revenue_cents"), F.sum("returns").alias("returns"))
        got = to_polars(per)
        return with_money(got, revenue="revenue_cents").select(
            "customer_id", "first_purchase", "last_purchase", "frequency", "revenue", "revenue_cents", "returns").sort("customer_id")

    @staticmethod
    def _activity(df: Any, period: Period) -> pl.DataFrame:
        from pyspark.sql import functions as F

        profit = profit_line(df.columns)
        occ = by_occasion(df, period_start(F.col("date"), period).alias("period_start"), profit=profit)
        aggs = [F.count("date").alias("orders"), F.sum("total_cents").alias("revenue_cents")]
        if profit is not None:
            aggs.append(F.sum("profit_cents").alias("profit_cents"))
        got = with_money(to_polars(occ.groupBy("customer_id", "period_start").agg(*aggs)), revenue="revenue_cents")
        return got.select("customer_id", "period_start", "orders", "revenue", "revenue_cents",
                          *(["profit_cents"] if profit is not None else [])).sort("customer_id", "period_start")

    def activity(self, tx: Transactions, *, period: Period, anonymous: bool = False) -> pl.DataFrame:
        """`PolarsEngine.activity` (with `anonymous`: the lines without a customer id at the end)."""
        from pyspark.sql import functions as F

        df = frame(tx)
        if not (anonymous and tx.has_amount):
            return self._activity(df, period)
        assert isinstance(tx, SparkTransactions)
        both = self._activity(tx.spark_lines, period)
        anonymous_rows = both.get_column("customer_id").is_null()
        activity, anon = both.filter(~anonymous_rows), both.filter(anonymous_rows)
        if tx.lines_after_as_of:
            lines = tx.spark_lines
            days = to_polars(lines.filter(F.col("customer_id").isNull()).groupBy("date").agg(F.sum(cents(F.col("amount"))).alias("revenue_cents")))
            anon = (days.filter(pl.col("date") < tx.as_of)
                    .group_by(pl.col("date").dt.truncate({"day": "1d", "week": "1w", "month": "1mo", "quarter": "1q", "year": "1y"}[period])
                              .alias("period_start")).agg(pl.col("revenue_cents").sum()))
        anon = anon.sort("period_start").select(
            customer_id=pl.lit(None, activity.schema["customer_id"]), period_start="period_start", orders=pl.lit(0, pl.Int64),
            revenue=pl.col("revenue_cents") / 100, revenue_cents="revenue_cents",
        )
        return pl.concat([activity, anon], how="diagonal_relaxed") if anon.height else activity

    def rf_summary(self, tx: Transactions, *, calibration_end: dt.date | None = None, time_unit: TimeUnit = "week",
                   discrete: bool = False, occasion: Occasion | None = "day") -> RFReductions:
        """`PolarsEngine.rf_summary` (`spark_models.rf_summary`)."""
        return spark_models.rf_summary(tx, calibration_end=calibration_end, time_unit=time_unit, discrete=discrete, occasion=occasion)

    def margin_rates(self, tx: Transactions, *, calibration_end: dt.date | None = None) -> pl.DataFrame:
        """`PolarsEngine.margin_rates` (unsorted)."""
        from pyspark.sql import functions as F

        df = frame(tx)
        profit = profit_line(df.columns)
        if profit is None:
            raise InputError("the transactions have neither a margin nor a cost column", file=tx.file)
        lines = df.filter(~F.col("is_return"))
        if calibration_end is not None:
            lines = lines.filter(F.col("date") <= F.lit(calibration_end))
        return to_polars(lines.groupBy("customer_id").agg(F.sum(profit).alias("profit"), F.sum("amount").alias("amount")))

    def has_amounts(self, tx: Transactions) -> bool:
        """True when some transaction line has a non-zero amount."""
        from pyspark.sql import functions as F

        if not tx.has_amount or "amount" not in tx.fields:
            return False
        return bool(frame(tx).filter(F.coalesce(F.col("amount"), F.lit(0.0)) != 0).limit(1).count())

    def purchase_features(self, tx: Transactions, *, cutoff: dt.date) -> pl.DataFrame:
        """`PolarsEngine.purchase_features` (`spark_models.purchase_features`), unsorted."""
        return spark_models.purchase_features(tx, cutoff)

    def line_features(self, tx: Transactions, *, cutoff: dt.date) -> pl.DataFrame | None:
        """`PolarsEngine.line_features` (`spark_models.line_features`), unsorted."""
        return spark_models.line_features(tx, cutoff)

    def purchase_labels(self, tx: Transactions, *, cutoff: dt.date, end: dt.date) -> pl.DataFrame:
        """`PolarsEngine.purchase_labels` (`spark_models.purchase_labels`), sorted by customer_id."""
        return spark_models.purchase_labels(tx, cutoff, end)

    @staticmethod
    def _baskets(tx: Transactions, item: str, *, category: bool = False) -> Any:
        from pyspark.sql import functions as F

        df = frame(tx)
        names = df.columns
        category = category and item != "category" and "category" in names
        if item not in names:
            raise InputError(f"baskets need a {item} column, and the transactions have none", file=tx.file,
                             hint=f"map it with --map {item}=COLUMN")
        aggs = [
            (F.coalesce(F.sum("quantity"), F.lit(0.0)) if "quantity" in names else F.max(F.lit(None).cast("double"))).alias("quantity"),
            (F.sum(cents(F.col("amount"))) if "amount" in names else F.max(null_cents())).alias("amount_cents"),
            F.min("date").alias("date"),
        ]
        if category:
            aggs.append(F.min("category").alias("category"))
        return df.filter(~F.col("is_return") & F.col(item).isNotNull()).groupBy("customer_id", "occasion", item).agg(*aggs)

    def baskets(self, tx: Transactions, *, item: str = "product_id", dates: bool = False) -> pl.DataFrame:
        """`PolarsEngine.baskets`, sorted by customer_id, occasion (text), item."""
        from pyspark.sql import functions as F

        plan = self._baskets(tx, item).select("customer_id", F.col("occasion").cast("string").alias("occasion"),
                                              *(["date"] if dates else []), item, "quantity", "amount_cents")
        got = with_money(to_polars(plan), amount="amount_cents").drop("amount_cents")
        return got.sort("customer_id", "occasion", item)

    def item_counts(self, tx: Transactions, *, item: str = "product_id", category: bool = False) -> pl.DataFrame:
        """`PolarsEngine.item_counts`, sorted by item."""
        from pyspark.sql import functions as F

        with_category = category and item != "category"
        has_category = with_category and "category" in tx.fields
        aggs = [F.count(F.lit(1)).alias("orders"), F.count_distinct("customer_id").alias("customers"),
                F.sum("quantity").alias("quantity"), F.sum("amount_cents").alias("revenue_cents")]
        if has_category:
            aggs.append(F.min("category").alias("category"))
        got = with_money(to_polars(self._baskets(tx, item, category=has_category).groupBy(item).agg(*aggs)), revenue="revenue_cents")
        got = got.select(item, *(["category"] if has_category else []), "orders", "customers",
                         pl.col("quantity").cast(pl.Float64), "revenue")
        if with_category and not has_category:
            got = got.with_columns(category=pl.lit(None, pl.String)).select(item, "category", pl.exclude(item, "category"))
        if "quantity" not in tx.fields:
            got = got.with_columns(quantity=pl.lit(None, pl.Float64))
        if "amount" not in tx.fields:
            got = got.with_columns(revenue=pl.lit(None, pl.Float64))
        return got.sort(item)

    def subscriptions(self, source: Table | pl.LazyFrame | pl.DataFrame, *, period: MonthPeriod, as_of: dt.date | None = None,
                      today: dt.date | None = None) -> SubscriptionPeriods:
        """The subscriptions per period: a table per subscription (not per transaction line),
        reduced by Polars on the driver (`polars_subscriptions.subscription_periods`)."""
        return subscription_periods(source, period=period, as_of=as_of, today=today)

    def anchored_purchases(self, tx: Transactions, anchors: pl.DataFrame, *, window_days: int) -> pl.DataFrame:
        """`PolarsEngine.anchored_purchases`: the per customer and day table in Spark (for the
        anchors' customers only), the as-of joins in Polars (`polars_journey.anchored`)."""
        from pyspark.sql import functions as F

        df = frame(tx)
        ids = anchors.select(pl.col("customer_id").cast(pl.String)).unique()
        wanted = F.broadcast(spark_frame(ids, df))
        occ = net_occasions(df.join(wanted, "customer_id", "left_semi"))
        money = F.sum("value_cents") if tx.has_amount else F.max(null_cents())
        daily = occ.groupBy("customer_id", F.coalesce("date", "line_date").alias("day")).agg(
            F.count("date").alias("occasions"), money.alias("cents"))
        got = to_polars(daily)
        anchors = anchors.with_columns(pl.col("customer_id").cast(got.schema["customer_id"]))
        return polars_journey.anchored(got, anchors, window_days=window_days, money=tx.has_amount)

    def category_activity(self, tx: Transactions, *, period: Period = "month", since: pl.DataFrame | None = None) -> pl.DataFrame:
        """`PolarsEngine.category_activity`, sorted by customer_id, period_start, category (nulls last)."""
        from pyspark.sql import functions as F

        df = frame(tx)
        if since is not None:
            starts = since.select(pl.col("customer_id").cast(pl.String), pl.col("since").cast(pl.Date))
            df = df.join(F.broadcast(spark_frame(starts, df)), "customer_id", "inner").filter(F.col("date") >= F.col("since"))
        category = F.col("category") if "category" in df.columns else F.lit(None).cast("string")
        amount = F.sum(cents(F.col("amount"))) if "amount" in df.columns else F.max(null_cents())
        plan = df.groupBy("customer_id", period_start(F.col("date"), period).alias("period_start"), category.alias("category")).agg(
            amount.alias("amount_cents"))
        got = with_money(to_polars(plan), amount="amount_cents")
        return got.sort("customer_id", "period_start", "category", nulls_last=True).select("customer_id", "period_start", "category", "amount")
