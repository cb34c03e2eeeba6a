"""Does the loyalty program pay? Members against comparable non-members, before and after enrollment.

Two answers, side by side:
- the naive comparison (members vs non-members: spend, orders, retention per customer), which mixes
  the program's effect with who chooses to join (heavy or big-basket buyers join more often);
- the difference in differences: each member's spend in the `window` months before the enrollment
  month against the `window` months after it, compared with non-members over the same calendar
  months (same first-purchase month, same coarsened pre-enrollment orders; non-members are given the
  member's enrollment month as a pseudo-enrollment date), with a balance table and a seeded customer
  bootstrap interval (`fidelcli.analyses.roi.matching`).

The relative uplift is then applied to every member's spend after their enrollment month:
incremental revenue = post-enrollment revenue x u / (1 + u), incremental margin = that x the margin
rate, ROI % = (incremental margin - program cost) / program cost x 100, and the payback period is the
first month where the cumulative incremental margin covers the cumulative cost. docs/roi.md has every
formula and assumption.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from fidelcli.analyses.roi import matching
from fidelcli.engine.periods import complete_through, period_first_day, period_index
from fidelcli.errors import InputError
from fidelcli.result import Figure, JsonResult

if TYPE_CHECKING:
    from fidelcli.analyses.loyalty.kpis import LoyaltyResult
    from fidelcli.analyses.loyalty.rules import LoyaltyRules
    from fidelcli.clean import Transactions
    from fidelcli.engine import Engine

ORDERS_CAP = 3  # pre-enrollment orders are coarsened to 0, 1, 2, 3+ for the matching


@dataclass(frozen=True)
class ProgramCosts:
    """The program's cost over the evaluated months (all in the currency of the transactions).

    fixed: one-off cost (platform, launch), counted in the first month of the program.
    per_member_year: running cost per member and year of membership (cards, CRM, service).
    rewards: cost of the rewards redeemed; None: from the loyalty simulation when rules are given.
    fees: paid-membership fees collected (a negative cost); None: from the loyalty simulation.
    referral_reward: paid per customer referred by a member (`referred_by`) after the member enrolled.
    """

    fixed: float = 0.0
    per_member_year: float = 0.0
    rewards: float | None = None
    fees: float | None = None
    referral_reward: float = 0.0


@dataclass
class ProgramResult(JsonResult):
    """`roi program`: the estimate, its balance table, the naive comparison and the ROI."""

    summary: pl.DataFrame  # one row per figure: measure, estimate, low, high
    balance: pl.DataFrame
    naive: pl.DataFrame
    monthly: pl.DataFrame  # period_start, incremental_revenue, incremental_margin, cost, cumulative_*
    as_of: dt.date
    confidence: float
    figures: dict[str, Figure] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pl.DataFrame]:
        return {"summary": self.summary, "balance": self.balance, "naive": self.naive, "monthly": self.monthly}

    def headline(self) -> dict[str, Figure]:
        return {"as_of": self.as_of.isoformat(), "confidence": self.confidence, **self.figures}


# ------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------
def membership(customers: pl.DataFrame) -> pl.DataFrame:
    """customer_id, member (bool), enrollment_date of the customers table; a member without an
    enrollment date keeps a null date. Raises InputError without a loyalty_member column."""
    if "loyalty_member" not in customers.columns:
        raise InputError("the customers table has no loyalty_member column", hint="map it with --map loyalty_member=COLUMN")
    date = pl.col("enrollment_date") if "enrollment_date" in customers.columns else pl.lit(None, pl.Date)
    return customers.select("customer_id", member=pl.col("loyalty_member"), enrollment_date=date.cast(pl.Date)).filter(
        pl.col("member").is_not_null()).unique("customer_id", keep="first").sort("customer_id")


def monthly_activity(activity: pl.DataFrame) -> pl.DataFrame:
    """customer_id, k (month number), revenue, orders, cents (revenue in integer cents, for exact sums
    that never depend on the order of a parallel sum) and profit_cents (the lines' margin; null
    when the activity has none)."""
    cents = pl.col("revenue_cents") if "revenue_cents" in activity.columns else (pl.col("revenue") * 100).round(0).cast(pl.Int64)
    profit = pl.col("profit_cents") if "profit_cents" in activity.columns else pl.lit(None, pl.Int64)
    return activity.filter(pl.col("customer_id").is_not_null()).select(
        "customer_id", k=period_index(pl.col("period_start"), "month"), revenue=pl.col("revenue").fill_null(0.0),
        orders=pl.col("orders").cast(pl.Float64), cents=cents.fill_null(0), profit_cents=profit)


def _cumulative_at(cum: pl.DataFrame, points: pl.DataFrame, name: str) -> pl.DataFrame:
    """points (customer_id, row, m) with the customer's cumulative revenue and orders through month m
    as <name>_revenue, <name>_orders (0 before the first activity)."""
    joined = points.sort("m").join_asof(cum.sort("k"), left_on="m", right_on="k", by="customer_id", strategy="backward",
                                              check_sortedness=False)  # sorted by m and k: sorted within each customer
    return joined.select("row", pl.col("cum_revenue").fill_null(0.0).alias(f"{name}_revenue"),
                         pl.col("cum_orders").fill_null(0.0).alias(f"{name}_orders"))


def window_totals(act: pl.DataFrame, pairs: pl.DataFrame, window: int) -> pl.DataFrame:
    """`pairs` (customer_id, E: enrollment or pseudo-enrollment month, ...) with pre_revenue,
    pre_orders (months E-window .. E-1) and post_revenue, post_orders (months E+1 .. E+window): the
    enrollment month itself, half before and half after, is left out."""
    cum = act.sort("customer_id", "k").select(
        "customer_id", "k", cum_revenue=pl.col("revenue").cum_sum().over("customer_id"),
        cum_orders=pl.col("orders").cum_sum().over("customer_id"))
    rows = pairs.with_row_index("row")
    marks = {"a": -window - 1, "b": -1, "c": 0, "d": window}
    parts = [_cumulative_at(cum, rows.select("customer_id", "row", m=pl.col("E") + off), name) for name, off in marks.items()]
    out = rows
    for part in parts:
        out = out.join(part, on="row", how="left")
    return out.sort("row").select(
        *pairs.columns,
        pre_revenue=pl.col("b_revenue") - pl.col("a_revenue"), pre_orders=pl.col("b_orders") - pl.col("a_orders"),
        post_revenue=pl.col("d_revenue") - pl.col("c_revenue"), post_orders=pl.col("d_orders") - pl.col("c_orders"),
    )


@dataclass
class Design:
    """The matched design: members and candidate controls with their window totals and strata."""

    members: pl.DataFrame
    controls: pl.DataFrame
    excluded: dict[str, int]


def design(act: pl.DataFrame, members: pl.DataFrame, *, last_month: int, window: int) -> Design:
    """Eligible members (first purchase before the pre-window, post-window complete by `last_month`)
    and, for each, the non-members of the same first-purchase month pseudo-enrolled in the same month;
    strata = (first-purchase month, enrollment month, pre-window orders capped at ORDERS_CAP)."""
    first = act.filter(pl.col("orders") > 0).group_by("customer_id").agg(A=pl.col("k").min())
    people = members.join(first, on="customer_id", how="inner").with_columns(E=period_index(pl.col("enrollment_date"), "month"))
    mem = people.filter(pl.col("member"))
    no_date = mem.filter(pl.col("E").is_null()).height
    mem = mem.filter(pl.col("E").is_not_null())
    early = mem.filter(pl.col("E") - window <= pl.col("A")).height
    late = mem.filter(pl.col("E") - window > pl.col("A"), pl.col("E") + window > last_month).height
    # Sorted: the bootstrap draws rows by position, so their order must not depend on the joins.
    mem = mem.filter(pl.col("E") - window > pl.col("A"), pl.col("E") + window <= last_month).select("customer_id", "A", "E").sort("customer_id")
    pairs = mem.select("A", "E").unique()
    ctrl = people.filter(~pl.col("member")).select("customer_id", "A").join(pairs, on="A", how="inner")
    mem_w = window_totals(act, mem, window)
    ctrl_w = window_totals(act, ctrl.sort("customer_id", "E"), window)
    key = pl.struct("A", "E", pl.col("pre_orders").clip(upper_bound=ORDERS_CAP))
    keys = pl.concat([mem_w.select(key.alias("key")), ctrl_w.select(key.alias("key"))]).unique().sort("key").with_row_index("stratum")
    mem_w = mem_w.with_columns(key.alias("key")).join(keys, on="key", how="left").drop("key")
    ctrl_w = ctrl_w.with_columns(key.alias("key")).join(keys, on="key", how="left").drop("key")
    tenure = (pl.col("E") - pl.col("A")).cast(pl.Float64).alias("tenure_months")
    return Design(
        members=mem_w.with_columns(tenure, pl.col("stratum").cast(pl.Int64)),
        controls=ctrl_w.with_columns(tenure, pl.col("stratum").cast(pl.Int64)),
        excluded={"no_enrollment_date": no_date, "no_pre_window": early, "post_window_incomplete": late},
    )


# ------------------------------------------------------------------------------------------
# Naive comparison
# ------------------------------------------------------------------------------------------
def naive_comparison(act: pl.DataFrame, members: pl.DataFrame, *, last_month: int) -> pl.DataFrame:
    """Members vs non-members per customer over the whole history: revenue, orders, and retention
    (share with a purchase in the last 12 complete months), with the members' relative difference.
    Labelled naive: members chose to join, so the gap mixes the program's effect with selection."""
    per = act.group_by("customer_id").agg(
        cents=pl.col("cents").sum(), orders=pl.col("orders").cast(pl.Int64).sum(),
        retained=((pl.col("k") > last_month - 12) & (pl.col("k") <= last_month) & (pl.col("orders") > 0)).any())
    joined = per.join(members.select("customer_id", "member"), on="customer_id", how="inner")
    # Integer sums divided once: exact, whatever the order of the parallel sums.
    grouped = joined.group_by("member").agg(
        customers=pl.len(), cents=pl.col("cents").sum(), orders=pl.col("orders").sum(), retained=pl.col("retained").sum()
    ).select("member", "customers", revenue_per_customer=pl.col("cents") / 100 / pl.col("customers"),
             orders_per_customer=pl.col("orders") / pl.col("customers"), retention_rate=pl.col("retained") / pl.col("customers"))
    rows = []
    measures = ("revenue_per_customer", "orders_per_customer", "retention_rate")
    values = {bool(r["member"]): r for r in grouped.to_dicts()}
    for measure in measures:
        m = values.get(True, {}).get(measure)
        n = values.get(False, {}).get(measure)
        rel = m / n - 1 if m is not None and n else None
        rows.append({"measure": measure, "members": m, "non_members": n, "relative_difference": rel,
                     "label": "naive: members chose to join"})
    counts = {"measure": "customers", "members": values.get(True, {}).get("customers"),
              "non_members": values.get(False, {}).get("customers"), "relative_difference": None, "label": "naive: members chose to join"}
    schema = {"measure": pl.String, "members": pl.Float64, "non_members": pl.Float64, "relative_difference": pl.Float64, "label": pl.String}
    return pl.DataFrame([counts, *rows], schema=schema)


# ------------------------------------------------------------------------------------------
# The evaluation
# ------------------------------------------------------------------------------------------
def program_effect(
    activity: pl.DataFrame, customers: pl.DataFrame, *, as_of: dt.date, window: int = 3, margin: float | None = None,
    costs: ProgramCosts | None = None, rewards: LoyaltyResult | None = None, n_boot: int = 200, confidence: float = 0.95,
    seed: int = 0,
) -> ProgramResult:
    """The program evaluation from the per-customer monthly activity (`Engine.activity`, period
    month) and the customers' loyalty_member and enrollment_date.

    Parameters
    ----------
    activity: customer_id, period_start (month), orders, revenue (+ profit_cents).
    customers: customer_id, loyalty_member (+ enrollment_date, referred_by).
    as_of: analysis date; the windows use the months complete by the day before it.
    window: months before and after the enrollment month compared (the enrollment month is left out).
    margin: margin rate of revenue when the activity has no profit (None: margin unknown, ROI null).
    costs: program costs; rewards: the loyalty simulation (cost of rewards and fees when `costs` leaves
    them None).
    n_boot, confidence, seed: the customer bootstrap of the uplift.

    Returns
    -------
    ProgramResult: summary (measure, estimate, low, high), balance, naive, monthly.

    Raises
    ------
    InputError: no loyalty_member column, or no member with enough history to compare.
    """
    costs = costs or ProgramCosts()
    if window < 1:
        raise InputError(f"--window must be at least 1 month, got {window}", hint="use --window 3")
    members = membership(customers)
    act = monthly_activity(activity)
    last_month = complete_through(as_of - dt.timedelta(days=1), "month")
    warnings: list[str] = []
    d = design(act, members, last_month=last_month, window=window)
    if d.members.height == 0:
        raise InputError(
            f"no loyalty member has {window} months of purchases before the month of enrollment and {window} complete months after it",
            hint="use a shorter --window, or check loyalty_member and enrollment_date in the customers table")
    p = matching.panel(d.members, d.controls)
    est = matching.did(p)
    boot = matching.bootstrap(p, n_boot=n_boot, seed=seed)
    alpha = 1 - confidence
    low, high = (float(np.quantile(boot, alpha / 2)), float(np.quantile(boot, 1 - alpha / 2))) if boot.size >= 20 else (None, None)
    if est.unmatched:
        warnings.append(f"{est.unmatched} eligible members have no non-member of the same first-purchase month, enrollment month "
                        "and pre-enrollment orders: left out of the estimate")
    for reason, count in d.excluded.items():
        if count:
            warnings.append(f"{count} members left out of the difference in differences: {reason.replace('_', ' ')}")
    balance = matching.balance(d.members, d.controls, p, {
        "pre_orders": f"orders in the {window} months before", "pre_revenue": f"revenue in the {window} months before",
        "tenure_months": "months from first purchase to enrollment"})
    naive = naive_comparison(act, members, last_month=last_month)

    # Apply the uplift to every member's spend after their enrollment month.
    enrolled = members.filter(pl.col("member"), pl.col("enrollment_date").is_not_null()).select(
        "customer_id", E=period_index(pl.col("enrollment_date"), "month"))
    post = act.join(enrolled, on="customer_id", how="inner").filter(pl.col("k") > pl.col("E"))
    by_month = post.group_by("k").agg(cents=pl.col("cents").sum(), profit_cents=pl.col("profit_cents").sum(),
                                      has_profit=pl.col("profit_cents").is_not_null().all()).sort("k").with_columns(
        revenue=pl.col("cents") / 100)
    post_cents = int(by_month["cents"].sum())
    post_revenue = post_cents / 100
    # The members' own margin rate after enrollment (lines' margin or cost), else the given rate.
    known_margin = by_month.height > 0 and bool(by_month["has_profit"].all())
    margin_rate = int(by_month["profit_cents"].sum()) / post_cents if known_margin and post_cents else margin
    if margin_rate is None:
        warnings.append("no margin: the transactions have no margin or cost column and no --margin was given; ROI is unknown")

    monthly, cost_total = _monthly(by_month, enrolled, customers, act, costs, rewards, est.uplift, margin_rate)
    def share(u: float | None) -> float | None:
        return None if u is None else u / (1 + u)

    def inc_rev(u: float | None) -> float | None:
        s = share(u)
        return None if s is None else post_revenue * s

    def inc_margin(u: float | None) -> float | None:
        r = inc_rev(u)
        return None if r is None or margin_rate is None else r * margin_rate

    def roi(u: float | None) -> float | None:
        g = inc_margin(u)
        return None if g is None or cost_total <= 0 else (g - cost_total) / cost_total * 100

    if cost_total <= 0:
        warnings.append("program cost is zero or negative (fees cover it): ROI % is undefined; give --fixed-cost, --cost-per-member...")
    rows = [
        ("uplift (difference in differences)", est.uplift, low, high),
        ("incremental_revenue", inc_rev(est.uplift), inc_rev(low), inc_rev(high)),
        ("incremental_margin", inc_margin(est.uplift), inc_margin(low), inc_margin(high)),
        ("program_cost", cost_total, None, None),
        ("roi_percent", roi(est.uplift), roi(low), roi(high)),
    ]
    summary = pl.DataFrame([{"measure": m, "estimate": e, "low": lo, "high": hi} for m, e, lo, hi in rows],
                           schema={"measure": pl.String, "estimate": pl.Float64, "low": pl.Float64, "high": pl.Float64})
    payback = _payback(monthly)
    if payback is None and est.uplift is not None and margin_rate is not None:
        warnings.append("the cumulative incremental margin never covers the cumulative cost: no payback within the data")
    naive_rev = naive.filter(pl.col("measure") == "revenue_per_customer")["relative_difference"].item()
    figures: dict[str, Figure] = {
        "uplift": est.uplift, "uplift_low": low, "uplift_high": high, "naive_revenue_difference": naive_rev,
        "matched_members": est.members, "matched_non_members": est.controls, "window_months": window,
        "post_enrollment_revenue": post_revenue, "margin_rate": margin_rate, "program_cost": cost_total,
        "incremental_revenue": inc_rev(est.uplift), "incremental_margin": inc_margin(est.uplift), "roi_percent": roi(est.uplift),
        "payback_months": payback, "bootstrap_samples": int(boot.size), "seed": seed,
    }
    return ProgramResult(summary=summary, balance=balance, naive=naive, monthly=monthly, as_of=as_of, confidence=confidence,
                         figures=figures, warnings=warnings)


def _monthly(by_month: pl.DataFrame, enrolled: pl.DataFrame, customers: pl.DataFrame, act: pl.DataFrame, costs: ProgramCosts,
             rewards: LoyaltyResult | None, uplift: float | None, margin_rate: float | None) -> tuple[pl.DataFrame, float]:
    """Per calendar month from the first enrollment: incremental revenue and margin, the program's
    cost (fixed in the first month, per member-month, rewards, referral rewards, minus fees), and
    their cumulative sums; with the total cost."""
    if enrolled.height == 0:
        return pl.DataFrame(schema={"period_start": pl.Date}), 0.0
    first_k, last_k = int(enrolled["E"].cast(pl.Int64).to_numpy().min()), int(act["k"].cast(pl.Int64).to_numpy().max())
    months = pl.DataFrame({"k": list(range(first_k, max(first_k, last_k) + 1))}, schema={"k": pl.Int64})
    members_by = enrolled.group_by("E").len().sort("E").select(k="E", new=pl.col("len").cast(pl.Float64))
    months = months.join(members_by, on="k", how="left").with_columns(members=pl.col("new").fill_null(0.0).cum_sum())
    share = uplift / (1 + uplift) if uplift is not None else None
    months = months.join(by_month.select("k", "revenue"), on="k", how="left").with_columns(
        incremental_revenue=pl.col("revenue").fill_null(0.0) * share if share is not None else pl.lit(None, pl.Float64))
    months = months.with_columns(incremental_margin=pl.col("incremental_revenue") * margin_rate if margin_rate is not None
                                 else pl.lit(None, pl.Float64))
    rewards_k = fees_k = pl.lit(0.0)
    if rewards is not None:
        sim = rewards.monthly.select(k=period_index(pl.col("period_start"), "month"), reward_cost="reward_cost", fees="fees")
        months = months.join(sim, on="k", how="left")
        rewards_k, fees_k = pl.col("reward_cost").fill_null(0.0), pl.col("fees").fill_null(0.0)
    if costs.rewards is not None:
        rewards_k = pl.lit(costs.rewards / months.height)
    if costs.fees is not None:
        fees_k = pl.lit(costs.fees / months.height)
    referral_k = pl.lit(0.0)
    if costs.referral_reward and "referred_by" in customers.columns:
        first = act.filter(pl.col("orders") > 0).group_by("customer_id").agg(F=pl.col("k").min())
        referred = (customers.select("customer_id", "referred_by").filter(pl.col("referred_by").is_not_null())
                    .join(enrolled.rename({"customer_id": "referred_by"}), on="referred_by", how="inner")
                    .join(first, on="customer_id", how="inner").filter(pl.col("F") >= pl.col("E"))
                    .group_by("F").len().select(k="F", referrals=pl.col("len").cast(pl.Float64)))
        months = months.join(referred, on="k", how="left")
        referral_k = pl.col("referrals").fill_null(0.0) * costs.referral_reward
    fixed_k = pl.when(pl.col("k") == first_k).then(pl.lit(costs.fixed)).otherwise(0.0)
    months = months.with_columns(
        cost=fixed_k + pl.col("members") * costs.per_member_year / 12 + rewards_k + referral_k - fees_k).with_columns(
        cumulative_margin=pl.col("incremental_margin").cum_sum(), cumulative_cost=pl.col("cost").cum_sum())
    out = months.sort("k").select(
        period_start=pl.col("k").map_elements(lambda k: period_first_day(int(k), "month"), return_dtype=pl.Date),
        members=pl.col("members").cast(pl.Int64), incremental_revenue="incremental_revenue", incremental_margin="incremental_margin",
        cost="cost", cumulative_margin="cumulative_margin", cumulative_cost="cumulative_cost")
    return out, float(out["cost"].sum())


def _payback(monthly: pl.DataFrame) -> int | None:
    """Months from the program's first month to the first month whose cumulative incremental margin
    covers the cumulative cost (1 = the first month); None when it never does in the data."""
    if monthly.height == 0 or monthly["cumulative_margin"].null_count():
        return None
    covered = (monthly["cumulative_margin"] >= monthly["cumulative_cost"]) & (monthly["cumulative_cost"] > 0)
    hits = np.flatnonzero(covered.to_numpy())
    return int(hits[0]) + 1 if hits.size else None


def program_roi(
    tx: Transactions, customers: pl.DataFrame, *, engine: Engine, window: int = 3, margin: float | None = None,
    costs: ProgramCosts | None = None, loyalty: LoyaltyRules | None = None, n_boot: int = 200, confidence: float = 0.95, seed: int = 0,
) -> ProgramResult:
    """`roi program`: the monthly activity from the engine (one pass), the loyalty simulation when
    `loyalty` rules are given and `costs` leaves rewards or fees to it, then `program_effect`."""
    costs = costs or ProgramCosts()
    activity = engine.activity(tx, period="month")
    rewards = None
    if loyalty is not None and (costs.rewards is None or costs.fees is None):
        from fidelcli.analyses.loyalty.simulation import simulate_loyalty

        rewards = simulate_loyalty(tx, customers, engine=engine, rules=loyalty)
    result = program_effect(activity, customers, as_of=tx.as_of, window=window, margin=margin, costs=costs, rewards=rewards,
                            n_boot=n_boot, confidence=confidence, seed=seed)
    if rewards is not None:
        result.warnings.extend(f"loyalty simulation: {w}" for w in rewards.warnings)
    return result
