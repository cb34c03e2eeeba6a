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


def has_money(tx: Source) -> bool:
    """True when the transactions have amounts. `clean_transactions` leaves the `amount` column out when
    the source has none (nor quantity and unit price): every money figure is then null, never 0."""
    if isinstance(tx, Transactions):
        return tx.has_amount
    return "amount" in tx.collect_schema().names()


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
    elif "cost" in columns and "amount" in columns:
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


def _sum_cents(plan: pl.LazyFrame) -> pl.Expr:
    """Sum of the occasions' cents, null (unknown) when the transactions have no amounts."""
    return pl.col("total_cents").sum() if "amount" in plan.collect_schema().names() else pl.lit(None, pl.Int64)


class Engine(Protocol):
    """The reductions every analysis is built on."""

    def occasions(self, tx: Source) -> pl.DataFrame:
        """One row per purchase occasion: customer_id, occasion, date, value (net, returns excluded)."""
        ...

    def occasions_plan(self, tx: Source) -> pl.LazyFrame:
        """The occasions as a lazy plan, for reductions built on them."""
        ...

    def net_occasions_plan(self, tx: Source) -> pl.LazyFrame:
        """Every (customer, occasion) group with its net value; see `PolarsEngine.net_occasions_plan`."""
        ...

    def customer_summary(self, tx: Source) -> pl.DataFrame:
        """One row per customer; see `PolarsEngine.customer_summary`."""
        ...

    def activity(self, tx: Source, *, period: Period, anonymous: bool = False) -> pl.DataFrame:
        """One row per customer and active period; see `PolarsEngine.activity`."""
        ...


class PolarsEngine:
    """Reductions as lazy Polars plans, collected with the streaming engine.

    Each reduction is one pass over the transactions: rows are first grouped by (customer, occasion),
    then by customer (or customer and period).
    """

    @staticmethod
    def _by_occasion(tx: pl.LazyFrame, *keys: str | pl.Expr, value: bool = False, profit: bool = False,
                     line_date: bool = False) -> pl.LazyFrame:
        purchase = ~pl.col("is_return")
        # Without amounts money is unknown: null cents, never a sum of nothing (0).
        money = "amount" in tx.collect_schema().names()
        no_cents = pl.lit(None, pl.Int64)
        aggs = {
            # An occasion made only of returns has no purchase date: it is not a purchase occasion.
            "date": pl.when(purchase).then(pl.col("date")).min(),
            **({"line_date": pl.col("date").min()} if line_date else {}),
            "total_cents": cents(pl.col("amount")).sum() if money else no_cents,
            "returns": pl.col("is_return").sum().cast(pl.Int64),
        }
        if value:
            aggs["value_cents"] = pl.when(purchase).then(cents(pl.col("amount"))).sum() if money else no_cents
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

    def net_occasions_plan(self, tx: Source) -> pl.LazyFrame:
        """Every (customer, occasion) group of lines with its net value, returns included: the
        purchase occasions and the groups made only of returns (a cancellation invoice, a day with
        only returns), so that spend figures built on them net returns exactly as
        `customer_summary` does (their values sum to its revenue). A lazy plan, unsorted.

        Columns: customer_id, occasion, date (first day of its purchase lines; null for a group made
        only of returns, which is not a purchase occasion), line_date (first day of any of its
        lines), value (net: purchase lines plus the group's returns, which are negative under
        `--returns net`; null without amounts).
        """
        return self._by_occasion(_plan(tx), line_date=True).select(
            "customer_id", "occasion", "date", "line_date", value=pl.col("total_cents") / 100)

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
        rows are returns have frequency 0 and null dates. Without amounts, revenue and revenue_cents
        are null. Sorted by customer_id.
        """
        plan = _plan(tx)
        return _collect(
            tx,
            self._by_occasion(plan)
            .group_by("customer_id")
            .agg(
                first_purchase=pl.col("date").min(),
                last_purchase=pl.col("date").max(),
                frequency=pl.col("date").count().cast(pl.Int64),
                revenue_cents=_sum_cents(plan),
                returns=pl.col("returns").sum(),
            )
            .select(
                "customer_id", "first_purchase", "last_purchase", "frequency",
                revenue=pl.col("revenue_cents") / 100, revenue_cents="revenue_cents", returns="returns",
            )
            .sort("customer_id")
        )

    def _activity_plan(self, plan: pl.LazyFrame, *, period: Period) -> pl.LazyFrame:
        profit = profit_line(plan.collect_schema().names()) is not None
        extra = {"profit_cents": pl.col("profit_cents").sum()} if profit else {}
        return (
            self._by_occasion(plan, period_start(pl.col("date"), period).alias("period_start"), profit=profit)
            .group_by("customer_id", "period_start")
            .agg(orders=pl.col("date").count().cast(pl.Int64), revenue_cents=_sum_cents(plan), **extra)
            .select(
                "customer_id", "period_start", "orders", revenue=pl.col("revenue_cents") / 100, revenue_cents="revenue_cents",
                **({"profit_cents": "profit_cents"} if profit else {}),
            )
            .sort("customer_id", "period_start")
        )

    def activity(self, tx: Source, *, period: Period, anonymous: bool = False) -> pl.DataFrame:
        """Per customer and period with any row: orders (purchase occasions), net revenue and, when
        the transactions have a margin (or cost) column, profit.

        Columns: customer_id, period_start, orders, revenue, revenue_cents (+ profit_cents: the
        lines' margin, or amount - cost, with returns negative). An occasion whose lines fall in two
        periods counts in both. Without amounts, revenue and revenue_cents are null. Sorted by
        customer_id, period_start.

        With `anonymous=True` (and cleaned `Transactions` with amounts), the lines without a customer
        id add one row per period at the end, with a null customer_id, 0 orders and their net revenue,
        from the same pass over the data: `kpi()` counts them in the total revenue only.
        """
        with_anonymous = anonymous and isinstance(tx, Transactions) and has_money(tx)
        if not with_anonymous:
            return _collect(tx, self._activity_plan(_plan(tx), period=period))
        assert isinstance(tx, Transactions)
        # The lines without a customer id are one more group (a null customer_id) of the same pass.
        both = _collect(tx, self._activity_plan(tx.lines, period=period))
        anonymous_rows = both.get_column("customer_id").is_null()
        activity, anon = both.filter(~anonymous_rows), both.filter(anonymous_rows)
        if tx.lines_after_as_of:
            # Rare: lines without a customer id dated after the latest identified transaction, i.e.
            # on or after the default analysis date. A second pass cuts them by day.
            days = tx.lines.filter(pl.col("customer_id").is_null()).group_by("date").agg(revenue_cents=cents(pl.col("amount")).sum())
            anon = (
                tx.collect(days)[0].filter(pl.col("date") < tx.as_of)
                .group_by(period_start(pl.col("date"), period).alias("period_start")).agg(pl.col("revenue_cents").sum())
            )
        anon = anon.sort("period_start").select(
            customer_id=pl.lit(None, activity.schema["customer_id"]), period_start="period_start", orders=pl.lit(0, pl.Int64),
            revenue=pl.col("revenue_cents") / 100, revenue_cents="revenue_cents",
        )
        return pl.concat([activity, anon], how="diagonal_relaxed") if anon.height else activity


DEFAULT_ENGINE: Engine = PolarsEngine()


def days_between(start: pl.Expr, end: dt.date | pl.Expr) -> pl.Expr:
    """Whole days from `start` to `end`."""
    end_expr = pl.lit(end) if isinstance(end, dt.date) else end
    return (end_expr - start).dt.total_days()
