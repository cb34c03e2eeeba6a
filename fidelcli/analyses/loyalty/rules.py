"""The rules language of a points-and-tiers loyalty program: the `[loyalty]` section of fidelcli.toml.

Example (docs/loyalty.md has the full reference)::

    [loyalty]
    points_per_unit = 1          # points per currency unit spent
    point_value = 0.01           # currency value of one point (liability, cost of rewards)
    expiry_months = 24           # points expire 24 months after the month they were earned
    redemption_rate = 0.6        # without a loyalty-events table: share of each month's points redeemed...
    redemption_delay_months = 3  # ...this many months later
    tier_basis = "spend"         # tiers on rolling 12-month spend ("points": on base points)
    tier_validity_months = 12    # a tier reached is kept 12 months, then requalified

    [loyalty.category_multipliers]
    "Beauté" = 2

    [[loyalty.tiers]]
    name = "bronze"
    threshold = 0
    [[loyalty.tiers]]
    name = "silver"
    threshold = 500
    multiplier = 1.25

    [[loyalty.bonuses]]
    kind = "birthday"
    points = 200

    [loyalty.paid_tier]
    name = "premium"
    fee = 49
    multiplier = 2
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tier(_Rules):
    """A tier: reached when the rolling basis (spend or base points over `tier_window_months`)
    reaches `threshold`; its points are multiplied by `multiplier`."""

    name: str
    threshold: float = Field(default=0.0, ge=0)
    multiplier: float = Field(default=1.0, gt=0)


class Bonus(_Rules):
    """Points given outside purchases (not multiplied by tiers): `birthday` on each birthday while a
    member, `referral` to the referrer when a customer they referred (`referred_by`) first buys after
    the referrer enrolled, `enrollment` once at enrollment."""

    kind: Literal["birthday", "referral", "enrollment"]
    points: float = Field(gt=0)


class PaidTier(_Rules):
    """A paid membership: members whose customers-table `tier` is `name` pay `fee` at enrollment and
    on every anniversary, and earn at least `multiplier` (the higher of it and their tier's)."""

    name: str = "premium"
    fee: float = Field(ge=0)
    multiplier: float = Field(default=1.0, gt=0)


def _default_tiers() -> list[Tier]:
    return [Tier(name="bronze", threshold=0, multiplier=1.0), Tier(name="silver", threshold=500, multiplier=1.25),
            Tier(name="gold", threshold=1500, multiplier=1.5)]


class LoyaltyRules(_Rules):
    """A points-and-tiers program (the `[loyalty]` section). Defaults: 1 point per currency unit worth
    0.01, tiers bronze / silver 500 / gold 1500 on rolling 12-month spend kept 12 months, points
    valid 24 months, 60 % of points redeemed 3 months after they are earned."""

    points_per_unit: float = Field(default=1.0, gt=0, description="points per currency unit of net spend")
    point_value: float = Field(default=0.01, ge=0, description="currency value of one point")
    category_multipliers: dict[str, float] = Field(default_factory=dict, description="category -> points multiplier (default 1)")
    tiers: list[Tier] = Field(default_factory=_default_tiers, description="ascending thresholds; the first is 0")
    tier_basis: Literal["spend", "points"] = "spend"
    tier_window_months: int = Field(default=12, ge=1, le=60)
    tier_validity_months: int = Field(default=12, ge=0, le=60, description="0: tiers follow the rolling basis every month")
    bonuses: list[Bonus] = Field(default_factory=list)
    expiry_months: int | None = Field(default=24, ge=1, le=240, description="None: points never expire")
    redemption_rate: float = Field(default=0.6, ge=0, le=1, description="without events: share of each month's points redeemed")
    redemption_delay_months: int = Field(default=3, ge=0, le=120)
    expiring_within_days: int = Field(default=90, ge=1)
    paid_tier: PaidTier | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        thresholds = [t.threshold for t in self.tiers]
        if not self.tiers or thresholds[0] != 0 or any(b <= a for a, b in zip(thresholds, thresholds[1:], strict=False)):
            raise ValueError("tiers need strictly ascending thresholds starting at 0")
        if len({t.name for t in self.tiers}) != len(self.tiers):
            raise ValueError("tier names must be unique")
        if self.expiry_months is not None and self.redemption_delay_months >= self.expiry_months:
            raise ValueError("redemption_delay_months must be shorter than expiry_months (points would expire before they are redeemed)")
        if self.paid_tier is not None and self.paid_tier.name in {t.name for t in self.tiers}:
            raise ValueError("the paid tier needs a name of its own")
        return self

    def bonus_points(self, kind: str) -> float:
        """Points of the bonus `kind` (0 when the rules have none)."""
        return sum(b.points for b in self.bonuses if b.kind == kind)
