"""The two library calls of `fidelcli recommend`: association rules, and per-customer top-N lists.

Both start from the engine's baskets (`Engine.baskets`: one row per purchase occasion and item of
the purchase lines; returns are not bought items), coded once (`rules.encode`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import polars as pl

from fidelcli.analyses.recommend.crosssell import customer_codes
from fidelcli.analyses.recommend.rules import RuleMetric, coded_rules, encode, named_rules, sort_rules
from fidelcli.analyses.recommend.similarity import Similarity, item_neighbours, rule_scores, similarity_scores
from fidelcli.analyses.recommend.topn import holdout_metrics, popularity, top_n, upsell
from fidelcli.errors import InputError
from fidelcli.result import Figure, JsonResult

if TYPE_CHECKING:
    from fidelcli.clean import Transactions
    from fidelcli.engine import Engine

Level = Literal["product", "category"]
Method = Literal["cosine", "cooccurrence", "lift", "rules"]
ITEM: dict[Level, str] = {"product": "product_id", "category": "category"}


@dataclass
class RulesResult(JsonResult):
    """`recommend rules`: the rules table, sorted, and the counts behind it."""

    rules: pl.DataFrame
    level: Level
    baskets: int
    items: int
    frequent_itemsets: list[int]
    min_support: float
    min_confidence: float
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pl.DataFrame]:
        return {"rules": self.rules}

    def headline(self) -> dict[str, Figure]:
        return {
            "level": self.level, "baskets": self.baskets, "items": self.items, "rules": self.rules.height,
            "min_support": self.min_support, "min_confidence": self.min_confidence,
            **{f"frequent_{k + 1}_itemsets": n for k, n in enumerate(self.frequent_itemsets)},
        }


def _filtered(rules: pl.DataFrame, *, contains: str | None, consequent: str | None) -> pl.DataFrame:
    if consequent is not None:
        rules = rules.filter(pl.col("consequent") == consequent)
    if contains is not None:
        in_antecedent = pl.col("antecedent").str.split(" + ").list.contains(pl.lit(contains))
        rules = rules.filter(in_antecedent | (pl.col("consequent") == contains))
    return rules


def recommend_rules(
    tx: Transactions, *, engine: Engine, level: Level = "product", min_support: float = 0.01, min_confidence: float = 0.5,
    min_lift: float | None = None, max_antecedents: int = 2, sort: RuleMetric = "lift", top: int | None = None,
    contains: str | None = None, consequent: str | None = None,
) -> RulesResult:
    """Association rules X -> Y of the baskets (purchase occasions) of `tx`, products or categories
    (`level`), with support, confidence, lift, leverage and conviction (`rules` module).

    Parameters
    ----------
    min_support, min_confidence, min_lift: the thresholds (support and confidence as fractions).
    max_antecedents: 1 to 3 items in X.
    sort: the measure the rules are sorted by (highest first); `top` keeps the first rules.
    contains: keep the rules with this item (in X or as Y); consequent: keep the rules with this Y.

    Returns a `RulesResult` whose table has antecedent, consequent, antecedent_items, baskets,
    support, confidence, lift, leverage, conviction.

    Raises InputError without the item column (product_id or category), or bad thresholds.
    """
    if not 0 < min_support <= 1 or not 0 <= min_confidence <= 1:
        raise InputError("--min-support must be in (0, 1] and --min-confidence in [0, 1]", hint="e.g. --min-support 0.01 --min-confidence 0.5")
    if not 1 <= max_antecedents <= 3:
        raise InputError(f"--max-antecedents must be 1, 2 or 3, got {max_antecedents}", hint="use --max-antecedents 2")
    item = ITEM[level]
    baskets = engine.baskets(tx, item=item)
    lines, items = encode(baskets, item)
    n_baskets = lines["basket"].n_unique()
    warnings: list[str] = []  # the cleaning's own warnings travel through `tx` (on_warnings)
    if n_baskets == 0:
        raise InputError("no basket with a product: nothing to mine", file=tx.file, hint="check --map product_id=COLUMN and the date window")
    coded, itemsets = coded_rules(lines, n_baskets=n_baskets, min_support=min_support, min_confidence=min_confidence,
                                  min_lift=min_lift, max_antecedents=max_antecedents)
    rules = sort_rules(_filtered(named_rules(coded, items), contains=contains, consequent=consequent), sort)
    if top is not None:
        rules = rules.head(top)
    if rules.height == 0:
        warnings.append(f"no rule reaches support {min_support:g} and confidence {min_confidence:g}: lower --min-support or --min-confidence")
    return RulesResult(rules=rules, level=level, baskets=n_baskets, items=items.height,
                       frequent_itemsets=[f.height for f in itemsets], min_support=min_support, min_confidence=min_confidence,
                       warnings=warnings)


@dataclass
class CustomersResult(JsonResult):
    """`recommend customers`: the top-N lists, the up-sell suggestions and, with a holdout, the
    evaluation against the popularity baseline."""

    recommendations: pl.DataFrame
    upsell: pl.DataFrame
    evaluation: pl.DataFrame | None
    method: Method
    n: int
    customers: int
    calibration_end: dt.date | None
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pl.DataFrame]:
        out = {"recommendations": self.recommendations, "upsell": self.upsell}
        if self.evaluation is not None:
            out["evaluation"] = self.evaluation
        return out

    def headline(self) -> dict[str, Figure]:
        head: dict[str, Figure] = {"method": self.method, "n": self.n, "customers": self.customers,
                                   "upsell_customers": self.upsell.height}
        if self.evaluation is not None and self.calibration_end is not None:
            rates = dict(zip(self.evaluation["method"], self.evaluation["hit_rate"], strict=True))
            recalls = dict(zip(self.evaluation["method"], self.evaluation["recall_at_n"], strict=True))
            head |= {"calibration_end": self.calibration_end.isoformat(), "evaluated": int(self.evaluation["customers"][0]),
                     "hit_rate": rates[self.method], "popularity_hit_rate": rates["popularity"],
                     "recall_at_n": recalls[self.method], "popularity_recall_at_n": recalls["popularity"]}
        return head

    def verdict(self) -> str | None:
        """The holdout comparison in one sentence (None without a holdout)."""
        if self.evaluation is None or self.calibration_end is None:
            return None
        h = self.headline()
        rate, base = h["hit_rate"], h["popularity_hit_rate"]
        if not isinstance(rate, float) or not isinstance(base, float):
            return "no customer bought a new product after the calibration end: nothing to evaluate"
        word = "beats" if rate > base else "does not beat"
        return (f"holdout after {self.calibration_end}: {self.method} {word} popularity on hit rate@{self.n} "
                f"({rate:.1%} vs {base:.1%} of {h['evaluated']:,} customers; recall@{self.n} {h['recall_at_n']:.1%} vs "
                f"{h['popularity_recall_at_n']:.1%})")


def _catalogue(tx: Transactions, engine: Engine, items: pl.DataFrame) -> pl.DataFrame:
    """item (code), category, price (revenue per unit, else per basket line), orders."""
    counts = engine.item_counts(tx, category=True)
    per = pl.when(pl.col("quantity") > 0).then(pl.col("revenue") / pl.col("quantity")).otherwise(pl.col("revenue") / pl.col("orders"))
    return (
        counts.select(name="product_id", category="category", price=pl.when(pl.col("revenue") > 0).then(per), orders="orders")
        .join(items, on="name", how="inner").select("item", "category", "price", "orders")
    )


# Customers scored at once: the candidate rows of a chunk (its histories x each item's neighbours)
# stay around 10^7-10^8 whatever the number of customers, so memory is bounded; the lists do not depend
# on the chunking (every score is one customer's).
CHUNK_CUSTOMERS = 100_000


def _scorer(lines: pl.DataFrame, history: pl.DataFrame, *, method: Method, neighbours: int, min_support: float,
            min_confidence: float) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """The function scoring the products a set of customers (their `history` rows) has not bought."""
    if method == "rules":
        n_baskets = lines["basket"].n_unique()
        rules, _ = coded_rules(lines, n_baskets=n_baskets, min_support=min_support, min_confidence=min_confidence, max_antecedents=2)
        return lambda part: rule_scores(part, rules)
    sim: Similarity = method
    # Item-to-item collaborative filtering (Sarwar et al. 2001; Linden et al. 2003): two products
    # are similar when the same customers buy them, whether in one order or over time.
    together = history.select(basket="customer_id", item="item")
    near = item_neighbours(together, measure=sim, neighbours=neighbours)
    return lambda part: similarity_scores(part, near)


def _lists(score: Callable[[pl.DataFrame], pl.DataFrame], pairs: pl.DataFrame, popular: pl.DataFrame, customers: pl.Series,
           *, n: int, source: str) -> pl.DataFrame:
    """`topn.top_n` of every customer, chunk by chunk of `CHUNK_CUSTOMERS` (sorted by customer_id)."""
    parts = []
    for start in range(0, max(customers.len(), 1), CHUNK_CUSTOMERS):
        chunk = customers.slice(start, CHUNK_CUSTOMERS)
        mine = pairs.join(pl.DataFrame({"customer_id": chunk}), on="customer_id", how="semi")
        parts.append(top_n(score(mine), mine, popular, chunk, n=n, source=source))
    return pl.concat(parts)


def recommend_customers(
    tx: Transactions, *, engine: Engine, method: Method = "cosine", n: int = 10, calibration_end: dt.date | None = None,
    neighbours: int = 50, min_support: float = 0.001, min_confidence: float = 0.1,
) -> CustomersResult:
    """Per customer, the `n` products she has not bought that fit her history best, and an up-sell.

    `method`: item-to-item similarity (cosine, cooccurrence, lift; `similarity` module, `neighbours`
    per item) or association rules (`rules`, with `min_support` and `min_confidence`, antecedents of
    1 or 2 items); the popularity fallback completes every list (`topn.top_n`). The up-sell is the
    most popular higher-priced product of the category of her most bought product (`topn.upsell`).

    With `calibration_end`, everything is fitted on the baskets dated up to it, and the lists are
    evaluated on the products each customer bought for the first time after it (up to the analysis
    date): hit rate and recall at n, against the popularity baseline (the n most popular products
    she has not bought), over the customers with history and at least one new product.

    Returns a `CustomersResult`: recommendations (customer_id, rank, product_id, score, source),
    upsell (customer_id, from_product_id, product_id, category, from_price, price), evaluation.
    """
    if n < 1:
        raise InputError(f"--top must be at least 1, got {n}", hint="e.g. --top 10")
    baskets = engine.baskets(tx, dates=True)
    warnings: list[str] = []  # the cleaning's own warnings travel through `tx` (on_warnings)
    if calibration_end is not None:
        first = baskets["date"].min()
        last = tx.as_of - dt.timedelta(days=2)  # the holdout needs at least the last day of the data
        if not isinstance(first, dt.date) or not first <= calibration_end <= last:
            since = first.isoformat() if isinstance(first, dt.date) else "the first purchase"
            raise InputError(f"--calibration-end {calibration_end} leaves no calibration or no holdout period",
                             file=tx.file, hint=f"choose a date between {since} and {last}")
    lines_all, items = encode(baskets, "product_id", keep=("customer_id", "date"))
    del baskets  # the text rows (about 1 GiB per 10 M lines) are not needed past the codes
    # Customers as integer codes (their rank in the sorted ids) from here on: every join, group-by
    # and sort below is on integers, in the ids' order; the ids come back in the tables returned.
    ids = lines_all.get_column("customer_id").unique().sort()
    lines_all = lines_all.with_columns(customer_id=customer_codes(lines_all.get_column("customer_id"), ids))
    fit = lines_all if calibration_end is None else lines_all.filter(pl.col("date") <= calibration_end)
    history = fit.group_by("customer_id", "item").agg(baskets=pl.len())
    basket_lines = fit.select("basket", "item")
    score = _scorer(basket_lines, history.select("customer_id", "item"), method=method, neighbours=neighbours,
                    min_support=min_support, min_confidence=min_confidence)
    popular = popularity(basket_lines)
    everyone = lines_all["customer_id"].unique().sort()
    pairs = history.select("customer_id", "item")
    lists = _lists(score, pairs, popular, everyone, n=n, source=method)
    catalogue = _catalogue(tx, engine, items)
    ups = upsell(history, catalogue)
    evaluation = None
    if calibration_end is not None:
        baseline = _lists(lambda part: part.clear().select("customer_id", "item", score=pl.lit(None, pl.Float64)), pairs, popular,
                          history["customer_id"].unique().sort(), n=n, source="popularity")
        new = lines_all.filter(pl.col("date") > calibration_end).select("customer_id", "item").unique().join(pairs, on=["customer_id", "item"], how="anti")
        evaluated = new.join(pairs, on="customer_id", how="semi")["customer_id"].unique().sort()
        evaluation = holdout_metrics({method: lists, "popularity": baseline}, new, evaluated, n=n)
    names = items.rename({"item": "code", "name": "product_id"})
    price = catalogue.select("item", "category", "price")

    def named(frame: pl.DataFrame, code: str, name: str) -> pl.DataFrame:
        return frame.join(names.rename({"code": code, "product_id": name}), on=code, how="left")

    recs = named(lists.with_columns(customer_id=ids.gather(lists.get_column("customer_id"))), "item", "product_id").select(
        "customer_id", "rank", "product_id", "score", "source")
    ups_named = (
        named(named(ups.with_columns(customer_id=ids.gather(ups.get_column("customer_id"))), "from_item", "from_product_id"), "item", "product_id")
        .join(price.rename({"item": "from_item", "price": "from_price"}).drop("category"), on="from_item", how="left")
        .join(price, on="item", how="left")
        .select("customer_id", "from_product_id", "product_id", "category", "from_price", "price")
    )
    return CustomersResult(recommendations=recs, upsell=ups_named, evaluation=evaluation, method=method, n=n,
                           customers=everyone.len(), calibration_end=calibration_end, warnings=warnings)


__all__ = ["CustomersResult", "Level", "Method", "RulesResult", "recommend_customers", "recommend_rules"]
