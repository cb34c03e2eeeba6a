"""Simulate a points-and-tiers program (`LoyaltyRules`) on the members' transactions.

Month by month, for every member at once (one vectorised step per calendar month, the only loop; a
member's tier in a month depends on the previous months, so months cannot be done in parallel):

1. points of the month = net spend per category x points_per_unit x category multiplier x the
   multiplier of the tier held during the month (the paid tier's when higher), + bonuses (birthday,
   referral, enrollment; not multiplied). Returns are negative spend: they take their points back
   in the month of the return (at that month's multiplier).
2. redemptions: from the loyalty-events table when given, else `redemption_rate` of the points
   earned `redemption_delay_months` earlier.
3. expiry, first in first out: points earned in month k expire at the end of month k + expiry - 1
   unless redemptions (and returns) have used them; the points expired through month m are
   max(0, max over lots k <= m - expiry + 1 of (earned through k - used through m)).
4. tiers: at each month end, the qualifying tier of the rolling `tier_window_months` basis (net
   spend, or base points: before tier multipliers and bonuses); an upgrade applies at once, a tier
   is kept `tier_validity_months` months, then requalified on the rolling basis (possibly down).

Months are calendar months; the simulation runs from each member's enrollment (the lines of the
enrollment day on) to the analysis date. docs/loyalty.md has every rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from numpy.typing import NDArray

from fidelcli.analyses.loyalty.kpis import LoyaltyResult, kpis
from fidelcli.analyses.loyalty.rules import LoyaltyRules
from fidelcli.engine.periods import period_first_day, period_index
from fidelcli.errors import InputError

if TYPE_CHECKING:
    from fidelcli.clean import Transactions
    from fidelcli.engine import Engine

__all__ = ["LoyaltyResult", "Members", "members_of", "simulate", "simulate_loyalty"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Members:
    """The program's members: customer_id, enrollment (a day), paid (bool), birth_date, referred_by."""

    frame: pl.DataFrame
    warnings: list[str] = field(default_factory=list)


def members_of(customers: pl.DataFrame | None, first_purchase: pl.DataFrame | None, rules: LoyaltyRules) -> Members:
    """The members: customers with loyalty_member true, enrolled on their enrollment_date (else their
    first purchase); without a loyalty_member column every customer with a purchase, from the first
    one (the program applied to the whole base). `first_purchase`: customer_id, first_purchase."""
    warnings: list[str] = []
    if customers is None or "loyalty_member" not in customers.columns:
        if first_purchase is None:
            raise InputError("no members: the customers table has no loyalty_member column and there are no purchases")
        base = first_purchase.select("customer_id", enrollment=pl.col("first_purchase"))
        if customers is not None:
            base = base.join(customers.drop("loyalty_member", "enrollment_date", strict=False), on="customer_id", how="left")
        warnings.append("no loyalty_member column: every customer is simulated as a member from the first purchase")
    else:
        base = customers.filter(pl.col("loyalty_member").fill_null(False))
        date = pl.col("enrollment_date") if "enrollment_date" in base.columns else pl.lit(None, pl.Date)
        base = base.with_columns(enrollment=date.cast(pl.Date))
        missing = base.filter(pl.col("enrollment").is_null()).height
        if missing:
            if first_purchase is None:
                raise InputError(f"{missing} members have no enrollment_date", hint="map enrollment_date with --map enrollment_date=COLUMN")
            base = base.join(first_purchase.select("customer_id", "first_purchase"), on="customer_id", how="left").with_columns(
                enrollment=pl.coalesce("enrollment", "first_purchase")).drop("first_purchase")
            warnings.append(f"{missing} members without an enrollment_date are enrolled at their first purchase")
        base = base.filter(pl.col("enrollment").is_not_null())
    paid_name = rules.paid_tier.name if rules.paid_tier is not None else None
    paid = (pl.col("tier") == paid_name).fill_null(False) if paid_name is not None and "tier" in base.columns else pl.lit(False)
    optional = {c: pl.col(c) if c in base.columns else pl.lit(None, t) for c, t in (("birth_date", pl.Date), ("referred_by", pl.String))}
    frame = base.select("customer_id", "enrollment", paid=paid, birth_date=optional["birth_date"].cast(pl.Date),
                        referred_by=optional["referred_by"].cast(pl.String)).unique("customer_id", keep="first").sort("customer_id")
    return Members(frame=frame, warnings=warnings)


def _index(frame: pl.DataFrame, ids: pl.DataFrame, k0: int) -> pl.DataFrame:
    """frame (customer_id, period_start, ...) with i (member row) and m (month from k0)."""
    return frame.join(ids, on="customer_id", how="inner").with_columns(
        m=(period_index(pl.col("period_start"), "month") - k0).cast(pl.Int64))


def _bonuses(members: pl.DataFrame, rules: LoyaltyRules, first_purchase: pl.DataFrame | None, as_of: dt.date) -> pl.DataFrame:
    """customer_id, period_start, points: birthday, referral and enrollment bonuses before `as_of`."""
    parts: list[pl.DataFrame] = []
    month = pl.col("day").dt.truncate("1mo")
    if rules.bonus_points("enrollment"):
        parts.append(members.select("customer_id", day="enrollment", points=pl.lit(rules.bonus_points("enrollment"))))
    if rules.bonus_points("birthday"):
        years = pl.int_ranges(pl.col("enrollment").dt.year(), as_of.year + 1)
        born = members.filter(pl.col("birth_date").is_not_null()).select("customer_id", "enrollment", "birth_date", year=years).explode("year")
        # A birthday on 29 February falls on 28 February in other years.
        day = pl.date(pl.col("year"), pl.col("birth_date").dt.month(), 1).dt.offset_by(
            (pl.col("birth_date").dt.day() - 1).cast(pl.String) + "d")
        day = pl.when(day.dt.month() == pl.col("birth_date").dt.month()).then(day).otherwise(day.dt.offset_by("-1d"))
        born = born.with_columns(day=day).filter(pl.col("day") >= pl.col("enrollment"), pl.col("day") < as_of)
        parts.append(born.select("customer_id", "day", points=pl.lit(rules.bonus_points("birthday"))))
    if rules.bonus_points("referral") and first_purchase is not None and "referred_by" in first_purchase.columns:
        # The referrer earns the bonus when the customer they referred first buys, after they enrolled.
        referrers = members.select(referred_by="customer_id", referrer_since="enrollment")
        got = first_purchase.filter(pl.col("referred_by").is_not_null()).join(referrers, on="referred_by", how="inner").filter(
            pl.col("first_purchase") >= pl.col("referrer_since"), pl.col("first_purchase") < as_of)
        parts.append(got.select(customer_id="referred_by", day="first_purchase", points=pl.lit(rules.bonus_points("referral"))))
    schema = {"customer_id": pl.String, "period_start": pl.Date, "points": pl.Float64}
    if not parts:
        return pl.DataFrame(schema=schema)
    allb = pl.concat([p.with_columns(pl.col("customer_id").cast(pl.String), pl.col("points").cast(pl.Float64)) for p in parts])
    return allb.group_by("customer_id", month.alias("period_start")).agg(pl.col("points").sum()).select(
        pl.col("customer_id"), pl.col("period_start").cast(pl.Date), "points")


def _scatter(frame: pl.DataFrame, column: str, n_months: int) -> list[tuple[IntArray, FloatArray]]:
    """Per month m: (member rows, values) of `frame` (i, m, column)."""
    out: list[tuple[IntArray, FloatArray]] = [(np.zeros(0, np.int64), np.zeros(0)) for _ in range(n_months)]
    if frame.height == 0:
        return out
    f = frame.filter((pl.col("m") >= 0) & (pl.col("m") < n_months)).sort("m")
    m = f["m"].to_numpy()
    bounds = np.searchsorted(m, np.arange(n_months + 1))
    i, v = f["i"].to_numpy().astype(np.int64), f[column].to_numpy().astype(np.float64)
    for k in range(n_months):
        out[k] = (i[bounds[k]:bounds[k + 1]], v[bounds[k]:bounds[k + 1]])
    return out


def simulate(
    spend: pl.DataFrame, members: Members, *, rules: LoyaltyRules, as_of: dt.date, events: pl.DataFrame | None = None,
    first_purchase: pl.DataFrame | None = None, migration: tuple[dt.date, dt.date] | None = None,
) -> LoyaltyResult:
    """The program simulated on the members' net spend per month and category (`Engine.category_activity`
    from each member's enrollment day).

    Parameters
    ----------
    spend: customer_id, period_start (month), category, amount.
    members: `members_of(...)`.
    rules: the program's rules.
    as_of: analysis date (the last month simulated is the one containing the day before it).
    events: loyalty events (customer_id, date, points; optional type): redemptions are the rows of
        type redeem/redemption, or with negative points; without it, the redemption assumption.
    first_purchase: customer_id, first_purchase, referred_by (for referral bonuses).
    migration: two dates: the tier migration matrix between them (tier held on each day).

    Returns
    -------
    LoyaltyResult (per member, KPIs per month, tier distribution, migration).
    """
    mem = members.frame
    warnings = list(members.warnings)
    last_k = period_index(pl.lit(as_of - dt.timedelta(days=1)), "month")
    k_last = int(pl.select(last_k).item())
    if mem.height == 0:
        raise InputError("no loyalty member to simulate", hint="check loyalty_member and enrollment_date in the customers table")
    mem = mem.filter(pl.col("enrollment") < as_of)
    ids = mem.select("customer_id").with_row_index("i").with_columns(pl.col("i").cast(pl.Int64))
    k_enroll = mem.select(period_index(pl.col("enrollment"), "month")).to_series().to_numpy().astype(np.int64)
    k0 = int(k_enroll.min())
    n_months, n = k_last - k0 + 1, mem.height
    start = k_enroll - k0

    # Base points per member-month: category multipliers; returns are negative spend.
    mult = pl.col("category").replace_strict(rules.category_multipliers, default=1.0, return_dtype=pl.Float64) \
        if rules.category_multipliers else pl.lit(1.0)
    month = spend.group_by("customer_id", "period_start").agg(
        spend=pl.col("amount").sum(), base=(pl.col("amount") * mult).sum() * rules.points_per_unit)
    month = _index(month, ids, k0)
    bonus = _index(_bonuses(mem, rules, first_purchase, as_of), ids, k0)
    redeem = None
    if events is not None:
        kind = pl.col("type").str.to_lowercase().is_in(["redeem", "redemption", "burn"]) if "type" in events.columns else pl.lit(False)
        red = events.filter(kind | (pl.col("points") < 0)).group_by(
            "customer_id", pl.col("date").dt.truncate("1mo").alias("period_start")).agg(points=pl.col("points").abs().sum())
        redeem = _scatter(_index(red.with_columns(pl.col("customer_id").cast(pl.String)), ids, k0), "points", n_months)

    spend_m, base_m, bonus_m = (_scatter(month, "spend", n_months), _scatter(month, "base", n_months), _scatter(bonus, "points", n_months))
    thresholds = np.array([t.threshold for t in rules.tiers])
    tier_mult = np.array([t.multiplier for t in rules.tiers])
    paid = mem["paid"].to_numpy()
    floor_mult = np.where(paid, rules.paid_tier.multiplier if rules.paid_tier else 1.0, 0.0)
    W, V = rules.tier_window_months, rules.tier_validity_months
    X, d, r = rules.expiry_months, rules.redemption_delay_months, rules.redemption_rate

    tier = np.zeros(n, np.int64)
    review = np.full(n, np.iinfo(np.int64).max)  # month at whose end the tier is requalified
    basis_ring = np.zeros((W, n))  # the last W months of the tier basis
    lot_ring = np.zeros((max(d, 1), n))  # points earned in the last d months (redemption assumption)
    ring = (X or 0) + 1
    ce_ring = np.zeros((ring, n))  # earned-through totals of the last X + 1 months (expiry)
    earned_tot, used_tot, expired_tot, redeemed_tot, claw_tot = (np.zeros(n) for _ in range(5))
    expired_cum = np.zeros(n)
    fees_tot = np.zeros(n)
    tiers_at: dict[dt.date, IntArray] = {}
    capture = {} if migration is None else {int(pl.select(period_index(pl.lit(day), "month")).item()) - k0: day for day in migration}
    rows = []
    for m in range(n_months):  # the one loop: calendar months, every member at once
        enrolled = start <= m
        if m in capture:
            tiers_at[capture[m]] = np.where(enrolled, tier, -1)
        i, v = base_m[m]
        base = np.zeros(n)
        np.add.at(base, i, v)
        multiplier = np.maximum(tier_mult[tier], floor_mult)
        earned = base * multiplier
        i, v = bonus_m[m]
        np.add.at(earned, i, v)
        lot, claw = np.maximum(earned, 0.0), np.maximum(-earned, 0.0)
        if redeem is not None:
            redeemed = np.zeros(n)
            np.add.at(redeemed, *redeem[m])
        else:
            redeemed = r * lot if d == 0 else r * lot_ring[m % d]
            if d:
                lot_ring[m % d] = lot
        earned_tot += lot
        claw_tot += claw
        redeemed_tot += redeemed
        used_tot += redeemed + claw
        if X:
            ce_ring[m % ring] = earned_tot  # earned through month m; the lot of month m - X + 1 expires now
            oldest = ce_ring[(m - X + 1) % ring] if m >= X - 1 else np.zeros(n)
            expired_cum = np.maximum(expired_cum, oldest - used_tot)
        expired = expired_cum - expired_tot
        expired_tot = expired_cum.copy()
        fee = np.zeros(n)
        if rules.paid_tier is not None:
            fee = np.where(paid & enrolled & ((m - start) % 12 == 0), rules.paid_tier.fee, 0.0)
            fees_tot += fee
        # Tier review at the month end on the rolling basis.
        i, v = spend_m[m]
        basis = np.zeros(n)
        np.add.at(basis, i, v)
        basis_ring[m % W] = basis if rules.tier_basis == "spend" else base
        rolling = basis_ring.sum(axis=0)
        # A window of net returns (negative basis) qualifies for the first tier, not below it.
        qualified = np.maximum(np.searchsorted(thresholds, rolling, side="right") - 1, 0)
        up = enrolled & (qualified > tier)
        due = enrolled & ~up & (m >= review)
        tier = np.where(up | due, qualified, tier)
        review = np.where(up | due, m + V, review)
        review = np.where(tier == 0, np.iinfo(np.int64).max, review)  # the first tier needs no requalification
        balance = earned_tot - used_tot - expired_tot
        rows.append({"period_start": period_first_day(k0 + m, "month"), "members": int(enrolled.sum()),
                     "points_earned": float(lot.sum() - claw.sum()), "points_redeemed": float(redeemed.sum()),
                     "points_expired": float(expired.sum()), "points_outstanding": float(balance.sum()), "fees": float(fee.sum())})
    for day in migration or ():  # a day after the last simulated month: the tiers now
        if day not in tiers_at:
            after = int(pl.select(period_index(pl.lit(day), "month")).item()) - k0 >= n_months
            tiers_at[day] = np.where(after, tier, -1)

    # Points expiring within N days of the analysis date: what is left of the lots whose end comes then.
    soon = np.zeros(n)
    if X:
        horizon = as_of + dt.timedelta(days=rules.expiring_within_days)
        consumed = used_tot + expired_tot  # FIFO: the oldest lots are used first
        for m in range(max(n_months - X, 0), n_months):  # the lots not yet expired
            expires_on = period_first_day(k0 + m + X, "month")  # the first day they are gone
            if as_of < expires_on <= horizon:
                through = ce_ring[m % ring]
                before = ce_ring[(m - 1) % ring] if m >= 1 else np.zeros(n)
                soon += np.clip(through - consumed, 0.0, through - before)
    rolling = basis_ring.sum(axis=0)
    per_member = mem.select("customer_id", enrollment_date="enrollment", paid="paid").with_columns(
        tier_index=pl.Series(tier), rolling_basis=pl.Series(rolling), points_earned=pl.Series(earned_tot - claw_tot),
        points_redeemed=pl.Series(redeemed_tot), points_expired=pl.Series(expired_tot),
        balance=pl.Series(earned_tot - used_tot - expired_tot), expiring_points=pl.Series(soon), fees=pl.Series(fees_tot))
    return kpis(per_member, pl.DataFrame(rows), rules=rules, as_of=as_of, tiers_at=tiers_at, migration=migration, warnings=warnings)


def simulate_loyalty(
    tx: Transactions, customers: pl.DataFrame | None, *, engine: Engine, rules: LoyaltyRules, events: pl.DataFrame | None = None,
    migration: tuple[dt.date, dt.date] | None = None,
) -> LoyaltyResult:
    """`loyalty`: the members (customers table), their net spend per month and category from their
    enrollment day (`Engine.category_activity`, one pass), the first purchases when members lack
    an enrollment date or a referral bonus needs them (`Engine.customer_summary`), then `simulate`."""
    need_first = customers is None or "loyalty_member" not in customers.columns or bool(rules.bonus_points("referral")) or (
        "enrollment_date" not in customers.columns or customers.filter(
            pl.col("loyalty_member").fill_null(False), pl.col("enrollment_date").is_null()).height > 0)
    first = None
    if need_first:
        summary = engine.customer_summary(tx).filter(pl.col("first_purchase").is_not_null())
        first = summary.select(pl.col("customer_id").cast(pl.String), "first_purchase")
        if customers is not None and "referred_by" in customers.columns:
            first = first.join(customers.select(pl.col("customer_id").cast(pl.String), "referred_by"), on="customer_id", how="left")
    members = members_of(customers, first, rules)
    since = members.frame.select("customer_id", since="enrollment")
    spend = engine.category_activity(tx, period="month", since=since).with_columns(pl.col("customer_id").cast(pl.String))
    if rules.category_multipliers and spend["category"].null_count() == spend.height and spend.height:
        members.warnings.append("the transactions have no category column: category multipliers are not applied")
    return simulate(spend, members, rules=rules, as_of=tx.as_of, events=events, first_purchase=first, migration=migration)
