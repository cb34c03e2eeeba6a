"""Reduce step: the only computations that touch every transaction, behind one small interface.

An engine loads a source described as plain data (a `TableSpec`: the source, the column map, the
inferred formats, the read settings; and `CleanOptions`: the returns policy, the analysis window,
the occasion rule) into a `Transactions` handle, and reduces it to small `pl.DataFrame`s: per
customer, per customer and period, per customer at a calibration date or a churn cutoff, per order
and product. No method returns a lazy plan: another engine (e.g. Spark) implements the same methods
and every analysis works unchanged. `tests/engine/test_contract.py` runs every reduction of every
engine on the same fixtures.

Money is summed in integer cents, so totals are exact and never depend on row order.

The engine is chosen in one place (`get_engine`, called by the CLI from `--engine` or `[engine]
name`) and passed to the analyses that need reductions (`engine=`).

Example
-------
>>> from fidelcli.engine import get_engine
>>> engine = get_engine("polars")
>>> tx = engine.load(scan_table("sales.csv", "transactions"), CleanOptions())  # doctest: +SKIP
>>> engine.customer_summary(tx)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

import polars as pl

from fidelcli.clean import CleanOptions, Occasion, Transactions
from fidelcli.engine.periods import MonthPeriod, Period, TimeUnit
from fidelcli.engine.polars import PolarsEngine
from fidelcli.engine.results import RFReductions, SubscriptionPeriods
from fidelcli.errors import ConfigError
from fidelcli.io.read import Table
from fidelcli.io.spec import TableSpec

__all__ = [
    "DEFAULT_ENGINE", "ENGINES", "CleanOptions", "Engine", "EngineName", "PolarsEngine", "RFReductions", "SubscriptionPeriods",
    "TableSpec", "Transactions", "get_engine",
]


# The engines `--engine` and `[engine] name` accept: the keys of `ENGINES` (tests/engine checks both agree).
EngineName = Literal["polars", "spark"]


class Engine(Protocol):
    """The reductions every analysis is built on. Every method returns small frames (or plain data)."""

    name: str

    def load(self, source: TableSpec | Table, options: CleanOptions, *,
             on_warnings: Callable[[list[str]], None] | None = None) -> Transactions:
        """The cleaned transactions of a source (a `Table` already scanned may be reused)."""
        ...

    def occasions(self, tx: Transactions) -> pl.DataFrame:
        """One row per purchase occasion: customer_id, occasion, date, value. For tests only: no
        analysis is built on it (it is not small)."""
        ...

    def customer_summary(self, tx: Transactions) -> pl.DataFrame:
        """One row per customer; see `PolarsEngine.customer_summary`."""
        ...

    def activity(self, tx: Transactions, *, period: Period, anonymous: bool = False) -> pl.DataFrame:
        """One row per customer and active period; see `PolarsEngine.activity`."""
        ...

    def rf_summary(self, tx: Transactions, *, calibration_end: dt.date | None = None, time_unit: TimeUnit = "week",
                   discrete: bool = False, occasion: Occasion | None = "day") -> RFReductions:
        """The per-customer BTYD reductions at a calibration end; see `PolarsEngine.rf_summary`."""
        ...

    def margin_rates(self, tx: Transactions, *, calibration_end: dt.date | None = None) -> pl.DataFrame:
        """customer_id, profit, amount of the purchase lines up to a day; see `PolarsEngine.margin_rates`."""
        ...

    def has_amounts(self, tx: Transactions) -> bool:
        """True when some line has a non-zero amount."""
        ...

    def purchase_features(self, tx: Transactions, *, cutoff: dt.date) -> pl.DataFrame:
        """The churn purchase features at a cutoff; see `PolarsEngine.purchase_features`."""
        ...

    def line_features(self, tx: Transactions, *, cutoff: dt.date) -> pl.DataFrame | None:
        """The churn line features at a cutoff; see `PolarsEngine.line_features`."""
        ...

    def purchase_labels(self, tx: Transactions, *, cutoff: dt.date, end: dt.date) -> pl.DataFrame:
        """The churn labels over (cutoff, end]; see `PolarsEngine.purchase_labels`."""
        ...

    def baskets(self, tx: Transactions, *, item: str = "product_id", dates: bool = False) -> pl.DataFrame:
        """Order x product (with `dates`: the basket's day); see `PolarsEngine.baskets`."""
        ...

    def item_counts(self, tx: Transactions, *, item: str = "product_id", category: bool = False) -> pl.DataFrame:
        """Per product: orders, customers, quantity, revenue (with `category`: its category); see `PolarsEngine.item_counts`."""
        ...

    def subscriptions(self, source: Table | pl.LazyFrame | pl.DataFrame, *, period: MonthPeriod, as_of: dt.date | None = None,
                      today: dt.date | None = None) -> SubscriptionPeriods:
        """The subscriptions reduced for the survival analysis; see `PolarsEngine.subscriptions`."""
        ...

    def anchored_purchases(self, tx: Transactions, anchors: pl.DataFrame, *, window_days: int) -> pl.DataFrame:
        """Purchases before, within `window_days` after, and after each (customer_id, anchor) day;
        see `PolarsEngine.anchored_purchases`."""
        ...

    def category_activity(self, tx: Transactions, *, period: Period = "month", since: pl.DataFrame | None = None) -> pl.DataFrame:
        """Net spend per customer, period and category, from each customer's `since` day; see
        `PolarsEngine.category_activity`."""
        ...


def spark_engine(master: str | None = None, conf: Mapping[str, Any] | None = None) -> Engine:
    """The Spark engine (`fidelcli.engine.spark`, imported on first use: pyspark is an optional extra;
    the session starts on the first load). `master` default `local[*]`; `conf`: Spark settings."""
    from fidelcli.extras import require

    require("spark", purpose="--engine spark")  # one line: the hint names the extra
    from fidelcli.engine.spark import SparkEngine

    return SparkEngine(master, conf)


ENGINES: dict[EngineName, Callable[[], Engine]] = {"polars": PolarsEngine, "spark": spark_engine}
DEFAULT_ENGINE: Engine = PolarsEngine()


def get_engine(name: EngineName, *, spark_master: str | None = None, spark_conf: Mapping[str, Any] | None = None) -> Engine:
    """The engine named `name` (one of `ENGINES`); the Spark engine with `spark_master` and
    `spark_conf` (`[engine]` of the config).

    Raises
    ------
    ConfigError
        An unknown engine name.
    """
    if name == DEFAULT_ENGINE.name:
        return DEFAULT_ENGINE
    try:
        factory = ENGINES[name]
    except KeyError:
        raise ConfigError(f"unknown engine {name!r}", hint=f"use one of: {', '.join(ENGINES)}") from None
    if name == "spark":
        return spark_engine(spark_master, spark_conf)
    return factory()
