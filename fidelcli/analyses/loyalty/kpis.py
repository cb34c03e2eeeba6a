"""The program's KPIs from a simulation: liability, redemption and breakage, tiers and their migration,
the cost of rewards (what `roi program` counts as the rewards' cost) and the paid-tier fees.

- liability = outstanding points x point value;
- redemption rate = points redeemed / points earned; breakage rate = points expired / points earned
  (both over the simulated history, earned net of returns);
- cost of rewards = points redeemed x point value; net cost = cost of rewards - paid-tier fees.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from numpy.typing import NDArray

from fidelcli.analyses.loyalty.rules import LoyaltyRules
from fidelcli.result import Figure, JsonResult

NOT_ENROLLED = "not enrolled"


@dataclass
class LoyaltyResult(JsonResult):
    """`loyalty`: one row per member, the KPIs per month, the tier distribution and migration."""

    members: pl.DataFrame
    monthly: pl.DataFrame
    tiers: pl.DataFrame
    migration: pl.DataFrame | None
    as_of: dt.date
    figures: dict[str, Figure] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pl.DataFrame]:
        out = {"members": self.members, "monthly": self.monthly, "tiers": self.tiers}
        if self.migration is not None:
            out["migration"] = self.migration
        return out

    def headline(self) -> dict[str, Figure]:
        return {"as_of": self.as_of.isoformat(), **self.figures}

    def cost_of_rewards(self, start: dt.date | None = None, end: dt.date | None = None) -> float:
        """Points redeemed x point value over the months from `start` to `end` (inclusive; default all)."""
        m = self.monthly
        if start is not None:
            m = m.filter(pl.col("period_start") >= start.replace(day=1))
        if end is not None:
            m = m.filter(pl.col("period_start") <= end)
        return float(m["reward_cost"].sum())


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def kpis(per_member: pl.DataFrame, monthly: pl.DataFrame, *, rules: LoyaltyRules, as_of: dt.date,
         tiers_at: dict[dt.date, NDArray[np.int64]], migration: tuple[dt.date, dt.date] | None, warnings: list[str]) -> LoyaltyResult:
    """The result of a simulation: per member (tier names, next tier and the spend to reach it,
    balance value), monthly KPIs with money, tier distribution, migration matrix, headline figures."""
    names = [t.name for t in rules.tiers]
    thresholds = [t.threshold for t in rules.tiers]
    value = rules.point_value
    top = len(names) - 1
    idx = pl.col("tier_index")
    next_threshold = pl.col("tier_index").add(1).clip(upper_bound=top).replace_strict(
        dict(enumerate(thresholds)), return_dtype=pl.Float64)
    # The spend that reaches the next tier's threshold: on spend, the missing spend; on points, the
    # missing base points at points_per_unit (category multipliers aside).
    missing = (next_threshold - pl.col("rolling_basis")).clip(lower_bound=0.0)
    gap = missing if rules.tier_basis == "spend" else missing / rules.points_per_unit
    members = per_member.select(
        "customer_id", "enrollment_date",
        tier=idx.replace_strict(dict(enumerate(names)), return_dtype=pl.String),
        paid_tier=pl.when(pl.col("paid")).then(pl.lit(rules.paid_tier.name if rules.paid_tier else None, pl.String)),
        rolling_basis="rolling_basis",
        next_tier=pl.when(idx < top).then(pl.col("tier_index").add(1).clip(upper_bound=top).replace_strict(
            dict(enumerate(names)), return_dtype=pl.String)),
        gap_to_next_tier=pl.when(idx < top).then(gap),
        points_earned="points_earned", points_redeemed="points_redeemed", points_expired="points_expired",
        balance="balance", balance_value=pl.col("balance") * value, expiring_points="expiring_points",
        fees="fees",
    ).sort("customer_id")
    monthly = monthly.with_columns(
        liability=pl.col("points_outstanding") * value, reward_cost=pl.col("points_redeemed") * value)
    counts = members.group_by("tier").len()
    tiers = pl.DataFrame({"tier": names}).join(counts, on="tier", how="left").select(
        "tier", members=pl.col("len").fill_null(0).cast(pl.Int64)).with_columns(
        share=pl.col("members") / max(members.height, 1))
    matrix = None
    if migration is not None:
        a, b = migration
        label = {-1: NOT_ENROLLED, **dict(enumerate(names))}
        pairs = pl.DataFrame({"from": tiers_at[a], "to": tiers_at[b]}).with_columns(
            pl.col("from", "to").replace_strict(label, return_dtype=pl.String))
        order = [NOT_ENROLLED, *names]
        counted = pairs.group_by("from", "to").len()
        grid = pl.DataFrame({"from": order}).join(pl.DataFrame({"to": order}), how="cross").join(
            counted, on=["from", "to"], how="left").with_columns(pl.col("len").fill_null(0).cast(pl.Int64))
        matrix = grid.pivot(on="to", index="from", values="len").select("from", *order).rename({"from": f"tier on {a} \\ {b}"})
    earned, redeemed = float(members["points_earned"].sum()), float(members["points_redeemed"].sum())
    expired, outstanding = float(members["points_expired"].sum()), float(members["balance"].sum())
    fees = float(members["fees"].sum())
    figures: dict[str, Figure] = {
        "members": members.height, "points_earned": earned, "points_redeemed": redeemed, "points_expired": expired,
        "points_outstanding": outstanding, "liability": outstanding * value, "redemption_rate": _ratio(redeemed, earned),
        "breakage_rate": _ratio(expired, earned), "cost_of_rewards": redeemed * value, "fees": fees,
        "net_cost": redeemed * value - fees, "expiring_points": float(members["expiring_points"].sum()),
        "expiring_within_days": rules.expiring_within_days,
    }
    negative = members.filter(pl.col("balance") < -1e-9).height
    if negative:
        warnings = [*warnings, f"{negative} members have a negative balance: returns took back points already redeemed"]
    return LoyaltyResult(members=members, monthly=monthly, tiers=tiers, migration=matrix, as_of=as_of, figures=figures,
                         warnings=warnings)
