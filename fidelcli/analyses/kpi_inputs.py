"""KPIs from the optional inputs of `kpi()`: the lines without a customer id (in the revenue only),
profit (a margin column or rate), customer attributes (referrals, loyalty membership), surveys (NPS,
CSAT, CES), marketing spend (CAC) and campaigns (open, click, conversion rates).

Each `*_kpis` function adds its columns to the per-period frame of `kpi()` (one row per period, or per period
and group) and returns (frame, the columns it added, warnings). Definitions are in docs/metrics.md.
Survey, spend and campaign rows are placed in the period of their own date.
"""

from __future__ import annotations

import polars as pl

from fidelcli.analyses.satisfaction import satisfaction_aggregates, survey_scores
from fidelcli.engine.periods import Period, cents, period_start
from fidelcli.errors import InputError

Added = tuple[pl.DataFrame, list[str], list[str]]


def ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """num / den, null when the base is 0 (or null): never NaN nor inf."""
    return pl.when(den != 0).then(num / den).otherwise(None)


def split_anonymous(activity: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """(the rows with a customer id, those without: None when there are none). The engine puts the
    rows without one at the end: two slices then, no copy; filters otherwise."""
    ids = activity.get_column("customer_id")
    n = ids.null_count()
    if not n:
        return activity, None
    if ids.tail(n).null_count() == n:
        return activity.head(activity.height - n), activity.tail(n)
    cid = pl.col("customer_id")
    return activity.filter(cid.is_not_null()), activity.filter(cid.is_null())


def anonymous_revenue(anonymous: pl.DataFrame | None, df: pl.DataFrame, *, grouped: bool) -> tuple[float | None, list[str]]:
    """The share of the revenue on lines without a customer id (None when none, or a total of 0) and the warning
    saying so; `df` is `base_kpis()`'s (its revenue_cents: the customers' revenue)."""
    if anonymous is None:
        return None, []
    anon_total = int(anonymous.get_column("revenue_cents").sum())
    total = int(df.get_column("revenue_cents").sum()) + anon_total
    if not anon_total:
        return None, []
    share = anon_total / total if total else None
    return share, [
        (f"{share:.1%}" if share is not None else "part") + f" of the revenue ({anon_total / 100:,.2f} of "
        f"{total / 100:,.2f}) is on lines without a customer id: revenue counts them; customer_revenue and "
        "every per-customer figure do not" + (", nor does any group" if grouped else "")
    ]


def _grouped(frame: pl.DataFrame, groups: pl.DataFrame | None) -> pl.DataFrame:
    return frame.join(groups, on="customer_id", how="left") if groups is not None else frame


def profit_kpis(df: pl.DataFrame, profit: pl.DataFrame | float, *, keys: list[str], groups: pl.DataFrame | None) -> Added:
    """Profit and profit per active customer: `profit` is the `profit_activity()` frame (its
    profit_cents summed per period, or period and group) or a gross margin rate applied to revenue."""
    if isinstance(profit, pl.DataFrame):
        p = _grouped(profit, groups).group_by(keys).agg(profit_cents=pl.col("profit_cents").sum())
        df = df.join(p, on=keys, how="left", nulls_equal=True).with_columns(pl.col("profit_cents").fill_null(0))
        df = df.with_columns(profit=pl.col("profit_cents") / 100)
    else:
        df = df.with_columns(profit=pl.col("revenue_cents") / 100 * profit)
    df = df.with_columns(profit_per_customer=ratio(pl.col("profit"), pl.col("active_customers")))
    return df, ["profit", "profit_per_customer"], []


def customer_kpis(
    df: pl.DataFrame, customers: pl.DataFrame, *, act: pl.DataFrame, keys: list[str], period: Period, groups: pl.DataFrame | None
) -> Added:
    """Referral and membership KPIs from `customers` (customer_id, referred_by and/or loyalty_member),
    on `act`: kpi()'s customer-period rows (active, new, revenue_cents; with the group column)."""
    attrs = [c for c in ("referred_by", "loyalty_member") if c in customers.columns]
    if not attrs:
        return df, [], ["the customers table has neither referred_by nor loyalty_member: no referral or member KPIs"]
    cust = customers.select("customer_id", *attrs).unique("customer_id", keep="first")
    a = act.join(cust, on="customer_id", how="left")
    aggs: dict[str, pl.Expr] = {}
    active = pl.col("active")
    if "referred_by" in attrs:
        referred = pl.col("referred_by").is_not_null()
        aggs |= {
            "new_referred": (pl.col("new") & referred).sum().cast(pl.Int64),
            "referred_active": (active & referred).sum().cast(pl.Int64),
            "referred_cents": pl.col("revenue_cents").filter(referred & active).sum(),
            "other_active": (active & ~referred).sum().cast(pl.Int64),
            "other_cents": pl.col("revenue_cents").filter(~referred & active).sum(),
        }
    if "loyalty_member" in attrs:
        member = pl.col("loyalty_member").fill_null(False)
        aggs |= {
            "members_active": (active & member).sum().cast(pl.Int64),
            "member_cents": pl.col("revenue_cents").filter(member & active).sum(),
            "non_member_cents": pl.col("revenue_cents").filter(~member & active).sum(),
        }
    df = df.join(a.group_by(keys).agg(**aggs), on=keys, how="left", nulls_equal=True).with_columns(pl.col(*aggs).fill_null(0))
    added: list[str] = []
    if "referred_by" in attrs:
        df = df.with_columns(
            referral_rate=ratio(pl.col("new_referred").cast(pl.Float64), pl.col("new_customers")),
            referred_revenue_per_customer=ratio(pl.col("referred_cents") / 100, pl.col("referred_active")),
            other_revenue_per_customer=ratio(pl.col("other_cents") / 100, pl.col("other_active")),
        )
        added += ["referral_rate", "referred_revenue_per_customer", "other_revenue_per_customer"]
    if "loyalty_member" in attrs:
        df = df.with_columns(
            member_share=ratio(pl.col("members_active").cast(pl.Float64), pl.col("active_customers")),
            member_revenue_per_customer=ratio(pl.col("member_cents") / 100, pl.col("members_active")),
            non_member_revenue_per_customer=ratio(pl.col("non_member_cents") / 100, pl.col("active_customers") - pl.col("members_active")),
        )
        added += ["member_share", "member_revenue_per_customer", "non_member_revenue_per_customer"]
    return df, added, []


def survey_long(surveys: pl.DataFrame) -> pl.DataFrame:
    """Surveys as customer_id, date, metric (nps/csat/ces), score, wide or long input alike
    (`fidelcli.analyses.satisfaction.survey_scores`); InputError without a score."""
    scores = survey_scores(surveys)
    if scores is None:
        raise InputError("the surveys have no nps, csat or ces score", hint="map a score column: --map nps=COLUMN (or type and score)")
    return scores


def survey_kpis(
    df: pl.DataFrame, surveys: pl.DataFrame, *, act: pl.DataFrame, keys: list[str], period: Period, groups: pl.DataFrame | None
) -> Added:
    """NPS, CSAT and CES per period of the survey date."""
    s = _grouped(survey_long(surveys).with_columns(period_start=period_start(pl.col("date"), period)), groups)
    # NPS, CSAT and CES by the rules of fidelcli.analyses.satisfaction (one definition).
    sv = s.group_by(keys).agg(**satisfaction_aggregates())
    df = df.join(sv, on=keys, how="left", nulls_equal=True).with_columns(pl.col("nps_responses", "csat_responses", "ces_responses").fill_null(0))
    return df, ["nps_responses", "nps", "csat_responses", "csat", "csat_mean", "ces_responses", "ces"], []


def spend_kpis(
    df: pl.DataFrame, spend: pl.DataFrame, *, act: pl.DataFrame, keys: list[str], period: Period, groups: pl.DataFrame | None
) -> Added:
    """Marketing spend and CAC (spend / new customers) per period of the spend date; not per group."""
    if groups is not None:
        return df, [], ["marketing spend is not split by group: CAC is left out of grouped KPIs"]
    sp = spend.group_by(period_start(pl.col("period"), period).alias("period_start")).agg(spend_cents=cents(pl.col("spend").fill_null(0.0)).sum())
    df = df.join(sp, on="period_start", how="left").with_columns(pl.col("spend_cents").fill_null(0))
    df = df.with_columns(marketing_spend=pl.col("spend_cents") / 100, cac=ratio(pl.col("spend_cents") / 100, pl.col("new_customers")))
    return df, ["marketing_spend", "cac"], []


def campaign_kpis(
    df: pl.DataFrame, campaigns: pl.DataFrame, *, act: pl.DataFrame, keys: list[str], period: Period, groups: pl.DataFrame | None
) -> Added:
    """Sends, open, click and conversion rates (of delivered) and cost per lead, per period of the send date."""
    if "sent_at" not in campaigns.columns:
        return df, [], ["the campaigns have no send date (sent_at): no campaign KPIs per period"]
    c = campaigns.filter(pl.col("sent_at").is_not_null()).with_columns(period_start=period_start(pl.col("sent_at"), period))
    c = _grouped(c, groups)

    def flag(name: str) -> pl.Expr:
        return pl.col(name).fill_null(False).sum().cast(pl.Int64) if name in c.columns else pl.lit(None, pl.Int64)

    cg = c.group_by(keys).agg(
        campaign_sent=pl.len().cast(pl.Int64),
        delivered=flag("delivered") if "delivered" in c.columns else pl.len().cast(pl.Int64),
        opened=flag("opened"),
        clicked=flag("clicked"),
        converted=flag("converted"),
        cost_cents=cents(pl.col("cost").fill_null(0.0)).sum() if "cost" in c.columns else pl.lit(None, pl.Int64),
    )
    df = df.join(cg, on=keys, how="left", nulls_equal=True).with_columns(pl.col("campaign_sent").fill_null(0))
    df = df.with_columns(
        open_rate=ratio(pl.col("opened").cast(pl.Float64), pl.col("delivered")),
        click_rate=ratio(pl.col("clicked").cast(pl.Float64), pl.col("delivered")),
        conversion_rate=ratio(pl.col("converted").cast(pl.Float64), pl.col("delivered")),
        cost_per_lead=ratio(pl.col("cost_cents") / 100, pl.col("converted")),
    )
    return df, ["campaign_sent", "open_rate", "click_rate", "conversion_rate", "cost_per_lead"], []
