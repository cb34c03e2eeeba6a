"""Loyalty KPIs per period (and per group): customers, orders, revenue, retention, and, when their
inputs exist, profit, satisfaction (NPS, CSAT, CES), acquisition cost, campaign and referral figures.

Definitions, formulas, customer bases and edge cases are in docs/metrics.md. In short, for a period P:
a customer is *active* in P when they made at least one purchase occasion in P (a period with only
returns does not make a customer active, but the returns count in P's revenue); *new* when their first
purchase ever falls in P; *returning* when active and not new. Retention of P is the share of the
customers active in P-1 who are active in P; the first period has none. A period is *partial* when
the data does not cover all of it (it starts before the first day covered, or ends after `as_of`).
`revenue` is the only figure that counts the lines without a customer id; without amounts every
money figure is null (unknown), never 0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import polars as pl

from fidelcli.analyses.kpi_inputs import (
    anonymous_revenue,
    campaign_kpis,
    customer_kpis,
    profit_kpis,
    ratio,
    spend_kpis,
    split_anonymous,
    survey_kpis,
)
from fidelcli.engine.periods import PERIOD_DAYS, TRUNCATE, Period, cents, period_start
from fidelcli.errors import InputError
from fidelcli.result import Figure, JsonResult

if TYPE_CHECKING:
    from fidelcli.clean import Transactions
    from fidelcli.config import Rfm
    from fidelcli.engine import Engine

GROUP = "group"
BASE_COLUMNS = [
    "period_start", "partial", "active_customers", "new_customers", "returning_customers", "orders", "revenue",
    "customer_revenue", "aov", "purchase_frequency", "repeat_purchase_rate", "retention_rate", "churn_rate",
    "customer_retention_rate", "returning_revenue_share",
]
# Figures made of money: null (unknown) when the transactions have no amounts.
MONEY_COLUMNS = (
    "revenue", "customer_revenue", "aov", "returning_revenue_share", "referred_revenue_per_customer",
    "other_revenue_per_customer", "member_revenue_per_customer", "non_member_revenue_per_customer",
)


@dataclass
class KpiResult(JsonResult):
    """The result of `kpi()`.

    periods: one row per period (and group), oldest first; columns `BASE_COLUMNS` plus the optional
        KPIs whose inputs were given (see `kpi`). With groups, the group column follows period_start.
    yearly: one row per calendar year: year, partial, customers_start (S: active the year before),
        customers_end (E: active in the year), new_customers (N), retained_customers (active in both
        years), retention_rate (retained / S), revenue, revenue_per_customer, profit_per_customer
        (with a margin), expected_lifetime_years, clv, marketing_spend, cac, clv_to_cac (with spend).
        None for weekly KPIs (weeks straddle years) and with groups.
    comparison: the last complete period against the one before (complete too): [group,] kpi,
        previous, current, delta (current - previous). Empty when fewer than two complete periods exist.
    current, previous: start dates of the compared periods (None when there are not two).
    warnings: messages for the analyst.
    anonymous_revenue_share: share of the revenue on lines without a customer id (None when there
        are none, or without amounts).
    has_money: False when the transactions had no amounts (every money figure is null).
    """

    periods: pl.DataFrame
    comparison: pl.DataFrame
    period: Period
    as_of: dt.date
    yearly: pl.DataFrame | None = None
    current: dt.date | None = None
    previous: dt.date | None = None
    group: str | None = None
    warnings: list[str] = field(default_factory=list)
    anonymous_revenue_share: float | None = None
    has_money: bool = True

    def tables(self) -> dict[str, pl.DataFrame]:
        """periods, comparison, and yearly when there is one."""
        out = {"periods": self.periods, "comparison": self.comparison}
        return out if self.yearly is None else {**out, "yearly": self.yearly}

    def headline(self) -> dict[str, Figure]:
        """The compared periods, then (without groups) each KPI of the last complete period: `<kpi>`
        (its value), `<kpi>.previous`, `<kpi>.delta` (current - previous) and `<kpi>.delta_pct`
        (delta / |previous| x 100; None when previous is 0 or unknown)."""
        out: dict[str, Figure] = {"period": self.period, "as_of": self.as_of.isoformat(),
                                  "current": self.current.isoformat() if self.current else None,
                                  "previous": self.previous.isoformat() if self.previous else None,
                                  "anonymous_revenue_share": self.anonymous_revenue_share, "has_money": self.has_money}
        if self.group is None and "kpi" in self.comparison.columns:
            for name, previous, current, delta in self.comparison.select("kpi", "previous", "current", "delta").iter_rows():
                out[name] = current
                out[f"{name}.previous"] = previous
                out[f"{name}.delta"] = delta
                out[f"{name}.delta_pct"] = delta / abs(previous) * 100 if delta is not None and previous else None
        return out


def _shift(expr: pl.Expr, period: Period, n: int) -> pl.Expr:
    return expr.dt.offset_by(f"{n}{TRUNCATE[period][1:]}")


def _by_customer_and_period(activity: pl.DataFrame) -> pl.DataFrame:
    """`activity` sorted by customer_id, then period_start: checked (two cheap passes) and returned
    as is when it already is, as the engine gives it; sorted otherwise."""
    if activity.get_column("customer_id").is_sorted():
        cid, start = pl.col("customer_id"), pl.col("period_start")
        out_of_order = activity.select(((cid == cid.shift(1)) & (start <= start.shift(1))).any()).item()
        if not out_of_order:
            return activity
    return activity.sort("customer_id", "period_start")


def profit_activity(activity: pl.DataFrame) -> pl.DataFrame | None:
    """Profit per customer and period from `Engine.activity()` (customer_id, period_start,
    profit_cents); None when the transactions had neither a margin nor a cost column."""
    if "profit_cents" not in activity.columns:
        return None
    return activity.select("customer_id", "period_start", "profit_cents")


def kpi(
    activity: pl.DataFrame,
    summary: pl.DataFrame | None = None,
    *,
    period: Period,
    as_of: dt.date,
    start: dt.date | None = None,
    groups: pl.DataFrame | None = None,
    margin_rate: float | None = None,
    profit: pl.DataFrame | None = None,
    surveys: pl.DataFrame | None = None,
    spend: pl.DataFrame | None = None,
    campaigns: pl.DataFrame | None = None,
    customers: pl.DataFrame | None = None,
) -> KpiResult:
    """KPIs per period (and group), from the first period with data to the period before `as_of`.

    Periods without any activity appear with zero counts and null rates.

    Parameters
    ----------
    activity: `Engine.activity(tx, period=period)` (customer_id, period_start, orders, revenue_cents);
        with `anonymous=True`, its rows with a null customer_id (lines without a customer id) count in
        `revenue` only. Without amounts (revenue_cents all null) every money figure is null.
    summary: optional `Engine.customer_summary(tx)`: its first_purchase tells new from returning
        customers. Without it, a customer's first period with a purchase in `activity` is their first
        purchase period: the same result when both come from the same transactions, and one pass over
        the data fewer. Give it when `activity` covers a shorter window than the customers' history.
    period: "day", "week", "month", "quarter" or "year".
    as_of: analysis date (exclusive); a period is complete when it ends before it (on or before as_of).
    start: the first day the data covers (`Transactions.first_date`): a period beginning before it
        is partial. Default: the first period is taken as complete.
    groups: customer_id and one group column (a customer attribute or the RFM segment); KPIs are
        computed within each group (customers without a value form the null group).
    margin_rate: gross margin rate applied to revenue -> profit, profit_per_customer.
    profit: `profit_activity()` frame (profit from the transactions' margin column); wins over
        `margin_rate`.
    surveys: customer_id, date, and nps/csat/ces (or type and score) -> nps, csat, csat_mean, ces and
        response counts, by survey date.
    spend: period (date), spend -> marketing_spend, cac (not with groups).
    campaigns: sent_at, delivered, opened, clicked, converted, cost -> campaign_sent, open_rate,
        click_rate, conversion_rate, cost_per_lead, by send date.
    customers: customer_id with referred_by and/or loyalty_member -> referral_rate,
        referred_revenue_per_customer, other_revenue_per_customer; member_share,
        member_revenue_per_customer, non_member_revenue_per_customer.

    Returns
    -------
    KpiResult (periods, yearly, comparison, warnings).

    Raises
    ------
    InputError: no activity to report, or surveys without a score.
    """
    activity, anonymous = split_anonymous(activity)
    if activity.height == 0:
        raise InputError("no transaction in the analysis window", hint="check --start/--end/--as-of")
    money = activity.get_column("revenue_cents").null_count() < activity.height
    act, known_before = customer_periods(activity, summary, period=period)
    group_name, g, keys = None, None, ["period_start"]
    if groups is not None:
        group_name = next(c for c in groups.columns if c != "customer_id")
        g = groups.select("customer_id", pl.col(group_name).alias(GROUP)).unique("customer_id", keep="first")
        act = act.join(g, on="customer_id", how="left")
        known_before = known_before.join(g, on="customer_id", how="left")
        keys = ["period_start", GROUP]
    df, first_day = base_kpis(act, known_before, anonymous, period=period, as_of=as_of, start=start, grouped=groups is not None)
    columns = ["period_start", *([GROUP] if groups is not None else []), *BASE_COLUMNS[1:]]
    anonymous_share, warnings = anonymous_revenue(anonymous, df, grouped=groups is not None) if money else (None, [])
    # The optional inputs (fidelcli/analyses/kpi_inputs.py): each adds its columns and warnings.
    extra: list[str] = []
    source = profit if profit is not None else margin_rate
    if source is not None:
        df, extra, _ = profit_kpis(df, source, keys=keys, groups=g)
    for frame, add in ((customers, customer_kpis), (surveys, survey_kpis), (spend, spend_kpis), (campaigns, campaign_kpis)):
        if frame is not None:
            df, cols, notes = add(df, frame, act=act, keys=keys, period=period, groups=g)
            extra += cols
            warnings += notes

    unknown = [c for c in (*MONEY_COLUMNS, *(("profit", "profit_per_customer") if profit is None else ())) if c in df.columns]
    if not money:
        df = df.with_columns(pl.lit(None, pl.Float64).alias(c) for c in unknown)
    periods = df.select(*columns, *extra)
    yearly = None
    if groups is None and period != "week":
        yearly = _yearly(df, profit=profit is not None, margin_rate=margin_rate, spend=spend, as_of=as_of, first_day=first_day,
                         money=money)
    comparison, current, previous = _comparison(periods, grouped=groups is not None)
    if group_name is not None:
        periods = periods.rename({GROUP: group_name})
        comparison = comparison.rename({GROUP: group_name})
    return KpiResult(
        periods=periods, comparison=comparison, period=period, as_of=as_of, yearly=yearly,
        current=current, previous=previous, group=group_name, warnings=warnings,
        anonymous_revenue_share=anonymous_share, has_money=money,
    )


def customer_periods(activity: pl.DataFrame, summary: pl.DataFrame | None, *, period: Period) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The customer-period rows of `kpi()` with their flags, and the customers acquired before the first period.

    Returns `activity` (customer ids not null) with active (a purchase occasion in the period),
    was_active (active in the period before), new (first purchase period), first_in_year (first
    active period of the calendar year) and year_retained (active the year before); and the
    customer_id of those whose first purchase, known only from a longer `summary`, is before the
    first period (empty without `summary`).
    """
    # Sorted by customer and period, a customer's active rows are consecutive and in time order: the
    # row before tells whether they were active in the period before, and their first active row is
    # their first purchase period (no join needed).
    act = _by_customer_and_period(activity).with_columns(active=pl.col("orders") > 0)
    # Rows with returns only (not active) are rare: without any, no filter and no concatenation (copies).
    inactive = act.select((~pl.col("active")).any()).item()
    ac = act.filter("active") if inactive else act
    cid = pl.col("customer_id")
    # The flags from three columns computed once (each a pass over millions of rows): same customer
    # as the row before; the days since the row before's period start, for the periods in a row
    # (`PERIOD_DAYS`: integer arithmetic, no calendar); the calendar year.
    lo, hi = PERIOD_DAYS[period]
    ac = ac.with_columns(_same=(cid == cid.shift(1)).fill_null(False), _gap=pl.col("period_start").to_physical().diff(),
                         _year=pl.col("period_start").dt.year())
    same, year = pl.col("_same"), pl.col("_year")
    ac = ac.with_columns(
        was_active=same & pl.col("_gap").is_between(lo, hi).fill_null(False),
        new=~same,
        # The customer's first active period of the calendar year, and whether they were active the
        # year before (for the yearly table).
        first_in_year=~(same & (year == year.shift(1)).fill_null(False)),
        year_retained=same & (year.shift(1) == year - 1).fill_null(False),
    ).drop("_same", "_gap", "_year")
    # Customers acquired before the first period (known only from a longer summary): in every base.
    known_before = pl.DataFrame({"customer_id": []}, schema={"customer_id": activity.schema["customer_id"]})
    if summary is not None:
        # A summary over a longer history knows purchases made before the activity window.
        first = summary.select("customer_id", first_period=period_start(pl.col("first_purchase"), period))
        ac = ac.join(first, on="customer_id", how="left", maintain_order="left").with_columns(
            new=(pl.col("first_period") == pl.col("period_start")).fill_null(False)
        ).drop("first_period")
        known_before = first.filter(pl.col("first_period") < act.get_column("period_start").min()).select("customer_id")
    if not inactive:
        return ac, known_before
    act = pl.concat([ac, act.filter(~pl.col("active")).with_columns(
        was_active=pl.lit(False), new=pl.lit(False), first_in_year=pl.lit(False), year_retained=pl.lit(False))])
    return act, known_before


def base_kpis(
    act: pl.DataFrame, known_before: pl.DataFrame, anonymous: pl.DataFrame | None, *, period: Period, as_of: dt.date,
    start: dt.date | None, grouped: bool,
) -> tuple[pl.DataFrame, dt.date]:
    """The KPIs of `BASE_COLUMNS` (and the counts behind them) for every period, or period and group,
    from the first period with data to the one before `as_of`; and the first day the data covers.

    `act` and `known_before` are `customer_periods()`'s, with the group column when `grouped`;
    `anonymous` the activity rows without a customer id (in the total revenue, never in a group).
    """
    keys = ["period_start", *([GROUP] if grouped else [])]
    starts = act.get_column("period_start")
    if anonymous is not None:
        starts = pl.concat([starts, anonymous.get_column("period_start")])
    first_start = starts.min()
    assert isinstance(first_start, dt.date)  # a Date column's minimum (activity is never empty here)
    last_start = period_start(pl.lit(as_of - dt.timedelta(days=1)), period)
    calendar = pl.select(period_start=pl.date_range(pl.lit(first_start), last_start, interval=TRUNCATE[period])).with_columns(
        pl.col("period_start").cast(pl.Date)
    )
    if grouped:
        levels = act.select(GROUP).unique().sort(GROUP, nulls_last=True)
        calendar = calendar.join(levels, how="cross")

    def count(flag: pl.Expr) -> pl.Expr:
        # Cast before the sum: a boolean sum per group costs about three times an integer one.
        return flag.cast(pl.Int64).sum()

    agg = act.group_by(keys).agg(
        active_customers=count(pl.col("active")),
        new_customers=count(pl.col("new")),
        orders=pl.col("orders").sum().cast(pl.Int64),
        revenue_cents=pl.col("revenue_cents").sum(),
        repeaters=count(pl.col("orders") >= 2),
        retained=count(pl.col("active") & pl.col("was_active")),
        returning_cents=pl.when(pl.col("active") & ~pl.col("new")).then(pl.col("revenue_cents")).sum(),
        year_firsts=count(pl.col("first_in_year")),
        year_retained=count(pl.col("year_retained")),
    )
    counts = ["active_customers", "new_customers", "orders", "revenue_cents", "repeaters", "retained", "returning_cents",
              "year_firsts", "year_retained"]
    df = calendar.join(agg, on=keys, how="left", nulls_equal=True).with_columns(pl.col(counts).fill_null(0))
    # Lines without a customer id: in the total revenue only (not in any group).
    anon_cents = pl.lit(0, pl.Int64)
    if anonymous is not None and not grouped:
        per = anonymous.group_by("period_start").agg(anonymous_cents=pl.col("revenue_cents").sum())
        df = df.join(per, on="period_start", how="left").with_columns(pl.col("anonymous_cents").fill_null(0))
        anon_cents = pl.col("anonymous_cents")
    over = [GROUP] if grouped else None

    def lag(col: str) -> pl.Expr:
        return pl.col(col).shift(1).over(over, order_by="period_start") if over else pl.col(col).shift(1)

    def cumulative(col: str) -> pl.Expr:
        return pl.col(col).cum_sum().over(over, order_by="period_start") if over else pl.col(col).cum_sum()

    before = known_before.group_by(*([GROUP] if grouped else [])).agg(known_before=pl.len().cast(pl.Int64))
    if grouped:
        df = df.join(before, on=GROUP, how="left", nulls_equal=True).with_columns(pl.col("known_before").fill_null(0))
    else:
        df = df.with_columns(known_before=pl.lit(before.get_column("known_before").sum() if before.height else 0, pl.Int64))
    first_day = start if start is not None else first_start
    df = df.sort(keys, nulls_last=True).with_columns(
        active_prev=lag("active_customers"),
        # The customer base at the start of P: every customer whose first purchase is before P.
        base=pl.col("known_before") + cumulative("new_customers") - pl.col("new_customers"),
        partial=(pl.col("period_start") < pl.lit(first_day)) | (_shift(pl.col("period_start"), period, 1) > pl.lit(as_of)),
    )
    df = df.with_columns(
        returning_customers=pl.col("active_customers") - pl.col("new_customers"),
        revenue=(pl.col("revenue_cents") + anon_cents) / 100,
        customer_revenue=pl.col("revenue_cents") / 100,
        aov=ratio(pl.col("revenue_cents") / 100, pl.col("orders")),
        purchase_frequency=ratio(pl.col("orders").cast(pl.Float64), pl.col("active_customers")),
        repeat_purchase_rate=ratio(pl.col("repeaters").cast(pl.Float64), pl.col("active_customers")),
        retention_rate=ratio(pl.col("retained").cast(pl.Float64), pl.col("active_prev")),
        # (E - N) / S with S the customer base at the start of P: every returning customer is in S,
        # so it never exceeds 1 (with S = customers active in P-1, comebacks made it exceed 1).
        customer_retention_rate=ratio((pl.col("active_customers") - pl.col("new_customers")).cast(pl.Float64), pl.col("base")),
        returning_revenue_share=ratio(pl.col("returning_cents").cast(pl.Float64), pl.col("revenue_cents")),
    ).with_columns(churn_rate=1 - pl.col("retention_rate"))
    return df, first_day


def _yearly(
    periods: pl.DataFrame,
    *,
    profit: bool,
    margin_rate: float | None,
    spend: pl.DataFrame | None,
    as_of: dt.date,
    first_day: dt.date,
    money: bool = True,
) -> pl.DataFrame:
    """Yearly retention and the historical CLV, as analysts compute them by hand.

    From the per-period frame (month, quarter or year periods nest in calendar years): year_firsts
    counts each customer once a year (in their first active period of it), so its yearly sum is E;
    year_retained counts those of them active the year before; new customers, revenue and profit
    (profit_cents when `profit`) add up over the periods. Retention = retained / S, S = E of the year
    before: at most 1, unlike (E - N) / S, which counts comebacks after a gap.
    """
    sums = ["year_firsts", "year_retained", "new_customers", "revenue_cents", *(["profit_cents"] if profit else [])]
    total = pl.col("revenue_cents") + (pl.col("anonymous_cents") if "anonymous_cents" in periods.columns else 0)
    y = (
        periods.with_columns(total_cents=total)
        .group_by(pl.col("period_start").dt.year().alias("year")).agg(pl.col(*sums, "total_cents").sum())
        .rename({"year_firsts": "customers_end", "year_retained": "retained_customers"})
        .with_columns(year=pl.date(pl.col("year"), 1, 1))
    )
    first = y.get_column("year").min()
    last = dt.date((as_of - dt.timedelta(days=1)).year, 1, 1)
    cal = pl.select(year=pl.date_range(pl.lit(first), pl.lit(last), interval="1y")).with_columns(pl.col("year").cast(pl.Date))
    counts = ["customers_end", "retained_customers", "new_customers", "revenue_cents", "total_cents"]
    y = cal.join(y, on="year", how="left").with_columns(pl.col(counts).fill_null(0)).sort("year")
    y = y.with_columns(
        customers_start=pl.col("customers_end").shift(1),
        partial=(pl.col("year") < pl.lit(first_day)) | (pl.col("year").dt.offset_by("1y") > pl.lit(as_of)),
    )
    if profit:
        y = y.with_columns(profit=pl.col("profit_cents").fill_null(0) / 100)
    elif margin_rate is not None and money:
        y = y.with_columns(profit=pl.col("revenue_cents") / 100 * margin_rate)
    else:
        y = y.with_columns(profit=pl.lit(None, pl.Float64))
    retention = ratio(pl.col("retained_customers").cast(pl.Float64), pl.col("customers_start"))
    unknown = pl.lit(None, pl.Float64)
    y = y.with_columns(retention_rate=retention).with_columns(
        revenue=pl.col("total_cents") / 100 if money else unknown,
        revenue_per_customer=ratio(pl.col("revenue_cents") / 100, pl.col("customers_end")) if money else unknown,
        profit_per_customer=ratio(pl.col("profit"), pl.col("customers_end")),
        # Expected lifetime of a geometric retention process: 1 / (1 - r) years.
        expected_lifetime_years=pl.when(pl.col("retention_rate") < 1).then(1 / (1 - pl.col("retention_rate"))),
    ).with_columns(clv=pl.col("profit_per_customer") * pl.col("expected_lifetime_years"))
    cols = [
        "year", "partial", "customers_start", "customers_end", "new_customers", "retained_customers", "retention_rate", "revenue",
        "revenue_per_customer", "profit_per_customer", "expected_lifetime_years", "clv",
    ]
    if spend is not None:
        sp = spend.group_by(pl.col("period").dt.truncate("1y").alias("year")).agg(spend_cents=cents(pl.col("spend").fill_null(0.0)).sum())
        y = y.join(sp, on="year", how="left").with_columns(marketing_spend=pl.col("spend_cents").fill_null(0) / 100)
        y = y.with_columns(cac=ratio(pl.col("marketing_spend"), pl.col("new_customers"))).with_columns(
            clv_to_cac=ratio(pl.col("clv"), pl.col("cac"))
        )
        cols += ["marketing_spend", "cac", "clv_to_cac"]
    return y.select(cols)


def _comparison(periods: pl.DataFrame, *, grouped: bool) -> tuple[pl.DataFrame, dt.date | None, dt.date | None]:
    """The last complete period against the one before, with deltas; partial periods (the first when
    the data starts after its first day, the last when it ends after as_of) are never compared."""
    starts = periods.filter(~pl.col("partial")).select("period_start").unique().sort("period_start")
    complete = starts.get_column("period_start")
    schema: dict[str, pl.DataType] = {**({GROUP: periods.schema[GROUP]} if grouped else {}), "kpi": pl.String(), "previous": pl.Float64(),
                                      "current": pl.Float64(), "delta": pl.Float64()}
    if len(complete) < 2:
        return pl.DataFrame(schema=schema), None, None
    current, previous = complete[-1], complete[-2]
    metrics = [c for c in periods.columns if c not in ("period_start", GROUP, "partial")]
    long = (
        periods.filter(pl.col("period_start").is_in([previous, current]))
        .with_columns(pl.col(metrics).cast(pl.Float64))
        .unpivot(index=["period_start", *([GROUP] if grouped else [])], on=metrics, variable_name="kpi")
    )
    idx = [*([GROUP] if grouped else []), "kpi"]
    prev = long.filter(pl.col("period_start") == previous).select(*idx, previous="value")
    cur = long.filter(pl.col("period_start") == current).select(*idx, current="value")
    order = pl.DataFrame({"kpi": metrics, "_i": list(range(len(metrics)))})
    out = prev.join(cur, on=idx, how="inner", nulls_equal=True).join(order, on="kpi").sort(
        [*([GROUP] if grouped else []), "_i"], nulls_last=True
    )
    out = out.with_columns(delta=pl.col("current") - pl.col("previous")).drop("_i")
    return out.select(list(schema)), current, previous


def kpi_analysis(
    tx: Transactions,
    *,
    engine: Engine,
    period: Period = "month",
    groups: pl.DataFrame | None = None,
    segment_by: Rfm | None = None,
    lang: Literal["en", "fr"] = "en",
    margin: float | None = None,
    default_margin: float | None = None,
    surveys: pl.DataFrame | None = None,
    spend: pl.DataFrame | None = None,
    campaigns: pl.DataFrame | None = None,
    customers: pl.DataFrame | None = None,
) -> KpiResult:
    """KPIs of cleaned transactions up to their analysis date: the one library call behind `fidelcli kpi`.

    New vs returning comes from the engine's activity itself (first period with a purchase), with the
    lines without a customer id in the same pass (for the total revenue); the per-customer summary, a
    second pass over the transactions, is only computed for `segment_by`.

    Parameters
    ----------
    groups: customer_id and one group column (a customer attribute), as in `kpi`.
    segment_by: group by the RFM segment computed with these settings instead (`lang`: its names).
    margin: a gross margin rate that wins over the transactions' margin or cost column.
    default_margin: the rate used when the transactions have no margin or cost column.
    customers: the customers table (referral and loyalty-member KPIs). With groups, it is used only
        when it has a referred_by or loyalty_member column (no warning about their absence).
    surveys, spend, campaigns: as in `kpi`.
    """
    activity = engine.activity(tx, period=period, anonymous=True)
    if segment_by is not None:
        from fidelcli.analyses.rfm import rfm

        seg = rfm(engine.customer_summary(tx), as_of=tx.as_of, bins=segment_by.bins, monetary=segment_by.monetary,
                  thresholds=segment_by.thresholds, segments=segment_by.segments, lang=lang)
        groups = seg.customers.select("customer_id", "segment")
    profit = None
    rate = margin
    if rate is None:
        profit = profit_activity(activity)
        rate = default_margin if profit is None else None
    if customers is not None and groups is not None and not {"referred_by", "loyalty_member"} & set(customers.columns):
        customers = None
    return kpi(activity, period=period, as_of=tx.end_date, start=tx.first_date, groups=groups, margin_rate=rate, profit=profit,
               surveys=surveys, spend=spend, campaigns=campaigns, customers=customers)
