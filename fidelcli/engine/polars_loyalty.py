"""The Polars plan of `Engine.category_activity`: net spend per customer, period and category, from a
per-customer start day (a loyalty member's enrollment), for the points a program would give."""

from __future__ import annotations

import polars as pl

from fidelcli.engine.periods import Period, cents, period_start


def category_activity_plan(lines: pl.LazyFrame, *, period: Period, since: pl.DataFrame | None) -> pl.LazyFrame:
    """customer_id, period_start, category (null without a category column), amount_cents (net: the
    purchase lines minus the returns, exact to the cent) of the lines dated on or after the customer's
    `since` day (`since`: customer_id, since; only its customers are kept), sorted by customer_id,
    period_start, category."""
    names = lines.collect_schema().names()
    if since is not None:
        # A customer id type of the transactions (text) may differ from the frame's: cast to it.
        key = lines.collect_schema()["customer_id"]
        starts = since.lazy().select(pl.col("customer_id").cast(key), pl.col("since").cast(pl.Date))
        lines = lines.join(starts, on="customer_id", how="inner").filter(pl.col("date") >= pl.col("since"))
    category = pl.col("category") if "category" in names else pl.lit(None, pl.String)
    return (
        lines.group_by("customer_id", period_start(pl.col("date"), period).alias("period_start"), category.alias("category"))
        .agg(amount_cents=cents(pl.col("amount")).sum() if "amount" in names else pl.lit(None, pl.Int64))
        .sort("customer_id", "period_start", "category", nulls_last=True)
    )
