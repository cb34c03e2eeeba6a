"""Churn features at a cutoff date, computed lazily from the data dated on or before the cutoff only.

A cutoff C is a day: every feature uses transactions (and surveys, campaigns, enrolments) dated on or
before C, never after. Recency is counted in days from the last purchase to C (0 = bought on C).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from fidelcli.analyses.satisfaction import latest_scores
from fidelcli.clean import Transactions
from fidelcli.engine import Engine
from fidelcli.engine.periods import rf_statistics
from fidelcli.errors import FitError
from fidelcli.stats import FloatArray


@dataclass
class ChurnInputs:
    """The optional inputs of the churn features, as canonical lazy frames (`Table.lf`)."""

    customers: pl.LazyFrame | None = None
    surveys: pl.LazyFrame | None = None
    campaigns: pl.LazyFrame | None = None
    subscriptions: pl.LazyFrame | None = None


@dataclass
class FeatureSet:
    """Features of the customers in scope at one cutoff.

    `frame` has customer_id and one column per feature (nulls where a feature is undefined, e.g. the
    inter-purchase time of a one-time buyer); `p_alive_params` the BG/NBD fit used for P(alive).
    """

    frame: pl.DataFrame
    cutoff: dt.date
    p_alive_params: dict[str, object] | None = None
    tiers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _schema(lf: pl.LazyFrame) -> set[str]:
    return set(lf.collect_schema().names())


def survey_features(surveys: pl.LazyFrame, cutoff: dt.date) -> pl.LazyFrame | None:
    """Latest NPS, CSAT and CES answered on or before `cutoff` (wide columns or long type/score).

    Returns
    -------
    LazyFrame: customer_id, last_nps, last_csat, last_ces (those present in the input).
    """
    # One reading of surveys for every command (fidelcli.analyses.satisfaction): the latest answer
    # per score, the higher score on a tie of dates, so row order never matters.
    return latest_scores(surveys, cutoff)


def campaign_features(campaigns: pl.LazyFrame, cutoff: dt.date) -> pl.LazyFrame | None:
    """Campaign engagement from campaigns sent on or before `cutoff`.

    Returns
    -------
    LazyFrame: customer_id, campaigns_received, campaigns_opened, campaigns_clicked, open_rate.
    None without a `sent_at` date (engagement could not be placed in time, so it would leak).
    """
    cols = _schema(campaigns)
    if "sent_at" not in cols:
        return None
    lf = campaigns.filter(pl.col("sent_at") <= pl.lit(cutoff, dtype=pl.Date))
    aggs = [pl.col("campaign_id").n_unique().cast(pl.Int64).alias("campaigns_received")]
    for flag, name in (("opened", "campaigns_opened"), ("clicked", "campaigns_clicked")):
        if flag in cols:
            aggs.append(pl.col("campaign_id").filter(pl.col(flag).fill_null(False)).n_unique().cast(pl.Int64).alias(name))
    out = lf.group_by("customer_id").agg(aggs)
    if "opened" in cols:
        out = out.with_columns(open_rate=pl.col("campaigns_opened") / pl.col("campaigns_received"))
    return out


def subscription_features(subscriptions: pl.LazyFrame, cutoff: dt.date) -> pl.LazyFrame:
    """Subscription history as known at the end of `cutoff` (an end date after it is not known yet).

    Returns
    -------
    LazyFrame: customer_id, subscribed (1 = a subscription active at the cutoff), subscription_days
    (days since the start of the oldest active one), subscriptions_ended (ended on or before the
    cutoff), and subscription_price (highest price among the active ones) when prices exist.
    """
    cols = _schema(subscriptions)
    c = pl.lit(cutoff, dtype=pl.Date)
    lf = subscriptions.filter(pl.col("start_date") <= c)
    ended = (pl.col("end_date") <= c).fill_null(False) if "end_date" in cols else pl.lit(False)
    active = ~ended
    aggs = [
        active.any().cast(pl.Int8).alias("subscribed"),
        (c - pl.col("start_date").filter(active).min()).dt.total_days().alias("subscription_days"),
        ended.sum().cast(pl.Int64).alias("subscriptions_ended"),
    ]
    if "price" in cols:
        aggs.append(pl.col("price").filter(active).max().alias("subscription_price"))
    return lf.group_by("customer_id").agg(aggs)


def customer_features(customers: pl.LazyFrame, cutoff: dt.date, *, tiers: list[str] | None) -> tuple[pl.LazyFrame | None, list[str]]:
    """Loyalty membership (enrolled on or before `cutoff` when an enrolment date exists) and tier.

    The tier is one-hot encoded over `tiers` (the levels seen in training; None = the levels present,
    up to 10 by frequency). Returns the frame (customer_id, loyalty_member, tier_<level>...) and the levels.
    """
    cols = _schema(customers)
    exprs: list[pl.Expr] = []
    if "loyalty_member" in cols:
        member = pl.col("loyalty_member").fill_null(False)
        if "enrollment_date" in cols:
            member = member & (pl.col("enrollment_date").is_null() | (pl.col("enrollment_date") <= pl.lit(cutoff, dtype=pl.Date)))
        exprs.append(member.cast(pl.Int8).alias("loyalty_member"))
    elif "enrollment_date" in cols:
        exprs.append((pl.col("enrollment_date") <= pl.lit(cutoff, dtype=pl.Date)).fill_null(False).cast(pl.Int8).alias("loyalty_member"))
    levels: list[str] = []
    if "tier" in cols:
        if tiers is None:
            counts = customers.group_by("tier").len().drop_nulls("tier").sort(["len", "tier"], descending=[True, False]).head(10).collect()
            levels = sorted(counts["tier"].to_list())
        else:
            levels = list(tiers)
        # the table is a snapshot: a tier only counts once the customer had enrolled by the cutoff
        enrolled = (pl.col("enrollment_date").is_null() | (pl.col("enrollment_date") <= pl.lit(cutoff, dtype=pl.Date))
                    if "enrollment_date" in cols else pl.lit(True))
        exprs += [((pl.col("tier") == t) & enrolled).fill_null(False).cast(pl.Int8).alias(f"tier_{t}") for t in levels]
    if not exprs:
        return None, levels
    # one row per customer: a duplicated id counts as a member (or in a tier) if any of its rows does
    return customers.select("customer_id", *exprs).group_by("customer_id").agg(pl.all().max()), levels


def bgnbd_inputs(frame: pl.DataFrame, cutoff: dt.date) -> tuple[FloatArray, FloatArray, FloatArray]:
    """BG/NBD summary (x repeat occasions, t_x and T in weeks) at the end of the cutoff day
    (`rf_statistics`, from the features' frequency, first_purchase and last_purchase)."""
    stats = rf_statistics(occasions=pl.col("frequency"), end=cutoff + dt.timedelta(days=1), unit_days=7)
    x, t_x, T = (frame.select(e).to_series().to_numpy().astype(float) for e in stats.values())
    return x, t_x, T


def add_p_alive(frame: pl.DataFrame, cutoff: dt.date, *, params: dict[str, object] | None = None) -> tuple[pl.DataFrame, dict[str, object] | None, list[str]]:
    """Add `p_alive` from a BG/NBD model: fitted on this frame when `params` is None, else restored.

    Returns the frame, the model's saved form (None when it could not be fitted) and warnings.
    A FitError (or no BG/NBD model available) leaves the feature out with a warning.
    """
    try:
        from fidelcli.models.bgnbd import BGNBD
    except ImportError:
        return frame, None, ["P(alive) left out: the BG/NBD model is not available"]
    x, t_x, T = bgnbd_inputs(frame, cutoff)
    try:
        if params is None:
            model = BGNBD().fit(x, t_x, T)
            saved = model.to_dict()
        else:
            model = BGNBD.from_dict(params)
            saved = params
    except FitError as exc:
        return frame, None, [f"P(alive) left out: {exc}"]
    p = np.asarray(model.p_alive(x, t_x, T), dtype=float)
    return frame.with_columns(p_alive=pl.Series(p)), saved, []


def churn_features(
    tx: Transactions,
    cutoff: dt.date,
    *,
    engine: Engine,
    inputs: ChurnInputs | None = None,
    tiers: list[str] | None = None,
    p_alive: bool = True,
    p_alive_params: dict[str, object] | None = None,
) -> FeatureSet:
    """All churn features at `cutoff`, for the customers with at least one purchase on or before it.

    Parameters
    ----------
    tx
        Cleaned transactions: only rows dated on or before `cutoff` are used.
    cutoff
        Last day of data used by any feature.
    engine
        The engine of the transaction reductions (`Engine.purchase_features`, `Engine.line_features`).
    inputs
        Optional customers, surveys, campaigns and subscriptions tables.
    tiers
        Tier levels to one-hot encode (the model's, when scoring).
    p_alive, p_alive_params
        Add the BG/NBD P(alive): fitted on these customers, or restored from saved parameters.

    Returns
    -------
    FeatureSet whose frame has customer_id and the features of `Engine.purchase_features`,
    `Engine.line_features`, `survey_features`, `campaign_features`, `subscription_features`,
    `customer_features`, and p_alive; sorted by customer_id.
    """
    inputs = inputs or ChurnInputs()
    warnings: list[str] = []
    lf = engine.purchase_features(tx, cutoff=cutoff).lazy()
    lines = engine.line_features(tx, cutoff=cutoff)
    extra: list[pl.LazyFrame | None] = [None if lines is None else lines.lazy()]
    if inputs.surveys is not None:
        extra.append(survey_features(inputs.surveys, cutoff))
    if inputs.campaigns is not None:
        camp = campaign_features(inputs.campaigns, cutoff)
        if camp is None:
            warnings.append("campaign features left out: the campaigns table has no sent_at date to place them in time")
        extra.append(camp)
    if inputs.subscriptions is not None:
        extra.append(subscription_features(inputs.subscriptions, cutoff))
    levels: list[str] = []
    if inputs.customers is not None:
        cust, levels = customer_features(inputs.customers, cutoff, tiers=tiers)
        extra.append(cust)
    fill: dict[str, object] = {}
    for other in extra:
        if other is None:
            continue
        names = [n for n in other.collect_schema().names() if n != "customer_id"]
        lf = lf.join(other, on="customer_id", how="left")
        for n in names:
            # counts and flags are 0 for a customer absent from the side table; scores stay null
            if n.startswith(("campaigns_", "loyalty_member", "tier_", "subscribed", "subscriptions_ended")):
                fill[n] = 0
    if fill:
        lf = lf.with_columns(pl.col(n).fill_null(v) for n, v in fill.items())
    frame = lf.sort("customer_id").collect(engine="streaming")
    saved = None
    if p_alive and frame.height:
        frame, saved, w = add_p_alive(frame, cutoff, params=p_alive_params)
        warnings += w
    return FeatureSet(frame=frame, cutoff=cutoff, p_alive_params=saved, tiers=levels, warnings=warnings)


NON_FEATURES = ("customer_id", "first_purchase", "last_purchase")


def feature_names(frame: pl.DataFrame) -> list[str]:
    """The model features of a feature frame (every column but the id and the dates)."""
    return [c for c in frame.columns if c not in NON_FEATURES]
