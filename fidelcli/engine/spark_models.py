"""The Spark reductions behind the models: the BTYD summaries (`SparkEngine.rf_summary`) and the
churn features and labels, each the Spark version of its Polars reduction (`polars_clv`,
`polars_churn`), returning the same columns and dtypes.

The per-customer aggregates are computed in Spark (money in cents); the few derived columns
(ratios, trends) and the arithmetic of `polars_clv.net_money` run in Polars on the reduced rows, so
they are the same code.
The BG/BB (discrete) summary is `polars_clv.discrete_reduction` on the occasion groups brought
back from Spark (one row per customer and occasion), as the Polars engine collects them too.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import polars as pl

from fidelcli.clean import Occasion, Transactions
from fidelcli.engine import polars_churn, polars_clv
from fidelcli.engine.periods import TimeUnit
from fidelcli.engine.results import RFReductions
from fidelcli.engine.spark_ops import by_occasion, cents, frame, keyed_by, net_occasions, spark_frame
from fidelcli.engine.spark_session import to_polars

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


def _groups(occ: DataFrame) -> tuple[DataFrame, bool]:
    """`polars_clv.groups` in Spark: customer_id, purchase, when, occasion (when it is an order id),
    value_cents; and whether the occasion is an id (else the day itself)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DateType

    by_id = not isinstance(occ.schema["occasion"].dataType, DateType)
    lf = occ.select("customer_id", F.col("date").isNotNull().alias("purchase"), F.coalesce("date", "line_date").alias("when"),
                    *([F.col("occasion")] if by_id else []), F.coalesce(F.col("value_cents"), F.lit(0).cast("bigint")).alias("value_cents"))
    return lf, by_id


def _calibration_plan(groups: DataFrame, by_id: bool, cal: Column | None, holdout: bool) -> DataFrame:
    """`polars_clv.calibration_plan` in Spark (same columns, same order)."""
    from pyspark.sql import functions as F

    p, when, v = F.col("purchase"), F.col("when"), F.col("value_cents")
    in_cal = F.lit(True) if cal is None else cal
    pw = F.when(p & in_cal, when)
    first = F.min(F.when(p & in_cal, F.struct(when.alias("w"), *([F.col("occasion").alias("o")] if by_id else []), v.alias("v"))))
    rw = F.when(~p & in_cal, when)
    aggs = [
        F.min(pw).alias("first_purchase"), F.max(pw).alias("last_purchase"), F.count(pw).alias("n"),
        F.coalesce(F.sum(F.when(p & in_cal, v)), F.lit(0).cast("bigint")).alias("purchase_cents"), first.getField("v").alias("own_cents"),
        F.min(rw).alias("first_return"), F.max(rw).alias("last_return"),
        F.coalesce(F.sum(F.when(in_cal, v)), F.lit(0).cast("bigint")).alias("total_cents"),
    ]
    if holdout:
        aggs += [F.count(F.when(p & ~in_cal, when)).cast("double").alias("holdout_frequency"), F.sum(v).alias("_all")]
    out = groups.groupBy("customer_id").agg(*aggs).filter(F.col("n") > 0)
    if holdout:
        out = out.withColumn("holdout_cents", F.col("_all") - F.col("total_cents")).drop("_all")
    return out


def _occasion_rows(occ: DataFrame) -> pl.DataFrame:
    """Occasion groups back in Polars as `net_occasions` writes them (value = cents / 100)."""
    from pyspark.sql import functions as F

    rows = to_polars(occ.select("customer_id", F.col("occasion"), "date", "line_date", "value_cents"))
    return rows.with_columns(value=pl.col("value_cents") / 100).drop("value_cents")


def rf_summary(tx: Transactions, *, calibration_end: dt.date | None, time_unit: TimeUnit, discrete: bool,
               occasion: Occasion | None) -> RFReductions:
    """`PolarsEngine.rf_summary` on Spark."""
    from pyspark.sql import functions as F

    occ = net_occasions(keyed_by(tx, occasion))
    if discrete:
        rows = _occasion_rows(occ).sort("customer_id", "line_date", "occasion")
        customers = polars_clv.discrete_reduction(rows, as_of=tx.as_of, calibration_end=calibration_end, period=time_unit)
        return RFReductions(customers=customers, as_of=tx.as_of)
    groups, by_id = _groups(occ)
    cal = None if calibration_end is None else F.col("when") <= F.lit(calibration_end)
    plan = _calibration_plan(groups, by_id, cal, holdout=calibration_end is not None).cache()
    try:
        customers = to_polars(plan).sort("customer_id")
        by_day = None
        if calibration_end is not None:
            by_day = to_polars(occ.filter(F.col("date").isNotNull()).join(plan.select("customer_id"), "customer_id", "left_semi")
                               .groupBy("date").agg(F.count(F.lit(1)).alias("occasions"))).sort("date")
    finally:
        plan.unpersist()
    if customers.height == 0:
        first = occ.agg(F.min("date")).collect()[0][0]
        return RFReductions(customers=customers, as_of=tx.as_of, occasions_by_day=by_day, first_purchase=first)

    def occasions_of(ids: pl.Series) -> pl.LazyFrame:
        # The occasion groups of the few customers whose returns need them (`net_money`).
        wanted = spark_frame(ids.to_frame("customer_id"), occ)
        return _occasion_rows(occ.join(F.broadcast(wanted), "customer_id", "left_semi")).lazy()

    customers = polars_clv.net_money(customers, occasions_of, polars_clv.calibration(calibration_end))
    return RFReductions(customers=customers, as_of=tx.as_of, occasions_by_day=by_day)


def _occasions(tx: Transactions) -> DataFrame:
    """The purchase occasions in Spark: customer_id, occasion, date, value_cents."""
    from pyspark.sql import functions as F

    return by_occasion(frame(tx), value=True).filter(F.col("date").isNotNull()).select("customer_id", "occasion", "date", "value_cents")


def purchase_features(tx: Transactions, cutoff: dt.date) -> pl.DataFrame:
    """`polars_churn.purchase_features` on Spark: the per-customer integer counts and sums in Spark
    (money in cents; the days between consecutive purchases as count, sum and sum of squares), every
    float derived from them in Polars (`polars_churn.derived_purchase_features`), so the features
    equal the Polars engine's bit for bit. Unsorted."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    c = F.lit(cutoff)
    occ = _occasions(tx).filter(F.col("date") <= c)
    days_ago = F.datediff(c, F.col("date"))
    prev_date = F.lag("date").over(Window.partitionBy("customer_id").orderBy("date", "value_cents"))
    occ = occ.withColumn("gap", F.datediff(F.col("date"), prev_date).cast("bigint"))
    v, gap = F.col("value_cents"), F.col("gap")

    def total(x: Column) -> Column:
        return F.coalesce(F.sum(x), F.lit(0).cast("bigint"))

    windows: list[Column] = []
    for w in polars_churn.WINDOWS:
        windows += [F.count_if(days_ago < w).alias(f"orders_{w}d"), total(F.when(days_ago < w, v)).alias(f"spend_{w}d_cents")]
    prev = (days_ago >= polars_churn.TREND_DAYS) & (days_ago < 2 * polars_churn.TREND_DAYS)
    per = occ.groupBy("customer_id").agg(
        *windows, F.min("date").alias("first_purchase"), F.max("date").alias("last_purchase"), F.count(F.lit(1)).alias("frequency"),
        total(v).alias("monetary_cents"), F.count(gap).alias("gap_n"), total(gap).alias("gap_sum"), total(gap * gap).alias("gap_sum_sq"),
        F.count_if(prev).alias("orders_prev_90d"), total(F.when(prev, v)).alias("spend_prev_90d_cents"),
    )
    return polars_churn.derived_purchase_features(to_polars(per), cutoff)


def line_features(tx: Transactions, cutoff: dt.date) -> pl.DataFrame | None:
    """`polars_churn.line_features` on Spark (unsorted); None without amounts, categories or channels."""
    from pyspark.sql import functions as F

    df = frame(tx)
    cols = set(df.columns)
    aggs: list[Column] = []
    ret = F.col("is_return")
    if "amount" in cols:  # in integer cents, as `polars_churn.line_features`
        bought = F.coalesce(F.sum(F.when(~ret, cents(F.col("amount")))), F.lit(0).cast("bigint"))
        returned = F.coalesce(F.sum(F.when(ret, F.abs(cents(F.col("amount"))))), F.lit(0).cast("bigint"))
        aggs.append(F.when(bought > 0, bought.cast("double")).alias("_bought"))
        aggs.append(returned.cast("double").alias("_returned"))
    for name, out in (("category", "n_categories"), ("channel", "n_channels")):
        if name in cols:
            aggs.append(F.count_distinct(F.when(~ret, F.col(name))).alias(out))
    if not aggs:
        return None
    got = to_polars(df.filter(F.col("date") <= F.lit(cutoff)).groupBy("customer_id").agg(*aggs))
    if "amount" not in cols:
        return got
    # the share divided here, in Polars, as the Polars engine does (the same IEEE division)
    return got.select("customer_id", (pl.col("_returned") / pl.col("_bought")).alias("returns_share"),
                      *(c for c in ("n_categories", "n_channels") if c in got.columns))


def purchase_labels(tx: Transactions, cutoff: dt.date, end: dt.date) -> pl.DataFrame:
    """`polars_churn.purchase_labels` on Spark, sorted by customer_id."""
    from pyspark.sql import functions as F

    c = F.lit(cutoff)
    per = (_occasions(tx).filter(F.col("date") <= F.lit(end)).groupBy("customer_id")
           .agg(F.max(F.col("date") <= c).alias("before"), F.max(F.col("date") > c).alias("after"))
           .filter(F.col("before")).select("customer_id", (~F.col("after")).cast("tinyint").alias("churned")))
    return to_polars(per).sort("customer_id")
