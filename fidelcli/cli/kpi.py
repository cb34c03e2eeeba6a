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
    typer.Option("--by", help="Group by any column of the customers table (needs -c), or 'segment' for the RFM segment.", show_default=False),
]
MarginOpt = Annotated[
    float | None,
    typer.Option("--margin", min=0, max=1, help="Gross margin rate for profit (default: the transactions' margin column, else \\[analysis] margin).", show_default=False),
]
SurveysOpt = Annotated[str | None, typer.Option("--surveys", help="Surveys table (NPS, CSAT, CES).", show_default=False)]
SpendOpt = Annotated[str | None, typer.Option("--spend", help="Marketing spend table (CAC, CLV:CAC).", show_default=False)]
CampaignsOpt = Annotated[str | None, typer.Option("--campaigns", help="Campaigns table (open, click, conversion rates).", show_default=False)]
SummaryOpt = Annotated[
    bool, typer.Option("--summary", help="Show the last complete period against the one before, with deltas, instead of every period.")
]
YearlyOpt = Annotated[
    bool, typer.Option("--yearly", help="Show one row per calendar year: retention and historical CLV (not with --period week or --by).")
]


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


def customers_column(tbl: Table, customers: pl.DataFrame, by: str, *, segment: bool = False) -> pl.DataFrame:
    """customer_id and the `by` column of the customers table: a mapped field (parsed, as in
    `customers`) or any other column of the source, as read (e.g. `Gender`, `age`). A name matches
    exactly, else case-insensitively when only one column does.

    Raises InputError listing the available columns when there is no such column.
    """
    fields = [c for c in customers.columns if c != "customer_id"]
    source_of = {src: f for f, src in tbl.mapping.items()}
    others = [c for c in tbl.raw.collect_schema().names() if c not in source_of]
    names = [*fields, *others]
    matches = [by] if by in names else [c for c in names if c.lower() == by.lower()]
    found = matches[0] if len(matches) == 1 else None
    if found is None:
        hint = ("use --by segment or one of: " if segment else "use one of: ") + ", ".join(names)
        raise InputError(f"--by {by}: the customers table has no such column", file=tbl.file, hint=hint)
    if found in fields:
        return customers.select("customer_id", found)
    return tbl.raw.select(tbl.exprs["customer_id"].alias("customer_id"), pl.col(found)).collect()


@app.command("kpi")
@options.read_options
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
    occasion: options.OccasionOpt = None,
    period: PeriodOpt = None,
    by: ByOpt = None,
    margin: MarginOpt = None,
    summary: SummaryOpt = False,
    yearly: YearlyOpt = False,
    output: options.OutputOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """Loyalty KPIs per period: customers, orders, revenue, retention, churn, and more with more inputs.

    One row per period (and --by group), the same table on the terminal, piped, with --format and in
    -o; a partial first or last period is flagged (partial). --summary shows the last complete period
    against the one before, with deltas; --yearly the yearly retention and historical CLV. Margin,
    surveys, spend, campaigns and the customers' referred_by / loyalty_member columns add their KPIs
    (see docs/metrics.md). --by takes any column of the customers table.

    Example: fidelcli kpi -t sales.csv -c customers.csv --period quarter --by loyalty_member --summary
    """
    options.set_lang(lang)
    if summary and yearly:
        raise typer.BadParameter("--summary and --yearly are two views of the KPIs: choose one", param_hint="--summary/--yearly")
    cfg = options.config()
    per: Period = period or cfg.kpi.period
    tx = options.transactions(transactions, maps=maps, date_format=date_format, returns=returns, as_of=as_of, start=start, end=end,
                              occasion=occasion)
    cust_tbl = options.table("customers", customers, date_format=date_format, required=by not in (None, "segment"))
    cust = _frame(cust_tbl)
    groups = None
    if by is not None and by != "segment":
        assert cust_tbl is not None and cust is not None
        groups = customers_column(cust_tbl, cust, by, segment=True)
    with render.progress(f"computing {per}ly KPIs"):
        # New vs returning comes from the activity itself (first period with a purchase): the
        # per-customer summary, a second pass over the transactions, is only needed for segments.
        # The lines without a customer id come in the same pass, for the total revenue.
        activity = DEFAULT_ENGINE.activity(tx, period=per, anonymous=True)
        if by == "segment":
            r = cfg.rfm
            seg = rfm(DEFAULT_ENGINE.customer_summary(tx), as_of=tx.as_of, bins=r.bins, monetary=r.monetary, thresholds=r.thresholds, segments=r.segments,
                      lang="fr" if render.settings.lang == "fr" else "en")
            groups = seg.customers.select("customer_id", "segment")
        profit = None
        rate = margin
        if rate is None:
            profit = profit_activity(activity)
            rate = cfg.analysis.margin if profit is None else None
        result = kpi(
            activity, period=per, as_of=tx.end_date, start=tx.first_date, groups=groups, margin_rate=rate, profit=profit,
            surveys=_frame(options.table("surveys", surveys, date_format=date_format, required=False)),
            spend=_frame(options.table("spend", spend, date_format=date_format, required=False)),
            campaigns=_frame(options.table("campaigns", campaigns, date_format=date_format, required=False)),
            # Given only for --by, the customers table adds no warning about referral or member columns.
            customers=cust if cust is not None and (groups is None or {"referred_by", "loyalty_member"} & set(cust.columns)) else None,
        )
    render.warnings(result.warnings)
    table, title = result.periods, f"KPIs per {per}"
    if summary:
        table = result.comparison
        if result.current is None:
            render.info(f"fewer than two complete {per}s before {result.as_of}: nothing to compare")
            title = f"last complete {per} vs the one before"
        else:
            title = f"{per} of {result.current} vs {result.previous}"
    elif yearly:
        if result.yearly is None:
            raise InputError("--yearly needs --period month, quarter or year, and no --by", hint="drop --by, or use another --period")
        table, title = result.yearly, "yearly retention (retained / S) and historical CLV"
    if output is not None:
        render.save(table, output)
        if fmt is None:
            return
    shown = _readable(table) if summary and render.default_format(fmt) == "table" else table
    render.frame(shown, fmt=fmt, title=title, max_rows=200)
