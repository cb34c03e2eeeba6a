"""Seeded simulators for the model tests.

They follow each paper's story at the individual level (purchase by purchase), so they test the
closed-form likelihoods and expectations independently of the formulas in fidelcli.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Simulated:
    """Calibration summary and what happened next, from a purchase-by-purchase simulation."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    holdout: np.ndarray  # purchases in (T, T + horizon]
    alive_at_T: np.ndarray


def simulate_purchases(kind: str, params: dict[str, float], n: int, *, seed: int,
                       T_range: tuple[float, float] = (20.0, 52.0),
                       horizon: float = 0.0) -> Simulated:
    """Simulate BG/NBD ("bgnbd"), MBG/NBD ("mbgnbd") or Pareto/NBD ("pnbd") customers.

    BG/NBD (FHL 2005, model assumptions): Poisson(lambda) purchases, lambda ~ Gamma(r, alpha);
    after each repeat purchase the customer dies with probability p ~ Beta(a, b). MBG/NBD: also
    right after the first purchase (time 0). Pareto/NBD: exponential lifetime with
    mu ~ Gamma(s, beta).
    """
    rng = np.random.default_rng(seed)
    T = rng.uniform(*T_range, size=n)
    end = T + horizon
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], size=n)
    if kind == "pnbd":
        death = rng.exponential(1.0 / rng.gamma(params["s"], 1.0 / params["beta"], size=n))
        p = np.zeros(n)
    else:
        death = np.full(n, np.inf)
        p = rng.beta(params["a"], params["b"], size=n)
    alive = np.ones(n, dtype=bool)
    if kind == "mbgnbd":  # a drop-out chance right after the first purchase
        dead_now = rng.random(n) < p
        alive &= ~dead_now
        death = np.where(dead_now, 0.0, death)
    now = np.zeros(n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    hold = np.zeros(n)
    active = alive.copy()
    while active.any():
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1.0 / lam[idx])
        t = now[idx]
        happened = (t <= end[idx]) & (t < death[idx])
        in_cal = happened & (t <= T[idx])
        x[idx[in_cal]] += 1
        t_x[idx[in_cal]] = t[in_cal]
        hold[idx[happened & ~in_cal]] += 1
        if kind == "pnbd":
            active[idx[~happened]] = False
        else:
            dies = happened & (rng.random(idx.size) < p[idx])
            death[idx[dies]] = t[dies]
            active[idx[~happened | dies]] = False
    return Simulated(x, t_x, T, hold, death > T)


@dataclass
class SimulatedBGBB:
    x: np.ndarray
    t_x: np.ndarray
    n: np.ndarray
    holdout: np.ndarray  # transactions in opportunities n+1 .. n+horizon
    alive_next: np.ndarray  # alive at opportunity n+1


def simulate_bgbb(params: dict[str, float], customers: int, n: int, *, seed: int,
                  horizon: int = 0) -> SimulatedBGBB:
    """BG/BB (FHS 2010, model assumptions): an alive customer transacts at each opportunity with
    probability p ~ Beta(alpha, beta); before each opportunity she dies with probability
    theta ~ Beta(gamma, delta), the first opportunity included."""
    rng = np.random.default_rng(seed)
    p = rng.beta(params["alpha"], params["beta"], size=customers)
    theta = rng.beta(params["gamma"], params["delta"], size=customers)
    # Number of opportunities survived: P(L = l) = theta (1 - theta)^l, l >= 0.
    life = rng.geometric(theta) - 1
    total = n + horizon
    k = np.arange(1, total + 1)
    buys = (rng.random((customers, total)) < p[:, None]) & (k[None, :] <= life[:, None])
    cal = buys[:, :n]
    x = cal.sum(axis=1).astype(float)
    last = np.where(x > 0, n - np.argmax(cal[:, ::-1], axis=1), 0).astype(float)
    return SimulatedBGBB(x, last, np.full(customers, float(n)),
                         buys[:, n:].sum(axis=1).astype(float), life >= n + 1)


def simulate_spend(params: dict[str, float], customers: int, *, seed: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Gamma-Gamma (Fader & Hardie 2013 note, assumptions): nu ~ Gamma(q, v), each transaction
    ~ Gamma(p, nu); x ~ 1 + Poisson(2) transactions; returns (x, mean spend)."""
    rng = np.random.default_rng(seed)
    nu = rng.gamma(params["q"], 1.0 / params["v"], size=customers)
    x = 1 + rng.poisson(2.0, size=customers)
    m = rng.gamma(params["p"] * x, 1.0 / nu) / x
    return x.astype(float), m


def simulate_lifetimes(params: dict[str, float], customers: int, horizon: int, *, seed: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """sBG (Fader & Hardie 2007, assumptions): churn probability theta ~ Beta(alpha, beta), churn
    period T ~ Geometric(theta) >= 1; observed for `horizon` periods (later churn is censored).
    Returns (durations, censored)."""
    rng = np.random.default_rng(seed)
    theta = rng.beta(params["alpha"], params["beta"], size=customers)
    t = rng.geometric(theta)
    censored = t > horizon
    return np.where(censored, horizon, t).astype(float), censored
