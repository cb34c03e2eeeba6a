"""The Polars reductions behind the churn features and labels (`PolarsEngine.purchase_features`,
`line_features`, `purchase_labels`).

A cutoff C is a day: a feature uses the transactions dated on or before C only. The purchase
features and the labels are computed from the purchase occasions, which the engine collects once
per `Transactions` (training computes features at several cutoffs).
"""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

import polars as pl

from fidelcli.engine.periods import cents

WINDOWS: tuple[int, ...] = (30, 90, 180, 365)
TREND_DAYS = 90
FrameT = TypeVar("FrameT", pl.LazyFrame, pl.DataFrame)
# The columns of `purchase_features`, in order.
PURCHASE_FEATURES: tuple[str, ...] = (
    "customer_id", *(f"{kind}_{w}d" for w in WINDOWS for kind in ("orders", "spend")), "first_purchase", "last_purchase",
    "frequency", "monetary", "ipt_std_days", "orders_prev_90d", "spend_prev_90d", "recency_days", "tenure_days", "avg_order_value",
    "ipt_mean_days", "orders_trend", "spend_trend", "recency_ratio",
)


def _symmetric_change(now: pl.Expr, before: pl.Expr) -> pl.Expr:
    """(now - before) / (now + before): -1 = stopped, 0 = flat, +1 = new; null when both are 0."""
    total = now + before
    return pl.when(total > 0).then((now - before) / total).otherwise(None)


def derived_purchase_features(per: FrameT, cutoff: dt.date) -> FrameT:
    """The purchase features derived from the per-customer integer counts and sums: first/last
    purchase, frequency, money in cents (monetary_cents, spend_{w}d_cents, spend_prev_90d_cents) and
    the gaps between consecutive purchases (gap_n, gap_sum, gap_sum_sq: count, sum and sum of squares
    of the days between them). Derives money in currency units, recency, tenure, average order value,
    mean and spread of the gaps, trends and recency ratio.

    One definition for every engine (the Spark engine reduces in Spark, then derives here): every
    float is computed here from exact integers, so both engines give the same bits whatever the order
    in which their sums ran."""
    c = pl.lit(cutoff, dtype=pl.Date)
    span = (pl.col("last_purchase") - pl.col("first_purchase")).dt.total_days()
    money = {f"spend_{w}d": pl.col(f"spend_{w}d_cents") / 100 for w in WINDOWS}
    n, s1, s2 = pl.col("gap_n"), pl.col("gap_sum"), pl.col("gap_sum_sq")
    # sample variance of the gaps from exact integer sums: (n S2 - S1^2) / (n (n - 1)), n >= 2
    spread = ((n * s2 - s1 * s1).cast(pl.Float64) / (n * (n - 1)).cast(pl.Float64)).sqrt()
    per = per.with_columns(
        monetary=pl.col("monetary_cents") / 100, spend_prev_90d=pl.col("spend_prev_90d_cents") / 100, **money,
        ipt_std_days=pl.when(n > 1).then(spread).otherwise(None),
    )
    return per.with_columns(
        recency_days=(c - pl.col("last_purchase")).dt.total_days(),
        tenure_days=(c - pl.col("first_purchase")).dt.total_days(),
        avg_order_value=pl.col("monetary") / pl.col("frequency"),
        # mean gap between consecutive purchases = span / (n - 1); undefined for one purchase
        ipt_mean_days=pl.when(pl.col("frequency") > 1).then(span / (pl.col("frequency") - 1)).otherwise(None),
        orders_trend=_symmetric_change(pl.col("orders_90d").cast(pl.Float64), pl.col("orders_prev_90d").cast(pl.Float64)),
        spend_trend=_symmetric_change(pl.col("spend_90d").clip(lower_bound=0), pl.col("spend_prev_90d").clip(lower_bound=0)),
    ).with_columns(
        recency_ratio=pl.when(pl.col("ipt_mean_days") > 0).then(pl.col("recency_days") / pl.col("ipt_mean_days")).otherwise(None),
    ).select(PURCHASE_FEATURES)


def purchase_features(occasions: pl.LazyFrame, cutoff: dt.date) -> pl.LazyFrame:
    """Per-customer purchase behaviour from the purchase occasions dated on or before `cutoff`.

    `occasions`: one row per purchase occasion, customer_id, date, value_cents (Int64), sorted by
    customer_id and date (as `PolarsEngine._occasions` returns them).

    Columns: customer_id, first_purchase, last_purchase, recency_days, tenure_days, frequency,
    monetary, avg_order_value, orders_{30,90,180,365}d, spend_{30,90,180,365}d, orders_prev_90d,
    spend_prev_90d, ipt_mean_days (mean days between purchases), ipt_std_days (their spread),
    recency_ratio (recency / ipt_mean_days: 3 = silent for three usual intervals), orders_trend and
    spend_trend ((last 90 d - the 90 d before) / their sum, -1..1). Only customers with a purchase.
    """
    c = pl.lit(cutoff, dtype=pl.Date)
    days_ago = (c - pl.col("date")).dt.total_days()
    windows = []
    for w in WINDOWS:
        inside = days_ago < w
        windows += [inside.sum().cast(pl.Int64).alias(f"orders_{w}d"), pl.col("value_cents").filter(inside).sum().alias(f"spend_{w}d_cents")]
    prev = (days_ago >= TREND_DAYS) & (days_ago < 2 * TREND_DAYS)
    # days since the customer's previous occasion, in one linear pass over the sorted occasions
    same = pl.col("customer_id") == pl.col("customer_id").shift(1)
    gap = pl.when(same).then((pl.col("date") - pl.col("date").shift(1)).dt.total_days().cast(pl.Int64))
    per = (
        occasions.filter(pl.col("date") <= c)
        .with_columns(gap=gap)
        .group_by("customer_id")
        .agg(
            *windows,  # positional: first, before the named aggregations (as Polars orders them)
            first_purchase=pl.col("date").min(),
            last_purchase=pl.col("date").max(),
            frequency=pl.len().cast(pl.Int64),
            monetary_cents=pl.col("value_cents").sum(),
            gap_n=pl.col("gap").count().cast(pl.Int64),
            gap_sum=pl.col("gap").sum(),
            gap_sum_sq=(pl.col("gap") * pl.col("gap")).sum(),
            orders_prev_90d=prev.sum().cast(pl.Int64),
            spend_prev_90d_cents=pl.col("value_cents").filter(prev).sum(),
        )
    )
    return derived_purchase_features(per, cutoff)


# Above this many distinct categories (channels), their count per customer is taken from the distinct
# (customer, category) pairs instead of one flag per category.
MAX_FLAGGED_LEVELS = 256


def _count_name(column: str) -> str:
    return "n_categories" if column == "category" else f"n_{column}s"


def line_features(lines: pl.LazyFrame, cutoff: dt.date) -> pl.LazyFrame | None:
    """Returns share and category/channel diversity from transaction lines dated on or before `cutoff`.

    Columns: customer_id, returns_share (returned amount / purchased amount), n_categories and
    n_channels when those columns exist. None when no such feature can be computed.

    One streaming group-by per customer: its memory grows with customers, not with lines. The
    amounts are conditional sums; a customer's count of distinct categories is the number of
    categories she bought at least once, one flag (a max of booleans) per category of the data
    (found by a first, light scan of that column). With more than `MAX_FLAGGED_LEVELS` categories,
    the count is taken from the distinct (customer, category) pairs instead (memory: the pairs).
    """
    cols = set(lines.collect_schema().names())
    lines = lines.filter(pl.col("date") <= pl.lit(cutoff, dtype=pl.Date))
    returns = "is_return" in cols and "amount" in cols
    counted = [c for c in ("category", "channel") if c in cols]
    if not returns and not counted:
        return None
    purchase = ~pl.col("is_return") if "is_return" in cols else pl.lit(True)
    levels: dict[str, list[str]] = {}
    if counted:
        found = lines.select(pl.col(c).filter(purchase).drop_nulls().unique().sort().implode() for c in counted).collect(engine="streaming")
        levels = {c: found[c][0].to_list() for c in counted}
    flagged = [c for c in counted if len(levels[c]) <= MAX_FLAGGED_LEVELS]
    aggs: dict[str, pl.Expr] = {}
    if returns:
        is_ret, amount = pl.col("is_return"), pl.col("amount")
        # in integer cents: the share is then a ratio of exact sums, the same in every engine
        aggs["_bought"] = pl.when(~is_ret).then(cents(amount)).otherwise(0).sum()
        aggs["_returned"] = pl.when(is_ret).then(cents(amount).abs()).otherwise(0).sum()
    for c in flagged:
        aggs |= {f"_{c}_{i}": ((pl.col(c) == v) & purchase).max() for i, v in enumerate(levels[c])}
    out = lines.group_by("customer_id").agg(**aggs) if aggs else lines.select("customer_id").unique()
    new: dict[str, pl.Expr] = {}
    if returns:
        new["returns_share"] = pl.when(pl.col("_bought") > 0).then(pl.col("_returned").cast(pl.Float64) / pl.col("_bought").cast(pl.Float64))
    for c in flagged:
        flags = [pl.col(f"_{c}_{i}").fill_null(False).cast(pl.Int64) for i in range(len(levels[c]))]
        new[_count_name(c)] = pl.sum_horizontal(flags) if flags else pl.lit(0, pl.Int64)
    out = out.select("customer_id", **new)
    for c in counted:
        if c in flagged:
            continue
        n = (lines.filter(purchase).select("customer_id", c).drop_nulls().unique().group_by("customer_id")
             .agg(pl.len().cast(pl.Int64).alias(_count_name(c))))
        out = out.join(n, on="customer_id", how="left").with_columns(pl.col(_count_name(c)).fill_null(0))
    return out.select("customer_id", *(["returns_share"] if returns else []), *(_count_name(c) for c in counted))


def purchase_labels(occasions: pl.LazyFrame, cutoff: dt.date, end: dt.date) -> pl.LazyFrame:
    """Churn label of the customers with a purchase on or before `cutoff`: customer_id, churned
    (1 = no purchase occasion dated in (cutoff, end], else 0)."""
    c, e = pl.lit(cutoff, dtype=pl.Date), pl.lit(end, dtype=pl.Date)
    return (
        occasions.filter(pl.col("date") <= e)
        .group_by("customer_id")
        .agg(before=(pl.col("date") <= c).any(), after=(pl.col("date") > c).any())
        .filter(pl.col("before"))
        .select("customer_id", churned=(~pl.col("after")).cast(pl.Int8))
    )
