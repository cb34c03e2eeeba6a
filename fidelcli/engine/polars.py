"""The Polars engine: every reduction as a lazy Polars plan, collected with the streaming engine.

Each reduction is one pass over the transactions: rows are first grouped by (customer, occasion),
then by customer (or customer and period). Given cleaned `Transactions`, the first reduction also
computes their profile (warnings, default analysis date) in the same pass (`Transactions.collect`).
Money is summed in integer cents, so totals are exact and never depend on row order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl

from fidelcli.clean import CleanOptions, Occasion, Transactions, clean_transactions
from fidelcli.engine import polars_churn, polars_clv, polars_journey, polars_loyalty
from fidelcli.engine.periods import MonthPeriod, Period, TimeUnit, cents, day_period_start, period_start, profit_line
from fidelcli.engine.polars_subscriptions import subscription_periods
from fidelcli.engine.results import RFReductions, SubscriptionPeriods
from fidelcli.errors import InputError
from fidelcli.io.read import Table, scan_table
from fidelcli.io.spec import TableSpec

OCCASIONS = "polars.occasions"  # the key of the collected purchase occasions in `Transactions.cache`


def _sum_cents(plan: pl.LazyFrame) -> pl.Expr:
    """Sum of the occasions' cents, null (unknown) when the transactions have no amounts."""
    return pl.col("total_cents").sum() if "amount" in plan.collect_schema().names() else pl.lit(None, pl.Int64)


def _by_occasion(tx: pl.LazyFrame, *keys: str | pl.Expr, value: bool = False, profit: pl.Expr | None = None,
                 line_date: bool = False) -> pl.LazyFrame:
    """The lines grouped by (customer, keys, occasion): date (of the purchase lines), total_cents,
    returns, and on demand value_cents (purchase lines), profit_cents (the sum of `profit`, a line's
    profit: `profit_line`) and line_date."""
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
    if profit is not None:
        aggs["profit_cents"] = cents(profit).sum()
    return tx.group_by("customer_id", *keys, "occasion").agg(**aggs)


def _by_day(tx: pl.LazyFrame, *keys: str | pl.Expr, profit: pl.Expr | None = None) -> dict[str, pl.Expr]:
    """When the occasions are the customers' days (`Transactions.occasion_is_date`), the aggregations
    of one group-by by customer (and `keys`) equal to those of `_by_occasion` then by customer: the
    purchase days give first and last purchase and the occasions (distinct days with a purchase line);
    cents and return lines add up line by line. One hash table of customers instead of one of
    (customer, day) pairs: measured in docs/performance.md."""
    day = pl.when(~pl.col("is_return")).then(pl.col("date"))
    money = "amount" in tx.collect_schema().names()
    return {
        "first_purchase": day.min(),
        "last_purchase": day.max(),
        "occasions": day.drop_nulls().n_unique().cast(pl.Int64),
        "revenue_cents": cents(pl.col("amount")).sum() if money else pl.lit(None, pl.Int64),
        "returns": pl.col("is_return").sum().cast(pl.Int64),
        **({"profit_cents": cents(profit).sum()} if profit is not None else {}),
    }


# The day's rank (0-based) in its period, for the periods of at most 32 days.
DAY_OF_PERIOD: dict[Period, Callable[[pl.Expr], pl.Expr]] = {
    "day": lambda d: pl.lit(0, pl.Int64),
    "week": lambda d: d.dt.weekday().cast(pl.Int64) - 1,
    "month": lambda d: d.dt.day().cast(pl.Int64) - 1,
}


def _days_in_period(period: Period) -> pl.Expr:
    """The number of distinct days with a purchase line in a (customer, period) group, for the periods
    of `DAY_OF_PERIOD`: a bit per day of the period (`bitwise_or`), counted (`bitwise_count_ones`).
    Equal to `_by_day`'s `n_unique` of the days, with a 4-byte state per group instead of a set of
    days: measured in docs/performance.md."""
    bit = pl.lit(2, pl.Int64).pow(DAY_OF_PERIOD[period](pl.col("date"))).cast(pl.UInt32)
    return pl.when(~pl.col("is_return")).then(bit).otherwise(pl.lit(0, pl.UInt32)).bitwise_or().bitwise_count_ones().cast(pl.Int64)


def _lines(tx: Transactions, *, anonymous: bool) -> pl.LazyFrame:
    """The cleaned lines (`lf`; with `anonymous`, `lines`: those without a customer id too), their
    customer ids still the source's integers when there are such (`Transactions.native`): for the
    reductions that group by customer and cast the groups' ids to text afterwards."""
    if tx.native is None:
        return tx.lines if anonymous else tx.lf
    return tx.native.lines if anonymous else tx.native.lines.filter(pl.col("customer_id").is_not_null())


def net_occasions(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Every (customer, occasion) group of lines with its net value, returns included: the
    purchase occasions and the groups made only of returns (a cancellation invoice, a day with
    only returns), so that spend figures built on them net returns exactly as `customer_summary`
    does. A lazy plan, unsorted.

    Columns: customer_id, occasion, date (first day of its purchase lines; null for a group made
    only of returns), line_date (first day of any of its lines), value (net; null without amounts).
    """
    return _by_occasion(lines, line_date=True).select(
        "customer_id", "occasion", "date", "line_date", value=pl.col("total_cents") / 100)


class PolarsEngine:
    """The reductions of `fidelcli.engine.Engine` as lazy Polars plans (the default engine)."""

    name = "polars"

    def load(self, source: TableSpec | Table, options: CleanOptions, *,
             on_warnings: Callable[[list[str]], None] | None = None) -> Transactions:
        """Scan and clean the transactions: `scan_table` of the spec (a `Table` already scanned is
        used as it is, without sniffing the source again), then `clean_transactions`."""
        if isinstance(source, TableSpec):
            source = scan_table(source.source, source.kind, columns=source.columns, date_format=source.date_format,
                                ragged=source.ragged, sheet=source.sheet, encoding=source.encoding,
                                delimiter=source.delimiter if source.text else None, header=source.header)
        return clean_transactions(source, returns=options.returns, as_of=options.as_of, start=options.start, end=options.end,
                                  occasion=options.occasion, on_warnings=on_warnings)

    def occasions(self, tx: Transactions) -> pl.DataFrame:
        """One row per purchase occasion (returns are not occasions). Not small: for tests and for
        the churn features, which the engine computes from it; no analysis is built on it.

        Columns: customer_id, occasion (text), date (its first day), value (spend of its purchase
        lines, exact to the cent). Sorted by customer_id, date, occasion.
        """
        plan = (
            _by_occasion(tx.lf, value=True)
            .filter(pl.col("date").is_not_null())
            .select("customer_id", "occasion", "date", value=pl.col("value_cents") / 100)
            .with_columns(pl.col("occasion").cast(pl.String))
        )
        return tx.collect(plan.sort("customer_id", "date", "occasion"))[0]

    def customer_summary(self, tx: Transactions) -> pl.DataFrame:
        """Per-customer purchase history.

        Columns: customer_id, first_purchase, last_purchase (dates of the first and last occasion),
        frequency (purchase occasions), revenue (net spend: purchases minus returns),
        revenue_cents (the same as an exact integer), returns (return lines). Customers whose only
        rows are returns have frequency 0 and null dates. Without amounts, revenue and revenue_cents
        are null. Sorted by customer_id.
        """
        native = tx.native is not None
        plan = _lines(tx, anonymous=False)
        if tx.occasion_is_date:
            aggs = _by_day(plan)
            by_customer = plan.group_by("customer_id").agg(
                *(aggs[k].alias(k) for k in ("first_purchase", "last_purchase")), frequency=aggs["occasions"],
                revenue_cents=aggs["revenue_cents"], returns=aggs["returns"],
            )
        else:
            by_customer = _by_occasion(plan).group_by("customer_id").agg(
                first_purchase=pl.col("date").min(),
                last_purchase=pl.col("date").max(),
                frequency=pl.col("date").count().cast(pl.Int64),
                revenue_cents=_sum_cents(plan),
                returns=pl.col("returns").sum(),
            )
        return tx.collect(
            by_customer
            .select(
                pl.col("customer_id").cast(pl.String), "first_purchase", "last_purchase", "frequency",
                revenue=pl.col("revenue_cents") / 100, revenue_cents="revenue_cents", returns="returns",
            )
            .sort("customer_id"),
            native=native,
        )[0]

    @staticmethod
    def _activity_plan(plan: pl.LazyFrame, *, period: Period, by_day: bool = False) -> pl.LazyFrame:
        schema = plan.collect_schema()
        profit = profit_line(schema.names())
        first_day = day_period_start if schema["date"] == pl.Date else period_start
        start = first_day(pl.col("date"), period).alias("period_start")
        if by_day:  # the occasions are days: one group-by (`_by_day`), a day lies in one period
            aggs = _by_day(plan, profit=profit)
            if period in DAY_OF_PERIOD:
                aggs["occasions"] = _days_in_period(period)
            grouped = plan.group_by("customer_id", start).agg(
                orders=aggs["occasions"], revenue_cents=aggs["revenue_cents"],
                **({"profit_cents": aggs["profit_cents"]} if profit is not None else {}))
        else:
            extra = {"profit_cents": pl.col("profit_cents").sum()} if profit is not None else {}
            grouped = (
                _by_occasion(plan, start, profit=profit)
                .group_by("customer_id", "period_start")
                .agg(orders=pl.col("date").count().cast(pl.Int64), revenue_cents=_sum_cents(plan), **extra)
            )
        return (
            grouped
            .select(
                pl.col("customer_id").cast(pl.String), "period_start", "orders", revenue=pl.col("revenue_cents") / 100, revenue_cents="revenue_cents",
                **({"profit_cents": "profit_cents"} if profit is not None else {}),
            )
            .sort("customer_id", "period_start")
        )

    def activity(self, tx: Transactions, *, period: Period, anonymous: bool = False) -> pl.DataFrame:
        """Per customer and period with any row: orders (purchase occasions), net revenue and, when
        the transactions have a margin (or cost) column, profit.

        Columns: customer_id, period_start, orders, revenue, revenue_cents (+ profit_cents: the
        lines' margin, or amount - cost, with returns negative). An occasion whose lines fall in two
        periods counts in both. Without amounts, revenue and revenue_cents are null. Sorted by
        customer_id, period_start.

        With `anonymous=True` (and transactions with amounts), the lines without a customer id add
        one row per period at the end, with a null customer_id, 0 orders and their net revenue,
        from the same pass over the data: `kpi()` counts them in the total revenue only.
        """
        if not (anonymous and tx.has_amount):
            plan = self._activity_plan(_lines(tx, anonymous=False), period=period, by_day=tx.occasion_is_date)
            return tx.collect(plan, native=tx.native is not None)[0]
        # The lines without a customer id are one more group (a null customer_id) of the same pass.
        plan = self._activity_plan(_lines(tx, anonymous=True), period=period, by_day=tx.occasion_is_date)
        both = tx.collect(plan, native=tx.native is not None)[0]
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

    def rf_summary(self, tx: Transactions, *, calibration_end: dt.date | None = None, time_unit: TimeUnit = "week",
                   discrete: bool = False, occasion: Occasion | None = "day") -> RFReductions:
        """The per-customer BTYD reductions (`RFReductions`) of the transactions before their
        analysis date, occasions counted by `occasion` ("day", "order"; None: the transactions' own
        rule), the calibration ending on `calibration_end` (default: the last day). The continuous
        reduction is one streaming pass (shared with the profile) without materialising the
        occasions; the BG/BB one (`discrete`, periods of `time_unit`) collects the occasion groups.

        Raises InputError for "order" without an order id column.
        """
        lf = tx.keyed_by(occasion)
        occ = net_occasions(lf)
        if discrete:
            frame = tx.collect(occ.sort("customer_id", "line_date", "occasion"))[0]
            customers = polars_clv.discrete_reduction(frame, as_of=tx.as_of, calibration_end=calibration_end, period=time_unit)
            return RFReductions(customers=customers, as_of=tx.as_of)
        # `clean_transactions` already keeps the lines before the analysis date: no filter, so the
        # profile (which sets the default date) is computed in the same pass.
        frames = tx.collect(*polars_clv.summary_queries(occ, calibration_end))
        by_day = frames[1] if len(frames) > 1 else None
        if frames[0].height == 0:
            first = tx.collect(occ.select(pl.col("date").min()))[0].item()
            return RFReductions(customers=frames[0], as_of=tx.as_of, occasions_by_day=by_day, first_purchase=first)

        def occasions_of(ids: pl.Series) -> pl.LazyFrame:
            # A second reading of the source, for the few customers whose returns need it (`net_money`).
            return net_occasions(lf.filter(pl.col("customer_id").is_in(ids.implode())))

        customers = polars_clv.net_money(frames[0], occasions_of, polars_clv.calibration(calibration_end))
        return RFReductions(customers=customers, as_of=tx.as_of, occasions_by_day=by_day)

    def margin_rates(self, tx: Transactions, *, calibration_end: dt.date | None = None) -> pl.DataFrame:
        """Per customer, the profit (`profit_line`) and the amount of the purchase lines dated up to
        `calibration_end` (included; default: all): customer_id, profit, amount (unsorted sums).
        Raises InputError when the transactions have neither a margin nor a cost column."""
        profit = profit_line(tx.fields)
        if profit is None:
            raise InputError("the transactions have neither a margin nor a cost column", file=tx.file)
        lines = tx.lf.filter(~pl.col("is_return"))
        if calibration_end is not None:
            lines = lines.filter(pl.col("date") <= pl.lit(calibration_end))
        return tx.collect(lines.group_by("customer_id").agg(profit=profit.sum(), amount=pl.col("amount").sum()))[0]

    def has_amounts(self, tx: Transactions) -> bool:
        """True when some transaction line has a non-zero amount (nulls and zeros carry no spend)."""
        if not tx.has_amount or "amount" not in tx.fields:
            return False
        return bool(tx.collect(tx.lf.select((pl.col("amount").fill_null(0.0) != 0).any()))[0].item())

    def _occasions(self, tx: Transactions) -> pl.LazyFrame:
        """The purchase occasions, collected once per `Transactions` (features at several cutoffs)."""
        if OCCASIONS not in tx.cache:
            # Only what the churn reductions read, without the occasion ids (half the memory at
            # 100M lines): same-day occasions give the same features in any order (money is summed
            # in integer cents); ties sorted by value keep the order deterministic.
            plan = (_by_occasion(tx.lf, value=True).filter(pl.col("date").is_not_null())
                    .select("customer_id", "date", "value_cents"))
            tx.cache[OCCASIONS] = tx.collect(plan.sort("customer_id", "date", "value_cents"))[0]
        frame: pl.DataFrame = tx.cache[OCCASIONS]
        return frame.lazy()

    def purchase_features(self, tx: Transactions, *, cutoff: dt.date) -> pl.DataFrame:
        """Per-customer purchase behaviour at `cutoff` (see `polars_churn.purchase_features`): one
        row per customer with a purchase on or before it, unsorted."""
        return polars_churn.purchase_features(self._occasions(tx), cutoff).collect(engine="streaming")

    def line_features(self, tx: Transactions, *, cutoff: dt.date) -> pl.DataFrame | None:
        """Returns share and category/channel counts at `cutoff` (`polars_churn.line_features`),
        unsorted; None when the transactions provide none of them."""
        plan = polars_churn.line_features(tx.lf, cutoff)
        return None if plan is None else tx.collect(plan)[0]

    def purchase_labels(self, tx: Transactions, *, cutoff: dt.date, end: dt.date) -> pl.DataFrame:
        """customer_id, churned (1 = no purchase occasion in (cutoff, end]) of the customers with a
        purchase on or before `cutoff`, sorted by customer_id."""
        return polars_churn.purchase_labels(self._occasions(tx), cutoff, end).sort("customer_id").collect(engine="streaming")

    @staticmethod
    def _baskets_plan(tx: Transactions, item: str, *, category: bool = False) -> pl.LazyFrame:
        names = tx.fields
        category = category and item != "category" and "category" in names
        if item not in names:
            raise InputError(f"baskets need a {item} column, and the transactions have none", file=tx.file,
                             hint=f"map it with --map {item}=COLUMN")
        money = "amount" in names
        return (
            tx.lf.filter(~pl.col("is_return"), pl.col(item).is_not_null())
            .group_by("customer_id", "occasion", item)
            .agg(quantity=pl.col("quantity").sum() if "quantity" in names else pl.lit(None, pl.Float64),
                 amount_cents=cents(pl.col("amount")).sum() if money else pl.lit(None, pl.Int64),
                 date=pl.col("date").min(),
                 **({"category": pl.col("category").drop_nulls().min()} if category else {}))
        )

    def baskets(self, tx: Transactions, *, item: str = "product_id", dates: bool = False) -> pl.DataFrame:
        """Order x product: one row per (customer_id, occasion, item) of the purchase lines (returns
        are not bought items) with quantity (sum; null without a quantity column) and amount (sum,
        exact to the cent; null without amounts). `item` is product_id or category. With `dates`, a
        `date` column after occasion: the first day of the lines (the basket's day, for a holdout
        split). Sorted by customer_id, occasion (text), item.

        Raises InputError when the transactions have no `item` column.
        """
        plan = self._baskets_plan(tx, item).select(
            "customer_id", pl.col("occasion").cast(pl.String), *(["date"] if dates else []), item, "quantity",
            amount=pl.col("amount_cents") / 100)
        return tx.collect(plan.sort("customer_id", "occasion", item))[0]

    def item_counts(self, tx: Transactions, *, item: str = "product_id", category: bool = False) -> pl.DataFrame:
        """Per item of the purchase lines: orders (occasions with it), customers (who bought it),
        quantity and revenue (exact to the cent; null without amounts). With `category` (and a
        product item), a `category` column after the item: the smallest category written on its
        lines (null without a category column). Sorted by item.

        Raises InputError when the transactions have no `item` column.
        """
        with_category = category and item != "category"
        has_category = with_category and "category" in tx.fields
        plan = (
            self._baskets_plan(tx, item, category=has_category).group_by(item)
            .agg(orders=pl.len().cast(pl.Int64), customers=pl.col("customer_id").n_unique().cast(pl.Int64),
                 quantity=pl.col("quantity").sum(), revenue_cents=pl.col("amount_cents").sum(),
                 **({"category": pl.col("category").min()} if has_category else {}))
            .select(item, *(["category"] if has_category else []), "orders", "customers", "quantity",
                    revenue=pl.col("revenue_cents") / 100)
        )
        if with_category and not has_category:
            plan = plan.with_columns(category=pl.lit(None, pl.String)).select(item, "category", pl.exclude(item, "category"))
        if "quantity" not in tx.fields:
            plan = plan.with_columns(quantity=pl.lit(None, pl.Float64))
        if "amount" not in tx.fields:
            plan = plan.with_columns(revenue=pl.lit(None, pl.Float64))
        return tx.collect(plan.sort(item))[0]

    def subscriptions(self, source: Table | pl.LazyFrame | pl.DataFrame, *, period: MonthPeriod, as_of: dt.date | None = None,
                      today: dt.date | None = None) -> SubscriptionPeriods:
        """The subscriptions per period (`polars_subscriptions.subscription_periods`): a `Table`,
        or a frame of its canonical columns."""
        return subscription_periods(source, period=period, as_of=as_of, today=today)

    def anchored_purchases(self, tx: Transactions, anchors: pl.DataFrame, *, window_days: int) -> pl.DataFrame:
        """Per anchor (a customer_id and an `anchor` day, e.g. a touchpoint): the customer's purchase
        occasions and net spend on or before it, and occasions in the `window_days` after it and
        later (`polars_journey.anchored`): one pass over the transactions to a per customer and day
        table, then as-of joins. Sorted by customer_id, anchor."""
        daily = tx.collect(polars_journey.daily_plan(net_occasions(tx.lf), money=tx.has_amount))[0]
        return polars_journey.anchored(daily, anchors, window_days=window_days, money=tx.has_amount)

    def category_activity(self, tx: Transactions, *, period: Period = "month", since: pl.DataFrame | None = None) -> pl.DataFrame:
        """Net spend per customer, period and category (`polars_loyalty.category_activity_plan`):
        customer_id, period_start, category (null without a category column), amount (purchases
        minus returns, exact to the cent; null without amounts). With `since` (customer_id, since:
        a day), only those customers' lines on or after their day. Sorted by customer_id,
        period_start, category."""
        plan = polars_loyalty.category_activity_plan(tx.lf, period=period, since=since)
        frame = tx.collect(plan)[0]
        return frame.select("customer_id", "period_start", "category", amount=pl.col("amount_cents") / 100)
