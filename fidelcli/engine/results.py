"""The results of the engine reductions that are more than one frame (plain data, small frames)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class RFReductions:
    """The per-customer reductions behind a BTYD summary (`Engine.rf_summary`).

    `customers` (sorted by customer_id), one row per customer of the calibration cohort:
    customer_id, first_purchase, last_purchase (of the calibration), n (calibration purchase
    occasions), total_cents (net spend of the calibration, returns netted), first_cents (net value
    of the first occasion, see `fidelcli.engine.polars_clv.net_money`) and, with a holdout,
    holdout_frequency and holdout_cents; the BG/BB (`discrete`) reduction adds frequency, recency
    and periods (transaction opportunities, counted in complete calendar periods).

    `occasions_by_day` (continuous, with a calibration end): date, occasions (the cohort's purchase
    occasions per day before `as_of`). `first_purchase`: the earliest purchase day, read only when
    no customer is left (the error names it). `as_of`: the transactions' analysis date.
    """

    customers: pl.DataFrame
    as_of: dt.date
    occasions_by_day: pl.DataFrame | None = None
    first_purchase: dt.date | None = None


@dataclass(frozen=True)
class SubscriptionPeriods:
    """The subscriptions reduced for the survival analysis (`Engine.subscriptions`).

    `frame`: customer_id, start_date, end_date, plan, price, cohort, active, periods (one row per
    subscription started before `as_of`, sorted by start_date, customer_id); `as_of` the analysis
    date used (given, or the default); `late` the subscriptions starting on or after it (ignored).
    """

    frame: pl.DataFrame
    as_of: dt.date
    late: int = 0
