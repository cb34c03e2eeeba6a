"""Reduce step: the only computations that touch every transaction, behind one small interface.

An engine turns cleaned transactions (`clean.Transactions.lf`) into small per-customer frames. The
Polars engine is the default; another engine (e.g. Spark) implements the same three methods and every
analysis works unchanged.

Money is summed in integer cents, so totals are exact and never depend on row order.

Each reduction takes the cleaned `Transactions` (or their plan, `tx.lf`); given `Transactions`, the
first reduction also computes their profile (warnings, default as-of date) in the same scan.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, Protocol

import polars as pl

from fidelcli.clean import Transactions

Period = Literal["day", "week", "month", "quarter", "year"]
Source = Transactions | pl.LazyFrame
TRUNCATE = {"day": "1d", "week": "1w", "month": "1mo", "quarter": "1q", "year": "1y"}


def cents(expr: pl.Expr) -> pl.Expr:
    """Amount in integer cents (each line rounded to the cent, halves to even, as Polars' `round`)."""
    return (expr * 100).round(0).cast(pl.Int64)


def _plan(tx: Source) -> pl.LazyFrame:
    return tx.lf if isinstance(tx, Transactions) else tx


def _collect(tx: Source, plan: pl.LazyFrame) -> pl.DataFrame:
    """Collect a reduction with the streaming engine (with the transactions' profile when pending)."""
    if isinstance(tx, Transactions):
        return tx.collect(plan)[0]
    return plan.collect(engine="streaming")


def profit_line(columns: list[str]) -> pl.Expr | None:
    """Profit of a transaction line: its margin, else amount - cost; a return's is negative.
    None when the transactions have neither column."""
    if "margin" in columns:
        line = pl.col("margin").fill_null(0.0)
    elif "cost" in columns:
        line = pl.col("amount") - pl.col("cost").fill_null(0.0)
    else:
        return None
    return pl.when(pl.col("is_return")).then(-line.abs()).otherwise(line)


def period_start(expr: pl.Expr, period: Period) -> pl.Expr:
    """First day of the period containing the date (weeks start on Monday)."""
    return expr.dt.truncate(TRUNCATE[period])


def period_index(expr: pl.Expr, period: Period) -> pl.Expr:
    """Calendar period number of a date: consecutive periods have consecutive numbers (weeks start
    on Monday). Integer arithmetic, far cheaper on millions of rows than shifting dates."""
    if period == "year":
        return expr.dt.year().cast(pl.Int64)
    if period in ("quarter", "month"):
        year, month = expr.dt.year().cast(pl.Int64), expr.dt.month().cast(pl.Int64)
        return year * 4 + (month - 1) // 3 if period == "quarter" else year * 12 + month
    days = expr.cast(pl.Int64)  # days since 1970-01-01, a Thursday
    return (days + 3) // 7 if period == "week" else days


class Engine(Protocol):
    """The reductions every analysis is built on."""

    def occasions(self, tx: Source) -> pl.DataFrame:
        """One row per purchase occasion: customer_id, occasion, date, value (net, returns excluded)."""
        ...

    def occasions_plan(self, tx: Source) -> pl.LazyFrame:
        """The occasions as a lazy plan, for reductions built on them (e.g. the CLV summary)."""
        ...

    def customer_summary(self, tx: Source) -> pl.DataFrame:
        """One row per customer; see `PolarsEngine.customer_summary`."""
        ...

    def activity(self, tx: Source, *, period: Period) -> pl.DataFrame:
        """One row per customer and active period; see `PolarsEngine.activity`."""
        ...


class PolarsEngine:
    """Reductions as lazy Polars plans, collected with the streaming engine.

    Each reduction is one pass over the transactions: rows are first grouped by (customer, occasion),
    then by customer (or customer and period).
    """

    @staticmethod
    def _by_occasion(tx: pl.LazyFrame, *keys: str | pl.Expr, value: bool = False, profit: bool = False) -> pl.LazyFrame:
        purchase = ~pl.col("is_return")
        aggs = {
            # An occasion made only of returns has no purchase date: it is not a purchase occasion.
            "date": pl.when(purchase).then(pl.col("date")).min(),
            "total_cents": cents(pl.col("amount")).sum(),
            "returns": pl.col("is_return").sum().cast(pl.Int64),
        }
        if value:
            aggs["value_cents"] = pl.when(purchase).then(cents(pl.col("amount"))).sum()
        if profit:
            aggs["profit_cents"] = cents(profit_line(tx.collect_schema().names())).sum()  # type: ignore[arg-type]
        return tx.group_by("customer_id", *keys, "occasion").agg(**aggs)

    def occasions_plan(self, tx: Source) -> pl.LazyFrame:
        """`occasions` as a lazy plan, unsorted, to build further reductions on without materialising
        the occasions (collect them through `Transactions.collect` to share the profile pass).

        Columns: customer_id, occasion (the order id, or the date without order ids), date, value.
        """
        return (
            self._by_occasion(_plan(tx), value=True)
            .filter(pl.col("date").is_not_null())
            .select("customer_id", "occasion", "date", value=pl.col("value_cents") / 100)
        )

    def occasions(self, tx: Source) -> pl.DataFrame:
        """One row per purchase occasion (returns are not occasions).

        Columns: customer_id, occasion (text), date (its first day), value (spend of its purchase
        lines, exact to the cent). Sorted by customer_id, date, occasion.
        """
        plan = self.occasions_plan(tx).with_columns(pl.col("occasion").cast(pl.String))
        return _collect(tx, plan.sort("customer_id", "date", "occasion"))

    def customer_summary(self, tx: Source) -> pl.DataFrame:
        """Per-customer purchase history.

        Columns: customer_id, first_purchase, last_purchase (dates of the first and last occasion),
        frequency (purchase occasions), revenue (net spend: purchases minus returns),
        revenue_cents (the same as an exact integer), returns (return lines). Customers whose only
        rows are returns have frequency 0 and null dates. Sorted by customer_id.
        """
        return _collect(
            tx,
            self._by_occasion(_plan(tx))
            .group_by("customer_id")
            .agg(
                first_purchase=pl.col("date").min(),
                last_purchase=pl.col("date").max(),
                frequency=pl.col("date").count().cast(pl.Int64),
                revenue_cents=pl.col("total_cents").sum(),
                returns=pl.col("returns").sum(),
            )
            .select(
                "customer_id", "first_purchase", "last_purchase", "frequency",
                revenue=pl.col("revenue_cents") / 100, revenue_cents="revenue_cents", returns="returns",
            )
            .sort("customer_id")
        )

    def activity(self, tx: Source, *, period: Period) -> pl.DataFrame:
        """Per customer and period with any row: orders (purchase occasions), net revenue and, when
        the transactions have a margin (or cost) column, profit.

        Columns: customer_id, period_start, orders, revenue, revenue_cents (+ profit_cents: the
        lines' margin, or amount - cost, with returns negative). An occasion whose lines fall in two
        periods counts in both. Sorted by customer_id, period_start.
        """
        plan = _plan(tx)
        profit = profit_line(plan.collect_schema().names()) is not None
        extra = {"profit_cents": pl.col("profit_cents").sum()} if profit else {}
        return _collect(
            tx,
            self._by_occasion(plan, period_start(pl.col("date"), period).alias("period_start"), profit=profit)
            .group_by("customer_id", "period_start")
            .agg(orders=pl.col("date").count().cast(pl.Int64), revenue_cents=pl.col("total_cents").sum(), **extra)
            .select(
                "customer_id", "period_start", "orders", revenue=pl.col("revenue_cents") / 100, revenue_cents="revenue_cents",
                **({"profit_cents": "profit_cents"} if profit else {}),
            )
            .sort("customer_id", "period_start")
        )


DEFAULT_ENGINE: Engine = PolarsEngine()


def days_between(start: pl.Expr, end: dt.date | pl.Expr) -> pl.Expr:
    """Whole days from `start` to `end`."""
    end_expr = pl.lit(end) if isinstance(end, dt.date) else end
    return (end_expr - start).dt.total_days()
