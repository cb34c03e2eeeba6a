"""Cross-sell and up-sell from baskets: association rules and per-customer top-N lists (`recommend`).

- `rules`: frequent itemsets (Apriori, as Polars joins) and the rules' support, confidence, lift,
  leverage and conviction;
- `similarity`: item-to-item similarity (co-occurrence, cosine, lift-weighted) and the scores of
  the products a customer has not bought;
- `topn`: top-N lists with the popularity fallback, the up-sell, the holdout metrics;
- `crosssell`: the fitted recommender `target` scores its cross-sell customers with, alone;
- `analysis`: the two library calls, `recommend_rules` and `recommend_customers`, and their results.

See docs/recommend.md for every formula.
"""

from fidelcli.analyses.recommend.analysis import (
    CustomersResult,
    Level,
    Method,
    RulesResult,
    recommend_customers,
    recommend_rules,
)
from fidelcli.analyses.recommend.crosssell import ItemRecommender, item_recommender

__all__ = ["CustomersResult", "ItemRecommender", "Level", "Method", "RulesResult", "item_recommender", "recommend_customers",
           "recommend_rules"]
