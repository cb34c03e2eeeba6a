"""`fidelcli cohort`: acquisition cohorts x periods since acquisition."""

from __future__ import annotations

from typing import Annotated

import polars as pl
import typer

from fidelcli.analyses.cohort import CohortPeriod, cohort_matrix, cohorts
from fidelcli.cli import options, render
from fidelcli.cli.app import app
from fidelcli.errors import InputError
from fidelcli.summary import DEFAULT_ENGINE

PeriodOpt = Annotated[CohortPeriod, typer.Option("--period", help="Cohort and period length.")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Split cohorts by a customers column (needs -c), e.g. acquisition_channel.", show_default=False)]
SignupOpt = Annotated[bool, typer.Option("--signup", help="Cohorts by the customers' signup_date instead of the first purchase (needs -c).")]


def _percent(matrix: pl.DataFrame) -> pl.DataFrame:
    """Retention cells as text percentages for the terminal (formatting only)."""
    cells = [c for c in matrix.columns if c.isdigit()]
    return matrix.with_columns(
        pl.when(pl.col(c).is_not_null()).then(pl.format("{}%", (pl.col(c) * 100).round(1))).otherwise(pl.lit("")).alias(c) for c in cells
    )


@app.command("cohort")
def cohort_cmd(
    transactions: options.TransactionsOpt = None,
    customers: options.CustomersOpt = None,
    maps: options.MapOpt = None,
    date_format: options.DateFormatOpt = None,
    as_of: options.AsOfOpt = None,
    start: options.StartOpt = None,
    end: options.EndOpt = None,
    returns: options.ReturnsOpt = None,
    period: PeriodOpt = "month",
    by: ByOpt = None,
    signup: SignupOpt = False,
    output: options.OutputOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """Acquisition cohorts: retention and cumulative revenue per customer, period by period.

    The terminal shows a matrix of retention % (cohorts in rows, periods since acquisition in
    columns); --format prints the long table (cohort, period_index, customers, retained, retention,
    revenue, cumulative_revenue_per_customer) and -o writes it.

    Example: fidelcli cohort -t sales.csv --period quarter
    """
    options.set_lang(lang)
    tx = options.transactions(transactions, maps=maps, date_format=date_format, returns=returns, as_of=as_of, start=start, end=end)
    cust_tbl = options.table("customers", customers, date_format=date_format, required=bool(by or signup))
    cust = None
    if cust_tbl is not None:
        cust_tbl.check()
        cust = cust_tbl.lf.collect()
    by_frame = signup_frame = None
    if by is not None:
        assert cust is not None
        if by not in cust.columns or by == "customer_id":
            found = ", ".join(c for c in cust.columns if c != "customer_id")
            raise InputError(f"--by {by}: the customers table has no such column", file=cust_tbl.file if cust_tbl else None, hint=f"use one of: {found}")
        by_frame = cust.select("customer_id", by)
    if signup:
        assert cust is not None
        if "signup_date" not in cust.columns:
            raise InputError("--signup: the customers table has no signup date", file=cust_tbl.file if cust_tbl else None,
                             hint="map it with --map signup_date=COLUMN or [columns.customers] in fidelcli.toml")
        signup_frame = cust.select("customer_id", "signup_date")
    with render.progress(f"computing {period}ly cohorts"):
        cells = cohorts(
            DEFAULT_ENGINE.activity(tx, period=period),  # first purchases come from it: one pass over the data
            period=period, by=by_frame, signup=signup_frame, as_of=tx.as_of,
        )
    if output is not None:
        render.save(cells, output)
    if fmt is not None:
        render.frame(cells, fmt=fmt, title=f"{period}ly cohorts")
    elif output is None:
        matrix = cohort_matrix(cells)
        if render.default_format(None) == "table":
            matrix = _percent(matrix)
        render.frame(matrix, title=f"retention by {period} since acquisition", max_rows=200)
