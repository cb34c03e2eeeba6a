"""Value figures of the CLV analysis: historical CLV and the expected relationship duration, value
tiers, weighted medians, margin rates, and the pseudonymised top customers."""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import polars as pl

from fidelcli.analyses.timeunits import DAYS_PER_YEAR
from fidelcli.clean import Transactions
from fidelcli.engine import Engine
from fidelcli.engine.periods import profit_line
from fidelcli.errors import ConfigError
from fidelcli.privacy.pseudonymize import pseudonym as privacy_pseudonym

if TYPE_CHECKING:
    from polars.expr.whenthen import ChainedThen, Then

TIERS = ((0.01, "top 1%"), (0.05, "top 5%"), (0.20, "top 20%"))
HIGH_POTENTIAL_RATIO = 2.0


def estimate_lifetime_years(customers: pl.DataFrame, *, as_of: dt.date) -> float | None:
    """Expected relationship duration in years as analysts estimate it, 1 / annual churn rate.

    From each customer's first and last purchase before `as_of` (exclusive). The churn rate is
    measured over a window of w = min(365, span // 2) days, span = days from the first purchase of
    anyone to `as_of`: the customers active in the earlier window [as_of - 2w, as_of - w) (first
    purchase before its end, last purchase on or after its start) are the base; the retained are
    those of them whose last purchase is in the last window [as_of - w, as_of). The retention is
    converted to a yearly rate by compounding (retention ** (365.25 / w)). Returns None when it
    cannot be measured (no customer in the base, or no churn at all).

    Example: as_of 2024-01-01, first purchase of anyone 2022-01-01 -> w = 365; a customer with
    purchases from 2022-03-01 to 2023-06-01 is retained; one whose last purchase is 2022-11-30 has
    churned; one first seen on 2023-02-01 is not in the base.
    """
    first = customers["first_purchase"].min()
    if not isinstance(first, dt.date):  # no customer
        return None
    span = (as_of - first).days
    window = min(365, span // 2)
    if window < 1:
        return None
    mid, start = as_of - dt.timedelta(days=window), as_of - dt.timedelta(days=2 * window)
    base = customers.select("first_purchase", "last_purchase").filter(pl.col("first_purchase") < mid,
                                                                      pl.col("last_purchase") >= start)
    if base.height == 0:
        return None
    retention = float(base.select((pl.col("last_purchase") >= mid).mean()).item())
    annual_retention = retention ** (DAYS_PER_YEAR / window)
    churn = 1.0 - annual_retention
    return None if churn <= 0 else 1.0 / churn


def historical_clv(yearly_profit: float | pl.Expr, lifetime_years: float) -> float | pl.Expr:
    """Historical CLV = average yearly profit x expected relationship duration (years).

    Example: 200 €/year of profit for a customer expected to stay 5 years is worth 200 x 5 = 1,000 €.
    """
    return yearly_profit * lifetime_years


def value_tiers(value: pl.Expr) -> pl.Expr:
    """`top 1%`, `top 5%`, `top 20%` or `other` by the rank of `value` (largest first; ties share the
    best rank, so equal values are in the same tier and row order never matters). Null values are
    `other`. One row = one customer; see `weighted_value_tiers` for summary rows with weights."""
    return _tiers_of_rank(value.rank(method="min", descending=True), value.count())


def _tiers_of_rank(rank: pl.Expr, n: pl.Expr | int) -> pl.Expr:
    """The tier of a (min, descending) rank among `n` ranked values; a null rank is `other`."""
    expr: Then | ChainedThen = pl.when(rank.is_null()).then(pl.lit("other"))
    for share, name in TIERS:
        cut = max(1, math.floor(n * share)) if isinstance(n, int) else pl.max_horizontal(pl.lit(1), (n * share).floor())
        expr = expr.when(rank <= cut).then(pl.lit(name))
    return expr.otherwise(pl.lit("other"))


def weighted_value_tiers(frame: pl.DataFrame, value: str, weight: str = "weight") -> pl.Series:
    """`value_tiers` counting customers, not rows: a row standing for `weight` customers is in the top
    s % when fewer than max(1, floor(s x customers)) customers have a strictly larger value (ties
    share the best rank). With weights of 1 it is `value_tiers`.

    Returns
    -------
    A String series `value_tier`, one per row of `frame`.
    """
    if bool((frame.get_column(weight) == 1.0).all()):
        # One row per customer: `value_tiers`, with the rank computed once (not once per tier).
        ranks = frame.select(pl.col(value).rank(method="min", descending=True))
        return ranks.select(value_tier=_tiers_of_rank(pl.col(value), frame.get_column(value).count()))["value_tier"]
    known = frame.select(value, weight).filter(pl.col(value).is_not_null())
    total = float(known[weight].sum())
    ahead = (
        known.group_by(value).agg(w=pl.col(weight).sum())
        .sort(value, descending=True)
        .with_columns(_ahead=pl.col("w").cum_sum() - pl.col("w"))
        .select(value, "_ahead")
    )
    expr: Then | ChainedThen = pl.when(pl.col("_ahead").is_null()).then(pl.lit("other"))
    for share, name in TIERS:
        expr = expr.when(pl.col("_ahead") < max(1.0, math.floor(total * share + 1e-9))).then(pl.lit(name))
    return (frame.select(value).join(ahead, on=value, how="left", maintain_order="left", nulls_equal=False)
            .select(value_tier=expr.otherwise(pl.lit("other")))["value_tier"])


def pseudonym(customer_id: pl.Expr, key: bytes) -> pl.Expr:
    """A short keyed pseudonym of the id for terminal summaries: the first 10 hex digits of
    `fidelcli.privacy.pseudonymize.pseudonym` (HMAC-SHA256), a prefix of what `privacy pseudonymize`
    writes with the same key.

    The key must be secret for the hash not to be reversible by hashing candidate ids: the CLI takes
    it from FIDELCLI_PSEUDONYM_KEY, or draws a random one per run."""
    return privacy_pseudonym(customer_id.cast(pl.String), key, digits=10)


def margin_rates(tx: Transactions, *, calibration_end: dt.date | None = None, engine: Engine) -> tuple[pl.DataFrame, list[str]]:
    """Per-customer margin rate for `--margin column`: the profit of the purchase lines (their
    margin, or amount - cost: `fidelcli.engine.periods.profit_line`) over their amount, from the
    calibration period only (lines dated up to `calibration_end`, included) so the holdout never
    informs the prediction (`Engine.margin_rates`). A customer whose purchases sum to 0 gets the
    overall rate of all customers; rates outside [0, 1] are clipped to it, with a warning counting them.

    Returns
    -------
    (frame customer_id, margin_rate; warnings).

    Raises
    ------
    ConfigError
        The transactions have neither a margin nor a cost column.
    """
    if profit_line(tx.fields) is None:
        raise ConfigError("--margin column needs a margin or cost column in the transactions",
                          hint="map it with --map margin=COLUMN, or give a rate: --margin 0.3")
    per = engine.margin_rates(tx, calibration_end=calibration_end)
    total = float(per["amount"].sum())  # Float64 sums
    overall = min(max(float(per["profit"].sum()) / total, 0.0), 1.0) if total else 0.0
    raw = per.select("customer_id", rate=pl.when(pl.col("amount") > 0).then(pl.col("profit") / pl.col("amount")).otherwise(overall))
    clipped = int(((raw["rate"] < 0) | (raw["rate"] > 1)).sum())
    warnings = [f"{clipped:,} customers have a margin rate outside [0, 1] (negative margin or margin above the amount): "
                "clipped to [0, 1]"] if clipped else []
    return raw.select("customer_id", margin_rate=pl.col("rate").clip(0.0, 1.0)).sort("customer_id"), warnings


def top_customers(customers: pl.DataFrame, *, key: bytes, n: int = 10) -> pl.DataFrame:
    """The `n` most valuable customers with pseudonymised ids (a keyed hash, never the raw id).

    Columns: customer (hash), frequency, p_alive, expected_purchases, expected_value, clv, value_tier.
    """
    by = "clv" if customers["clv"].null_count() < customers.height else "expected_purchases"
    return (
        customers.lazy()  # lazy: the filter is fused with top_k instead of copying every customer
        .filter(pl.col(by).is_not_null())
        .top_k(n, by=[by, "customer_id"], reverse=[False, True])
        .sort([by, "customer_id"], descending=[True, False])
        .select(customer=pseudonym(pl.col("customer_id"), key), frequency="frequency", p_alive="p_alive",
                expected_purchases="expected_purchases", expected_value="expected_value", clv="clv", value_tier="value_tier")
        .collect()
    )
