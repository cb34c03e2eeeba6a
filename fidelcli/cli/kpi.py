"""`fidelcli kpi`: loyalty KPIs per period, optionally per group."""

from __future__ import annotations

from typing import Annotated

import polars as pl
import typer

from fidelcli.analyses.kpi import kpi_analysis
from fidelcli.cli import options, render
from fidelcli.config import Kpi, default
from fidelcli.engine.periods import Period
from fidelcli.errors import InputError
from fidelcli.io.columns import Kind

PeriodOpt = Annotated[
    Period | None, typer.Option("--period", help=f"Period of the KPIs (default {default(Kpi, 'period')}, from the config).", show_default=False)
]
ByOpt = Annotated[
    str | None,
    typer.Option("--by", help="Group by any column of the customers table (needs -c), or 'segment' for the RFM segment.", show_default=False),
]
MarginOpt = Annotated[
    float | None,
    typer.Option(
        "--margin", min=0, max=1, help="Gross margin rate for profit (default: the transactions' margin column, else \\[analysis] margin).",
        show_default=False,
    ),
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


@options.read_options
@options.tx_options(inputs=("customers", "surveys", "spend", "campaigns"))
def kpi_cmd(
    tx: options.TxOptions,
    customers: options.CustomersOpt = None,
    surveys: SurveysOpt = None,
    spend: SpendOpt = None,
    campaigns: CampaignsOpt = None,
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
    transactions = tx.load()
    cust = options.customers(customers, by=by, required=False, date_format=tx.date_format, segment=True)

    def extra(kind: Kind, source: str | None) -> pl.DataFrame | None:
        return options.collect(options.table(kind, source, date_format=tx.date_format, required=False))

    with render.progress(f"computing {per}ly KPIs"):
        result = kpi_analysis(
            transactions, engine=options.engine(), period=per, groups=cust.by,
            segment_by=cfg.rfm if by == "segment" else None, lang="fr" if render.settings.lang == "fr" else "en",
            margin=margin, default_margin=cfg.analysis.margin,
            surveys=extra("surveys", surveys), spend=extra("spend", spend), campaigns=extra("campaigns", campaigns), customers=cust.frame,
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
