"""Per-customer top-N lists, the popularity fallback, the up-sell, and their holdout evaluation.

Every frame here is coded: items are `rules.encode` codes, customers their customer_id; a
customer's `history` is the (customer_id, item) pairs she has bought.

- `top_n`: a customer's N best-scored products not yet bought (score, then popularity, then item
  code), completed with the most popular products she has not bought (the fallback, and the whole
  list for a customer without history or without any scored product).
- `upsell`: from the product she bought in most baskets (then the smaller code), the most popular
  product of the same category with a higher price that she has not bought.
- `holdout_metrics`: hit rate (share of the evaluated customers who bought at least one of their
  recommended products after the calibration end) and recall at N (mean share of a customer's new
  products that were recommended), with a Wilson interval for the hit rate.
"""

from __future__ import annotations

import polars as pl

from fidelcli.stats import wilson_interval


def popularity(lines: pl.DataFrame) -> pl.DataFrame:
    """item, orders, rank (0 = the item in most baskets; ties: the smaller code)."""
    return (
        lines.group_by("item").agg(orders=pl.len().cast(pl.Int64))
        .sort(["orders", "item"], descending=[True, False])
        .with_row_index("rank")
    )


def top_n(scores: pl.DataFrame, history: pl.DataFrame, popular: pl.DataFrame, customers: pl.Series, *, n: int,
          source: str) -> pl.DataFrame:
    """customer_id, rank (1..n), item, score (null for the fallback), source (`source`, or
    "popularity") for each of `customers`: the best `scores` (customer_id, item, score), then the
    most popular items (`popularity`) not bought and not already listed. Sorted by customer_id, rank."""
    # Only the rows scoring at least a customer's n-th best score can be in her list (ties kept):
    # the full sort below then runs on about n rows per customer instead of all her scored items.
    nth = scores.group_by("customer_id").agg(nth=pl.col("score").top_k(n).min())
    personal = (
        scores.join(nth, on="customer_id").filter(pl.col("score") >= pl.col("nth"))
        .join(popular.select("item", "orders"), on="item", how="left")
        .sort(["customer_id", "score", "orders", "item"], descending=[False, True, True, False])
        .group_by("customer_id", maintain_order=True).head(n)
        .select("customer_id", "item", "score", source=pl.lit(source))
    )
    listed = personal.group_by("customer_id").agg(k=pl.len().cast(pl.Int64))
    bought = history.group_by("customer_id").agg(h=pl.len().cast(pl.Int64))
    # The top n + h popular items hold at least n - k that she neither bought nor has on her list.
    need = (
        pl.DataFrame({"customer_id": customers}).unique()
        .join(listed, on="customer_id", how="left").join(bought, on="customer_id", how="left")
        .with_columns(pl.col("k", "h").fill_null(0))
        .filter(pl.col("k") < n)
        .with_columns(limit=n + pl.col("h"))
    )
    ranked = popular.select("item", pop_rank=pl.col("rank").cast(pl.Int64))
    fallback = (
        need.join_where(ranked, pl.col("pop_rank") < pl.col("limit"))
        .join(history, on=["customer_id", "item"], how="anti")
        .join(personal.select("customer_id", "item"), on=["customer_id", "item"], how="anti")
        .sort("customer_id", "pop_rank")
        .filter(pl.int_range(pl.len()).over("customer_id") < n - pl.col("k"))
        .select("customer_id", "item", score=pl.lit(None, pl.Float64), source=pl.lit("popularity"))
    )
    return (
        pl.concat([personal, fallback])
        .with_columns(rank=pl.int_range(1, pl.len() + 1).over("customer_id").cast(pl.Int64))
        .sort("customer_id", "rank")
        .select("customer_id", "rank", "item", "score", "source")
    )


def upsell(history: pl.DataFrame, catalogue: pl.DataFrame) -> pl.DataFrame:
    """customer_id, from_item, item: per customer with history, from the item she bought in most
    baskets (`history` has a `baskets` column), the most popular item of the same category with a
    higher price that she has not bought (`catalogue`: item, category, price, orders). Customers
    without such an item are left out. Sorted by customer_id."""
    known = catalogue.filter(pl.col("category").is_not_null(), pl.col("price").is_not_null())
    anchor = (
        history.sort(["customer_id", "baskets", "item"], descending=[False, True, False])
        .group_by("customer_id", maintain_order=True).first()
        .select("customer_id", from_item="item")
        .join(known.select(from_item="item", category="category", from_price="price"), on="from_item")
    )
    return (
        anchor.join(known.select("item", "category", "price", "orders"), on="category")
        .filter(pl.col("price") > pl.col("from_price"))
        .join(history.select("customer_id", "item"), on=["customer_id", "item"], how="anti")
        .sort(["customer_id", "orders", "price", "item"], descending=[False, True, False, False])
        .group_by("customer_id", maintain_order=True).first()
        .select("customer_id", "from_item", "item")
        .sort("customer_id")
    )


def holdout_metrics(lists: dict[str, pl.DataFrame], new: pl.DataFrame, evaluated: pl.Series, *, n: int) -> pl.DataFrame:
    """One row per method of `lists` ({method: customer_id, item}): customers (evaluated), hits,
    hit_rate with its 95 % Wilson interval (hit_rate_low, hit_rate_high), recall_at_n and
    precision_at_n, over the `evaluated` customers and their `new` (customer_id, item) purchases."""
    rows = []
    customers = pl.DataFrame({"customer_id": evaluated}).unique()
    truth = new.join(customers, on="customer_id", how="semi")
    wanted = truth.group_by("customer_id").agg(wanted=pl.len())
    for method, recs in lists.items():
        got = (
            recs.join(customers, on="customer_id", how="semi")
            .join(truth, on=["customer_id", "item"], how="semi")
            .group_by("customer_id").agg(hits=pl.len())
        )
        per = customers.join(wanted, on="customer_id", how="left").join(got, on="customer_id", how="left").with_columns(
            pl.col("hits", "wanted").fill_null(0))
        m = per.height
        hit = int((per["hits"] > 0).sum())
        low, high = wilson_interval(hit, m) if m else (None, None)
        recall = per.select((pl.col("hits") / pl.col("wanted")).mean()).item() if m else None
        precision = per.select((pl.col("hits") / n).mean()).item() if m else None
        rows.append({"method": method, "customers": m, "hits": hit, "hit_rate": hit / m if m else None,
                     "hit_rate_low": low, "hit_rate_high": high, "recall_at_n": recall, "precision_at_n": precision})
    return pl.DataFrame(rows, schema={"method": pl.String, "customers": pl.Int64, "hits": pl.Int64, "hit_rate": pl.Float64,
                                      "hit_rate_low": pl.Float64, "hit_rate_high": pl.Float64, "recall_at_n": pl.Float64,
                                      "precision_at_n": pl.Float64})
