"""CLV summaries: per-customer recency, frequency, age and net monetary value.

The summary follows Fader, Hardie & Lee (2005): per customer, x = repeat purchase occasions (the
first is not counted), t_x = time from the first to the last purchase, T = time from the first
purchase to the end of calibration, all from whole days as fractional values of the time unit.
The spend model's monetary value is the net value of the repeat occasions (the first excluded) per
repeat occasion, as in Fader & Hardie's gamma-gamma note, with returns netted as `rfm` nets them
(see `net_money`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from fidelcli.analyses.timeunits import days_per
from fidelcli.clean import Occasion, Transactions
from fidelcli.engine import Engine, RFReductions
from fidelcli.engine.periods import TimeUnit, discrete_calendar, rf_statistics
from fidelcli.errors import InputError
from fidelcli.stats import FloatArray


@dataclass
class Summary:
    """Per-customer recency/frequency summary and the dates it was computed with.

    `frame` columns: customer_id, frequency (x), recency (t_x), T, monetary_value, weight; from
    transactions also first_purchase, last_purchase (calibration), revenue (calibration net spend,
    returns netted) and, with a holdout, holdout_frequency and holdout_value. BG/BB summaries
    have `periods` instead of `T`. `occasions_by_day` (from transactions, with a calibration end):
    date, occasions — the calibration cohort's purchase occasions per day before `as_of`, for the
    holdout tracking. `occasion` is how occasions were counted ("day" or "order"; None for a
    summary table).
    """

    frame: pl.DataFrame
    time_unit: TimeUnit
    calibration_end: dt.date | None = None
    as_of: dt.date | None = None
    holdout_length: float | None = None
    discrete: bool = False
    has_monetary: bool = True
    occasions_by_day: pl.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)
    weighted: bool = False  # a summary table with a weight column: each row stands for `weight` customers
    file: str | None = None  # the input it was computed from, named in the errors of the analysis
    occasion: Occasion | None = None

    @property
    def age(self) -> str:
        """The column holding the customers' observation length: T, or periods for BG/BB."""
        return "periods" if self.discrete else "T"

    @property
    def has_holdout(self) -> bool:
        return "holdout_frequency" in self.frame.columns


def arrays(frame: pl.DataFrame, *cols: str) -> list[FloatArray]:
    """The columns as float arrays (no copy for Float64 columns)."""
    return [np.asarray(frame[c].to_numpy(), dtype=float) for c in cols]


def _occasion_lines(occasions: pl.DataFrame | pl.LazyFrame, *, as_of: dt.date) -> Transactions:
    """Occasions (or occasion groups with a line_date) as cleaned transactions with one line each:
    a group made only of returns (a null date) is a return line dated by its line_date."""
    lf = occasions.lazy()
    schema = lf.collect_schema()
    groups = "line_date" in schema
    when = pl.coalesce("date", "line_date") if groups else pl.col("date")
    lines = lf.select(
        "customer_id", date=when, amount=pl.col("value") if "value" in schema else pl.lit(0.0),
        is_return=pl.col("date").is_null() if groups else pl.lit(False),
        occasion=pl.col("occasion") if "occasion" in schema else when,
    )
    return Transactions.from_frame(lines, as_of=as_of, file="<occasions>")


def _check_calibration_end(calibration_end: dt.date | None, as_of: dt.date) -> dt.date:
    """The calibration end (default: the last day), checked to be before the analysis date."""
    last_day = as_of - dt.timedelta(days=1)
    cal_end = calibration_end or last_day
    if cal_end > last_day:
        raise InputError(f"calibration end {cal_end} is not before the analysis date {as_of}",
                         hint="choose a calibration end inside the data, or a later --as-of")
    return cal_end


def _continuous(red: RFReductions, *, calibration_end: dt.date | None, time_unit: TimeUnit, file: str | None) -> Summary:
    """The `Summary` from the engine's continuous reductions: x, t_x, T (`rf_statistics`) and the
    net spend per repeat occasion."""
    unit = days_per(time_unit)
    as_of = red.as_of
    last_day = as_of - dt.timedelta(days=1)
    cal_end = _check_calibration_end(calibration_end, as_of)
    agg = red.customers
    if agg.height == 0:
        first = red.first_purchase
        where = f"before the first purchase ({first})" if first is not None else "but there is no purchase"
        raise InputError(f"calibration end {cal_end} is {where}: no customer to model", file=file,
                         hint="choose a --calibration-end inside the data")
    n = pl.col("n")
    holdout: dict[str, pl.Expr | str] = (
        {"holdout_frequency": "holdout_frequency", "holdout_value": pl.col("holdout_cents") / 100} if calibration_end is not None else {})
    frame = agg.select(
        "customer_id",
        **rf_statistics(occasions=n, end=cal_end, unit_days=unit),
        monetary_value=pl.when(n > 1).then((pl.col("total_cents") - pl.col("first_cents")) / (n - 1) / 100).otherwise(0.0),
        weight=pl.lit(1.0),
        first_purchase="first_purchase",
        last_purchase="last_purchase",
        revenue=pl.col("total_cents") / 100,
        **holdout,
    )
    holdout_length = None
    if cal_end < last_day:
        holdout_length = ((as_of - cal_end).days - 1) / unit
    else:
        frame = frame.drop("holdout_frequency", "holdout_value", strict=False)
    return Summary(frame=frame, time_unit=time_unit, calibration_end=calibration_end, as_of=as_of,
                   holdout_length=holdout_length, occasions_by_day=red.occasions_by_day, file=file)


def _discrete(red: RFReductions, *, calibration_end: dt.date | None, time_unit: TimeUnit, file: str | None) -> Summary:
    """The BG/BB `Summary` from the engine's discrete reductions (see `discrete_summary_from_occasions`)."""
    as_of = red.as_of
    cal_end = _check_calibration_end(calibration_end, as_of)
    _, effective_end, holdout_n = discrete_calendar(calibration_end, as_of, time_unit)
    warnings: list[str] = []
    if calibration_end is not None and effective_end != calibration_end:
        warnings.append(f"calibration end {calibration_end} is inside a {time_unit}: the calibration is the complete "
                        f"{time_unit}s up to {effective_end} and the holdout starts on {effective_end + dt.timedelta(days=1)}")
    n = pl.col("n") - 1
    cols = [
        "customer_id", "frequency", "recency", "periods",
        pl.when(n > 0).then((pl.col("total_cents") - pl.col("first_cents")) / n / 100).otherwise(0.0).alias("monetary_value"),
        pl.lit(1.0).alias("weight"), "first_purchase", "last_purchase", (pl.col("total_cents") / 100).alias("revenue"),
    ]
    if holdout_n is not None:
        cols += ["holdout_frequency", (pl.col("holdout_cents") / 100).alias("holdout_value")]
    out = red.customers.select(cols)
    if out.height == 0:
        raise InputError(f"calibration end {cal_end} leaves no complete {time_unit} after a first purchase: no customer to model",
                         file=file, hint="choose a later --calibration-end, or a shorter --time-unit")
    return Summary(frame=out, time_unit=time_unit, calibration_end=effective_end if calibration_end is not None else None,
                   as_of=as_of, holdout_length=None if holdout_n is None else float(holdout_n), discrete=True,
                   warnings=warnings, file=file)


def summary_from_occasions(
    occasions: pl.DataFrame | pl.LazyFrame,
    *,
    as_of: dt.date,
    calibration_end: dt.date | None = None,
    time_unit: TimeUnit = "week",
    engine: Engine,
) -> Summary:
    """Recency/frequency/monetary summary of each customer from purchase occasions.

    Customers first seen after the calibration end are not part of the calibration cohort and are
    left out. Purchases on the calibration end day are included in the calibration; purchases after
    it and before `as_of` (exclusive) are the holdout.

    Parameters
    ----------
    occasions
        One row per purchase occasion: customer_id, occasion, date, value; or occasion groups with
        a line_date, whose rows with a null date (returns outside any purchase occasion, dated by
        `line_date`) are netted as `PolarsEngine.rf_summary` nets them (`fidelcli.engine.polars_clv.net_money`).
    as_of
        Analysis date, exclusive.
    calibration_end
        Last day of the calibration period (inclusive); default the day before `as_of` (no holdout).
    time_unit
        day, week (7 days) or month (365.25/12 days).
    engine
        The engine that reduces them (`Engine.rf_summary`), as transactions with one line per occasion.

    Returns
    -------
    A `Summary` whose frame has customer_id, frequency, recency, T, monetary_value (net spend per
    repeat occasion; 0 for x = 0), weight, first_purchase, last_purchase, revenue (net) and, when
    calibration_end is before the day before as_of, holdout_frequency and holdout_value. Sorted by
    customer_id.

    Raises
    ------
    InputError
        The calibration end is on or after `as_of`, or before every purchase.
    """
    tx = _occasion_lines(occasions, as_of=as_of)
    red = engine.rf_summary(tx, calibration_end=calibration_end, time_unit=time_unit, occasion=None)
    return _continuous(red, calibration_end=calibration_end, time_unit=time_unit, file=None)


def discrete_summary_from_occasions(
    occasions: pl.DataFrame,
    *,
    as_of: dt.date,
    calibration_end: dt.date | None = None,
    time_unit: TimeUnit = "year",
    file: str | None = None,
    engine: Engine,
) -> Summary:
    """BG/BB summary: purchases counted as transaction opportunities, one per calendar period.

    The period of a customer's first purchase is her period 0; the opportunities are the following
    complete periods up to the calibration end (a period counts once it has ended). Per customer:
    periods = n opportunities, frequency = x of them with at least one purchase, recency = t_x the
    last of them (0 when x = 0), as in Fader, Hardie & Shang (2010). The calibration is the complete
    periods up to the calibration end: revenue and monetary value count their occasions only (net
    of returns, as `net_money` says), and a calibration end inside a period is moved back
    to the end of the last complete period (with a warning; `Summary.calibration_end` is that day).
    The holdout counts the complete periods after the calibration with a purchase. Customers first
    seen after the calibration are left out.

    Returns
    -------
    A discrete `Summary` (frame: customer_id, frequency, recency, periods, monetary_value, weight,
    first_purchase, last_purchase (of the calibration), revenue [, holdout_frequency, holdout_value]).

    `file` (the transactions' name) is named by the errors and kept in the summary.

    Raises
    ------
    InputError
        The calibration end is outside the data or leaves no complete period.
    """
    _check_calibration_end(calibration_end, as_of)
    tx = _occasion_lines(occasions, as_of=as_of)
    red = engine.rf_summary(tx, calibration_end=calibration_end, time_unit=time_unit, discrete=True, occasion=None)
    return _discrete(red, calibration_end=calibration_end, time_unit=time_unit, file=file)


def summary_from_transactions(
    tx: Transactions,
    *,
    calibration_end: dt.date | None = None,
    time_unit: TimeUnit = "week",
    discrete: bool = False,
    occasion: Occasion | None = "day",
    engine: Engine,
) -> Summary:
    """`summary_from_occasions` (or, with `discrete`, the BG/BB `discrete_summary_from_occasions`)
    on cleaned transactions, with returns netted as `rfm` nets them, from the engine's
    `rf_summary` reductions (the continuous one is one streaming pass over the transactions,
    shared with their profile, without materialising the occasions).

    `occasion` counts purchase occasions by shopping day (`"day"`, the default: several orders on
    one day are one occasion, as the BTYD literature counts) or by order id (`"order"`); None keeps
    the transactions' own rule (`clean_transactions(occasion=...)`).

    Raises
    ------
    InputError
        As `summary_from_occasions`; `occasion="order"` without an order id column.

    Example
    -------
    >>> s = summary_from_transactions(tx, calibration_end=dt.date(1997, 9, 30), time_unit="week", engine=engine)
    """
    red = engine.rf_summary(tx, calibration_end=calibration_end, time_unit=time_unit, discrete=discrete, occasion=occasion)
    build = _discrete if discrete else _continuous
    summary = build(red, calibration_end=calibration_end, time_unit=time_unit, file=tx.file)
    summary.has_monetary = tx.has_amount
    summary.occasion = occasion or tx.occasion
    return summary


SUMMARY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer_id": ("customer_id", "customer", "id", "cust", "customerid"),
    "frequency": ("frequency", "x"),
    "recency": ("recency", "t_x", "t.x"),
    "T": ("t", "t.cal", "t_cal", "age"),
    "periods": ("periods", "n", "n.cal", "n_cal"),
    "monetary_value": ("monetary_value", "monetary", "m", "m.x", "m_x"),
    "weight": ("weight", "weights", "custs", "count", "customers"),
}


def read_summary(raw: pl.DataFrame, *, time_unit: TimeUnit = "week", discrete: bool = False, file: str | None = None) -> Summary:
    """A per-customer summary table given by the analyst (`--summary FILE`).

    Columns (case-insensitive, literature names accepted): frequency (x), recency (t_x), T (or
    periods for the discrete BG/BB), optional customer_id, monetary_value and weight (customers
    the row stands for). Values are in `time_unit`.

    Raises
    ------
    InputError
        A required column is missing, or a value is missing, negative or not a number.
    """
    lower = {c.lower().strip(): c for c in raw.columns}
    found: dict[str, str] = {}
    for canon, names in SUMMARY_SYNONYMS.items():
        for n in names:
            if n in lower:
                found[canon] = lower[n]
                break
    needed = ["frequency", "recency", "periods" if discrete else "T"]
    missing = [c for c in needed if c not in found]
    if missing:
        raise InputError(f"summary table misses column(s) {', '.join(missing)}; found {', '.join(raw.columns)}", file=file,
                         hint="name the columns frequency, recency, " + ("periods" if discrete else "T") + " (and optionally monetary_value, weight)")
    age = "periods" if discrete else "T"
    numeric = ["frequency", "recency", age] + [c for c in ("monetary_value", "weight") if c in found]
    exprs = [pl.col(found[c]).cast(pl.Float64, strict=False).alias(c) for c in numeric]
    cid = pl.col(found["customer_id"]).cast(pl.String) if "customer_id" in found else (pl.int_range(pl.len()) + 1).cast(pl.String)
    frame = raw.select(cid.alias("customer_id"), *exprs)
    for c in numeric:
        bad = frame.with_row_index("row", offset=1).filter(pl.col(c).is_null() | ~pl.col(c).is_finite() | (pl.col(c) < 0))
        if bad.height:
            row = bad.row(0, named=True)
            raise InputError(f"{c} must be a number >= 0, found {raw[found[c]][row['row'] - 1]!r}", file=file, column=found[c], row=row["row"])
    if "weight" not in frame.columns:
        frame = frame.with_columns(weight=pl.lit(1.0))
    has_monetary = "monetary_value" in frame.columns
    if not has_monetary:
        frame = frame.with_columns(monetary_value=pl.lit(None, dtype=pl.Float64))
    cols = ["customer_id", "frequency", "recency", age, "monetary_value", "weight"]
    return Summary(frame=frame.select(cols), time_unit=time_unit, discrete=discrete, has_monetary=has_monetary,
                   weighted="weight" in found, file=file)
