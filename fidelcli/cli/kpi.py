"""`fidelcli kpi`: loyalty KPIs per period, optionally per group."""

from __future__ import annotations

from typing import Annotated

import polars as pl
import typer

from fidelcli.analyses.kpi import kpi, profit_activity
from fidelcli.analyses.rfm import rfm
from fidelcli.cli import options, render
from fidelcli.cli.app import app
from fidelcli.errors import InputError
from fidelcli.io.read import Table
from fidelcli.summary import DEFAULT_ENGINE, Period

PeriodOpt = Annotated[Period | None, typer.Option("--period", help="Period of the KPIs (default month, from the config).", show_default=False)]
ByOpt = Annotated[
    str | None,
    typer.Option("--by", help="Group by a customers column (needs -c), or 'segment' for the RFM segment.", show_default=False),
]
MarginOpt = Annotated[
    float | None,
    typer.Option("--margin", min=0, max=1, help="Gross margin rate for profit (default: the transactions' margin column, else \\[analysis] margin).", show_default=False),
]
SurveysOpt = Annotated[str | None, typer.Option("--surveys", help="Surveys table (NPS, CSAT, CES).", show_default=False)]
SpendOpt = Annotated[str | None, typer.Option("--spend", help="Marketing spend table (CAC, CLV:CAC).", show_default=False)]
CampaignsOpt = Annotated[str | None, typer.Option("--campaigns", help="Campaigns table (open, click, conversion rates).", show_default=False)]


def _readable(comparison: pl.DataFrame) -> pl.DataFrame:
    """Counts without decimals, rates with 4 significant digits (terminal formatting only)."""

    def text(value: float | None) -> str:
        if value is None:
            return ""
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4g}"

    return comparison.with_columns(
        pl.col(c).map_elements(text, return_dtype=pl.String, skip_nulls=False) for c in ("previous", "current", "delta")
    )


def _frame(tbl: Table | None) -> pl.DataFrame | None:
    if tbl is None:
        return None
    tbl.check()
    return tbl.lf.collect()


@app.command("kpi")
def kpi_cmd(
    transactions: options.TransactionsOpt = None,
    customers: options.CustomersOpt = None,
    surveys: SurveysOpt = None,
    spend: SpendOpt = None,
    campaigns: CampaignsOpt = None,
    maps: options.MapOpt = None,
    date_format: options.DateFormatOpt = None,
    as_of: options.AsOfOpt = None,
    start: options.StartOpt = None,
    end: options.EndOpt = None,
    returns: options.ReturnsOpt = None,
    period: PeriodOpt = None,
    by: ByOpt = None,
    margin: MarginOpt = None,
    output: options.OutputOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """Loyalty KPIs per period: customers, orders, revenue, retention, churn, and more with more inputs.

    The terminal shows the last complete period against the one before, with deltas; --format prints
    the full table (one row per period) and -o writes it. Margin, surveys, spend, campaigns and the
    customers' referred_by / loyalty_member columns add their KPIs (see docs/metrics.md).

    Example: fidelcli kpi -t sales.csv -c customers.csv --period quarter --by loyalty_member
    """
    options.set_lang(lang)
    cfg = options.config()
    per: Period = period or cfg.kpi.period
    tx = options.transactions(transactions, maps=maps, date_format=date_format, returns=returns, as_of=as_of, start=start, end=end)
    cust_tbl = options.table("customers", customers, date_format=date_format, required=by not in (None, "segment"))
    cust = _frame(cust_tbl)
    with render.progress(f"computing {per}ly KPIs"):
        # New vs returning comes from the activity itself (first period with a purchase): the
        # per-customer summary, a second pass over the transactions, is only needed for segments.
        activity = DEFAULT_ENGINE.activity(tx, period=per)
        groups = None
        if by == "segment":
            r = cfg.rfm
            seg = rfm(DEFAULT_ENGINE.customer_summary(tx), as_of=tx.as_of, bins=r.bins, monetary=r.monetary, thresholds=r.thresholds, segments=r.segments,
                      lang="fr" if render.settings.lang == "fr" else "en")
            groups = seg.customers.select("customer_id", "segment")
        elif by is not None:
            assert cust is not None
            if by not in cust.columns or by == "customer_id":
                found = ", ".join(c for c in cust.columns if c != "customer_id")
                raise InputError(f"--by {by}: the customers table has no such column", file=cust_tbl.file if cust_tbl else None,
                                 hint=f"use --by segment or one of: {found}")
            groups = cust.select("customer_id", by)
        profit = None
        rate = margin
        if rate is None:
            profit = profit_activity(activity)
            rate = cfg.analysis.margin if profit is None else None
        result = kpi(
            activity, period=per, as_of=tx.as_of, groups=groups, margin_rate=rate, profit=profit,
            surveys=_frame(options.table("surveys", surveys, date_format=date_format, required=False)),
            spend=_frame(options.table("spend", spend, date_format=date_format, required=False)),
            campaigns=_frame(options.table("campaigns", campaigns, date_format=date_format, required=False)),
            customers=cust,
        )
    render.warnings(result.warnings)
    if output is not None:
        render.save(result.periods, output)
    if fmt is not None:
        render.frame(result.periods, fmt=fmt, title=f"KPIs per {per}")
        return
    if output is not None:
        return
    if result.current is None:
        render.info(f"fewer than two complete {per}s before {result.as_of}: showing every period")
        render.frame(result.periods, title=f"KPIs per {per}")
        return
    shown = _readable(result.comparison) if render.default_format(None) == "table" else result.comparison
    render.frame(shown, title=f"{per} of {result.current} vs {result.previous}", max_rows=200)
    if result.yearly is not None and render.is_terminal():
        yearly = result.yearly.select(c for c in result.yearly.columns if result.yearly.get_column(c).null_count() < result.yearly.height)
        render.frame(yearly, title="yearly retention (E - N) / S and historical CLV")
