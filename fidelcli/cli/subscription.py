"""`fidelcli subscription`: contractual retention, sBG fit and projection, subscription CLV."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

import polars as pl
import typer

from fidelcli import __version__
from fidelcli.cli import options, render
from fidelcli.engine.periods import MonthPeriod
from fidelcli.io.write import write_json
from fidelcli.stats import check_discount_rate

SubscriptionsOpt = Annotated[
    str | None,
    typer.Option(
        "--subscriptions", help="Subscriptions: customer_id, start_date, end_date (empty = active), plan, price per period.",
        show_default=False,
    ),
]
PeriodOpt = Annotated[MonthPeriod, typer.Option("--period", help="Renewal period.")]
AsOfOpt = Annotated[
    dt.datetime | None,
    typer.Option(
        "--as-of", formats=options.DATE,
        help="Analysis date, exclusive (default: the day after the latest start or end date that is not in the future).", show_default=False,
    ),
]
# `fidelcli.analyses.subscription.FitScope`, spelled out: importing that module here would load SciPy.
FitOpt = Annotated[
    Literal["overall", "cohort"], typer.Option("--fit", help="One sBG for all subscriptions, or one per cohort as well.")
]
SaveModelOpt = Annotated[
    Path | None, typer.Option("--save-model", help="Save the overall sBG model as JSON.", show_default=False, callback=options.output_file)
]


@options.read_options
def subscription_cmd(
    subscriptions: SubscriptionsOpt = None,
    maps: options.MapOpt = None,
    date_format: options.DateFormatOpt = None,
    period: PeriodOpt = "month",
    as_of: AsOfOpt = None,
    fit: FitOpt = "overall",
    projection: Annotated[int, typer.Option("--projection", min=0, help="Periods projected past the data.")] = 12,
    discount_rate: Annotated[float, typer.Option("--discount-rate", help="Annual discount rate (> -1 and < 1), converted to the period.")] = 0.1,
    save_model: SaveModelOpt = None,
    output: options.OutputOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """Survival and churn per period and cohort, sBG fit and projection, remaining lifetime and CLV.

    The terminal shows the sBG fit(s) and the overall survival (observed and projected); -o FILE
    writes one row per subscription (periods, expected remaining periods, discounted remaining
    lifetime, clv = price x discounted lifetime); piped or with --format csv|json, stdout gets the
    survival table of every cohort.

    Example: fidelcli subscription --subscriptions subs.csv --period month --projection 24 -o subscribers.csv
    """
    from fidelcli.analyses.subscription import model_document, subscription_analysis  # SciPy: loaded here only

    options.set_lang(lang)
    check_discount_rate(discount_rate)
    table = options.table("subscriptions", subscriptions, maps=maps, date_format=date_format)
    assert table is not None
    table.check()
    with render.progress("fitting the sBG model"):
        result = subscription_analysis(table, engine=options.engine(), period=period, as_of=options.date(as_of), fit=fit,
                                       projection=projection, discount_rate=discount_rate, today=dt.date.today())
    render.warnings(result.warnings)
    if save_model is not None:
        write_json(model_document(result, version=__version__), save_model)
        render.info(f"wrote the model to {save_model}")
    if output is not None:
        render.save(result.subscribers, output)
        if fmt is None and not render.is_terminal():
            return  # the file has the table; nothing more on a pipe unless --format asks
    resolved = render.default_format(fmt)
    if output is not None and fmt is None:
        resolved = "table"
    if resolved in ("csv", "json", "jsonl"):
        render.frame(result.survival, fmt=resolved)
        return
    render.frame(result.fits, fmt=resolved, title=f"sBG fit (per {period}; as of {result.as_of})")
    render.mapping(result.headline(), fmt=resolved, title="Active subscriptions")
    render.frame(result.survival.filter(pl.col("cohort") == "all").drop("cohort"), fmt=resolved,
                 title="Survival, all cohorts (observed Kaplan-Meier and sBG; projected rows past the data)", max_rows=200)
