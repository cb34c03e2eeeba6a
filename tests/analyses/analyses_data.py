"""Tiny hand-written transaction logs shared by the RFM, KPI and cohort tests (imported as `analyses_data`)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from fidelcli.clean import Transactions


def tx_frame(rows: list[tuple[str, str, float, bool]] | list[tuple[str, str, float, bool, str]]) -> pl.LazyFrame:
    """Cleaned transactions (as `clean_transactions` makes them) from (customer, date, amount, is_return[, order])."""
    has_order = bool(rows) and len(rows[0]) == 5
    data = {
        "customer_id": [r[0] for r in rows],
        "date": [dt.date.fromisoformat(r[1]) for r in rows],
        "amount": [float(r[2]) for r in rows],
        "is_return": [bool(r[3]) for r in rows],
    }
    df = pl.DataFrame(data, schema={"customer_id": pl.String, "date": pl.Date, "amount": pl.Float64, "is_return": pl.Boolean})
    occasion = pl.Series("occasion", [r[4] for r in rows], dtype=pl.String) if has_order else df.get_column("date").cast(pl.String).alias("occasion")
    return df.with_columns(occasion).lazy()


def cleaned(frame: pl.LazyFrame | pl.DataFrame) -> Transactions:
    """A `tx_frame` (already cleaned) as the `Transactions` the engine reduces."""
    return Transactions.from_frame(frame)


# As of 2024-01-11 (exclusive analysis date):
#   A: 3 purchases (10 + 20 + 30 = 60.00), last 01-10, first 01-01
#   B: 2 purchases (15 + 45 = 60.00), last 01-10, first 01-02  (ties A on recency and monetary)
#   C: 1 purchase of 100.00 on 01-03, a return of 25.00 on 01-04 -> 75.00, one occasion
#   D: 1 purchase of 5.00 on 01-06
#   E: only a return (-10.00 on 01-07): no purchase occasion
TINY = [
    ("A", "2024-01-01", 10.0, False),
    ("A", "2024-01-05", 20.0, False),
    ("A", "2024-01-10", 30.0, False),
    ("B", "2024-01-02", 15.0, False),
    ("B", "2024-01-10", 45.0, False),
    ("C", "2024-01-03", 100.0, False),
    ("C", "2024-01-04", -25.0, True),
    ("D", "2024-01-06", 5.0, False),
    ("E", "2024-01-07", -10.0, True),
]
TINY_AS_OF = dt.date(2024, 1, 11)


class FixedPredictions:
    """A stand-in purchase model whose holdout predictions are given: it isolates the report's arithmetic."""

    name = "fixed"

    def __init__(self, values: list[float]) -> None:
        self.values = np.array(values)

    def expected_purchases(self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        return self.values
