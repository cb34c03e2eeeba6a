"""Churn drivers in plain words: the customer's strongest warning signs, from their own features.

Each sign is a rule on one or two features with a strength (1 = at the rule's threshold, higher =
further past it) and a sentence with the customer's own numbers. A customer's drivers are the three
strongest signs that apply, strongest first (ties keep the order below); none applies -> null.
Only signs whose features were computed are considered.

A customer the model puts at high risk always gets a driver (`required`): when no sign applies (a
steady customer who rarely buys, a recent one-time buyer), driver_1 describes their purchase
rhythm with their own numbers ("2 purchases in 326 days (one every 299 days on average), the last
27 days ago"): true of them, and the figures a high risk then rests on, though not a warning sign.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from polars.expr.whenthen import ChainedThen, Then

_RECENCY_RATIO = 1.5


def _orders(n: pl.Expr) -> pl.Expr:
    return pl.when(n == 1).then(pl.lit("1 order")).otherwise(pl.format("{} orders", n))


def _signs(columns: set[str]) -> list[tuple[pl.Expr, pl.Expr, pl.Expr]]:
    """(applies, strength, sentence) for every sign computable from `columns`."""
    c = pl.col
    out: list[tuple[pl.Expr, pl.Expr, pl.Expr]] = []
    if {"recency_ratio"} <= columns:
        out.append((c("recency_ratio") >= _RECENCY_RATIO, c("recency_ratio") / _RECENCY_RATIO,
                    pl.format("no purchase for {}× their usual interval", c("recency_ratio").round(1))))
    if {"frequency", "recency_days"} <= columns:
        out.append(((c("frequency") == 1) & (c("recency_days") >= 30), c("recency_days") / 60,
                    pl.format("only one purchase, {} days ago", c("recency_days"))))
        ratio = c("recency_ratio") if "recency_ratio" in columns else pl.lit(None, dtype=pl.Float64)
        out.append(((c("frequency") > 1) & (c("recency_days") >= 90) & ~(ratio >= _RECENCY_RATIO).fill_null(False),
                    c("recency_days") / 120, pl.format("no purchase for {} days", c("recency_days"))))
    if {"spend_90d", "spend_prev_90d"} <= columns:
        drop = 1 - c("spend_90d").clip(lower_bound=0) / c("spend_prev_90d")
        out.append(((c("spend_prev_90d") > 0) & (drop >= 0.2), drop / 0.4,
                    pl.format("spend down {}% vs previous 90 days", (drop * 100).round(0).cast(pl.Int64, strict=False))))
    if {"orders_90d", "orders_prev_90d"} <= columns:
        out.append((c("orders_prev_90d") > c("orders_90d"),
                    (c("orders_prev_90d") - c("orders_90d")) / c("orders_prev_90d") / 0.5,
                    pl.format("{} in the last 90 days vs {} in the 90 before", _orders(c("orders_90d")), c("orders_prev_90d"))))
    if "p_alive" in columns:
        out.append((c("p_alive") < 0.5, (1 - c("p_alive")) / 0.5,
                    pl.format("purchase pattern says only {}% chance still active", (c("p_alive") * 100).round(0).cast(pl.Int64, strict=False))))
    if "returns_share" in columns:
        out.append((c("returns_share") >= 0.2, c("returns_share") / 0.2,
                    pl.format("returned {}% of what they bought", (c("returns_share") * 100).round(0).cast(pl.Int64, strict=False))))
    if "last_nps" in columns:
        out.append((c("last_nps") <= 6, (7 - c("last_nps")) / 2,
                    pl.format("detractor: latest NPS answer {}", c("last_nps").round(0).cast(pl.Int64, strict=False))))
    if "last_csat" in columns:
        out.append((c("last_csat") <= 2, 3 - c("last_csat"), pl.format("dissatisfied: latest CSAT {}/5", c("last_csat").round(0).cast(pl.Int64, strict=False))))
    if "last_ces" in columns:
        out.append((c("last_ces") >= 5, c("last_ces") - 3.5, pl.format("high effort: latest CES {}/7", c("last_ces").round(0).cast(pl.Int64, strict=False))))
    if {"campaigns_received", "campaigns_opened"} <= columns:
        out.append(((c("campaigns_received") >= 3) & (c("campaigns_opened") / c("campaigns_received") < 0.1), pl.lit(1.0),
                    pl.format("opened {} of {} campaigns", c("campaigns_opened"), c("campaigns_received"))))
    if "loyalty_member" in columns:
        out.append((c("loyalty_member") == 0, pl.lit(0.5), pl.lit("not a loyalty member")))
    return out


def _rhythm(columns: set[str]) -> pl.Expr | None:
    """The customer's purchase rhythm in words (always true, not a warning sign): the driver of last resort."""
    if not {"frequency", "recency_days"} <= columns:
        return None
    c = pl.col
    several = pl.format("{} purchases", c("frequency"))
    # each part only when its number is known (pl.format of a null is null)
    if "tenure_days" in columns:
        several = pl.when(c("tenure_days").is_not_null()).then(pl.format("{} in {} days", several, c("tenure_days"))).otherwise(several)
    if "ipt_mean_days" in columns:
        ipt = c("ipt_mean_days").round(0).cast(pl.Int64, strict=False)
        several = pl.when(ipt.is_not_null()).then(pl.format("{} (one every {} days on average)", several, ipt)).otherwise(several)
    return (pl.when(c("frequency") == 1).then(pl.format("only one purchase so far, {} days ago", c("recency_days")))
            .otherwise(pl.format("{}, the last {} days ago", several, c("recency_days"))))


def churn_drivers(features: pl.LazyFrame | pl.DataFrame, *, n: int = 3, required: pl.Series | None = None) -> pl.LazyFrame:
    """The `n` strongest warning signs per customer, in plain words.

    Parameters
    ----------
    features
        A churn feature frame (`churn_features(...).frame`).
    n
        Number of drivers.
    required
        Booleans, one per row: customers who must get a driver (those at high risk). When no sign
        applies to one of them, driver_1 is their purchase rhythm (needs frequency and recency_days).

    Returns
    -------
    LazyFrame: customer_id, driver_1 .. driver_n (text, null when fewer signs apply), in input order.
    """
    frame = features.lazy().collect() if isinstance(features, pl.LazyFrame) else features
    columns = set(frame.columns)
    signs = _signs(columns)
    rhythm = _rhythm(columns) if required is not None else None
    if rhythm is not None:
        # a sign that applies only where no other does, to the customers who need a driver
        need = pl.Series("required", required, dtype=pl.Boolean).fill_null(False)
        signs.append((pl.lit(need), pl.lit(0.0), rhythm))
    if not signs:
        return frame.lazy().select("customer_id", *[pl.lit(None, dtype=pl.String).alias(f"driver_{i + 1}") for i in range(n)])
    strength = frame.select(
        pl.when(applies.fill_null(False)).then(s.cast(pl.Float64)).otherwise(None).fill_nan(None).alias(f"s{i}")
        for i, (applies, s, _) in enumerate(signs)
    ).to_numpy()
    strength = np.where(np.isnan(strength), -np.inf, strength)
    if rhythm is not None:
        # the rhythm only when nothing else applies: otherwise it is not a driver
        last = strength[:, -1]
        strength[:, -1] = np.where(np.isfinite(strength[:, :-1]).any(axis=1), -np.inf, last)
    # strongest first; a stable sort keeps the rule order between equal strengths
    order = np.argsort(-strength, axis=1, kind="stable")[:, :n]
    top = np.take_along_axis(strength, order, axis=1)
    picked = np.where(np.isfinite(top), order, -1)
    texts = frame.select("customer_id", *[text.alias(f"t{i}") for i, (_, _, text) in enumerate(signs)])
    texts = texts.with_columns(pl.Series(f"i{j}", picked[:, j] if j < picked.shape[1] else np.full(frame.height, -1)) for j in range(n))

    def pick(j: int) -> pl.Expr:
        expr: Then | ChainedThen = pl.when(pl.col(f"i{j}") == 0).then(pl.col("t0"))
        for i in range(1, len(signs)):
            expr = expr.when(pl.col(f"i{j}") == i).then(pl.col(f"t{i}"))
        return expr.otherwise(None).alias(f"driver_{j + 1}")

    return texts.lazy().select("customer_id", *[pick(j) for j in range(n)])
