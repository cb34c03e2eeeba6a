"""Association rules from baskets: frequent itemsets by Apriori, as Polars joins, then the rules.

A basket is a purchase occasion (an order, else a customer's day: `fidelcli.clean.occasion_key`).
For the itemsets X (antecedent, 1 to 3 items) and Y (one consequent item) of N baskets, with n(S)
the baskets holding every item of S:

    support    = n(X u Y) / N
    confidence = n(X u Y) / n(X)                       (P(Y | X))
    lift       = confidence / (n(Y) / N)               (1: independent)
    leverage   = support - (n(X) / N) (n(Y) / N)
    conviction = (1 - n(Y) / N) / (1 - confidence)     (null when confidence = 1: infinite)

(Agrawal, Imielinski & Swami 1993; Brin, Motwani, Ullman & Tsur 1997 for lift, called interest,
and conviction; Piatetsky-Shapiro 1991 for leverage.) Rules have a single consequent, as the
`apriori` of R's arules returns them by default, so results compare with it.

Itemsets are mined level by level (Apriori: Agrawal & Srikant 1994): the frequent (k+1)-itemsets
are counted only among the candidates whose every k-subset is frequent. Each level is a join of
the occurrences of the frequent k-itemsets (basket, items) with the basket lines of frequent items
(a later item only), a semi-join with the candidates and a group-by count: no loop over baskets,
and no basket x item matrix, so 100,000 products cost what their occurrences cost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import polars as pl

RuleMetric = Literal["lift", "confidence", "support", "leverage", "conviction"]
METRICS: tuple[RuleMetric, ...] = ("lift", "confidence", "support", "leverage", "conviction")
SEPARATOR = " + "  # between the items of an antecedent, in the rules table


def encode(baskets: pl.DataFrame, item: str, *, keep: Sequence[str] = ()) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Integer codes for the baskets and the items of `baskets` (an engine's `baskets` frame:
    customer_id, occasion, item..., sorted by customer_id, occasion).

    Returns (lines, items): lines has basket (UInt32, from 0 in the frame's order), item (UInt32:
    the item's rank in the sorted item names) and the `keep` columns, in the frame's row order;
    items has item (the code) and name.
    """
    items = baskets.select(pl.col(item).unique().sort().alias("name")).with_row_index("item")
    new_basket = (pl.col("customer_id") != pl.col("customer_id").shift()) | (pl.col("occasion") != pl.col("occasion").shift())
    lines = baskets.select(
        (new_basket.fill_null(True).cum_sum() - 1).cast(pl.UInt32).alias("basket"),
        pl.col(item).replace_strict(items["name"], items["item"], return_dtype=pl.UInt32).alias("item"),
        *keep,
    )
    return lines, items


def _cols(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{j}" for j in range(n)]


def _candidates(frequent: pl.DataFrame, k: int) -> pl.DataFrame:
    """The (k+1)-itemsets whose every k-subset is in `frequent` (columns i0..i{k-1}, ascending), k >= 2:
    two k-itemsets sharing their first k-1 items, then the other subsets checked."""
    cols = _cols("i", k)
    left = frequent.select(cols)
    right = left.rename({cols[-1]: f"i{k}"})
    cand = left.join(right, on=cols[:-1], how="inner").filter(pl.col(cols[-1]) < pl.col(f"i{k}"))
    # The two subsets without i{k} and without i{k-1} are the joined ones; check the others.
    for drop in range(k - 1):
        kept = [c for c in [*cols, f"i{k}"] if c != f"i{drop}"]
        cand = cand.join(left, left_on=kept, right_on=cols, how="semi")
    return cand


def items_of(lines: pl.DataFrame) -> int:
    """One more than the largest item code of `lines` (at least 1): the width of the itemset keys."""
    top = lines.select(pl.col("item").max().cast(pl.Int64)).item() if lines.height else None
    return int(top) + 1 if top is not None else 1


def frequent_itemsets(lines: pl.DataFrame, *, n_baskets: int, min_support: float, max_size: int) -> list[pl.DataFrame]:
    """The frequent itemsets of 1 to `max_size` items: a list whose k-th entry (from 0) holds the
    (k+1)-itemsets, columns i0..ik (item codes, ascending) and n (baskets holding them), with
    n >= ceil(min_support x n_baskets), sorted by their items.

    The occurrences of a level are (basket, sid, last): the basket, the row of the k-itemset in its
    level's table and its last item; an extension by a later item is counted under one integer key,
    sid x m + item (m items), which groups much faster than k + 1 columns.
    """
    min_count = max(1, math.ceil(min_support * n_baskets - 1e-9))
    m = items_of(lines)
    singles = lines.group_by("item").agg(n=pl.len().cast(pl.Int64)).filter(pl.col("n") >= min_count).sort("item")
    frequent = [singles.rename({"item": "i0"})]
    lines = lines.join(singles.select("item"), on="item", how="semi")
    occurrences = lines.join(frequent[0].with_row_index("sid").select("sid", item="i0"), on="item").select(
        "basket", "sid", last="item")
    for k in range(1, max_size):
        cols = _cols("i", k)
        previous = frequent[k - 1].with_row_index("sid")
        extended = (
            occurrences.lazy().join(lines.lazy(), on="basket", how="inner")
            .filter(pl.col("item") > pl.col("last"))
            .select("basket", key=pl.col("sid").cast(pl.UInt64) * m + pl.col("item"))
        )
        if k > 1:
            candidates = _candidates(frequent[k - 1], k).join(previous.select("sid", *cols), on=cols).select(
                key=pl.col("sid").cast(pl.UInt64) * m + pl.col(f"i{k}"))
            extended = extended.join(candidates.lazy(), on="key", how="semi")
        found = extended.collect()
        counts = found.group_by("key").agg(n=pl.len().cast(pl.Int64)).filter(pl.col("n") >= min_count)
        if counts.height == 0:
            break
        level = (
            counts.with_columns(sid=(pl.col("key") // m).cast(pl.UInt32), **{f"i{k}": (pl.col("key") % m).cast(pl.UInt32)})
            .join(previous, on="sid").drop("n_right", strict=False)
            .sort([*cols, f"i{k}"])
        )
        frequent.append(level.select(*cols, f"i{k}", "n"))
        if k + 1 < max_size:
            keyed = level.with_row_index("next").select("key", "next", f"i{k}")
            occurrences = found.join(keyed, on="key").select("basket", sid="next", last=f"i{k}")
    return frequent


def _rules_of(itemsets: pl.DataFrame, subsets: pl.DataFrame, singles: pl.DataFrame, size: int, n_baskets: int) -> pl.DataFrame:
    """Every rule X -> Y of the `size`-itemsets: columns a0..a{size-2} (antecedent codes), consequent,
    n, n_antecedent, n_consequent."""
    cols = _cols("i", size)
    out = []
    sub_cols = _cols("i", size - 1)
    for c in range(size):
        ante = [x for x in cols if x != cols[c]]
        rule = (
            itemsets.join(subsets.rename({"n": "n_antecedent"}), left_on=ante, right_on=sub_cols, how="inner")
            .join(singles.rename({"i0": cols[c], "n": "n_consequent"}), on=cols[c], how="inner")
            .select(*[pl.col(a).alias(f"a{j}") for j, a in enumerate(ante)], pl.col(cols[c]).alias("consequent"),
                    "n", "n_antecedent", "n_consequent")
        )
        out.append(rule)
    return pl.concat(out)


def coded_rules(
    lines: pl.DataFrame, *, n_baskets: int, min_support: float = 0.01, min_confidence: float = 0.0,
    min_lift: float | None = None, max_antecedents: int = 2,
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """The association rules of coded baskets (`encode`), with at least `min_support`,
    `min_confidence` and (when given) `min_lift`, antecedents of 1 to `max_antecedents` items.

    Returns (rules, itemsets): rules has a0..a{max_antecedents-1} (the antecedent's item codes,
    ascending, null-padded), consequent (code), n (baskets holding X and Y), n_antecedent,
    n_consequent, support, confidence, lift, leverage, conviction, unsorted; itemsets is
    `frequent_itemsets`'s list.
    """
    itemsets = frequent_itemsets(lines, n_baskets=n_baskets, min_support=min_support, max_size=max_antecedents + 1)
    parts = [_rules_of(itemsets[s - 1], itemsets[s - 2], itemsets[0], s, n_baskets) for s in range(2, len(itemsets) + 1)]
    ante = _cols("a", max_antecedents)
    schema = {**{a: pl.UInt32 for a in ante}, "consequent": pl.UInt32, "n": pl.Int64, "n_antecedent": pl.Int64, "n_consequent": pl.Int64}
    raw = pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame(schema=schema)
    raw = raw.with_columns(pl.lit(None, pl.UInt32).alias(a) for a in ante if a not in raw.columns).select(list(schema))
    n = pl.col("n").cast(pl.Float64)
    nx, ny, total = pl.col("n_antecedent").cast(pl.Float64), pl.col("n_consequent").cast(pl.Float64), float(n_baskets)
    confidence = n / nx
    rules = raw.with_columns(
        support=n / total, confidence=confidence, lift=n * total / (nx * ny),
        leverage=n / total - (nx / total) * (ny / total),
        # Infinite when X always comes with Y: unknown (null), never inf, in every output.
        conviction=pl.when(pl.col("n") < pl.col("n_antecedent")).then((1.0 - ny / total) / (1.0 - confidence)),
    ).filter(pl.col("confidence") >= min_confidence)
    if min_lift is not None:
        rules = rules.filter(pl.col("lift") >= min_lift)
    return rules, itemsets


def named_rules(rules: pl.DataFrame, items: pl.DataFrame) -> pl.DataFrame:
    """The rules table of `coded_rules`'s rules: antecedent (its items' names, sorted, joined by
    " + "), consequent, antecedent_items, baskets, support, confidence, lift, leverage, conviction."""
    ante = [c for c in rules.columns if c.startswith("a") and c[1:].isdigit()]
    codes, names = items["item"], items["name"]
    named = rules.with_columns(
        *[pl.col(a).replace_strict(codes, names, default=None, return_dtype=pl.String) for a in ante],
        pl.col("consequent").replace_strict(codes, names, return_dtype=pl.String),
    )
    return named.select(
        antecedent=pl.concat_str(ante, separator=SEPARATOR, ignore_nulls=True),
        consequent="consequent",
        antecedent_items=pl.sum_horizontal(pl.col(ante).is_not_null()).cast(pl.Int64),
        baskets="n", support="support", confidence="confidence", lift="lift", leverage="leverage", conviction="conviction",
    )


def sort_rules(rules: pl.DataFrame, by: RuleMetric = "lift") -> pl.DataFrame:
    """Rules by `by` (highest first; conviction's nulls, infinite, first), then by support,
    antecedent and consequent, so that the order never depends on the input's row order."""
    return rules.sort([by, "support", "antecedent", "consequent"], descending=[True, True, False, False],
                      nulls_last=by != "conviction")
