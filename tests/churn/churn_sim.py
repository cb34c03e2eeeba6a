"""A seeded BG/NBD-style shop with known churn, for the churn tests and the benchmark.

Each customer is acquired on a uniform day of the first year, buys as a Poisson process of rate
lambda ~ Gamma(r, alpha) per day while alive, and after each purchase drops out with probability
p ~ Beta(a, b). Before dropping out, dissatisfied customers spend less: the last order of a customer
who then drops out is worth `decline` times the usual amount. The truth (drop-out day) is returned.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

START = dt.date(2023, 1, 1)


def simulate(n: int, *, seed: int = 7, days: int = 730, r: float = 1.2, alpha: float = 40.0, a: float = 1.0,
             b: float = 6.0, decline: float = 0.4) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Transactions (customer_id, order_id, date, amount, category, channel) and the truth
    (customer_id, dropout_day: days from 2023-01-01 to the drop-out, NaN if alive at the end)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    mean_spend = rng.gamma(4.0, 12.0, n)
    t = rng.integers(0, 365, n).astype(float)
    alive = np.ones(n, dtype=bool)
    dropout = np.full(n, np.nan)
    cust, day, amount = [], [], []
    active = np.arange(n)
    first = True
    while active.size:
        if not first:
            t[active] += rng.exponential(1.0 / lam[active])
            active = active[t[active] < days]
        if not active.size:
            break
        dies = rng.random(active.size) < p[active]
        spend = mean_spend[active] * rng.gamma(5.0, 0.2, active.size) * np.where(dies, decline, 1.0)
        cust.append(active.copy())
        day.append(np.floor(t[active]).astype(np.int64))
        amount.append(np.round(spend, 2))
        dropout[active[dies]] = t[active[dies]]
        alive[active[dies]] = False
        active = active[~dies]
        first = False
    c = np.concatenate(cust)
    d = np.concatenate(day)
    cats = np.array(["food", "drinks", "home", "beauty"])
    chans = np.array(["web", "store"])
    tx = pl.DataFrame({
        "customer_id": [f"K{i:07d}" for i in c] if n <= 200_000 else pl.Series(c).cast(pl.String),
        "date": pl.Series(d).cast(pl.Int32),
        "amount": np.concatenate(amount),
        "category": cats[rng.integers(0, 4, c.size)],
        "channel": chans[rng.integers(0, 2, c.size)],
    }).with_columns(date=pl.lit(START) + pl.duration(days=pl.col("date")))
    tx = tx.sort("customer_id", "date").with_row_index("order_id").with_columns(pl.format("O{}", pl.col("order_id")).alias("order_id"))
    truth = pl.DataFrame({"customer_id": [f"K{i:07d}" for i in range(n)] if n <= 200_000 else pl.Series(np.arange(n)).cast(pl.String),
                          "dropout_day": dropout})
    return tx.select("customer_id", "order_id", "date", "amount", "category", "channel"), truth
