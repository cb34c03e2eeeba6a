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
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from fidelcli.analyses.timeunits import TimeUnit, days_per
from fidelcli.clean import Occasion, Transactions
from fidelcli.errors import InputError
from fidelcli.summary import DEFAULT_ENGINE, Engine, cents, period_index


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
    time_unit: str
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


def arrays(frame: pl.DataFrame, *cols: str) -> list[np.ndarray]:
    """The columns as float arrays (no copy for Float64 columns)."""
    return [np.asarray(frame[c].to_numpy(), dtype=float) for c in cols]


def _groups(occasions: pl.LazyFrame) -> tuple[pl.LazyFrame, list[str]]:
    """Occasion groups in the form the reductions use: customer_id, purchase (a purchase occasion,
    not a group made only of returns), when (its day), occasion, value_cents; and the sort keys of
    the purchase occasions (day, then occasion id when it is not the day itself)."""
    schema = occasions.collect_schema()
    value = pl.col("value") if "value" in schema else pl.lit(0.0)
    when = pl.coalesce("date", "line_date") if "line_date" in schema else pl.col("date")
    # Without order ids the occasion is the date itself (ids are text, never dates).
    by_id = schema.get("occasion") not in (None, pl.Date)
    lf = occasions.select("customer_id", purchase=pl.col("date").is_not_null(), when=when,
                          **({"occasion": pl.col("occasion")} if by_id else {}), value_cents=cents(value.fill_null(0.0)))
    return lf, (["when", "occasion"] if by_id else ["when"])


OccasionsOf = Callable[[pl.Series], pl.LazyFrame]


def calibration_plan(groups: pl.LazyFrame, order: list[str], cal: pl.Expr | None, holdout: bool = False) -> pl.LazyFrame:
    """Per customer with a purchase occasion in the calibration (`cal` selects its groups; None:
    every group), from `_groups` rows, in one pass of plain aggregations: first_purchase,
    last_purchase, n (calibration purchase occasions), purchase_cents (their net value: the returns
    made in the same order, or on the same day with day occasions, are part of them), own_cents
    (the first occasion's: earliest day, ties broken by occasion id), total_cents (every group of
    the calibration, purchases and returns: the net spend), first_return and last_return (days of
    the calibration returns that are in no purchase occasion) and, with `holdout` (the groups after
    the calibration), holdout_frequency (purchase occasions) and holdout_cents (net value, returns
    included). `net_money` completes it.
    """
    p, when, v = pl.col("purchase"), pl.col("when"), pl.col("value_cents")
    zero = pl.lit(0, pl.Int64)
    in_cal = pl.lit(True) if cal is None else cal
    # Conditional columns first, so that every aggregation is a plain count, sum, min or max (fast).
    cols = {"_pw": pl.when(p & in_cal).then(when), "_pv": pl.when(p & in_cal).then(v).otherwise(zero),
            "_rw": pl.when(~p & in_cal).then(when)}
    aggs = {
        "first_purchase": pl.col("_pw").min(), "last_purchase": pl.col("_pw").max(),
        "n": pl.col("_pw").count().cast(pl.Int64), "purchase_cents": pl.col("_pv").sum(),
        "own_cents": v.sort_by([pl.col("_pw"), *order[1:]], nulls_last=True).first(),
        "first_return": pl.col("_rw").min(), "last_return": pl.col("_rw").max(),
    }
    if cal is None:
        aggs["total_cents"] = v.sum()
    else:
        cols["_cv"] = pl.when(cal).then(v).otherwise(zero)
        aggs["total_cents"] = pl.col("_cv").sum()
    if holdout:
        cols["_hw"] = pl.when(p & ~in_cal).then(when)
        aggs |= {"holdout_frequency": pl.col("_hw").count().cast(pl.Float64), "_all": v.sum()}
    out = groups.with_columns(**cols).group_by("customer_id").agg(**aggs).filter(pl.col("n") > 0)
    if holdout:
        out = out.with_columns(holdout_cents=pl.col("_all") - pl.col("total_cents")).drop("_all")
    return out


def net_money(customers: pl.DataFrame, occasions_of: OccasionsOf, cal: pl.Expr) -> pl.DataFrame:
    """Net money of the calibration, returns netted as `rfm` nets them, from `calibration_plan`:

    - total_cents: every group dated in the calibration, purchases and returns (negative under
      `--returns net`): the customer's net spend, as `rfm` computes it;
    - first_cents: net value of the first purchase occasion: its own lines (a return in the same
      order, or on the same day with day occasions) plus the calibration returns that are in no
      purchase occasion and are dated before the second purchase occasion (before any purchase, or
      after the first one; with one occasion, all of them). Such a return is netted against the
      latest occasion on or before it (the first one when it precedes them all): only these reduce
      the first occasion, the others the repeat ones.

    monetary_value = (total_cents - first_cents) / (n - 1) is then the net spend per repeat
    occasion. The allocation is decided from the customer's row unless a return falls after her
    first purchase and she has several occasions; for those few customers the day of the second
    occasion is read from `occasions_of(their ids)` (their occasion groups, the rows of `_groups`).
    """
    decided = (pl.col("n") == 1) | pl.col("first_return").is_null() | (pl.col("last_return") < pl.col("first_purchase"))
    returns = pl.col("total_cents") - pl.col("purchase_cents")  # of the returns in no purchase occasion
    out = customers.with_columns(to_first=pl.when(decided).then(returns))
    undecided = out.filter(pl.col("to_first").is_null())["customer_id"]
    if undecided.len():
        p, when, v = pl.col("purchase"), pl.col("when"), pl.col("value_cents")
        sub, _ = _groups(occasions_of(undecided))
        second = sub.filter(p & cal).group_by("customer_id").agg(second=when.sort().slice(1, 1).first())
        exact = (sub.filter(~p & cal).join(second, on="customer_id", how="left").group_by("customer_id")
                 .agg(exact=v.filter(pl.col("second").is_null() | (when < pl.col("second"))).sum())
                 .collect(engine="streaming"))
        out = (out.join(exact, on="customer_id", how="left", maintain_order="left")
               .with_columns(to_first=pl.coalesce("to_first", "exact", pl.lit(0, pl.Int64))).drop("exact"))
    return out.with_columns(first_cents=pl.col("own_cents") + pl.col("to_first")).drop(
        "purchase_cents", "own_cents", "first_return", "last_return", "to_first")


def _calibration(calibration_end: dt.date | None) -> pl.Expr:
    return pl.col("when") <= pl.lit(calibration_end) if calibration_end is not None else pl.lit(True)


def _customer_plan(occasions: pl.LazyFrame, calibration_end: dt.date | None) -> pl.LazyFrame:
    """Per customer of the calibration cohort, from occasion groups: `calibration_plan` with, given
    a calibration end, the holdout after it."""
    lf, order = _groups(occasions)
    if calibration_end is None:
        return calibration_plan(lf, order, None)
    return calibration_plan(lf, order, _calibration(calibration_end), holdout=True)


def _summary_queries(occasions: pl.LazyFrame, calibration_end: dt.date | None) -> list[pl.LazyFrame]:
    """The reductions behind a summary, collected together so that they share one pass: the
    per-customer plan and (with a holdout) the cohort's purchase occasions per day."""
    customers = _customer_plan(occasions, calibration_end)
    queries = [customers.sort("customer_id")]
    if calibration_end is not None:
        queries.append(occasions.filter(pl.col("date").is_not_null())
                       .join(customers.select("customer_id"), on="customer_id", how="semi")
                       .group_by("date").agg(occasions=pl.len().cast(pl.Int64)).sort("date"))
    return queries


def _summary_from_reductions(frames: list[pl.DataFrame], occasions: pl.LazyFrame, *, as_of: dt.date,
                             calibration_end: dt.date | None, time_unit: TimeUnit, file: str | None = None,
                             occasions_of: OccasionsOf | None = None) -> Summary:
    """The `Summary` from the `_summary_queries` results (`occasions` is read again to name the
    first purchase in the error when no customer is left, and, for the few customers `net_money`
    cannot settle from their row, through `occasions_of` (default: `occasions` filtered))."""
    unit = days_per(time_unit)
    last_day = as_of - dt.timedelta(days=1)
    cal_end = calibration_end or last_day
    if cal_end > last_day:
        raise InputError(f"calibration end {cal_end} is not before the analysis date {as_of}",
                         hint="choose a calibration end inside the data, or a later --as-of")
    agg = frames[0]
    if agg.height == 0:
        first = occasions.select(pl.col("date").min()).collect(engine="streaming").item()
        where = f"before the first purchase ({first})" if first is not None else "but there is no purchase"
        raise InputError(f"calibration end {cal_end} is {where}: no customer to model", file=file,
                         hint="choose a --calibration-end inside the data")
    if occasions_of is None:
        def occasions_of(ids: pl.Series) -> pl.LazyFrame:
            return occasions.filter(pl.col("customer_id").is_in(ids.implode()))
    agg = net_money(agg, occasions_of, _calibration(calibration_end))
    n = pl.col("n")
    frame = agg.select(
        "customer_id",
        frequency=(n - 1).cast(pl.Float64),
        recency=(pl.col("last_purchase") - pl.col("first_purchase")).dt.total_days() / unit,
        T=(pl.lit(cal_end) - pl.col("first_purchase")).dt.total_days() / unit,
        monetary_value=pl.when(n > 1).then((pl.col("total_cents") - pl.col("first_cents")) / (n - 1) / 100).otherwise(0.0),
        weight=pl.lit(1.0),
        first_purchase="first_purchase",
        last_purchase="last_purchase",
        revenue=pl.col("total_cents") / 100,
        **({"holdout_frequency": "holdout_frequency", "holdout_value": pl.col("holdout_cents") / 100}
           if calibration_end is not None else {}),
    )
    holdout_length = None
    if cal_end < last_day:
        holdout_length = ((as_of - cal_end).days - 1) / unit
    else:
        frame = frame.drop("holdout_frequency", "holdout_value", strict=False)
    return Summary(frame=frame, time_unit=time_unit, calibration_end=calibration_end, as_of=as_of,
                   holdout_length=holdout_length, occasions_by_day=frames[1] if len(frames) > 1 else None, file=file)


def _before(occasions: pl.DataFrame | pl.LazyFrame, as_of: dt.date) -> pl.LazyFrame:
    """The occasion groups dated before `as_of` (a group of returns only is dated by its lines)."""
    lf = occasions.lazy()
    when = pl.coalesce("date", "line_date") if "line_date" in lf.collect_schema() else pl.col("date")
    return lf.filter(when < pl.lit(as_of))


def summary_from_occasions(
    occasions: pl.DataFrame | pl.LazyFrame,
    *,
    as_of: dt.date,
    calibration_end: dt.date | None = None,
    time_unit: TimeUnit = "week",
) -> Summary:
    """Recency/frequency/monetary summary of each customer from purchase occasions.

    Customers first seen after the calibration end are not part of the calibration cohort and are
    left out. Purchases on the calibration end day are included in the calibration; purchases after
    it and before `as_of` (exclusive) are the holdout.

    Parameters
    ----------
    occasions
        One row per purchase occasion: customer_id, occasion, date, value; or the occasion groups
        of `DEFAULT_ENGINE.net_occasions_plan(tx)`, whose rows with a null date (returns outside
        any purchase occasion, dated by `line_date`) are netted as `net_money` says.
    as_of
        Analysis date, exclusive.
    calibration_end
        Last day of the calibration period (inclusive); default the day before `as_of` (no holdout).
    time_unit
        day, week (7 days) or month (365.25/12 days).

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
    occ = _before(occasions, as_of)
    frames = pl.collect_all(_summary_queries(occ, calibration_end), engine="streaming")
    return _summary_from_reductions(frames, occ, as_of=as_of, calibration_end=calibration_end, time_unit=time_unit)


def discrete_summary_from_occasions(
    occasions: pl.DataFrame,
    *,
    as_of: dt.date,
    calibration_end: dt.date | None = None,
    time_unit: TimeUnit = "year",
    file: str | None = None,
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
    last_day = as_of - dt.timedelta(days=1)
    cal_end = calibration_end or last_day
    if cal_end > last_day:
        raise InputError(f"calibration end {cal_end} is not before the analysis date {as_of}",
                         hint="choose a calibration end inside the data, or a later --as-of")

    def complete_through(day: dt.date) -> int:
        # the last period that has ended by `day` (inclusive)
        here, nxt = (pl.select(period_index(pl.lit(d), time_unit)).item() for d in (day, day + dt.timedelta(days=1)))
        return int(here if nxt != here else here - 1)

    cal_last = complete_through(cal_end)
    # The calibration is made of the complete periods up to the calibration end; the holdout starts
    # with the period after the last of them, so an occasion is never in both.
    effective_end = _period_first_day(cal_last + 1, time_unit) - dt.timedelta(days=1)
    warnings: list[str] = []
    if calibration_end is not None and effective_end != calibration_end:
        warnings.append(f"calibration end {calibration_end} is inside a {time_unit}: the calibration is the complete "
                        f"{time_unit}s up to {effective_end} and the holdout starts on {effective_end + dt.timedelta(days=1)}")
    groups, order = _groups(_before(occasions, as_of))
    p, k = pl.col("purchase"), pl.col("k")
    occ = groups.with_columns(k=period_index(pl.col("when"), time_unit))
    occ = occ.with_columns(k0=pl.when(p).then(k).min().over("customer_id")).filter(pl.col("k0") <= cal_last)
    idx = k - pl.col("k0")
    in_cal = p & (k > pl.col("k0")) & (k <= cal_last)
    cal_occ = k <= cal_last
    agg = {
        "first_purchase": pl.col("when").filter(p).min(),
        "last_purchase": pl.col("when").filter(p & cal_occ).max(),
        "k0": pl.col("k0").first(),
        "frequency": k.filter(in_cal).n_unique().cast(pl.Float64),
        "recency": idx.filter(in_cal).max().fill_null(0).cast(pl.Float64),
    }
    holdout_n = None
    if cal_end < last_day:
        hold_last = complete_through(last_day)
        holdout_n = max(hold_last - cal_last, 0)
        in_hold = (k > cal_last) & (k <= cal_last + holdout_n)
        agg["holdout_frequency"] = k.filter(p & in_hold).n_unique().cast(pl.Float64)
        agg["holdout_cents"] = pl.col("value_cents").filter(in_hold).sum()
    # Occasions in the calibration periods (first included) and their net money.
    lf = _before(occasions, as_of)
    cal = pl.col("when") <= pl.lit(effective_end)
    money = net_money(calibration_plan(groups, order, cal).collect(), lambda ids: lf.filter(pl.col("customer_id").is_in(ids.implode())), cal)
    frame = (occ.group_by("customer_id").agg(**agg).join(money.lazy().select("customer_id", "n", "total_cents", "first_cents"), on="customer_id")
             .with_columns(periods=(pl.lit(cal_last) - pl.col("k0")).cast(pl.Float64)))
    n = pl.col("n") - 1
    cols = [
        "customer_id", "frequency", "recency", "periods",
        pl.when(n > 0).then((pl.col("total_cents") - pl.col("first_cents")) / n / 100).otherwise(0.0).alias("monetary_value"),
        pl.lit(1.0).alias("weight"), "first_purchase", "last_purchase", (pl.col("total_cents") / 100).alias("revenue"),
    ]
    if holdout_n is not None:
        cols += ["holdout_frequency", (pl.col("holdout_cents") / 100).alias("holdout_value")]
    out = frame.select(cols).sort("customer_id").collect()
    if out.height == 0:
        raise InputError(f"calibration end {cal_end} leaves no complete {time_unit} after a first purchase: no customer to model",
                         file=file, hint="choose a later --calibration-end, or a shorter --time-unit")
    return Summary(frame=out, time_unit=time_unit, calibration_end=effective_end if calibration_end is not None else None,
                   as_of=as_of, holdout_length=None if holdout_n is None else float(holdout_n), discrete=True,
                   warnings=warnings, file=file)


def _period_first_day(k: int, unit: str) -> dt.date:
    """First day of the calendar period numbered `k` by `period_index` (its inverse)."""
    if unit == "year":
        return dt.date(k, 1, 1)
    if unit == "month":
        return dt.date((k - 1) // 12, (k - 1) % 12 + 1, 1)
    epoch = dt.date(1970, 1, 1)
    return epoch + dt.timedelta(days=7 * k - 3 if unit == "week" else k)


def summary_from_transactions(
    tx: Transactions,
    *,
    calibration_end: dt.date | None = None,
    time_unit: TimeUnit = "week",
    discrete: bool = False,
    occasion: Occasion | None = "day",
    engine: Engine = DEFAULT_ENGINE,
) -> Summary:
    """`summary_from_occasions` (or, with `discrete`, the BG/BB `discrete_summary_from_occasions`)
    on cleaned transactions, with returns netted as `rfm` nets them (the occasion groups of
    `Engine.net_occasions_plan`). The continuous summary is reduced in one streaming pass over the
    transactions (shared with their profile), without materialising the occasions.

    `occasion` counts purchase occasions by shopping day (`"day"`, the default: several orders on
    one day are one occasion, as the BTYD literature counts) or by order id (`"order"`); None keeps
    the transactions' own rule (`clean_transactions(occasion=...)`).

    Raises
    ------
    InputError
        As `summary_from_occasions`; `occasion="order"` without an order id column.

    Example
    -------
    >>> s = summary_from_transactions(tx, calibration_end=dt.date(1997, 9, 30), time_unit="week")
    """
    lf = tx.keyed_by(occasion)
    occ = engine.net_occasions_plan(lf)
    if discrete:
        frame = tx.collect(occ.sort("customer_id", "line_date", "occasion"))[0]
        summary = discrete_summary_from_occasions(frame, as_of=tx.as_of, calibration_end=calibration_end,
                                                  time_unit=time_unit, file=tx.file)
    else:
        # `clean_transactions` already keeps the lines before the analysis date: no filter, so the
        # profile (which sets the default date) is computed in the same pass.
        frames = tx.collect(*_summary_queries(occ, calibration_end))

        def occasions_of(ids: pl.Series) -> pl.LazyFrame:
            # A second reading of the source, for the few customers whose returns need it (`net_money`).
            return engine.net_occasions_plan(lf.filter(pl.col("customer_id").is_in(ids.implode())))

        summary = _summary_from_reductions(frames, occ, as_of=tx.as_of, calibration_end=calibration_end,
                                           time_unit=time_unit, file=tx.file, occasions_of=occasions_of)
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
