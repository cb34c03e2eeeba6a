"""Purchases around dated anchors (the touchpoints of `journey`), for the Polars engine.

The transactions are reduced once to one row per customer and day (purchase occasions and net
value that day, returns included), with running totals per customer; each anchor (a customer and a
day) then reads the running totals at its day and at its day + the window by an as-of join. The
cost grows with the customer-days and the anchors, never with anchors x purchases.
"""

from __future__ import annotations

import polars as pl

ANCHOR_COLUMNS = ("customer_id", "anchor")


def daily_plan(occasions: pl.LazyFrame, *, money: bool) -> pl.LazyFrame:
    """Per customer and day: occasions (purchase occasions whose first purchase day it is) and cents
    (the net value of the occasion groups dated that day: a group made only of returns counts on the
    day of its first line), from `fidelcli.engine.polars.net_occasions` rows. Unsorted."""
    day = pl.coalesce("date", "line_date")
    cents = (pl.col("value") * 100).round(0).cast(pl.Int64).sum() if money else pl.lit(None, pl.Int64)
    return occasions.group_by("customer_id", day.alias("day")).agg(
        occasions=pl.col("date").count().cast(pl.Int64), cents=cents)


def anchored(daily: pl.DataFrame, anchors: pl.DataFrame, *, window_days: int, money: bool) -> pl.DataFrame:
    """Per anchor (customer_id, anchor day): the customer's purchases before, within and after the
    window that follows it.

    Columns: customer_id, anchor, prior_occasions (purchase occasions on or before the anchor day),
    prior_spend (net spend on or before it; null without amounts), occasions_within (in the days
    anchor + 1 .. anchor + window_days), occasions_after (after anchor + window_days, up to the
    analysis date). A customer without any transaction has 0 everywhere (spend 0 with amounts).
    Sorted by customer_id, anchor.
    """
    anchors = anchors.select(*ANCHOR_COLUMNS).unique().sort(*ANCHOR_COLUMNS)
    running = daily.sort("customer_id", "day").select(
        "customer_id", "day",
        cum_occ=pl.col("occasions").cum_sum().over("customer_id"),
        cum_cents=pl.col("cents").cum_sum().over("customer_id") if money else pl.lit(None, pl.Int64),
    ).sort("day")
    totals = daily.group_by("customer_id").agg(total_occ=pl.col("occasions").sum())
    ends = anchors.with_columns(end=pl.col("anchor") + pl.duration(days=window_days))
    at_anchor = ends.sort("anchor").join_asof(running, left_on="anchor", right_on="day", by="customer_id", strategy="backward", check_sortedness=False)
    at_end = ends.sort("end").join_asof(running.select("customer_id", "day", end_occ="cum_occ"), left_on="end", right_on="day",
                                       by="customer_id", strategy="backward", check_sortedness=False)
    joined = (
        at_anchor.select(*ANCHOR_COLUMNS, "cum_occ", "cum_cents")
        .join(at_end.select(*ANCHOR_COLUMNS, "end_occ"), on=list(ANCHOR_COLUMNS), how="left")
        .join(totals, on="customer_id", how="left")
        .with_columns(pl.col("cum_occ", "end_occ", "total_occ").fill_null(0))
    )
    spend = pl.col("cum_cents").fill_null(0) / 100 if money else pl.lit(None, pl.Float64)
    return joined.select(
        *ANCHOR_COLUMNS,
        prior_occasions=pl.col("cum_occ"),
        prior_spend=spend,
        occasions_within=pl.col("end_occ") - pl.col("cum_occ"),
        occasions_after=pl.col("total_occ") - pl.col("end_occ"),
    ).sort(*ANCHOR_COLUMNS)
