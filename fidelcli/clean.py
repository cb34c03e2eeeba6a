"""Clean step: returns policy, analysis window (`--as-of`, `--start`, `--end`), purchase occasions.

Still lazy: one small profiling pass computes the default as-of date and the counts behind the
warnings; the cleaned frame itself is a plan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any, Literal

import polars as pl

from fidelcli.errors import InputError
from fidelcli.io.read import Table
from fidelcli.io.spec import TableSpec

ReturnsPolicy = Literal["net", "drop", "keep"]
Occasion = Literal["day", "order"]
# Statuses meaning a return, in English and French, matched case-insensitively at the start of the value
# ("Returned", "retourné", "Remboursée", "ANNULÉ", "avoir"). One anchored regex: no per-row lowercasing.
RETURN_STATUS = r"(?i)^\s*(return|refund|cancel|void|retour|rembours|annul|avoir)"


@dataclass(frozen=True)
class NativeIds:
    """The cleaned lines (`Transactions.lines`) and their profile with the customer ids still the
    source's integers: a reduction groups 10 million integers and casts the 1 million groups' ids
    to text, instead of casting every line (docs/performance.md). The ids' text is the same."""

    lines: pl.LazyFrame
    profile: pl.LazyFrame


@dataclass(frozen=True)
class CleanOptions:
    """The cleaning policy, as plain data (what `clean_transactions` applies; another engine applies
    the same): the returns policy, the analysis date `as_of` (exclusive; None = the day after the
    latest transaction), the window [start, end] and the occasion rule (None: the order id when the
    transactions have one, else the day)."""

    returns: ReturnsPolicy = "net"
    as_of: dt.date | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    occasion: Occasion | None = None


class Transactions:
    """Cleaned transactions: `lf` has customer_id, date, amount, is_return, occasion and the optional fields.

    `occasion` says how purchase occasions are counted (`occasion_key`): "order" (one per order id)
    or "day" (one per customer and day); the `occasion` column of `lf` holds the key.

    Without an amount (nor quantity and unit price) `lf` has no `amount` column and `has_amount` is
    False: money is unknown, and every reduction leaves it null (never 0). `lines` is the same plan
    before rows without a customer id are dropped (the KPIs' total revenue counts them).

    The counts behind the warnings and the default analysis date come from a profile of the whole
    source. It is computed in the same pass as the first reduction collected through `collect()`
    (the engine does this), or on its own the first time `as_of`, `warnings` or `stats` is read.

    `spec` and `options` describe the same transactions as plain data (the source and the cleaning
    policy), so that another engine can execute them; `cache` holds what an engine keeps for this
    handle between reductions (the Polars engine: the purchase occasions of the churn features).
    Transactions already cleaned by other means (a test's frame) are built with `from_frame`.
    """

    def __init__(
        self,
        lf: pl.LazyFrame,
        *,
        file: str,
        profile: pl.LazyFrame,
        as_of: dt.date | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        has_amount: bool = True,
        table: Table | None = None,
        on_warnings: Callable[[list[str]], None] | None = None,
        lines: pl.LazyFrame | None = None,
        occasion: Occasion = "day",
        spec: TableSpec | None = None,
        options: CleanOptions | None = None,
    ) -> None:
        self.lf = lf
        self.spec = spec
        self.options = options or CleanOptions(as_of=as_of, start=start, end=end, occasion=occasion)
        self.cache: dict[str, Any] = {}
        self.occasion: Occasion = occasion
        # True when the `occasion` column of `lf` is the `date` column itself (clean_transactions with
        # day occasions): an engine may then count occasions as distinct purchase days per customer,
        # in one group-by (docs/performance.md). False for frames built by other means.
        self.occasion_is_date = False
        # Set by clean_transactions for integer ids of a typed source (`NativeIds`); see `collect(native=True)`.
        self.native: NativeIds | None = None
        self.lines = lf if lines is None else lines
        self.file = file
        self.start = start
        self.end = end
        self.has_amount = has_amount
        self.table = table
        self.on_warnings = on_warnings
        self._requested_as_of = as_of
        self._profile_plan = profile
        self._stats: dict[str, Any] | None = None
        self._profile_with_reductions = True
        self._as_of: dt.date | None = None
        self._warnings: list[str] = []

    @classmethod
    def from_frame(cls, frame: pl.DataFrame | pl.LazyFrame, *, as_of: dt.date | None = None, occasion: Occasion = "day",
                   file: str = "<frame>") -> Transactions:
        """Transactions already cleaned (as `clean_transactions` makes them: customer_id, date,
        is_return, occasion, amount when known, and the optional fields), e.g. a test's frame. Their
        profile is computed only when `as_of`, `warnings` or `stats` is read; with `as_of`, the rows
        dated on or after it are left out."""
        lf = frame.lazy()
        if as_of is not None:
            lf = lf.filter(pl.col("date") < pl.lit(as_of))
        has_amount = "amount" in lf.collect_schema().names()
        tx = cls(lf, file=file, profile=profile_plan(lf, has_amount=has_amount, as_of=None), as_of=as_of,
                 has_amount=has_amount, occasion=occasion)
        tx._profile_with_reductions = False
        return tx

    def collect(self, *plans: pl.LazyFrame, native: bool = False) -> list[pl.DataFrame]:
        """Collect `plans` (reductions of `lf`, or of `native.lines` with `native`), computing the
        profile in the same pass if still pending."""
        pending = self._stats is None and self._profile_with_reductions
        profile = self.native.profile if native and self.native is not None else self._profile_plan
        queries = [profile, *plans] if pending else list(plans)
        diagnosed = self.table.diagnosed() if self.table is not None else nullcontext()
        with diagnosed:
            frames = pl.collect_all(queries, engine="streaming")
        if pending:
            self._set_profile(frames.pop(0).row(0, named=True))
        return frames

    def resolve(self) -> None:
        """Compute the profile now (one pass) if it is still pending."""
        if self._stats is None:
            diagnosed = self.table.diagnosed() if self.table is not None else nullcontext()
            with diagnosed:
                profile = self._profile_plan.collect(engine="streaming")
            self._set_profile(profile.row(0, named=True))

    @property
    def fields(self) -> list[str]:
        """The columns of the cleaned transactions (canonical fields, is_return, occasion)."""
        return list(self.lf.collect_schema().names())

    @property
    def as_of(self) -> dt.date:
        """The analysis date (exclusive): given, or the day after the latest transaction."""
        if not self._profile_with_reductions and self._requested_as_of is not None:
            return self._requested_as_of  # transactions from a frame: no profile needed
        self.resolve()
        assert self._as_of is not None
        return self._as_of

    @property
    def warnings(self) -> list[str]:
        self.resolve()
        return list(self._warnings)

    @property
    def stats(self) -> dict[str, Any]:
        self.resolve()
        assert self._stats is not None
        return dict(self._stats)

    def keyed_by(self, occasion: Occasion | None) -> pl.LazyFrame:
        """`lf` with its purchase occasions counted by `occasion` (None: as cleaned), for a reduction
        that needs its own rule (`clv` counts shopping days). Collect it through `collect()`.

        Raises InputError for "order" when the transactions have no order id.
        """
        if occasion is None or occasion == self.occasion:
            return self.lf
        _, key = occasion_key(occasion, has_order_id="order_id" in self.lf.collect_schema().names(), file=self.file)
        return self.lf.with_columns(occasion=key)

    @property
    def lines_after_as_of(self) -> bool:
        """True when `lines` holds rows dated on or after the analysis date: lines without a customer id
        later than every identified one, with the default analysis date (set by the identified lines)."""
        latest = self.stats["max_any_date"]
        return self._requested_as_of is None and latest is not None and latest >= self.as_of

    @property
    def first_date(self) -> dt.date:
        """The first day the data covers: `start` when given, else the earliest transaction date.
        A period that begins before it is partial."""
        first = self.stats["min_date"]
        if self.start is not None and (first is None or self.start > first):
            return self.start
        return first if first is not None else self.as_of

    @property
    def end_date(self) -> dt.date:
        """The exclusive end of the data covered: `as_of`, or the day after `end` when earlier."""
        if self.end is not None:
            return min(self.as_of, self.end + dt.timedelta(days=1))
        return self.as_of

    def _set_profile(self, profile: dict[str, Any]) -> None:
        if profile["max_date"] is None:
            raise InputError("no transaction with a customer id and a date", file=self.file, hint="check the column mapping (--map)")
        as_of = self._requested_as_of or profile["max_date"] + dt.timedelta(days=1)
        warnings = []
        if profile["no_customer"]:
            warnings.append(f"{profile['no_customer']:,} rows without a customer id were dropped")
        if profile["no_date"]:
            warnings.append(f"{profile['no_date']:,} rows without a date were dropped")
        if profile["no_amount"]:
            warnings.append(f"{profile['no_amount']:,} rows without an amount count as 0")
        if profile["after_as_of"]:
            warnings.append(f"{profile['after_as_of']:,} rows dated on or after the analysis date {as_of} were ignored")
        if not self.has_amount:
            warnings.append("no amount column (nor quantity and unit price): monetary figures are unavailable")
        self._stats, self._as_of, self._warnings = profile, as_of, warnings
        if self.on_warnings is not None and warnings:
            self.on_warnings(warnings)


def profile_plan(lf: pl.LazyFrame, *, has_amount: bool, as_of: dt.date | None) -> pl.LazyFrame:
    """The one-row profile of a source: the counts behind the cleaning warnings and the dates."""
    after = (pl.col("date") >= pl.lit(as_of)).fill_null(False) if as_of else pl.lit(False)
    return lf.select(
        rows=pl.len(),
        no_customer=pl.col("customer_id").is_null().sum(),
        no_date=pl.col("date").is_null().sum(),
        no_amount=pl.col("amount").is_null().sum() if has_amount else pl.lit(0),
        after_as_of=after.sum(),
        max_date=pl.col("date").filter(pl.col("customer_id").is_not_null()).max(),
        min_date=pl.col("date").min(),
        max_any_date=pl.col("date").max(),
    )


def numeric_invoices(table: Table) -> bool:
    """True when the order ids are invoice numbers (most of a sample are digits), as in Online Retail."""
    if "order_id" not in table.mapping:
        return False
    ids = table.raw.select(table.exprs["order_id"].alias("id")).head(1000).collect()["id"].drop_nulls()
    digits = ids.str.contains(r"^\d+$").mean()  # a float, None without ids
    return isinstance(digits, float) and digits > 0.5


def occasion_key(occasion: Occasion | None, *, has_order_id: bool, file: str | None = None) -> tuple[Occasion, pl.Expr]:
    """The purchase-occasion rule (the one place it is written), and the key expression it gives.

    A purchase occasion is one distinct order id (`"order"`) or one distinct (customer, day)
    (`"day"`: several orders, or a purchase and a return, on one day are one occasion). `None` is
    the default of every command but `clv`: the order id when the transactions have one, else the
    day. `clv` counts days, as the BTYD literature does (Fader, Hardie & Lee 2005).

    Raises
    ------
    InputError
        `"order"` asked for transactions without an order id column.
    """
    if occasion is None:
        occasion = "order" if has_order_id else "day"
    if occasion == "order" and not has_order_id:
        raise InputError("--occasion order needs an order id column, and the transactions have none", file=file,
                         hint="map it with --map order_id=COLUMN, or use --occasion day")
    return occasion, pl.col("order_id") if occasion == "order" else pl.col("date")


def return_flag(table: Table) -> pl.Expr:
    """True for a return or cancellation: negative amount, a return status, or an invoice number `C...`."""
    cols = table.exprs
    flag = pl.lit(False)
    if "amount" in cols:
        flag = flag | (pl.col("amount") < 0).fill_null(False)
    if numeric_invoices(table):
        # Online-Retail style: with numeric invoice numbers, a cancellation is the number prefixed by "C".
        flag = flag | pl.col("order_id").str.contains(r"^[Cc]\d").fill_null(False)
    if "status" in cols:
        flag = flag | pl.col("status").str.contains(RETURN_STATUS).fill_null(False)
    return flag


def clean_transactions(
    table: Table,
    *,
    returns: ReturnsPolicy = "net",
    as_of: dt.date | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    occasion: Occasion | None = None,
    on_warnings: Callable[[list[str]], None] | None = None,
) -> Transactions:
    """Apply the returns policy and the analysis window; define purchase occasions.

    - Rows without a customer id or a date are dropped (counted in a warning); `Transactions.lines`
      keeps the rows without a customer id, for totals that count every line (KPI revenue).
    - Without an amount column, `lf` has no `amount` column: money is unknown (null in every figure).
    - `returns="net"` (default): returns stay in spend as negative amounts but are not purchase
      occasions; `"drop"`: returns are removed; `"keep"`: returns are kept as written, as ordinary rows.
    - The analysis date `as_of` defaults to the day after the latest transaction; rows dated on or after
      it are ignored (counted in a warning). `start`/`end` keep dates in [start, end].
    - A purchase occasion is one distinct `order_id` when the column exists, else one (customer, day);
      `occasion="day"` or `"order"` chooses explicitly (`occasion_key`; "order" needs an order id).

    `on_warnings` is called with the cleaning warnings once the profile is computed (the CLI prints them).

    Raises InputError when a value does not parse (with its row) or nothing is left to analyse
    (when the data is first read: by `collect()` or the `as_of`/`warnings` properties).
    """
    if table.kind != "transactions":
        raise InputError(f"expected a transactions table, got {table.kind}", file=table.file)
    requested = occasion
    occasion, key = occasion_key(occasion, has_order_id="order_id" in table.exprs, file=table.file)
    has_amount = "amount" in table.exprs
    is_return = return_flag(table)

    def cleaned(source: pl.LazyFrame) -> pl.LazyFrame:
        # Without an amount the column is left out, never filled: money is unknown, not 0 (SPEC section 1).
        lf = source.with_columns(is_return=is_return)
        lf = lf.filter(pl.col("date").is_not_null())
        if as_of:
            # Without an as-of date every row is before the default one (the day after the latest):
            # no filter, so the profile and the first reduction share one scan of the source.
            lf = lf.filter(pl.col("date") < pl.lit(as_of))
        if start:
            lf = lf.filter(pl.col("date") >= pl.lit(start))
        if end:
            lf = lf.filter(pl.col("date") <= pl.lit(end))
        if has_amount:
            lf = lf.with_columns(pl.col("amount").fill_null(0.0))
        if returns == "net":
            if has_amount:
                lf = lf.with_columns(amount=pl.when(pl.col("is_return")).then(-pl.col("amount").abs()).otherwise(pl.col("amount")))
        elif returns == "drop":
            lf = lf.filter(~pl.col("is_return"))
        else:
            lf = lf.with_columns(is_return=pl.lit(False))
        return lf.with_columns(occasion=key)

    lines = cleaned(table.lf)
    tx = Transactions(
        lines.filter(pl.col("customer_id").is_not_null()), file=table.file,
        profile=profile_plan(table.lf, has_amount=has_amount, as_of=as_of), as_of=as_of, start=start, end=end,
        has_amount=has_amount, table=table, on_warnings=on_warnings, lines=lines, occasion=occasion, spec=table.spec,
        options=CleanOptions(returns=returns, as_of=as_of, start=start, end=end, occasion=requested),
    )
    tx.occasion_is_date = occasion == "day"
    native = _native_ids(table)
    if native is not None:
        tx.native = NativeIds(cleaned(native.lf), profile_plan(native.lf, has_amount=has_amount, as_of=as_of))
    return tx


def _native_ids(table: Table) -> Table | None:
    """The table with its customer ids as the source's integers (a typed source: Parquet, a
    database), not yet cast to text; None when the source's ids are not integers."""
    src = table.mapping.get("customer_id")
    if src is None or table.exprs.get("customer_id") is None:
        return None
    dtype = table.raw.collect_schema().get(src)
    if dtype is None or not dtype.is_integer():
        return None
    return replace(table, exprs={**table.exprs, "customer_id": pl.col(src)})
