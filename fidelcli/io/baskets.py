"""Baskets read as transactions: the stand-ins that let a file without customers or dates be read.

Association rules need baskets only: an order id and a product (Groceries: `transaction_id,item`;
The Bread Basket: `Date,Time,Transaction,Item`). Such a file is read as transactions whose customer
id and date may be missing (`OPTIONAL`); `basket_table` then gives the table the stand-ins the
cleaning step expects:

- no customer id column: each order stands for its own customer (`customer_id` = `order_id`);
  a line whose customer id is empty (Online Retail's anonymous invoices) takes its order id too,
  so that every order counts as a basket;
- no date column: every line is dated `UNDATED` (one day): the baskets are the orders, and the
  date options (`--as-of`, `--start`, `--end`, `--calibration-end`) cannot be used.

A file without an order id needs both a customer id and a date (a basket is then one customer's
day). Only `recommend rules` reads tables this way; every other command still requires a customer
id and a date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl

from fidelcli.errors import MappingError
from fidelcli.io.read import Table

OPTIONAL: frozenset[str] = frozenset({"customer_id", "date"})
UNDATED = dt.date(1970, 1, 1)


def basket_table(table: Table) -> Table:
    """`table` (transactions scanned with `optional=OPTIONAL`) with the stand-ins above, as
    expressions over the same source: nothing is read here.

    Raises
    ------
    MappingError
        Neither an order id nor both a customer id and a date: a basket cannot be defined.
    """
    exprs = dict(table.exprs)
    has_order = "order_id" in exprs
    if not has_order and not {"customer_id", "date"} <= exprs.keys():
        missing = "customer_id" if "customer_id" not in exprs else "date"
        raise MappingError(
            f"baskets need an order id column, or a customer id and a date; the file has no order id and no {missing}",
            code="missing-column", field="order_id", file=table.file,
            hint="map the basket column with --map order_id=COLUMN (a ticket, invoice or transaction number)",
        )
    if has_order:
        order = exprs["order_id"]
        exprs["customer_id"] = exprs["customer_id"].fill_null(order) if "customer_id" in exprs else order
    if "date" not in exprs:
        exprs["date"] = pl.lit(UNDATED, pl.Date)
    return dataclasses.replace(table, exprs=exprs)


def stand_ins(table: Table) -> list[str]:
    """What `basket_table` stands in for, in words (the CLI says it on stderr)."""
    said = []
    if "customer_id" not in table.mapping:
        said.append("no customer id column: each order stands for its customer")
    if "date" not in table.mapping:
        said.append("no date column: the baskets are undated (date options cannot be used)")
    return said
