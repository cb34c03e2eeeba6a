"""Acquisition cohorts: customers grouped by the period of their first purchase (or signup), followed
period by period: how many are still buying, and how much the cohort has spent.

Each cell says whether its calendar period is *partial* (the data does not cover all of it), and
without amounts the revenue columns are null (unknown), never 0."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from fidelcli.engine.periods import MONTHS, TRUNCATE, MonthPeriod, period_start
from fidelcli.errors import InputError
from fidelcli.result import Figure, JsonResult

if TYPE_CHECKING:
    from fidelcli.clean import Transactions
    from fidelcli.engine import Engine

CohortPeriod = MonthPeriod
VALUES = ("period_index", "partial", "customers", "retained", "retention", "revenue", "cumulative_revenue_per_customer")


def _index(start: pl.Expr, cohort: pl.Expr, period: CohortPeriod) -> pl.Expr:
    """Whole periods from the cohort's period to `start` (both are period starts)."""
    months = (start.dt.year() - cohort.dt.year()) * 12 + (start.dt.month().cast(pl.Int32) - cohort.dt.month().cast(pl.Int32))
    return (months // MONTHS[period]).cast(pl.Int32)


def cohorts(
    activity: pl.DataFrame,
    summary: pl.DataFrame | None = None,
    *,
    period: CohortPeriod = "month",
    by: pl.DataFrame | None = None,
    signup: pl.DataFrame | None = None,
    as_of: dt.date | None = None,
    start: dt.date | None = None,
) -> pl.DataFrame:
    """Retention and revenue of acquisition cohorts, period by period since acquisition.

    A customer's cohort is the period of their first purchase (default) or of their signup date
    (`signup`); period_index 0 is that period. A customer is retained in a period when they made a
    purchase occasion in it (a period with only returns does not count, but its returns count in
    revenue). With signup cohorts, customers who signed up and never bought are in the cohort size,
    purchases before the signup period are ignored, and buyers without a signup date are left out.
    Every cell from index 0 to the last period before `as_of` appears, zeros included. A cell is
    partial when its calendar period begins before `start` or ends after `as_of`.

    Parameters
    ----------
    activity: `Engine.activity(tx, period=period)`.
    summary: optional `Engine.customer_summary(tx)`; without it the first-purchase period is the first
        period of `activity` with an occasion (the same period, without a second pass over the data).
    period: "month", "quarter" or "year" (must be the period of `activity`).
    by: customer_id and one column (e.g. acquisition_channel): cohorts are split by its value.
    signup: customer_id and signup_date; cohorts by signup period instead of first purchase.
    as_of: analysis date (exclusive); default the day after the last period with activity.
    start: the first day the data covers (`Transactions.first_date`); default: the first period
        with activity is taken as complete.

    Returns
    -------
    Columns: cohort (period start), [by column], period_index, partial (the cell's period is not
    wholly covered by the data), customers (cohort size), retained, retention (retained / customers),
    revenue (net, in that period), cumulative_revenue_per_customer (net revenue from index 0 to this
    one, per cohort customer; both null without amounts). Sorted by cohort, [by,] period_index.

    Raises
    ------
    InputError: no customer to put in a cohort.
    """
    if signup is not None:
        members = signup.filter(pl.col("signup_date").is_not_null()).select(
            "customer_id", cohort=period_start(pl.col("signup_date"), period)
        ).unique("customer_id", keep="first")
    elif summary is not None:
        members = summary.filter(pl.col("frequency") > 0).select("customer_id", cohort=period_start(pl.col("first_purchase"), period))
    else:
        first = activity.filter(pl.col("orders") > 0, pl.col("customer_id").is_not_null())
        members = first.group_by("customer_id").agg(cohort=pl.col("period_start").min())
    keys = ["cohort"]
    group = None
    if by is not None:
        group = next(c for c in by.columns if c != "customer_id")
        members = members.join(by.select("customer_id", group).unique("customer_id", keep="first"), on="customer_id", how="left")
        keys.append(group)
    if members.height == 0:
        raise InputError("no customer to put in a cohort", hint="check the signup dates or the analysis window")

    money = activity.get_column("revenue_cents").null_count() < activity.height
    last_activity = activity.get_column("period_start").max()
    last = period_start(pl.lit(as_of - dt.timedelta(days=1)), period) if as_of else pl.lit(last_activity)
    first_day = start if start is not None else activity.get_column("period_start").min()
    # Without as_of the data ends with its last period: that period is complete.
    end = pl.lit(as_of) if as_of is not None else pl.lit(last_activity).dt.offset_by(TRUNCATE[period])
    sizes = members.group_by(keys).agg(customers=pl.len().cast(pl.Int64))
    grid = (
        sizes.with_columns(period_start=pl.date_ranges(pl.col("cohort"), last, interval=TRUNCATE[period]))
        .explode("period_start")
        .with_columns(period_index=_index(pl.col("period_start"), pl.col("cohort"), period))
    )
    cells = (
        activity.join(members, on="customer_id", how="inner")
        .filter(pl.col("period_start") >= pl.col("cohort"))
        .group_by(*keys, "period_start")
        .agg(retained=(pl.col("orders") > 0).sum().cast(pl.Int64), revenue_cents=pl.col("revenue_cents").sum())
    )
    out = (
        grid.join(cells, on=[*keys, "period_start"], how="left", nulls_equal=True)
        .with_columns(pl.col("retained", "revenue_cents").fill_null(0))
        .sort(*keys, "period_index", nulls_last=True)
    )
    cumulative = pl.col("revenue_cents").cum_sum().over(keys, order_by="period_index")
    unknown = pl.lit(None, pl.Float64)
    return out.select(
        "cohort",
        *([group] if group else []),
        "period_index",
        partial=(pl.col("period_start") < pl.lit(first_day)) | (pl.col("period_start").dt.offset_by(TRUNCATE[period]) > end),
        customers="customers",
        retained="retained",
        retention=pl.col("retained") / pl.col("customers"),
        revenue=pl.col("revenue_cents") / 100 if money else unknown,
        cumulative_revenue_per_customer=cumulative / 100 / pl.col("customers") if money else unknown,
    )


def cohort_matrix(cells: pl.DataFrame, *, value: str = "retention") -> pl.DataFrame:
    """The cohort cells as a matrix: one row per cohort (and group), one column per period_index.

    Columns: cohort, [group,] customers, complete_from and complete_to (the first and last
    period_index whose period is complete: the cells outside are partial; null when none is), then
    "0", "1", ... holding `value`.
    """
    index = [c for c in cells.columns if c not in VALUES]
    wide = cells.pivot(on="period_index", index=[*index, "customers"], values=value, sort_columns=False)
    order = sorted((c for c in wide.columns if c not in (*index, "customers")), key=int)
    complete = pl.col("period_index").filter(~pl.col("partial"))
    bounds = cells.group_by(index).agg(complete_from=complete.min(), complete_to=complete.max())
    wide = wide.join(bounds, on=index, how="left", nulls_equal=True)
    return wide.select(*index, "customers", "complete_from", "complete_to", *order).sort(index, nulls_last=True)


@dataclass
class CohortResult(JsonResult):
    """The result of `cohort_analysis`: `cells` as `cohorts()` returns them, and the retention matrix."""

    cells: pl.DataFrame
    period: CohortPeriod
    warnings: list[str] = field(default_factory=list)

    def matrix(self) -> pl.DataFrame:
        """Retention with cohorts in rows and periods since acquisition in columns (`cohort_matrix`)."""
        return cohort_matrix(self.cells)

    def tables(self) -> dict[str, pl.DataFrame]:
        return {"cells": self.cells, "matrix": self.matrix()}

    def headline(self) -> dict[str, Figure]:
        return {"period": self.period, "cohorts": self.cells.get_column("cohort").n_unique() if self.cells.height else 0,
                "partial_cells": int(self.cells.get_column("partial").sum())}


def cohort_analysis(
    tx: Transactions,
    *,
    engine: Engine,
    period: CohortPeriod = "month",
    by: pl.DataFrame | None = None,
    signup: pl.DataFrame | None = None,
) -> CohortResult:
    """Cohorts of cleaned transactions, from the engine's per-customer-per-period activity (first
    purchases come from it: one pass over the data), up to their analysis date (see `cohorts()` for
    `by` and `signup`). The one library call behind `fidelcli cohort`."""
    cells = cohorts(engine.activity(tx, period=period), period=period, by=by, signup=signup, as_of=tx.end_date, start=tx.first_date)
    return CohortResult(cells=cells, period=period)
