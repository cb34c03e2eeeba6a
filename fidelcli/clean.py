"""Clean step: returns policy, analysis window (`--as-of`, `--start`, `--end`), purchase occasions.

Still lazy: one small profiling pass computes the default as-of date and the counts behind the
warnings; the cleaned frame itself is a plan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from fidelcli.errors import InputError
from fidelcli.io.read import Table

ReturnsPolicy = Literal["net", "drop", "keep"]
# Statuses meaning a return, in English and French, matched case-insensitively at the start of the value
# ("Returned", "retourné", "Remboursée", "ANNULÉ", "avoir"). One anchored regex: no per-row lowercasing.
RETURN_STATUS = r"(?i)^\s*(return|refund|cancel|void|retour|rembours|annul|avoir)"


@dataclass
class Transactions:
    """Cleaned transactions: `lf` has customer_id, date, amount, is_return, occasion and the optional fields."""

    lf: pl.LazyFrame
    as_of: dt.date
    file: str
    start: dt.date | None = None
    end: dt.date | None = None
    has_amount: bool = True
    warnings: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)


def numeric_invoices(table: Table) -> bool:
    """True when the order ids are invoice numbers (most of a sample are digits), as in Online Retail."""
    if "order_id" not in table.mapping:
        return False
    ids = table.raw.select(table.exprs["order_id"].alias("id")).head(1000).collect()["id"].drop_nulls()
    return ids.len() > 0 and bool((ids.str.contains(r"^\d+$").mean() or 0) > 0.5)


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
) -> Transactions:
    """Apply the returns policy and the analysis window; define purchase occasions.

    - Rows without a customer id or a date are dropped (counted in a warning).
    - `returns="net"` (default): returns stay in spend as negative amounts but are not purchase
      occasions; `"drop"`: returns are removed; `"keep"`: returns are kept as written, as ordinary rows.
    - The analysis date `as_of` defaults to the day after the latest transaction; rows dated on or after
      it are ignored (counted in a warning). `start`/`end` keep dates in [start, end].
    - A purchase occasion is one distinct `order_id` when the column exists, else one (customer, day).

    Raises InputError when a value does not parse (with its row) or nothing is left to analyse.
    """
    if table.kind != "transactions":
        raise InputError(f"expected a transactions table, got {table.kind}", file=table.file)
    has_amount = "amount" in table.exprs
    amount = pl.col("amount") if has_amount else pl.lit(None, dtype=pl.Float64)
    after = (pl.col("date") >= pl.lit(as_of)).fill_null(False) if as_of else pl.lit(False)
    # One pass for the counts behind the warnings; it parses (strictly) the columns it reads.
    with table.diagnosed():
        profile = (
            table.lf.select(
                rows=pl.len(),
                no_customer=pl.col("customer_id").is_null().sum(),
                no_date=pl.col("date").is_null().sum(),
                no_amount=amount.is_null().sum() if has_amount else pl.lit(0),
                after_as_of=after.sum(),
                max_date=pl.col("date").filter(pl.col("customer_id").is_not_null()).max(),
            )
            .collect(engine="streaming")
            .row(0, named=True)
        )
    lf = table.lf.with_columns(amount=amount)
    lf = lf.with_columns(is_return=return_flag(table))
    if profile["max_date"] is None:
        raise InputError("no transaction with a customer id and a date", file=table.file, hint="check the column mapping (--map)")
    as_of = as_of or profile["max_date"] + dt.timedelta(days=1)

    warnings = []
    if profile["no_customer"]:
        warnings.append(f"{profile['no_customer']:,} rows without a customer id were dropped")
    if profile["no_date"]:
        warnings.append(f"{profile['no_date']:,} rows without a date were dropped")
    if profile["no_amount"]:
        warnings.append(f"{profile['no_amount']:,} rows without an amount count as 0")
    if profile["after_as_of"]:
        warnings.append(f"{profile['after_as_of']:,} rows dated on or after the analysis date {as_of} were ignored")
    if not has_amount:
        warnings.append("no amount column (nor quantity and unit price): monetary figures are unavailable")

    lf = lf.filter(pl.col("customer_id").is_not_null(), pl.col("date").is_not_null(), pl.col("date") < pl.lit(as_of))
    if start:
        lf = lf.filter(pl.col("date") >= pl.lit(start))
    if end:
        lf = lf.filter(pl.col("date") <= pl.lit(end))
    if has_amount:
        lf = lf.with_columns(pl.col("amount").fill_null(0.0))
    if returns == "net":
        lf = lf.with_columns(amount=pl.when(pl.col("is_return")).then(-pl.col("amount").abs()).otherwise(pl.col("amount")))
    elif returns == "drop":
        lf = lf.filter(~pl.col("is_return"))
    else:
        lf = lf.with_columns(is_return=pl.lit(False))
    occasion = pl.col("order_id") if "order_id" in table.exprs else pl.col("date")
    lf = lf.with_columns(occasion=occasion)
    return Transactions(
        lf=lf, as_of=as_of, file=table.file, start=start, end=end, has_amount=has_amount, warnings=warnings, stats=profile
    )
