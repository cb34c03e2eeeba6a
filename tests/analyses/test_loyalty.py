"""The loyalty simulation pinned on small cases computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from pydantic import ValidationError

from fidelcli.analyses.loyalty import LoyaltyRules, PaidTier, Tier, simulate
from fidelcli.analyses.loyalty.simulation import members_of

D = dt.date
ONE_TIER = [Tier(name="basic")]
SILVER = [Tier(name="bronze"), Tier(name="silver", threshold=500, multiplier=2.0)]


def spend(*rows: tuple[str, dt.date, float], category: str | None = None) -> pl.DataFrame:
    return pl.DataFrame({"customer_id": [r[0] for r in rows], "period_start": [r[1] for r in rows],
                         "category": [category] * len(rows), "amount": [r[2] for r in rows]},
                        schema={"customer_id": pl.String, "period_start": pl.Date, "category": pl.String, "amount": pl.Float64})


def customers(**extra: list[object]) -> pl.DataFrame:
    return pl.DataFrame({"customer_id": ["A"], "loyalty_member": [True], "enrollment_date": [D(2024, 1, 1)], **extra})


def run(rows: pl.DataFrame, rules: LoyaltyRules, as_of: dt.date, cust: pl.DataFrame | None = None, **kw: object):  # type: ignore[no-untyped-def]
    members = members_of(cust if cust is not None else customers(), None, rules)
    return simulate(rows, members, rules=rules, as_of=as_of, **kw)  # type: ignore[arg-type]


def member(result, column: str) -> object:  # type: ignore[no-untyped-def]
    return result.members.row(0, named=True)[column]


def test_points_expire_first_in_first_out() -> None:
    rules = LoyaltyRules(tiers=ONE_TIER, expiry_months=3, redemption_rate=0.0, redemption_delay_months=0)
    rows = spend(("A", D(2024, 1, 1), 100.0), ("A", D(2024, 3, 1), 50.0))
    # Jan's 100 points last Jan..Mar and are gone on Apr 1; Mar's 50 are gone on Jun 1. By Jul 1 all 150 expired.
    result = run(rows, rules, D(2024, 7, 1))
    assert result.monthly["points_expired"].to_list() == [0.0, 0.0, 100.0, 0.0, 50.0, 0.0]
    assert (member(result, "points_expired"), member(result, "balance")) == (150.0, 0.0)
    assert result.figures["breakage_rate"] == 1.0
    # A redemption of 30 in February uses Jan's points first: 70 of them expire at the end of March.
    events = pl.DataFrame({"customer_id": ["A"], "date": [D(2024, 2, 10)], "points": [-30.0], "type": ["redeem"]})
    result = run(rows, rules, D(2024, 7, 1), events=events)
    assert result.monthly["points_expired"].to_list() == [0.0, 0.0, 70.0, 0.0, 50.0, 0.0]
    assert (member(result, "points_redeemed"), member(result, "points_expired")) == (30.0, 120.0)
    # On Apr 15: balance 50 (Mar's lot), gone on Jun 1, within 90 days: expiring 50; liability 50 x 0.01.
    result = run(rows, rules, D(2024, 4, 15), events=events)
    assert (member(result, "balance"), member(result, "expiring_points")) == (50.0, 50.0)
    assert result.figures["liability"] == pytest.approx(0.5)
    # With 30 days instead of 90, Jun 1 is past May 15: nothing expires soon.
    result = run(rows, rules.model_copy(update={"expiring_within_days": 30}), D(2024, 4, 15), events=events)
    assert member(result, "expiring_points") == 0.0


def test_redemption_assumption() -> None:
    # Half of each month's points redeemed one month later: Jan 100 -> 50 in Feb; Feb 40 -> 20 in Mar.
    rules = LoyaltyRules(tiers=ONE_TIER, expiry_months=None, redemption_rate=0.5, redemption_delay_months=1, point_value=0.02)
    result = run(spend(("A", D(2024, 1, 1), 100.0), ("A", D(2024, 2, 1), 40.0)), rules, D(2024, 4, 1))
    assert result.monthly["points_redeemed"].to_list() == [0.0, 50.0, 20.0]
    assert (member(result, "points_redeemed"), member(result, "balance")) == (70.0, 70.0)
    # Cost of rewards = 70 x 0.02; redemption rate 70 / 140.
    assert result.figures["cost_of_rewards"] == pytest.approx(1.4)
    assert result.figures["redemption_rate"] == 0.5
    assert result.monthly["reward_cost"].to_list() == pytest.approx([0.0, 1.0, 0.4])


def test_tier_change_mid_year() -> None:
    rules = LoyaltyRules(tiers=SILVER, expiry_months=None, redemption_rate=0.0, redemption_delay_months=0)
    rows = spend(("A", D(2024, 1, 1), 300.0), ("A", D(2024, 2, 1), 300.0), ("A", D(2024, 3, 1), 100.0))
    # Rolling spend: Jan 300 (bronze), Feb 600 >= 500: silver from March, whose 100 earn 2 x 100.
    result = run(rows, rules, D(2024, 4, 1))
    assert result.monthly["points_earned"].to_list() == [300.0, 300.0, 200.0]
    assert (member(result, "tier"), member(result, "next_tier"), member(result, "gap_to_next_tier")) == ("silver", None, None)
    # Before March the gap to silver was 500 - rolling spend: on Feb 1 (after January), 500 - 300 = 200.
    result = run(rows.head(1), rules, D(2024, 2, 1))
    assert (member(result, "tier"), member(result, "next_tier"), member(result, "gap_to_next_tier")) == ("bronze", "silver", 200.0)


def test_requalification_after_the_validity() -> None:
    rows = spend(("A", D(2024, 1, 1), 300.0), ("A", D(2024, 2, 1), 300.0), ("A", D(2024, 3, 1), 100.0))
    dates = (D(2025, 2, 15), D(2025, 3, 15))
    kept = LoyaltyRules(tiers=SILVER, tier_validity_months=12, expiry_months=None, redemption_rate=0.0, redemption_delay_months=0)
    # Silver reached at the end of Feb 2024, kept 12 months: requalified at the end of Feb 2025 on
    # Mar 2024..Feb 2025 = 100 < 500: bronze from March 2025.
    result = run(rows, kept, D(2025, 4, 1), migration=dates)
    assert result.migration is not None
    moved = result.migration.filter(pl.col(result.migration.columns[0]) == "silver")
    assert moved.select("bronze", "silver").row(0) == (1, 0)
    assert member(result, "tier") == "bronze"
    # Rolling tiers (validity 0): at the end of Jan 2025 the last 12 months (Feb 2024..Jan 2025) hold
    # 300 + 100 = 400: bronze already in February 2025 (migration bronze -> bronze).
    rolling = kept.model_copy(update={"tier_validity_months": 0})
    result = run(rows, rolling, D(2025, 4, 1), migration=dates)
    assert result.migration is not None
    assert result.migration.filter(pl.col(result.migration.columns[0]) == "bronze").select("bronze").item() == 1
    # Requalified: 600 spent in January 2025 makes Mar 2024..Feb 2025 = 700: silver kept.
    more = pl.concat([rows, spend(("A", D(2025, 1, 1), 600.0))])
    result = run(more, kept, D(2025, 4, 1))
    assert member(result, "tier") == "silver"


def test_returns_take_their_points_back() -> None:
    rules = LoyaltyRules(tiers=ONE_TIER, expiry_months=None, redemption_rate=0.0, redemption_delay_months=0)
    # 200 bought in January, 50 returned in February (a negative net spend): 200 - 50 = 150 points.
    result = run(spend(("A", D(2024, 1, 1), 200.0), ("A", D(2024, 2, 1), -50.0)), rules, D(2024, 3, 1))
    assert result.monthly["points_earned"].to_list() == [200.0, -50.0]
    assert (member(result, "points_earned"), member(result, "balance")) == (150.0, 150.0)
    # Redeemed before the return (all 200 in February): the balance goes negative and is reported.
    events = pl.DataFrame({"customer_id": ["A"], "date": [D(2024, 2, 1)], "points": [200.0], "type": ["redeem"]})
    result = run(spend(("A", D(2024, 1, 1), 200.0), ("A", D(2024, 2, 1), -50.0)), rules, D(2024, 3, 1), events=events)
    assert member(result, "balance") == -50.0
    assert result.warnings == ["1 members have a negative balance: returns took back points already redeemed"]
    # A window holding only a return (rolling spend -30) keeps the first tier (regression: it fell below it).
    result = run(spend(("A", D(2024, 1, 1), -30.0)), rules.model_copy(update={"tiers": SILVER}), D(2024, 2, 1))
    assert (member(result, "tier"), member(result, "balance"), member(result, "gap_to_next_tier")) == ("bronze", -30.0, 530.0)


def test_paid_tier_and_bonuses() -> None:
    rules = LoyaltyRules(tiers=ONE_TIER, expiry_months=None, redemption_rate=0.0, redemption_delay_months=0,
                         paid_tier=PaidTier(name="premium", fee=49.0, multiplier=3.0),
                         bonuses=[{"kind": "birthday", "points": 200}, {"kind": "enrollment", "points": 10}])  # type: ignore[list-item]
    cust = pl.DataFrame({"customer_id": ["A", "B"], "loyalty_member": [True, True],
                         "enrollment_date": [D(2024, 1, 10), D(2024, 1, 10)], "tier": ["premium", "basic"],
                         "birth_date": [D(1990, 3, 5), D(1990, 12, 31)]})
    rows = spend(("A", D(2024, 2, 1), 100.0), ("B", D(2024, 2, 1), 100.0))
    result = run(rows, rules, D(2025, 3, 1), cust=cust)
    a, b = result.members.row(0, named=True), result.members.row(1, named=True)
    # A pays 49 at enrollment (Jan 2024) and on the anniversary (Jan 2025): 98. Points: 100 x 3 (paid
    # multiplier) + 10 (enrollment) + 200 (birthday 2024-03-05; 2025-03-05 is after the analysis date).
    assert (a["paid_tier"], a["fees"], a["points_earned"]) == ("premium", 98.0, 510.0)
    # B: 100 x 1 + 10 + 200 (2024-12-31).
    assert (b["paid_tier"], b["fees"], b["points_earned"]) == (None, 0.0, 310.0)
    assert result.figures["fees"] == 98.0
    assert result.figures["net_cost"] == -98.0  # nothing redeemed: the fees are the program's net income


def test_category_multipliers() -> None:
    rules = LoyaltyRules(tiers=ONE_TIER, points_per_unit=2.0, category_multipliers={"Beauté": 1.5}, expiry_months=None,
                         redemption_rate=0.0, redemption_delay_months=0)
    rows = pl.concat([spend(("A", D(2024, 1, 1), 10.0), category="Beauté"), spend(("A", D(2024, 1, 1), 10.0), category="Maison")])
    # 10 x 2 x 1.5 + 10 x 2 = 50.
    assert member(run(rows, rules, D(2024, 2, 1)), "points_earned") == 50.0


def test_rules_are_checked() -> None:
    with pytest.raises(ValidationError, match="ascending thresholds"):
        LoyaltyRules(tiers=[Tier(name="a", threshold=10)])
    with pytest.raises(ValidationError, match="expire before"):
        LoyaltyRules(expiry_months=3, redemption_delay_months=3)
