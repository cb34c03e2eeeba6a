"""`fidelcli cohort`: acquisition cohorts x periods since acquisition."""

from __future__ import annotations

from typing import Annotated

import polars as pl
import typer

from fidelcli.analyses.cohort import CohortPeriod, cohort_analysis
from fidelcli.cli import options, render
from fidelcli.errors import InputError

PeriodOpt = Annotated[CohortPeriod, typer.Option("--period", help="Cohort and period length.")]
ByOpt = Annotated[
    str | None,
    typer.Option("--by", help="Split cohorts by any column of the customers table (needs -c), e.g. acquisition_channel.", show_default=False),
]
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


@options.read_options
@options.tx_options(inputs=("customers",))
def cohort_cmd(
    tx: options.TxOptions,
    customers: options.CustomersOpt = None,
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
    transactions = tx.load()
    cust = options.customers(customers, by=by, required=signup, date_format=tx.date_format)
    signup_frame = None
    if signup:
        assert cust.frame is not None
        if "signup_date" not in cust.frame.columns:
            raise InputError("--signup: the customers table has no signup date", file=cust.table.file if cust.table else None,
                             hint="map it with --map signup_date=COLUMN or [columns.customers] in fidelcli.toml")
        signup_frame = cust.frame.select("customer_id", "signup_date")
    with render.progress(f"computing {period}ly cohorts"):
        result = cohort_analysis(transactions, engine=options.engine(), period=period, by=cust.by, signup=signup_frame)
    cells = result.cells
    table, title = cells, f"{period}ly cohorts"
    if matrix:
        table, title = result.matrix(), f"retention by {period} since acquisition"
    if output is not None:
        render.save(table, output)
        if fmt is None:
            return
    if matrix and render.default_format(fmt) == "table":
        table = _percent(table)
        if cells.get_column("partial").any():
            render.info("* a partial period: the data does not cover all of it")
    render.frame(table, fmt=fmt, title=title, max_rows=200)
