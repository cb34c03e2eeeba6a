"""Item-to-item similarity from baskets, and the scores it gives the products a customer has not bought.

For items a and b, n_a and n_ab count the baskets holding a, and a and b, out of N baskets:

    cooccurrence  s(a, b) = n_ab / n_a                     (P(b | a): the confidence of a -> b)
    cosine        s(a, b) = n_ab / sqrt(n_a n_b)           (Sarwar et al. 2001, on binary baskets)
    lift          s(a, b) = (n_ab / n_a) x log(lift_ab)    with lift_ab = n_ab N / (n_a n_b); only
                                                           pairs with lift_ab > 1 (lift-weighted
                                                           confidence: frequent pairs that are
                                                           more than chance)

Only pairs seen together in at least `min_together` baskets count, and each item keeps its
`neighbours` most similar items (ties: the smaller item code), so the table stays sparse: its size
is items x neighbours at most, whatever the number of products. A customer's score for a product
she has not bought is the sum of its similarities to the products she has bought (Deshpande &
Karypis 2004, item-based top-N).
"""

from __future__ import annotations

from typing import Literal

import polars as pl

Similarity = Literal["cooccurrence", "cosine", "lift"]
SIMILARITIES: tuple[Similarity, ...] = ("cooccurrence", "cosine", "lift")


def item_neighbours(lines: pl.DataFrame, *, measure: Similarity = "cosine", neighbours: int = 50,
                    min_together: int = 2) -> pl.DataFrame:
    """The `neighbours` most similar items of each item of coded baskets (`rules.encode`: basket,
    item), by `measure`.

    Returns item, other, similarity (> 0), sorted by item, similarity (highest first), other.
    """
    n_baskets = float(lines["basket"].n_unique()) if lines.height else 1.0
    counts = lines.group_by("item").agg(n=pl.len().cast(pl.Float64))
    pairs = (
        lines.join(lines.rename({"item": "other"}), on="basket", how="inner")
        .filter(pl.col("item") != pl.col("other"))
        .group_by("item", "other").agg(n_ab=pl.len().cast(pl.Float64))
        .filter(pl.col("n_ab") >= min_together)
        .join(counts.rename({"n": "n_a"}), on="item")
        .join(counts.rename({"item": "other", "n": "n_b"}), on="other")
    )
    confidence = pl.col("n_ab") / pl.col("n_a")
    lift = pl.col("n_ab") * n_baskets / (pl.col("n_a") * pl.col("n_b"))
    score = {
        "cooccurrence": confidence,
        "cosine": pl.col("n_ab") / (pl.col("n_a") * pl.col("n_b")).sqrt(),
        "lift": confidence * lift.log(),
    }[measure]
    return (
        pairs.select("item", "other", similarity=score)
        .filter(pl.col("similarity") > 0)
        .sort(["item", "similarity", "other"], descending=[False, True, False])
        .group_by("item", maintain_order=True).head(neighbours)
    )


def similarity_scores(history: pl.DataFrame, neighbours: pl.DataFrame) -> pl.DataFrame:
    """customer_id, item, score: the summed similarity of each item not in a customer's `history`
    (customer_id, item) to the items in it."""
    return (
        history.join(neighbours, on="item", how="inner")
        .group_by("customer_id", "other").agg(score=pl.col("similarity").sum())
        .rename({"other": "item"})
        .join(history, on=["customer_id", "item"], how="anti")
    )


def rule_scores(history: pl.DataFrame, rules: pl.DataFrame) -> pl.DataFrame:
    """customer_id, item, score: for each item not in a customer's `history` (customer_id, item), the
    highest confidence of the rules (`rules.coded_rules`) whose antecedent she has bought whole
    and whose consequent is that item."""
    ante = [c for c in rules.columns if c.startswith("a") and c[1:].isdigit()]
    indexed = rules.with_row_index("rule")
    sizes = indexed.select("rule", size=pl.sum_horizontal(pl.col(ante).is_not_null()))
    long = (
        indexed.select("rule", items=pl.concat_list(ante).list.drop_nulls())
        .explode("items").rename({"items": "item"})
    )
    return (
        history.join(long, on="item", how="inner")
        .group_by("customer_id", "rule").agg(held=pl.len())
        .join(sizes, on="rule").filter(pl.col("held") == pl.col("size"))
        .join(indexed.select("rule", item="consequent", confidence="confidence"), on="rule")
        .group_by("customer_id", "item").agg(score=pl.col("confidence").max())
        .join(history, on=["customer_id", "item"], how="anti")
    )
