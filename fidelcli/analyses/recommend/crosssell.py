"""Cross-sell for `target`: each customer's best recommendation, scored only for the customers asked.

`item_recommender` fits what `recommend customers` fits with its defaults (item-to-item cosine, 50
neighbours per item, every basket): the histories on integer codes, the items' neighbours, the
popularity order. `ItemRecommender.best(ids)` scores those customers only and returns the first
product of their `recommend customers` list when it is a personal one (not the popularity
fallback): the same product and score (the same matrices and products as `similarity_scores`, the
same tie-break as `topn.top_n`: score, then popularity, then item code), vectorised over the
customers with reductions on the rows of the sparse score matrix (no sort of scored cells).

`ItemRecommender.eligible()` says who has a personal recommendation without scoring everyone: a
customer with h distinct products has one as soon as one of her products has h or more neighbours
(they cannot all be among her h - 1 other products); only the others (few: many products, items
with few neighbours) are scored to know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from scipy import sparse

from fidelcli.analyses.recommend.rules import encode
from fidelcli.analyses.recommend.similarity import Similarity, count_matrix, matrix_neighbours, neighbour_matrix, unbought_scores

if TYPE_CHECKING:
    from fidelcli.clean import Transactions
    from fidelcli.engine import Engine

# Customers scored at once (as `analysis.CHUNK_CUSTOMERS`): bounds the scored cells in memory.
CHUNK = 100_000


def customer_codes(values: pl.Series, ids: pl.Series) -> pl.Series:
    """The code of each of `values`: its position in `ids` (sorted, distinct), as UInt32; null
    for a value not in `ids`."""
    codes = ids.to_frame("v").with_row_index("code")
    return values.to_frame("v").join(codes, on="v", how="left", maintain_order="left").get_column("code")


@dataclass
class ItemRecommender:
    """A fitted item-to-item recommender (`item_recommender`), all on integer codes.

    ids: the customer ids with a purchase, sorted (row r of `history` is ids[r]); history: the
    customers x items matrix, 1 where bought; similarity: the items x items matrix of each item's
    neighbours (`matrix_neighbours`); rank: each item code's popularity rank (`topn.popularity`:
    0 = in the most baskets, ties to the smaller code); names: the product of each item code.
    """

    ids: pl.Series
    history: sparse.csr_matrix
    similarity: sparse.csr_matrix
    rank: np.ndarray
    names: pl.Series

    def _best_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, items, scores): the first personal product of each of `rows` (history rows) who
        has one: the highest score (`unbought_scores`), ties to the more popular, as `topn.top_n`.
        Vectorised per chunk of `CHUNK` customers (reductions over the rows of a sparse matrix)."""
        by_rank = np.argsort(self.rank)
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for start in range(0, rows.size, CHUNK):
            chunk = rows[start:start + CHUNK]
            scores = unbought_scores(self.history[chunk], self.similarity)
            sizes = np.diff(scores.indptr)
            has = sizes > 0
            if not has.any():
                continue
            starts = scores.indptr[:-1][has]
            best = np.maximum.reduceat(scores.data, starts)
            ranks = np.where(scores.data == np.repeat(best, sizes[has]), self.rank[scores.indices], np.iinfo(np.int64).max)
            found.append((chunk[has], by_rank[np.minimum.reduceat(ranks, starts)], best))
        if not found:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
        return tuple(np.concatenate(part) for part in zip(*found, strict=True))  # type: ignore[return-value]

    def best(self, ids: pl.Series) -> pl.DataFrame:
        """customer_id, item (the product), score: the first personal recommendation of each of
        `ids` who has one, sorted by customer_id. Only these customers are scored."""
        rows = customer_codes(ids.cast(pl.String), self.ids).drop_nulls().unique().sort().cast(pl.Int64).to_numpy()
        got, items, scores = self._best_rows(rows)
        return pl.DataFrame({"customer_id": self.ids.gather(got), "item": self.names.gather(items).cast(pl.String), "score": scores},
                            schema={"customer_id": pl.String, "item": pl.String, "score": pl.Float64})

    def eligible(self) -> pl.Series:
        """The ids of the customers with a personal recommendation, sorted."""
        h = np.diff(self.history.indptr)
        if h.size == 0 or self.history.nnz == 0:
            return pl.Series("customer_id", [], dtype=pl.String)
        fan = np.diff(self.similarity.indptr)[self.history.indices]
        widest = np.maximum.reduceat(fan, self.history.indptr[:-1])
        sure = np.flatnonzero(widest >= h)
        scored, _, _ = self._best_rows(np.flatnonzero(widest < h))
        return self.ids.gather(np.sort(np.concatenate([sure, scored]))).alias("customer_id")


def item_recommender(tx: Transactions, *, engine: Engine, method: Similarity = "cosine", neighbours: int = 50) -> ItemRecommender:
    """Fit the item-to-item recommender of `recommend customers` (`method`, `neighbours` per item,
    every basket of `tx`) once, to score customers later (`ItemRecommender.best`).

    Raises InputError when the transactions have no product_id column (`Engine.baskets`).
    """
    baskets = engine.baskets(tx)  # sorted by customer_id: a customer's code is the count of ids before hers
    lines, items = encode(baskets, "product_id", keep=("customer_id",))
    first = lines.select((pl.col("customer_id") != pl.col("customer_id").shift()).fill_null(True)).to_series()
    rows = (first.cum_sum() - 1).cast(pl.Int64).to_numpy()
    ids = lines.get_column("customer_id").filter(first)
    item = lines.get_column("item").cast(pl.Int64).to_numpy()
    n_items = items.height
    history = count_matrix(rows, item, (ids.len(), n_items), binary=True)
    near = matrix_neighbours(history, measure=method, neighbours=neighbours)
    orders = np.bincount(item, minlength=n_items)
    rank = np.empty(n_items, dtype=np.int64)
    rank[np.lexsort((np.arange(n_items), -orders))] = np.arange(n_items)
    return ItemRecommender(ids=ids, history=history, similarity=neighbour_matrix(near, n_items), rank=rank,
                           names=items.get_column("name"))
