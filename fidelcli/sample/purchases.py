"""Transactions: BG/NBD purchase timing, gamma-gamma order values, baskets of catalogue products, returns.

Everything is vectorised over a chunk of customers; the only loop is over purchase rounds (the n-th
repeat purchase of every customer still alive and inside the window).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from fidelcli.sample.people import Base, customer_ids, to_date
from fidelcli.sample.truth import Truth

ORDER_CHANNELS = ("web", "store", "app")
CHANNEL_SHARES = np.array([0.45, 0.4, 0.15])
STORES = (
    "Paris Rivoli", "Paris Bastille", "Lyon Part-Dieu", "Marseille", "Lille", "Bordeaux", "Nantes", "Toulouse",
    "Strasbourg", "Rennes", "Nice", "Montpellier",
)
ORDER_ID_WIDTH = 9


@dataclass
class Catalogue:
    """Products: category index, list price and popularity weight within the category."""

    category: np.ndarray
    price: np.ndarray
    within: list[np.ndarray]  # per category: product indices
    within_p: list[np.ndarray]  # per category: Zipf popularity


def catalogue(truth: Truth, rng: np.random.Generator) -> Catalogue:
    """~n_products products spread evenly over the categories, lognormal prices around each median."""
    cats = list(truth.basket.category_weights)
    per = max(1, truth.basket.n_products // len(cats))
    category = np.repeat(np.arange(len(cats)), per)
    median = np.array([truth.basket.median_price[c] for c in cats])
    price = np.round(median[category] * rng.lognormal(0.0, 0.5, category.size), 2).clip(0.5)
    zipf = 1.0 / np.arange(1, per + 1)
    within = [np.flatnonzero(category == k) for k in range(len(cats))]
    return Catalogue(category=category, price=price, within=within, within_p=[zipf / zipf.sum()] * len(cats))


@dataclass
class Chunk:
    """One chunk's transactions and what the other tables need to know about its customers."""

    transactions: pl.DataFrame
    dropped: np.ndarray  # dropped out (BG/NBD) before the window end
    last_day: np.ndarray  # day of the last purchase
    first_channel: np.ndarray  # index into ORDER_CHANNELS of the first order
    orders: int


def purchase_times(
    lam: np.ndarray, p: np.ndarray, horizon: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD: the first purchase at 0, then Poisson(lam) repeat purchases until dropout or `horizon`.

    Returns (customer index, time of each purchase, dropped flag per customer), purchases in rounds.
    """
    n = lam.size
    who = [np.arange(n)]
    when = [np.zeros(n)]
    dropped = np.zeros(n, dtype=bool)
    t = np.zeros(n)
    active = np.arange(n)
    while active.size:
        t[active] += rng.exponential(1.0, active.size) / lam[active]
        active = active[t[active] < horizon[active]]
        who.append(active)
        when.append(t[active].copy())
        drop = rng.random(active.size) < p[active]
        dropped[active[drop]] = True
        active = active[~drop]
    return np.concatenate(who), np.concatenate(when), dropped


def draw_spend_rates(truth: Truth, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The first two draws of a chunk's transactions: the BG/NBD dropout probability p ~ Beta(a, b)
    and the gamma-gamma rate nu ~ Gamma(q, rate gamma) of each customer."""
    p_drop = rng.beta(truth.purchases.a, truth.purchases.b, n)
    nu = rng.gamma(truth.spend.q, 1.0 / truth.spend.gamma, n)
    return p_drop, nu


def transactions_chunk(
    truth: Truth, base: Base, cat: Catalogue, lo: int, hi: int, *, lam: np.ndarray, member: np.ndarray,
    enroll_day: np.ndarray, order_offset: int, rng: np.random.Generator, width: int,
    spend_rates: tuple[np.ndarray, np.ndarray] | None = None,
) -> Chunk:
    """Order lines of customers lo..hi-1, sorted by customer, date and order id.

    `spend_rates`: (p_drop, nu) already drawn from `rng` by `spend_rates()` (the caller needs nu
    before choosing the members); None draws them here, in the same order."""
    n = hi - lo
    days_total = (truth.end - truth.start).days + 1
    acq = base.day[lo:hi]
    sp, bk = truth.spend, truth.basket
    p_drop, nu = spend_rates if spend_rates is not None else draw_spend_rates(truth, n, rng)
    horizon = (days_total - acq) / 7.0
    who, when, dropped = purchase_times(lam, p_drop, horizon, rng)
    day = acq[who] + np.floor(when * 7.0).astype(np.int64)
    order = np.lexsort((when, who))
    who, day = who[order], day[order]
    n_orders = who.size
    last_day = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last_day, who, day)

    # Gamma-gamma order value; members spend more from their enrollment day on.
    value = rng.gamma(sp.p, 1.0, n_orders) / nu[who]
    value *= np.where(member[who] & (day >= enroll_day[who]), truth.loyalty.spend_uplift, 1.0)
    preferred = rng.choice(len(ORDER_CHANNELS), size=n, p=CHANNEL_SHARES)
    channel = np.where(rng.random(n_orders) < 0.8, preferred[who], rng.choice(len(ORDER_CHANNELS), size=n_orders, p=CHANNEL_SHARES))
    home = rng.integers(0, len(STORES), n)
    first_channel = np.zeros(n, dtype=np.int64)
    is_first = np.r_[True, who[1:] != who[:-1]]
    first_channel[who[is_first]] = channel[is_first]

    # Basket: first line by category popularity, further lines from the partner category or popularity.
    lines = 1 + rng.poisson(bk.extra_lines_mean, n_orders)
    line_order = np.repeat(np.arange(n_orders), lines)
    starts = np.cumsum(lines) - lines
    position = np.arange(line_order.size) - starts[line_order]
    w = np.array(list(bk.category_weights.values()))
    w = w / w.sum()
    first_cat = rng.choice(w.size, size=n_orders, p=w)
    if bk.favourite_prob > 0:
        # Customer taste (BasketTruth): drawn from a child stream, so that the draws below keep their order.
        taste = rng.spawn(1)[0]
        favourite = taste.choice(w.size, size=n, p=w)
        first_cat = np.where(taste.random(n_orders) < bk.favourite_prob, favourite[who], first_cat)
    other = rng.choice(w.size, size=line_order.size, p=w)
    to_partner = rng.random(line_order.size) < bk.partner_prob
    partner = bk.partner_index()[first_cat[line_order]]
    category = np.where(position == 0, first_cat[line_order], np.where(to_partner, partner, other))
    product = np.empty(line_order.size, dtype=np.int64)
    for k, members in enumerate(cat.within):  # one draw per category, not per line
        mask = category == k
        product[mask] = rng.choice(members, size=int(mask.sum()), p=cat.within_p[k])
    # A product appears once per order: a repeat moves to the next product of its category.
    per = cat.within[0].size
    for _ in range(per):
        key = line_order * cat.price.size + product
        ordered = np.argsort(key, kind="stable")
        repeat = ordered[1:][key[ordered][1:] == key[ordered][:-1]]
        if not repeat.size:
            break
        product[repeat] = category[repeat] * per + (product[repeat] - category[repeat] * per + 1) % per

    # Split the order value over its lines (Dirichlet(1) shares); price, quantity and discount per line.
    share = rng.exponential(1.0, line_order.size)
    share /= np.bincount(line_order, weights=share)[line_order]
    line_value = value[line_order] * share
    quantity = np.clip(np.rint(line_value / cat.price[product]), 1, 10).astype(np.int64)
    rate = np.where(rng.random(line_order.size) < bk.discount_share, rng.choice([0.1, 0.2], size=line_order.size), 0.0)
    unit_price = np.maximum(np.round(line_value / (quantity * (1.0 - rate)), 2), 0.01)
    discount = np.round(quantity * unit_price * rate, 2)
    amount = np.round(quantity * unit_price - discount, 2)
    margin_rate = np.array([bk.margin_rate[c] for c in bk.category_weights])
    margin = np.round(amount * margin_rate[category], 2)

    # Returns: a share of lines comes back within max_delay_days (inside the window only).
    back = rng.random(line_order.size) < truth.returns.line_return_rate
    back_day = day[line_order] + rng.integers(1, truth.returns.max_delay_days + 1, line_order.size)
    back &= back_day < days_total
    rows = np.r_[np.arange(line_order.size), np.flatnonzero(back)]
    returned = np.r_[np.zeros(line_order.size, dtype=bool), np.ones(int(back.sum()), dtype=bool)]
    sign = np.where(returned, -1, 1)
    row_day = np.where(returned, back_day[rows], day[line_order[rows]])
    o = line_order[rows]
    sort = np.lexsort((returned, row_day, o))
    rows, returned, sign, row_day, o = rows[sort], returned[sort], sign[sort], row_day[sort], o[sort]

    cats = pl.Series(list(bk.category_weights), dtype=pl.String)
    ch = channel[o]
    store_idx = np.where(ch == ORDER_CHANNELS.index("store"), home[who[o]], -1)
    df = pl.DataFrame(
        {
            "customer_id": customer_ids(lo + who[o], width),
            "order_id": pl.Series(order_offset + o + 1).cast(pl.String).str.zfill(ORDER_ID_WIDTH).str.pad_start(ORDER_ID_WIDTH + 1, "O"),
            "date": to_date(truth, row_day),
            "product_id": pl.Series(product[rows] + 1).cast(pl.String).str.zfill(4).str.pad_start(5, "P"),
            "category": cats.gather(category[rows]),
            "channel": pl.Series(list(ORDER_CHANNELS), dtype=pl.String).gather(ch),
            "store": pl.Series(list(STORES), dtype=pl.String).gather(np.maximum(store_idx, 0)),
            "store_idx": store_idx,
            "quantity": sign * quantity[rows],
            "unit_price": unit_price[rows],
            "amount": sign * amount[rows],
            "margin": sign * margin[rows],
            "discount": sign * discount[rows],
            "status": np.where(returned, "returned", "completed"),
        }
    ).with_columns(
        pl.when(pl.col("store_idx") >= 0).then(pl.col("store")).alias("store"),
        pl.col("amount", "margin", "discount").round(2),
    ).drop("store_idx")
    return Chunk(transactions=df, dropped=dropped, last_day=last_day, first_channel=first_channel, orders=n_orders)
