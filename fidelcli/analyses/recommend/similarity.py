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

Both are sparse matrix products over integer codes (scipy.sparse): pair counts are B'B for the
baskets x items matrix B, scores H S for the customers x items history H and the neighbour
similarities S; summation follows the item codes, so identical inputs give identical floats.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from scipy import sparse

Similarity = Literal["cooccurrence", "cosine", "lift"]
SIMILARITIES: tuple[Similarity, ...] = ("cooccurrence", "cosine", "lift")
# Cells of the items x items co-occurrence block computed at once (`item_neighbours`): 2^22 cells
# (tens of MiB) hold every pair of 2,000 items in one block, and 100,000 items in blocks of 41.
BLOCK_CELLS = 1 << 22


def _codes(values: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """Dense integer codes (0..k-1, in sorted order) of `values`, and the sorted distinct values."""
    distinct = values.unique().sort()
    codes = values.to_frame("v").join(distinct.to_frame("v").with_row_index("c"), on="v", how="left", maintain_order="left")
    return codes.get_column("c").to_numpy().astype(np.int64), distinct


def count_matrix(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], *, binary: bool = False) -> sparse.csr_matrix:
    """The CSR matrix counting the (row, col) pairs (1 per pair with `binary`), column indices
    sorted, so that every product sums in a fixed order: identical inputs give identical floats."""
    m = sparse.csr_matrix((np.ones(rows.size), (rows, cols)), shape=shape, dtype=np.float64)
    m.sum_duplicates()
    m.sort_indices()
    if binary:
        m.data[:] = 1.0
    return m


def matrix_neighbours(b: sparse.csr_matrix, *, measure: Similarity = "cosine", neighbours: int = 50,
                      min_together: int = 2) -> pl.DataFrame:
    """`item_neighbours` of the baskets x items count matrix `b` (`count_matrix`; every row a
    basket): item, other (Int64 codes), similarity."""
    n_baskets, n_items = b.shape
    n = np.asarray(b.sum(axis=0)).ravel()
    counts = pl.DataFrame({"item": np.arange(n_items, dtype=np.int64), "n": n}).filter(pl.col("n") > 0)
    confidence = pl.col("n_ab") / pl.col("n_a")
    lift = pl.col("n_ab") * float(n_baskets) / (pl.col("n_a") * pl.col("n_b"))
    score = {
        "cooccurrence": confidence,
        "cosine": pl.col("n_ab") / (pl.col("n_a") * pl.col("n_b")).sqrt(),
        "lift": confidence * lift.log(),
    }[measure]
    bt = b.T.tocsr()
    step = max(1, BLOCK_CELLS // max(n_items, 1))
    parts = [pl.DataFrame(schema={"item": pl.Int64, "other": pl.Int64, "similarity": pl.Float64})]
    for start in range(0, n_items, step):
        co = (bt[start:start + step] @ b).tocoo()
        pairs = (
            pl.DataFrame({"item": co.row.astype(np.int64) + start, "other": co.col.astype(np.int64), "n_ab": co.data})
            .filter(pl.col("item") != pl.col("other"), pl.col("n_ab") >= min_together)
            .join(counts.rename({"n": "n_a"}), on="item")
            .join(counts.rename({"item": "other", "n": "n_b"}), on="other")
        )
        parts.append(
            pairs.select("item", "other", similarity=score)
            .filter(pl.col("similarity") > 0)
            .sort(["item", "similarity", "other"], descending=[False, True, False])
            .group_by("item", maintain_order=True).head(neighbours)
        )
    return pl.concat(parts)


def item_neighbours(lines: pl.DataFrame, *, measure: Similarity = "cosine", neighbours: int = 50,
                    min_together: int = 2) -> pl.DataFrame:
    """The `neighbours` most similar items of each item of coded baskets (`rules.encode`: basket,
    item), by `measure`.

    n_ab for every pair of items is the product B'B of the baskets x items count matrix B (a
    sparse matrix of integer codes: no join of basket lines, no text keys), computed for a block of
    items at a time, each block cut to its items' top `neighbours` before the next: memory stays
    bounded by the block (`BLOCK_CELLS` cells) plus items x neighbours.

    Returns item, other, similarity (> 0), sorted by item, similarity (highest first), other.
    """
    dtype = lines.schema["item"]
    if lines.height == 0:
        return pl.DataFrame(schema={"item": dtype, "other": dtype, "similarity": pl.Float64()})
    basket, _ = _codes(lines.get_column("basket"))
    item = lines.get_column("item").cast(pl.Int64).to_numpy()
    b = count_matrix(basket, item, (int(basket.max()) + 1, int(item.max()) + 1))
    near = matrix_neighbours(b, measure=measure, neighbours=neighbours, min_together=min_together)
    return near.cast({"item": dtype, "other": dtype})


def neighbour_matrix(neighbours: pl.DataFrame, n_items: int) -> sparse.csr_matrix:
    """The items x items matrix S of the similarities of `neighbours` (item, other, similarity)."""
    a = neighbours.get_column("item").cast(pl.Int64).to_numpy()
    o = neighbours.get_column("other").cast(pl.Int64).to_numpy()
    s = sparse.csr_matrix((neighbours.get_column("similarity").to_numpy(), (a, o)), shape=(n_items, n_items), dtype=np.float64)
    s.sum_duplicates()
    s.sort_indices()
    return s


def unbought_scores(h: sparse.csr_matrix, s: sparse.csr_matrix) -> sparse.csr_matrix:
    """H S without the cells H holds: each customer's (row's) score of the items she has not bought."""
    product = h @ s
    product = (product - product.multiply(h > 0)).tocsr()
    product.eliminate_zeros()
    product.sort_indices()
    return product


def similarity_scores(history: pl.DataFrame, neighbours: pl.DataFrame) -> pl.DataFrame:
    """customer_id, item, score: the summed similarity of each item not in a customer's `history`
    (customer_id, item) to the items in it: the sparse product H S of the customers x items history
    H and the items x items neighbour similarities S, the bought cells removed (`unbought_scores`)."""
    dtype = history.schema["item"]
    schema: dict[str, pl.DataType] = {"customer_id": history.schema["customer_id"], "item": dtype, "score": pl.Float64()}
    if history.height == 0 or neighbours.height == 0:
        return pl.DataFrame(schema=schema)
    customer, ids = _codes(history.get_column("customer_id"))
    item = history.get_column("item").cast(pl.Int64).to_numpy()
    top = neighbours.select(pl.max_horizontal(pl.col("item").max(), pl.col("other").max()).cast(pl.Int64)).item()
    n_items = int(max(item.max(), top)) + 1
    scored = unbought_scores(count_matrix(customer, item, (ids.len(), n_items)), neighbour_matrix(neighbours, n_items)).tocoo()
    return pl.DataFrame({
        "customer_id": ids.gather(scored.row.astype(np.int64)) if ids.len() else ids,
        "item": pl.Series(scored.col.astype(np.int64)).cast(dtype),
        "score": scored.data,
    })


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
