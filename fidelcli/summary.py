"""Reduce step: the only computations that touch every transaction, behind one small interface.

An engine turns cleaned transactions (`clean.Transactions.lf`) into small per-customer frames. The
Polars engine is the default; another engine (e.g. Spark) implements the same three methods and every
analysis works unchanged.

Money is summed in integer cents, so totals are exact and never depend on row order.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, Protocol

import polars as pl

Period = Literal["day", "week", "month", "quarter", "year"]
TRUNCATE = {"day": "1d", "week": "1w", "month": "1mo", "quarter": "1q", "year": "1y"}


def cents(expr: pl.Expr) -> pl.Expr:
    """Amount in integer cents (rounded half away from zero by Polars' round)."""
    return (expr * 100).round(0).cast(pl.Int64)


def period_start(expr: pl.Expr, period: Period) -> pl.Expr:
    """First day of the period containing the date (weeks start on Monday)."""
    return expr.dt.truncate(TRUNCATE[period])


class Engine(Protocol):
    """The reductions every analysis is built on."""

    def occasions(self, tx: pl.LazyFrame) -> pl.DataFrame:
        """One row per purchase occasion: customer_id, occasion, date, value (net, returns excluded)."""
        ...

    def customer_summary(self, tx: pl.LazyFrame) -> pl.DataFrame:
        """One row per customer; see `PolarsEngine.customer_summary`."""
        ...

    def activity(self, tx: pl.LazyFrame, *, period: Period) -> pl.DataFrame:
        """One row per customer and active period; see `PolarsEngine.activity`."""
        ...


class PolarsEngine:
    """Reductions as lazy Polars plans, collected with the streaming engine."""

    def _occasions(self, tx: pl.LazyFrame) -> pl.LazyFrame:
        return (
            tx.filter(~pl.col("is_return"))
            .group_by("customer_id", "occasion")
            .agg(date=pl.col("date").min(), value_cents=cents(pl.col("amount")).sum())
        )

    def occasions(self, tx: pl.LazyFrame) -> pl.DataFrame:
        """One row per purchase occasion (returns are not occasions).

        Columns: customer_id, occasion, date (its first day), value (its spend, 2 decimals exact).
        """
        return (
            self._occasions(tx)
            .with_columns(value=pl.col("value_cents") / 100)
            .drop("value_cents")
            .sort("customer_id", "date", "occasion")
            .collect(engine="streaming")
        )

    def customer_summary(self, tx: pl.LazyFrame) -> pl.DataFrame:
        """Per-customer purchase history.

        Columns: customer_id, first_purchase, last_purchase (dates of first and last occasion),
        frequency (purchase occasions), purchase_days (distinct days with an occasion),
        revenue (net spend: purchases minus returns), revenue_cents (the same, exact integer),
        first_value (spend of the first occasion; ties on the day broken by occasion id),
        returns (return lines). Customers whose only rows are returns have frequency 0 and null dates.
        Sorted by customer_id.
        """
        occ = (
            self._occasions(tx)
            .group_by("customer_id")
            .agg(
                first_purchase=pl.col("date").min(),
                last_purchase=pl.col("date").max(),
                frequency=pl.len().cast(pl.Int64),
                purchase_days=pl.col("date").n_unique().cast(pl.Int64),
                first_value_cents=pl.col("value_cents").sort_by("date", "occasion").first(),
            )
        )
        money = tx.group_by("customer_id").agg(
            revenue_cents=cents(pl.col("amount")).sum(),
            returns=pl.col("is_return").sum().cast(pl.Int64),
        )
        return (
            money.join(occ, on="customer_id", how="left")
            .with_columns(
                frequency=pl.col("frequency").fill_null(0),
                purchase_days=pl.col("purchase_days").fill_null(0),
                revenue=pl.col("revenue_cents") / 100,
                first_value=pl.col("first_value_cents") / 100,
            )
            .select(
                "customer_id", "first_purchase", "last_purchase", "frequency", "purchase_days",
                "revenue", "revenue_cents", "first_value", "returns",
            )
            .sort("customer_id")
            .collect(engine="streaming")
        )

    def activity(self, tx: pl.LazyFrame, *, period: Period) -> pl.DataFrame:
        """Per customer and period with any row: period_start, orders (occasions), revenue (net).

        Columns: customer_id, period_start, orders, revenue, revenue_cents. Sorted.
        """
        occ = (
            self._occasions(tx)
            .with_columns(period_start=period_start(pl.col("date"), period))
            .group_by("customer_id", "period_start")
            .agg(orders=pl.len().cast(pl.Int64))
        )
        money = (
            tx.with_columns(period_start=period_start(pl.col("date"), period))
            .group_by("customer_id", "period_start")
            .agg(revenue_cents=cents(pl.col("amount")).sum())
        )
        return (
            money.join(occ, on=["customer_id", "period_start"], how="full", coalesce=True)
            .with_columns(orders=pl.col("orders").fill_null(0), revenue_cents=pl.col("revenue_cents").fill_null(0))
            .with_columns(revenue=pl.col("revenue_cents") / 100)
            .select("customer_id", "period_start", "orders", "revenue", "revenue_cents")
            .sort("customer_id", "period_start")
            .collect(engine="streaming")
        )


DEFAULT_ENGINE: Engine = PolarsEngine()


def days_between(start: pl.Expr, end: dt.date | pl.Expr) -> pl.Expr:
    """Whole days from `start` to `end`."""
    end_expr = pl.lit(end) if isinstance(end, dt.date) else end
    return (end_expr - start).dt.total_days()
