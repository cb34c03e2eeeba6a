"""A seeded BG/NBD-style shop with known churn, for the churn tests and the benchmark.

Each customer is acquired on a uniform day of the first year, buys as a Poisson process of rate
lambda ~ Gamma(r, alpha) per day while alive, and after each purchase drops out with probability
p ~ Beta(a, b). Before dropping out, dissatisfied customers spend less: the last order of a customer
who then drops out is worth `decline` times the usual amount. The truth (drop-out day) is returned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

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


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def linear_truth(recency: np.ndarray, frequency: np.ndarray, tenure: np.ndarray) -> np.ndarray:
    """Churn whose log-odds are linear in recency, frequency and tenure: a logistic regression is the right model."""
    return _sigmoid(-0.3 + 0.012 * (recency - 45) - 0.25 * (frequency - 3) + 0.003 * (tenure - 300))


def interaction_truth(recency: np.ndarray, frequency: np.ndarray, tenure: np.ndarray) -> np.ndarray:
    """Recent buyers stay unless they are regulars (4+ purchases), older ones leave unless they are.

    An exclusive or: no sum of monotone terms expresses it, depth-3 trees do.
    """
    return np.where((recency < 45) ^ (frequency >= 4), 0.85, 0.15)


def simulate_rule(n: int, churn_probability: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray], *, seed: int = 0,
                  periods: int = 6, horizon: int = 90) -> tuple[pl.DataFrame, dt.date]:
    """A shop whose churn follows a known rule of the features at each cutoff.

    Customers make a first purchase on a uniform day of [0, 2 * horizon). From day 2 * horizon on,
    time runs in periods of `horizon` days; at the start t of each period, a customer makes no
    purchase in (t, t + horizon] with probability `churn_probability(recency_days, frequency,
    tenure_days)` of their purchases on or before t (fidelcli's features at cutoff t), and otherwise
    buys on 1 + Poisson(1) distinct days of the period. The cutoffs 2 * horizon + k * horizon are
    where `churn train` computes its features when the validation cutoff is the last of them.

    Returns the transactions (customer_id, order_id, date, amount) and the last period's start, the
    natural validation cutoff (the data ends `horizon` days after it).
    """
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 2 * horizon, n)
    days: list[list[int]] = [[int(d)] for d in first]
    start = 2 * horizon
    for k in range(periods):
        t = start + k * horizon
        last = np.array([d[-1] for d in days])
        freq = np.array([len(d) for d in days])
        churn = rng.random(n) < churn_probability(t - last, freq, t - first)
        for i in np.flatnonzero(~churn):
            k_days = min(horizon, 1 + rng.poisson(1.0))
            days[i] += sorted((t + 1 + rng.choice(horizon, k_days, replace=False)).tolist())
    cust = np.repeat(np.arange(n), [len(d) for d in days])
    day = np.concatenate([np.asarray(d) for d in days])
    tx = pl.DataFrame({
        "customer_id": [f"L{i:06d}" for i in cust],
        "date": [START + dt.timedelta(days=int(d)) for d in day],
        "amount": np.round(rng.gamma(4.0, 12.0, day.size), 2),
    }).with_row_index("order_id").with_columns(pl.format("O{}", pl.col("order_id")).alias("order_id"))
    return tx.select("customer_id", "order_id", "date", "amount"), START + dt.timedelta(days=start + (periods - 1) * horizon)
