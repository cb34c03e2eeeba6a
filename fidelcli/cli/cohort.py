"""`fidelcli cohort`: acquisition cohorts x periods since acquisition."""

from __future__ import annotations

from typing import Annotated

import polars as pl
import typer

from fidelcli.analyses.cohort import CohortPeriod, cohort_matrix, cohorts
from fidelcli.cli import options, render
from fidelcli.cli.app import app
from fidelcli.cli.kpi import customers_column
from fidelcli.errors import InputError
from fidelcli.summary import DEFAULT_ENGINE

PeriodOpt = Annotated[CohortPeriod, typer.Option("--period", help="Cohort and period length.")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Split cohorts by any column of the customers table (needs -c), e.g. acquisition_channel.", show_default=False)]
SignupOpt = Annotated[bool, typer.Option("--signup", help="Cohorts by the customers' signup_date instead of the first purchase (needs -c).")]
MatrixOpt = Annotated[bool, typer.Option("--matrix", help="Show a matrix of retention (cohorts in rows, periods since acquisition in columns).")]


def _percent(matrix: pl.DataFrame) -> pl.DataFrame:
    """Retention cells as text percentages for the terminal (formatting only); a partial period's
    cell (outside complete_from..complete_to) is marked with *."""
    cells = [c for c in matrix.columns if c.isdigit()]

    def partial(i: int) -> pl.Expr:
        return (pl.col("complete_from").is_null() | (pl.col("complete_from") > i) | (pl.col("complete_to") < i)).fill_null(True)

    return matrix.with_columns(
        pl.when(pl.col(c).is_null()).then(pl.lit(""))
        .otherwise(pl.format("{}%{}", (pl.col(c) * 100).round(1), pl.when(partial(int(c))).then(pl.lit("*")).otherwise(pl.lit(""))))
        .alias(c)
        for c in cells
    )


@app.command("cohort")
@options.read_options
def cohort_cmd(
    transactions: options.TransactionsOpt = None,
    customers: options.CustomersOpt = None,
    maps: options.MapOpt = None,
    date_format: options.DateFormatOpt = None,
    as_of: options.AsOfOpt = None,
    start: options.StartOpt = None,
    end: options.EndOpt = None,
    returns: options.ReturnsOpt = None,
    occasion: options.OccasionOpt = None,
    period: PeriodOpt = "month",
    by: ByOpt = None,
    signup: SignupOpt = False,
    matrix: MatrixOpt = False,
    output: options.OutputOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """Acquisition cohorts: retention and cumulative revenue per customer, period by period.

    One row per cohort and period since acquisition (cohort, period_index, partial, customers,
    retained, retention, revenue, cumulative_revenue_per_customer), the same table on the terminal,
    piped, with --format and in -o. --matrix shows retention as a matrix instead (cohorts in rows,
    periods since acquisition in columns; complete_from..complete_to are the complete periods).
    --by takes any column of the customers table.

    Example: fidelcli cohort -t sales.csv --period quarter --matrix
    """
    options.set_lang(lang)
    tx = options.transactions(transactions, maps=maps, date_format=date_format, returns=returns, as_of=as_of, start=start, end=end,
                              occasion=occasion)
    cust_tbl = options.table("customers", customers, date_format=date_format, required=bool(by or signup))
    cust = None
    if cust_tbl is not None:
        cust_tbl.check()
        cust = cust_tbl.lf.collect()
    by_frame = signup_frame = None
    if by is not None:
        assert cust_tbl is not None and cust is not None
        by_frame = customers_column(cust_tbl, cust, by)
    if signup:
        assert cust is not None
        if "signup_date" not in cust.columns:
            raise InputError("--signup: the customers table has no signup date", file=cust_tbl.file if cust_tbl else None,
                             hint="map it with --map signup_date=COLUMN or [columns.customers] in fidelcli.toml")
        signup_frame = cust.select("customer_id", "signup_date")
    with render.progress(f"computing {period}ly cohorts"):
        cells = cohorts(
            DEFAULT_ENGINE.activity(tx, period=period),  # first purchases come from it: one pass over the data
            period=period, by=by_frame, signup=signup_frame, as_of=tx.end_date, start=tx.first_date,
        )
    table, title = cells, f"{period}ly cohorts"
    if matrix:
        table, title = cohort_matrix(cells), f"retention by {period} since acquisition"
    if output is not None:
        render.save(table, output)
        if fmt is None:
            return
    if matrix and render.default_format(fmt) == "table":
        table = _percent(table)
        if cells.get_column("partial").any():
            render.info("* a partial period: the data does not cover all of it")
    render.frame(table, fmt=fmt, title=title, max_rows=200)
