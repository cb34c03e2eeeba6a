"""Stage-to-stage conversion, time between stages, and the most common paths through the stages."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from fidelcli.analyses.journey.matrix import stage_rank

SECONDS_PER_DAY = 86_400.0
PATH_SEPARATOR = " > "


def conversions(tp: pl.LazyFrame, order: Sequence[str]) -> pl.DataFrame:
    """Conversion from each stage to the next one of `order`, and the time it takes.

    For each consecutive pair (from, to): the customers who reached `from` (any touchpoint at that
    stage), those of them who converted (a `to` touchpoint at or after their first `from` one),
    conversion = converted / customers (null without customers), and the days from the first `from`
    touchpoint to the first `to` touchpoint at or after it, over the converted customers: median,
    first and third quartiles (linear interpolation between order statistics, numpy's default) and
    mean.

    Columns: from_stage, to_stage, customers, converted, conversion, median_days, q1_days, q3_days,
    mean_days. One row per pair, in journey order.
    """
    firsts = tp.group_by("customer_id", "stage").agg(first=pl.col("timestamp").min())
    frames = []
    for a, b in zip(order[:-1], order[1:], strict=True):
        start = firsts.filter(pl.col("stage") == a).select("customer_id", start="first")
        reached = (tp.filter(pl.col("stage") == b).join(start, on="customer_id")
                   .filter(pl.col("timestamp") >= pl.col("start"))
                   .group_by("customer_id").agg(days=(pl.col("timestamp").min() - pl.col("start").first()).dt.total_seconds()
                                                / SECONDS_PER_DAY))
        days = pl.col("days")
        frames.append(pl.concat([
            start.select(customers=pl.len().cast(pl.Int64)),
            reached.select(converted=pl.len().cast(pl.Int64), median_days=days.median(),
                           q1_days=days.quantile(0.25, "linear"), q3_days=days.quantile(0.75, "linear"), mean_days=days.mean()),
        ], how="horizontal").select(pl.lit(a).alias("from_stage"), pl.lit(b).alias("to_stage"), pl.all()))
    schema = {"from_stage": pl.String, "to_stage": pl.String, "customers": pl.Int64, "converted": pl.Int64, "median_days": pl.Float64,
              "q1_days": pl.Float64, "q3_days": pl.Float64, "mean_days": pl.Float64}
    if not frames:
        return pl.DataFrame(schema=schema).with_columns(conversion=pl.lit(None, pl.Float64)).select(*_CONVERSION_COLUMNS)
    out = pl.concat(pl.collect_all(frames))
    return out.with_columns(
        conversion=pl.when(pl.col("customers") > 0).then(pl.col("converted") / pl.col("customers"))).select(*_CONVERSION_COLUMNS)


_CONVERSION_COLUMNS = ("from_stage", "to_stage", "customers", "converted", "conversion", "median_days", "q1_days", "q3_days", "mean_days")


def top_paths(tp: pl.LazyFrame, order: Sequence[str], *, top: int = 10) -> pl.DataFrame:
    """The most common journeys: each customer's stages in time order, repeats of the same stage in
    a row counted once (awareness, awareness, purchase is `awareness > purchase`); touchpoints with
    the same timestamp are taken in journey order.

    Columns: rank (1 = most common), path, stages (its length), customers, share (of the customers
    with a touchpoint). The `top` most common, ties by path text.
    """
    steps = (
        tp.select("customer_id", "timestamp", "stage", _rank=stage_rank(order))
        .sort("customer_id", "timestamp", "_rank", "stage")
        .filter(pl.col("stage") != pl.col("stage").shift(1).over("customer_id").fill_null(""))
    )
    per_customer = steps.group_by("customer_id", maintain_order=True).agg(
        path=pl.col("stage").str.join(PATH_SEPARATOR), stages=pl.len().cast(pl.Int64))
    counts = per_customer.group_by("path", "stages").agg(customers=pl.len().cast(pl.Int64))
    total = pl.col("customers").sum()
    return (
        counts.with_columns(share=pl.col("customers") / total)
        .sort(["customers", "path"], descending=[True, False]).head(top)
        .with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int64))
        .select("rank", "path", "stages", "customers", "share")
        .collect()
    )
