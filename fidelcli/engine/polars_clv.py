"""The Polars reductions behind the BTYD summaries (`PolarsEngine.rf_summary`).

Per customer of the calibration cohort: the first and last purchase, the purchase occasions, the
net money of the calibration (returns netted as `customer_summary` nets them) and of the first
occasion, and the holdout after the calibration; for BG/BB, the transaction opportunities (complete
calendar periods) with a purchase. The arithmetic that turns them into x, t_x, T and the monetary
value is in `fidelcli.analyses.clv.summary`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl

from fidelcli.engine.periods import TimeUnit, cents, discrete_calendar, period_index

OccasionsOf = Callable[[pl.Series], pl.LazyFrame]


def groups(occasions: pl.LazyFrame) -> tuple[pl.LazyFrame, list[str]]:
    """Occasion groups in the form the reductions use: customer_id, purchase (a purchase occasion,
    not a group made only of returns), when (its day), occasion, value_cents; and the sort keys of
    the purchase occasions (day, then occasion id when it is not the day itself)."""
    schema = occasions.collect_schema()
    value = pl.col("value") if "value" in schema else pl.lit(0.0)
    when = pl.coalesce("date", "line_date") if "line_date" in schema else pl.col("date")
    # Without order ids the occasion is the date itself (ids are text, never dates).
    by_id = schema.get("occasion") not in (None, pl.Date)
    lf = occasions.select("customer_id", purchase=pl.col("date").is_not_null(), when=when,
                          **({"occasion": pl.col("occasion")} if by_id else {}), value_cents=cents(value.fill_null(0.0)))
    return lf, (["when", "occasion"] if by_id else ["when"])


def calibration_plan(groups: pl.LazyFrame, order: list[str], cal: pl.Expr | None, holdout: bool = False) -> pl.LazyFrame:
    """Per customer with a purchase occasion in the calibration (`cal` selects its groups; None:
    every group), from `groups` rows, in one pass of plain aggregations: first_purchase,
    last_purchase, n (calibration purchase occasions), purchase_cents (their net value: the returns
    made in the same order, or on the same day with day occasions, are part of them), own_cents
    (the first occasion's: earliest day, ties broken by occasion id), total_cents (every group of
    the calibration, purchases and returns: the net spend), first_return and last_return (days of
    the calibration returns that are in no purchase occasion) and, with `holdout` (the groups after
    the calibration), holdout_frequency (purchase occasions) and holdout_cents (net value, returns
    included). `net_money` completes it.
    """
    p, when, v = pl.col("purchase"), pl.col("when"), pl.col("value_cents")
    zero = pl.lit(0, pl.Int64)
    in_cal = pl.lit(True) if cal is None else cal
    # Conditional columns first, so that every aggregation is a plain count, sum, min or max (fast).
    cols = {"_pw": pl.when(p & in_cal).then(when), "_pv": pl.when(p & in_cal).then(v).otherwise(zero),
            "_rw": pl.when(~p & in_cal).then(when)}
    aggs = {
        "first_purchase": pl.col("_pw").min(), "last_purchase": pl.col("_pw").max(),
        "n": pl.col("_pw").count().cast(pl.Int64), "purchase_cents": pl.col("_pv").sum(),
        "own_cents": v.sort_by([pl.col("_pw"), *order[1:]], nulls_last=True).first(),
        "first_return": pl.col("_rw").min(), "last_return": pl.col("_rw").max(),
    }
    if cal is None:
        aggs["total_cents"] = v.sum()
    else:
        cols["_cv"] = pl.when(cal).then(v).otherwise(zero)
        aggs["total_cents"] = pl.col("_cv").sum()
    if holdout:
        cols["_hw"] = pl.when(p & ~in_cal).then(when)
        aggs |= {"holdout_frequency": pl.col("_hw").count().cast(pl.Float64), "_all": v.sum()}
    out = groups.with_columns(**cols).group_by("customer_id").agg(**aggs).filter(pl.col("n") > 0)
    if holdout:
        out = out.with_columns(holdout_cents=pl.col("_all") - pl.col("total_cents")).drop("_all")
    return out


def net_money(customers: pl.DataFrame, occasions_of: OccasionsOf, cal: pl.Expr) -> pl.DataFrame:
    """Net money of the calibration, returns netted as `rfm` nets them, from `calibration_plan`:

    - total_cents: every group dated in the calibration, purchases and returns (negative under
      `--returns net`): the customer's net spend, as `rfm` computes it;
    - first_cents: net value of the first purchase occasion: its own lines (a return in the same
      order, or on the same day with day occasions) plus the calibration returns that are in no
      purchase occasion and are dated before the second purchase occasion (before any purchase, or
      after the first one; with one occasion, all of them). Such a return is netted against the
      latest occasion on or before it (the first one when it precedes them all): only these reduce
      the first occasion, the others the repeat ones.

    monetary_value = (total_cents - first_cents) / (n - 1) is then the net spend per repeat
    occasion. The allocation is decided from the customer's row unless a return falls after her
    first purchase and she has several occasions; for those few customers the day of the second
    occasion is read from `occasions_of(their ids)` (their occasion groups, the rows of `groups`).
    """
    decided = (pl.col("n") == 1) | pl.col("first_return").is_null() | (pl.col("last_return") < pl.col("first_purchase"))
    returns = pl.col("total_cents") - pl.col("purchase_cents")  # of the returns in no purchase occasion
    out = customers.with_columns(to_first=pl.when(decided).then(returns))
    undecided = out.filter(pl.col("to_first").is_null())["customer_id"]
    if undecided.len():
        p, when, v = pl.col("purchase"), pl.col("when"), pl.col("value_cents")
        sub, _ = groups(occasions_of(undecided))
        second = sub.filter(p & cal).group_by("customer_id").agg(second=when.sort().slice(1, 1).first())
        exact = (sub.filter(~p & cal).join(second, on="customer_id", how="left").group_by("customer_id")
                 .agg(exact=v.filter(pl.col("second").is_null() | (when < pl.col("second"))).sum())
                 .collect(engine="streaming"))
        out = (out.join(exact, on="customer_id", how="left", maintain_order="left")
               .with_columns(to_first=pl.coalesce("to_first", "exact", pl.lit(0, pl.Int64))).drop("exact"))
    return out.with_columns(first_cents=pl.col("own_cents") + pl.col("to_first")).drop(
        "purchase_cents", "own_cents", "first_return", "last_return", "to_first")


def calibration(calibration_end: dt.date | None) -> pl.Expr:
    """The occasion groups of the calibration: dated on or before its end (every group without one)."""
    return pl.col("when") <= pl.lit(calibration_end) if calibration_end is not None else pl.lit(True)


def summary_queries(occasions: pl.LazyFrame, calibration_end: dt.date | None) -> list[pl.LazyFrame]:
    """The reductions behind a continuous summary, collected together so that they share one pass:
    the per-customer `calibration_plan` (with the holdout after a calibration end) and, with a
    calibration end, the cohort's purchase occasions per day."""
    lf, order = groups(occasions)
    if calibration_end is None:
        customers = calibration_plan(lf, order, None)
    else:
        customers = calibration_plan(lf, order, calibration(calibration_end), holdout=True)
    queries = [customers.sort("customer_id")]
    if calibration_end is not None:
        queries.append(occasions.filter(pl.col("date").is_not_null())
                       .join(customers.select("customer_id"), on="customer_id", how="semi")
                       .group_by("date").agg(occasions=pl.len().cast(pl.Int64)).sort("date"))
    return queries


def discrete_reduction(occasions: pl.DataFrame, *, as_of: dt.date, calibration_end: dt.date | None, period: TimeUnit) -> pl.DataFrame:
    """Per customer first seen in a complete calibration period, from occasion groups dated before
    `as_of`: first_purchase, last_purchase (of the calibration), frequency (complete periods after
    the first one with a purchase), recency (the last of them, 0 without), periods (opportunities),
    n, total_cents and first_cents (`net_money` of the calibration periods) and, with a holdout,
    holdout_frequency (holdout periods with a purchase) and holdout_cents. Sorted by customer_id."""
    cal_last, effective_end, holdout_n = discrete_calendar(calibration_end, as_of, period)
    lf = occasions.lazy()
    lf = lf.filter((pl.coalesce("date", "line_date") if "line_date" in lf.collect_schema() else pl.col("date")) < pl.lit(as_of))
    grouped, order = groups(lf)
    p, k = pl.col("purchase"), pl.col("k")
    occ = grouped.with_columns(k=period_index(pl.col("when"), period))
    occ = occ.with_columns(k0=pl.when(p).then(k).min().over("customer_id")).filter(pl.col("k0") <= cal_last)
    idx = k - pl.col("k0")
    in_cal = p & (k > pl.col("k0")) & (k <= cal_last)
    agg = {
        "first_purchase": pl.col("when").filter(p).min(),
        "last_purchase": pl.col("when").filter(p & (k <= cal_last)).max(),
        "k0": pl.col("k0").first(),
        "frequency": k.filter(in_cal).n_unique().cast(pl.Float64),
        "recency": idx.filter(in_cal).max().fill_null(0).cast(pl.Float64),
    }
    if holdout_n is not None:
        in_hold = (k > cal_last) & (k <= cal_last + holdout_n)
        agg["holdout_frequency"] = k.filter(p & in_hold).n_unique().cast(pl.Float64)
        agg["holdout_cents"] = pl.col("value_cents").filter(in_hold).sum()
    # Occasions in the calibration periods (first included) and their net money.
    cal = pl.col("when") <= pl.lit(effective_end)
    money = net_money(calibration_plan(grouped, order, cal).collect(), lambda ids: lf.filter(pl.col("customer_id").is_in(ids.implode())), cal)
    cols = ["customer_id", "frequency", "recency", "periods", "first_purchase", "last_purchase", "n", "total_cents", "first_cents",
            *(["holdout_frequency", "holdout_cents"] if holdout_n is not None else [])]
    return (occ.group_by("customer_id").agg(**agg).join(money.lazy().select("customer_id", "n", "total_cents", "first_cents"), on="customer_id")
            .with_columns(periods=(pl.lit(cal_last) - pl.col("k0")).cast(pl.Float64)).select(cols).sort("customer_id").collect())
