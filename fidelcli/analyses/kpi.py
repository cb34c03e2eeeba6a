"""Loyalty KPIs per period (and per group): customers, orders, revenue, retention, and, when their
inputs exist, profit, satisfaction (NPS, CSAT, CES), acquisition cost, campaign and referral figures.

Definitions, formulas, customer bases and edge cases are in docs/metrics.md. In short, for a period P:
a customer is *active* in P when they made at least one purchase occasion in P (a period with only
returns does not make a customer active, but the returns count in P's revenue); *new* when their first
purchase ever falls in P; *returning* when active and not new. Retention of P is the share of the
customers active in P-1 who are active in P; the first period has none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from fidelcli.errors import InputError
from fidelcli.summary import TRUNCATE, Period, cents, period_index, period_start

GROUP = "group"
BASE_COLUMNS = [
    "period_start", "active_customers", "new_customers", "returning_customers", "orders", "revenue", "aov",
    "purchase_frequency", "repeat_purchase_rate", "retention_rate", "churn_rate", "customer_retention_rate",
    "returning_revenue_share",
]


@dataclass
class KpiResult:
    """The result of `kpi()`.

    periods: one row per period (and group), oldest first; columns `BASE_COLUMNS` plus the optional
        KPIs whose inputs were given (see `kpi`). With groups, the group column follows period_start.
    yearly: one row per calendar year: year, customers_start (S), customers_end (E), new_customers (N),
        retention_rate ((E - N) / S), revenue, revenue_per_customer, profit_per_customer (with a
        margin), expected_lifetime_years, clv, marketing_spend, cac, clv_to_cac (with spend). None
        for weekly KPIs (weeks straddle years) and with groups.
    comparison: the last complete period against the one before: [group,] kpi, previous, current,
        delta (current - previous). Empty when fewer than two complete periods exist.
    current, previous: start dates of the compared periods (None when there are not two).
    warnings: messages for the analyst.
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


def _offset(period: Period, n: int) -> str:
    return f"{n}{TRUNCATE[period][1:]}"


def _shift(expr: pl.Expr, period: Period, n: int) -> pl.Expr:
    return expr.dt.offset_by(_offset(period, n))


def _by_customer_and_period(activity: pl.DataFrame) -> pl.DataFrame:
    """`activity` sorted by customer_id, then period_start: checked (two cheap passes) and returned
    as is when it already is, as the engine gives it; sorted otherwise."""
    cid, start = pl.col("customer_id"), pl.col("period_start")
    if activity.get_column("customer_id").is_sorted():
        out_of_order = activity.select(((cid == cid.shift(1)) & (start <= start.shift(1))).any()).item()
        if not out_of_order:
            return activity
    return activity.sort("customer_id", "period_start")


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """num / den, null when the base is 0 (or null)."""
    return pl.when(den != 0).then(num / den).otherwise(None)


def profit_activity(activity: pl.DataFrame) -> pl.DataFrame | None:
    """Profit per customer and period from `Engine.activity()` (customer_id, period_start,
    profit_cents); None when the transactions had neither a margin nor a cost column."""
    if "profit_cents" not in activity.columns:
        return None
    return activity.select("customer_id", "period_start", "profit_cents")


def _survey_long(surveys: pl.DataFrame) -> pl.DataFrame:
    """Surveys as customer_id, date, metric (nps/csat/ces), score, wide or long input alike."""
    wide = [m for m in ("nps", "csat", "ces") if m in surveys.columns]
    parts = [
        surveys.select("customer_id", "date", metric=pl.lit(m), score=pl.col(m).cast(pl.Float64)) for m in wide
    ]
    if {"type", "score"} <= set(surveys.columns):
        parts.append(
            surveys.select(
                "customer_id", "date", metric=pl.col("type").str.to_lowercase().str.strip_chars(), score=pl.col("score").cast(pl.Float64)
            )
        )
    if not parts:
        raise InputError("the surveys have no nps, csat or ces score", hint="map a score column: --map nps=COLUMN (or type and score)")
    return pl.concat(parts).filter(pl.col("score").is_not_null(), pl.col("date").is_not_null())


def kpi(
    activity: pl.DataFrame,
    summary: pl.DataFrame | None = None,
    *,
    period: Period,
    as_of: dt.date,
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
    activity: `Engine.activity(tx, period=period)` (customer_id, period_start, orders, revenue_cents).
    summary: optional `Engine.customer_summary(tx)`: its first_purchase tells new from returning
        customers. Without it, a customer's first period with a purchase in `activity` is their first
        purchase period: the same result when both come from the same transactions, and one pass over
        the data fewer. Give it when `activity` covers a shorter window than the customers' history.
    period: "day", "week", "month", "quarter" or "year".
    as_of: analysis date (exclusive); a period is complete when it ends before it.
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
    warnings: list[str] = []
    if activity.height == 0:
        raise InputError("no transaction in the analysis window", hint="check --start/--end/--as-of")
    group_name = None
    keys = ["period_start"]
    # Sorted by customer and period, a customer's active rows are consecutive and in time order: the
    # row before tells whether they were active in the period before, and their first active row is
    # their first purchase period (no join needed).
    act = _by_customer_and_period(activity).with_columns(active=pl.col("orders") > 0)
    ac = act.filter("active")
    same = (pl.col("customer_id") == pl.col("customer_id").shift(1)).fill_null(False)
    index, year = period_index(pl.col("period_start"), period), pl.col("period_start").dt.year()
    ac = ac.with_columns(
        was_active=same & (index.shift(1) == index - 1).fill_null(False),
        new=~same,
        # The customer's first active period of the calendar year (for the yearly table).
        first_in_year=~(same & (year == year.shift(1)).fill_null(False)),
    )
    if summary is not None:
        # A summary over a longer history knows purchases made before the activity window.
        first = summary.select("customer_id", first_period=period_start(pl.col("first_purchase"), period))
        ac = ac.join(first, on="customer_id", how="left", maintain_order="left").with_columns(
            new=(pl.col("first_period") == pl.col("period_start")).fill_null(False)
        ).drop("first_period")
    act = pl.concat([ac, act.filter(~pl.col("active")).with_columns(
        was_active=pl.lit(False), new=pl.lit(False), first_in_year=pl.lit(False))])
    if groups is not None:
        group_name = next(c for c in groups.columns if c != "customer_id")
        g = groups.select("customer_id", pl.col(group_name).alias(GROUP)).unique("customer_id", keep="first")
        act = act.join(g, on="customer_id", how="left")
        keys = ["period_start", GROUP]

    first_start = act.get_column("period_start").min()
    last_start = period_start(pl.lit(as_of - dt.timedelta(days=1)), period)
    calendar = pl.select(period_start=pl.date_range(pl.lit(first_start), last_start, interval=TRUNCATE[period])).with_columns(
        pl.col("period_start").cast(pl.Date)
    )
    if groups is not None:
        levels = act.select(GROUP).unique().sort(GROUP, nulls_last=True)
        calendar = calendar.join(levels, how="cross")

    agg = act.group_by(keys).agg(
        active_customers=pl.col("active").sum().cast(pl.Int64),
        new_customers=pl.col("new").sum().cast(pl.Int64),
        orders=pl.col("orders").sum().cast(pl.Int64),
        revenue_cents=pl.col("revenue_cents").sum(),
        repeaters=(pl.col("orders") >= 2).sum().cast(pl.Int64),
        retained=(pl.col("active") & pl.col("was_active")).sum().cast(pl.Int64),
        returning_cents=pl.col("revenue_cents").filter(pl.col("active") & ~pl.col("new")).sum(),
        year_firsts=pl.col("first_in_year").sum().cast(pl.Int64),
    )
    df = calendar.join(agg, on=keys, how="left", nulls_equal=True).with_columns(
        pl.col("active_customers", "new_customers", "orders", "revenue_cents", "repeaters", "retained", "returning_cents",
               "year_firsts").fill_null(0)
    )
    over = [GROUP] if groups is not None else None
    prev_active_n = pl.col("active_customers").shift(1).over(over, order_by="period_start") if over else pl.col("active_customers").shift(1)
    df = df.sort(keys, nulls_last=True).with_columns(active_prev=prev_active_n)
    df = df.with_columns(
        returning_customers=pl.col("active_customers") - pl.col("new_customers"),
        revenue=pl.col("revenue_cents") / 100,
        aov=_ratio(pl.col("revenue_cents") / 100, pl.col("orders")),
        purchase_frequency=_ratio(pl.col("orders").cast(pl.Float64), pl.col("active_customers")),
        repeat_purchase_rate=_ratio(pl.col("repeaters").cast(pl.Float64), pl.col("active_customers")),
        retention_rate=_ratio(pl.col("retained").cast(pl.Float64), pl.col("active_prev")),
        customer_retention_rate=_ratio(
            (pl.col("active_customers") - pl.col("new_customers")).cast(pl.Float64), pl.col("active_prev")
        ),
        returning_revenue_share=_ratio(pl.col("returning_cents").cast(pl.Float64), pl.col("revenue_cents")),
    ).with_columns(churn_rate=1 - pl.col("retention_rate"))
    columns = ["period_start", *([GROUP] if groups is not None else []), *BASE_COLUMNS[1:]]
    extra: list[str] = []

    # Profit.
    if profit is not None or margin_rate is not None:
        if profit is not None:
            p = profit
            if groups is not None:
                p = p.join(g, on="customer_id", how="left")
            p = p.group_by(keys).agg(profit_cents=pl.col("profit_cents").sum())
            df = df.join(p, on=keys, how="left", nulls_equal=True).with_columns(pl.col("profit_cents").fill_null(0))
            df = df.with_columns(profit=pl.col("profit_cents") / 100)
        else:
            df = df.with_columns(profit=pl.col("revenue_cents") / 100 * margin_rate)
        df = df.with_columns(profit_per_customer=_ratio(pl.col("profit"), pl.col("active_customers")))
        extra += ["profit", "profit_per_customer"]

    # Customer attributes: referrals and loyalty membership.
    if customers is not None:
        attrs = [c for c in ("referred_by", "loyalty_member") if c in customers.columns]
        cust = customers.select("customer_id", *attrs).unique("customer_id", keep="first")
        a = act.join(cust, on="customer_id", how="left")
        aggs: dict[str, pl.Expr] = {}
        if "referred_by" in attrs:
            referred = pl.col("referred_by").is_not_null()
            aggs |= {
                "new_referred": (pl.col("new") & referred).sum().cast(pl.Int64),
                "referred_active": (pl.col("active") & referred).sum().cast(pl.Int64),
                "referred_cents": pl.col("revenue_cents").filter(referred & pl.col("active")).sum(),
                "other_active": (pl.col("active") & ~referred).sum().cast(pl.Int64),
                "other_cents": pl.col("revenue_cents").filter(~referred & pl.col("active")).sum(),
            }
        if "loyalty_member" in attrs:
            member = pl.col("loyalty_member").fill_null(False)
            aggs |= {
                "members_active": (pl.col("active") & member).sum().cast(pl.Int64),
                "member_cents": pl.col("revenue_cents").filter(member & pl.col("active")).sum(),
                "non_member_cents": pl.col("revenue_cents").filter(~member & pl.col("active")).sum(),
            }
        if aggs:
            df = df.join(a.group_by(keys).agg(**aggs), on=keys, how="left", nulls_equal=True).with_columns(
                pl.col(*aggs).fill_null(0)
            )
        if "referred_by" in attrs:
            df = df.with_columns(
                referral_rate=_ratio(pl.col("new_referred").cast(pl.Float64), pl.col("new_customers")),
                referred_revenue_per_customer=_ratio(pl.col("referred_cents") / 100, pl.col("referred_active")),
                other_revenue_per_customer=_ratio(pl.col("other_cents") / 100, pl.col("other_active")),
            )
            extra += ["referral_rate", "referred_revenue_per_customer", "other_revenue_per_customer"]
        if "loyalty_member" in attrs:
            df = df.with_columns(
                member_share=_ratio(pl.col("members_active").cast(pl.Float64), pl.col("active_customers")),
                member_revenue_per_customer=_ratio(pl.col("member_cents") / 100, pl.col("members_active")),
                non_member_revenue_per_customer=_ratio(
                    pl.col("non_member_cents") / 100, pl.col("active_customers") - pl.col("members_active")
                ),
            )
            extra += ["member_share", "member_revenue_per_customer", "non_member_revenue_per_customer"]
        if not attrs:
            warnings.append("the customers table has neither referred_by nor loyalty_member: no referral or member KPIs")

    # Surveys, by survey date.
    if surveys is not None:
        s = _survey_long(surveys).with_columns(period_start=period_start(pl.col("date"), period))
        if groups is not None:
            s = s.join(g, on="customer_id", how="left")
        score = pl.col("score")
        is_ = pl.col("metric")
        nps = score.filter(is_ == "nps")
        csat = score.filter(is_ == "csat")
        sv = s.group_by(keys).agg(
            nps_responses=nps.count().cast(pl.Int64),
            # NPS = % promoters (9-10) - % detractors (0-6), in points from -100 to 100.
            nps=_ratio(100 * ((nps >= 9).sum().cast(pl.Float64) - (nps <= 6).sum().cast(pl.Float64)), nps.count()),
            csat_responses=csat.count().cast(pl.Int64),
            csat=_ratio((csat >= 4).sum().cast(pl.Float64), csat.count()),
            csat_mean=csat.mean(),
            ces_responses=score.filter(is_ == "ces").count().cast(pl.Int64),
            ces=score.filter(is_ == "ces").mean(),
        )
        df = df.join(sv, on=keys, how="left", nulls_equal=True).with_columns(
            pl.col("nps_responses", "csat_responses", "ces_responses").fill_null(0)
        )
        extra += ["nps_responses", "nps", "csat_responses", "csat", "csat_mean", "ces_responses", "ces"]

    # Marketing spend, by the period of its date.
    if spend is not None:
        if groups is not None:
            warnings.append("marketing spend is not split by group: CAC is left out of grouped KPIs")
        else:
            sp = spend.group_by(period_start(pl.col("period"), period).alias("period_start")).agg(
                spend_cents=cents(pl.col("spend").fill_null(0.0)).sum()
            )
            df = df.join(sp, on="period_start", how="left").with_columns(pl.col("spend_cents").fill_null(0))
            df = df.with_columns(
                marketing_spend=pl.col("spend_cents") / 100,
                cac=_ratio(pl.col("spend_cents") / 100, pl.col("new_customers")),
            )
            extra += ["marketing_spend", "cac"]

    # Campaigns, by send date.
    if campaigns is not None:
        if "sent_at" not in campaigns.columns:
            warnings.append("the campaigns have no send date (sent_at): no campaign KPIs per period")
        else:
            c = campaigns.filter(pl.col("sent_at").is_not_null()).with_columns(period_start=period_start(pl.col("sent_at"), period))
            if groups is not None:
                c = c.join(g, on="customer_id", how="left")

            def flag(name: str) -> pl.Expr:
                return pl.col(name).fill_null(False).sum().cast(pl.Int64) if name in c.columns else pl.lit(None, pl.Int64)

            delivered = flag("delivered") if "delivered" in c.columns else pl.len().cast(pl.Int64)
            cg = c.group_by(keys).agg(
                campaign_sent=pl.len().cast(pl.Int64),
                delivered=delivered,
                opened=flag("opened"),
                clicked=flag("clicked"),
                converted=flag("converted"),
                cost_cents=cents(pl.col("cost").fill_null(0.0)).sum() if "cost" in c.columns else pl.lit(None, pl.Int64),
            )
            df = df.join(cg, on=keys, how="left", nulls_equal=True).with_columns(pl.col("campaign_sent").fill_null(0))
            df = df.with_columns(
                open_rate=_ratio(pl.col("opened").cast(pl.Float64), pl.col("delivered")),
                click_rate=_ratio(pl.col("clicked").cast(pl.Float64), pl.col("delivered")),
                conversion_rate=_ratio(pl.col("converted").cast(pl.Float64), pl.col("delivered")),
                cost_per_lead=_ratio(pl.col("cost_cents") / 100, pl.col("converted")),
            )
            extra += ["campaign_sent", "open_rate", "click_rate", "conversion_rate", "cost_per_lead"]

    periods = df.select(*columns, *extra)
    yearly = None
    if groups is None and period != "week":
        yearly = _yearly(df, profit=profit is not None, margin_rate=margin_rate, spend=spend, as_of=as_of)
    comparison, current, previous = _comparison(periods, period=period, as_of=as_of, grouped=groups is not None)
    if group_name is not None:
        periods = periods.rename({GROUP: group_name})
        comparison = comparison.rename({GROUP: group_name})
    return KpiResult(
        periods=periods, comparison=comparison, period=period, as_of=as_of, yearly=yearly,
        current=current, previous=previous, group=group_name, warnings=warnings,
    )


def _yearly(
    periods: pl.DataFrame,
    *,
    profit: bool,
    margin_rate: float | None,
    spend: pl.DataFrame | None,
    as_of: dt.date,
) -> pl.DataFrame:
    """Yearly retention as analysts compute it by hand, (E - N) / S, and the historical CLV.

    From the per-period frame (month, quarter or year periods nest in calendar years): year_firsts
    counts each customer once a year (in their first active period of it), so its yearly sum is E;
    new customers, revenue and profit (profit_cents when `profit`) add up over the periods.
    """
    sums = ["year_firsts", "new_customers", "revenue_cents", *(["profit_cents"] if profit else [])]
    y = (
        periods.group_by(pl.col("period_start").dt.year().alias("year")).agg(pl.col(sums).sum())
        .rename({"year_firsts": "customers_end"})
        .with_columns(year=pl.date(pl.col("year"), 1, 1))
    )
    first = y.get_column("year").min()
    last = dt.date((as_of - dt.timedelta(days=1)).year, 1, 1)
    cal = pl.select(year=pl.date_range(pl.lit(first), pl.lit(last), interval="1y")).with_columns(pl.col("year").cast(pl.Date))
    y = cal.join(y, on="year", how="left").with_columns(pl.col("customers_end", "new_customers", "revenue_cents").fill_null(0)).sort("year")
    y = y.with_columns(customers_start=pl.col("customers_end").shift(1))
    if profit:
        y = y.with_columns(profit=pl.col("profit_cents").fill_null(0) / 100)
    elif margin_rate is not None:
        y = y.with_columns(profit=pl.col("revenue_cents") / 100 * margin_rate)
    else:
        y = y.with_columns(profit=pl.lit(None, pl.Float64))
    retention = _ratio((pl.col("customers_end") - pl.col("new_customers")).cast(pl.Float64), pl.col("customers_start"))
    y = y.with_columns(retention_rate=retention).with_columns(
        revenue=pl.col("revenue_cents") / 100,
        revenue_per_customer=_ratio(pl.col("revenue_cents") / 100, pl.col("customers_end")),
        profit_per_customer=_ratio(pl.col("profit"), pl.col("customers_end")),
        # Expected lifetime of a geometric retention process: 1 / (1 - r) years.
        expected_lifetime_years=pl.when(pl.col("retention_rate") < 1).then(1 / (1 - pl.col("retention_rate"))),
    ).with_columns(clv=pl.col("profit_per_customer") * pl.col("expected_lifetime_years"))
    cols = [
        "year", "customers_start", "customers_end", "new_customers", "retention_rate", "revenue", "revenue_per_customer",
        "profit_per_customer", "expected_lifetime_years", "clv",
    ]
    if spend is not None:
        sp = spend.group_by(pl.col("period").dt.truncate("1y").alias("year")).agg(spend_cents=cents(pl.col("spend").fill_null(0.0)).sum())
        y = y.join(sp, on="year", how="left").with_columns(marketing_spend=pl.col("spend_cents").fill_null(0) / 100)
        y = y.with_columns(cac=_ratio(pl.col("marketing_spend"), pl.col("new_customers"))).with_columns(
            clv_to_cac=_ratio(pl.col("clv"), pl.col("cac"))
        )
        cols += ["marketing_spend", "cac", "clv_to_cac"]
    return y.select(cols)


def _comparison(periods: pl.DataFrame, *, period: Period, as_of: dt.date, grouped: bool) -> tuple[pl.DataFrame, dt.date | None, dt.date | None]:
    """The last complete period (it ends before as_of) against the one before, with deltas."""
    starts = periods.select("period_start").unique().sort("period_start")
    complete = starts.filter(_shift(pl.col("period_start"), period, 1) <= pl.lit(as_of)).get_column("period_start")
    schema = {**({GROUP: periods.schema[GROUP]} if grouped else {}), "kpi": pl.String, "previous": pl.Float64, "current": pl.Float64, "delta": pl.Float64}
    if len(complete) < 2:
        return pl.DataFrame(schema=schema), None, None
    current, previous = complete[-1], complete[-2]
    metrics = [c for c in periods.columns if c not in ("period_start", GROUP)]
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
