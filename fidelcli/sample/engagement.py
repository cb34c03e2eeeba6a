"""Surveys, the A/B campaign, subscriptions, touchpoints (per chunk of customers) and acquisition spend."""

from __future__ import annotations

import numpy as np
import polars as pl

from fidelcli.sample.people import Base, customer_ids, to_date
from fidelcli.sample.purchases import ORDER_CHANNELS
from fidelcli.sample.truth import Truth


def _strings(options: list[str] | tuple[str, ...], idx: np.ndarray) -> pl.Series:
    return pl.Series(list(options), dtype=pl.String).gather(idx)


def surveys_chunk(
    truth: Truth, lo: int, last_day: np.ndarray, dropped: np.ndarray, rng: np.random.Generator, width: int
) -> pl.DataFrame:
    """One answer from a share of customers, 1-14 days after their last purchase; churners score lower."""
    s = truth.surveys
    days_total = (truth.end - truth.start).days + 1
    n = last_day.size
    day = last_day + rng.integers(1, 15, n)
    pick = np.flatnonzero((rng.random(n) < s.response_rate) & (day < days_total))
    mu = np.where(dropped[pick], s.nps_mu_churned, s.nps_mu_active)
    nps = np.clip(np.rint(rng.normal(mu, s.nps_sd)), 0, 10).astype(np.int64)
    csat = np.clip(np.rint(1 + 0.4 * nps + rng.normal(0, 0.6, pick.size)), 1, 5).astype(np.int64)
    ces = np.clip(np.rint(7 - 0.5 * nps + rng.normal(0, 0.8, pick.size)), 1, 7).astype(np.int64)
    channels = ("email", "sms", "web", "app")
    touchpoints = ("purchase", "delivery", "customer service", "returns")
    return pl.DataFrame(
        {
            "customer_id": customer_ids(lo + pick, width),
            "date": to_date(truth, day[pick]),
            "nps": nps, "csat": csat, "ces": ces,
            "channel": _strings(channels, rng.integers(0, len(channels), pick.size)),
            "touchpoint": _strings(touchpoints, rng.choice(len(touchpoints), pick.size, p=[0.5, 0.25, 0.15, 0.1])),
        }
    )


def campaign_chunk(truth: Truth, base: Base, lo: int, hi: int, rng: np.random.Generator, width: int) -> pl.DataFrame:
    """The A/B test: targeted eligible customers, their variant and funnel; conversion by variant."""
    c = truth.campaign
    sent = (c.sent_at - truth.start).days
    n = hi - lo
    pick = np.flatnonzero((base.day[lo:hi] < sent) & (rng.random(n) < c.target_share))
    names = list(c.variant_shares)
    shares = np.array(list(c.variant_shares.values()))
    variant = rng.choice(len(names), size=pick.size, p=shares / shares.sum())
    mailed = np.array([v != "control" for v in names])[variant]
    delivered = mailed & (rng.random(pick.size) < c.delivery_rate)
    open_rate = np.array([c.open_rate.get(v, 0.0) for v in names])[variant]
    opened = delivered & (rng.random(pick.size) < open_rate)
    clicked = opened & (rng.random(pick.size) < c.click_rate)
    converted = rng.random(pick.size) < np.array([c.conversion_rate[v] for v in names])[variant]
    sp = truth.spend
    revenue = np.where(converted, rng.gamma(sp.p, 1.0, pick.size) / rng.gamma(sp.q, 1.0 / sp.gamma, pick.size), 0.0)
    return pl.DataFrame(
        {
            "campaign_id": pl.Series([c.campaign_id] * pick.size, dtype=pl.String),
            "customer_id": customer_ids(lo + pick, width),
            "variant": _strings(names, variant),
            "sent_at": pl.Series([c.sent_at] * pick.size, dtype=pl.Date),
            "delivered": delivered, "opened": opened, "clicked": clicked, "converted": converted,
            "revenue": np.round(revenue, 2),
            "cost": np.where(mailed, c.cost_per_message, 0.0),
        }
    )


def subscriptions_chunk(truth: Truth, base: Base, lo: int, hi: int, rng: np.random.Generator, width: int) -> pl.DataFrame:
    """sBG: subscribers start within 60 days of acquisition; each month they churn with probability theta."""
    s = truth.subscriptions
    days_total = (truth.end - truth.start).days + 1
    n = hi - lo
    start = base.day[lo:hi] + rng.integers(0, 61, n)
    pick = np.flatnonzero((rng.random(n) < s.share) & (start < days_total))
    theta = rng.beta(s.alpha, s.beta, pick.size)
    months = rng.geometric(theta)  # T >= 1: the month at whose end the subscriber leaves
    plans = list(s.plans)
    shares = np.array(list(s.plan_shares.values()))
    plan = rng.choice(len(plans), size=pick.size, p=shares / shares.sum())
    df = pl.DataFrame(
        {
            "customer_id": customer_ids(lo + pick, width),
            "start_date": to_date(truth, start[pick], "start_date"),
            "months": np.minimum(months, 10_000),
            "plan": _strings(plans, plan),
            "price": np.array([s.plans[p] for p in plans])[plan],
        }
    )
    end = pl.col("start_date").dt.offset_by(pl.format("{}mo", pl.col("months")))
    return df.select(
        "customer_id", "start_date",
        pl.when(end <= pl.lit(truth.end)).then(end).alias("end_date"),
        "plan", "price",
    )


def touchpoints_chunk(
    truth: Truth, base: Base, lo: int, hi: int, *, member: np.ndarray, enroll_day: np.ndarray, dropped: np.ndarray,
    first_channel: np.ndarray, rng: np.random.Generator, width: int,
) -> pl.DataFrame:
    """Journeys: awareness -> consideration -> purchase -> service -> loyalty, with timestamps; and
    recent carts (`TouchpointTruth.cart_share`)."""
    tp = truth.touchpoints
    days_total = (truth.end - truth.start).days + 1
    n = hi - lo
    acq = base.day[lo:hi]
    who = np.flatnonzero(rng.random(n) < tp.share)
    k = who.size
    aware = acq[who] - rng.integers(8, 61, k)
    consider = acq[who] - rng.integers(1, 8, k)
    service_day = acq[who] + rng.integers(1, 91, k)
    has_service = (rng.random(k) < tp.service_share) & (service_day < days_total)
    has_loyalty = member[who]
    mu = np.where(dropped[who], tp.service_satisfaction_churned, tp.service_satisfaction_active)
    parts = [
        (who, aware, "awareness", ("social", "search", "display", "word of mouth", "email"), None, ("engaged",)),
        (who, consider, "consideration", ("web", "store", "app", "call center"), rng.integers(3, 6, k), ("added to cart", "asked for advice")),
        (who, acq[who], "purchase", None, rng.integers(3, 6, k), ("completed",)),
        (who[has_service], service_day[has_service], "service", ("call center", "email", "chat", "store"),
         np.clip(np.rint(rng.normal(mu, 0.9)), 1, 5).astype(np.int64)[has_service], ("resolved", "unresolved")),
        (who[has_loyalty], enroll_day[who[has_loyalty]], "loyalty", ("app", "store", "web"), rng.integers(3, 6, k)[has_loyalty], ("enrolled",)),
    ]
    frames = []
    for cust, day, stage, channels, sat, outcomes in parts:
        m = cust.size
        channel = _strings(ORDER_CHANNELS, first_channel[cust]) if channels is None else _strings(channels, rng.integers(0, len(channels), m))
        seconds = rng.integers(8 * 3600, 21 * 3600, m)
        frames.append(pl.DataFrame({
            "cust": cust, "customer_id": customer_ids(lo + cust, width),
            "timestamp": pl.Series(np.datetime64(truth.start, "us") + ((day * 86400 + seconds) * 1_000_000).astype("timedelta64[us]")),
            "stage": pl.Series([stage] * m, dtype=pl.String),
            "channel": channel,
            "satisfaction": pl.Series(sat, dtype=pl.Int64) if sat is not None else pl.Series([None] * m, dtype=pl.Int64),
            "outcome": _strings(outcomes, rng.integers(0, len(outcomes), m)),
        }))
    # Recent carts, drawn last so that the rows above do not depend on them.
    cart = who[rng.random(k) < tp.cart_share]
    m = cart.size
    cart_day = np.maximum(acq[cart], days_total - 1 - rng.integers(0, tp.cart_days, m))
    seconds = rng.integers(8 * 3600, 23 * 3600, m)
    frames.append(pl.DataFrame({
        "cust": cart, "customer_id": customer_ids(lo + cart, width),
        "timestamp": pl.Series(np.datetime64(truth.start, "us") + ((cart_day * 86400 + seconds) * 1_000_000).astype("timedelta64[us]")),
        "stage": pl.Series(["cart"] * m, dtype=pl.String),
        "channel": _strings(("web", "app"), rng.integers(0, 2, m)),
        "satisfaction": pl.Series([None] * m, dtype=pl.Int64),
        "outcome": pl.Series(["added to cart"] * m, dtype=pl.String),
    }))
    return pl.concat(frames).sort("cust", "timestamp", maintain_order=True).drop("cust")


def spend_table(truth: Truth, base: Base, rng: np.random.Generator) -> pl.DataFrame:
    """Monthly acquisition spend per paid channel: new customers x CAC x LogNormal(0, spend_noise)."""
    a = truth.acquisition
    channels = list(a.channel_shares)
    df = pl.DataFrame({"date": to_date(truth, base.day), "ch": base.channel})
    counts = df.group_by(pl.col("date").dt.truncate("1mo").alias("period"), "ch").len()
    months = pl.date_range(truth.start.replace(day=1), truth.end, "1mo", eager=True).alias("period")
    paid = [channels.index(c) for c in a.cac]
    grid = pl.DataFrame({"period": months}).join(pl.DataFrame({"ch": paid}, schema={"ch": pl.Int64}), how="cross")
    grid = grid.join(counts.with_columns(pl.col("ch").cast(pl.Int64)), on=["period", "ch"], how="left").sort("period", "ch")
    cac = np.array([a.cac[channels[c]] for c in grid["ch"].to_numpy()])
    noise = rng.lognormal(0.0, a.spend_noise, grid.height)
    return grid.select(
        "period",
        _strings(channels, grid["ch"].to_numpy()).alias("channel"),
        pl.Series(np.round(grid["len"].fill_null(0).to_numpy() * cac * noise, 2)).alias("spend"),
    )
