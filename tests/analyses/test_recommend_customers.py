"""`recommend_customers`: top-N lists, popularity fallback, up-sell and holdout metrics by hand, and
the recommender against popularity on the sample's planted customer taste."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fidelcli.analyses.recommend import recommend_customers
from fidelcli.analyses.recommend.similarity import item_neighbours
from fidelcli.analyses.recommend.topn import holdout_metrics
from fidelcli.clean import CleanOptions
from fidelcli.engine import PolarsEngine
from fidelcli.errors import InputError
from fidelcli.io.read import scan_table
from fidelcli.sample import generate

ENGINE = PolarsEngine()
D = dt.date

# Orders: A buys p1+p2 (o1) then p3 (o5, holdout); B buys p1+p2 (o2); C buys p1 (o3); D buys p4 (o4).
# Categories: p1, p3 in x (prices 10, 30), p2, p4 in y (prices 5, 8).
ROWS = [
    "A,o1,2024-01-05,p1,x,1,10", "A,o1,2024-01-05,p2,y,1,5", "B,o2,2024-01-06,p1,x,1,10", "B,o2,2024-01-06,p2,y,1,5",
    "C,o3,2024-01-07,p1,x,1,10", "D,o4,2024-01-08,p4,y,2,16", "A,o5,2024-02-10,p3,x,1,30", "C,o6,2024-02-11,p2,y,1,5",
]


def load(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,order_id,date,product_id,category,quantity,amount\n" + "\n".join(ROWS) + "\n")
    return ENGINE.load(scan_table(path, "transactions"), CleanOptions())


def test_similarity_by_hand() -> None:
    # Baskets 0: {1, 2}, 1: {1, 2}, 2: {1}, 3: {3}. n1 = 3, n2 = 2, n12 = 2; N = 4.
    lines = pl.DataFrame({"basket": [0, 0, 1, 1, 2, 3], "item": [1, 2, 1, 2, 1, 3]}, schema={"basket": pl.UInt32, "item": pl.UInt32})
    cos = item_neighbours(lines, measure="cosine")
    # cosine 2 / sqrt(3 x 2) = 0.8165 both ways.
    assert cos["similarity"].to_list() == pytest.approx([2 / 6**0.5] * 2)
    co = item_neighbours(lines, measure="cooccurrence")
    # P(2 | 1) = 2/3, P(1 | 2) = 1.
    assert co.rows() == [(1, 2, pytest.approx(2 / 3)), (2, 1, 1.0)]
    lift = item_neighbours(lines, measure="lift")
    # lift = 2 x 4 / (3 x 2) = 4/3; score = confidence x ln(4/3).
    assert lift["similarity"].to_list() == pytest.approx([2 / 3 * 0.28768207245178085, 0.28768207245178085])


def test_lists_fallback_and_upsell_by_hand(tmp_path: Path) -> None:
    result = recommend_customers(load(tmp_path), engine=ENGINE, method="cooccurrence", n=2)
    recs = result.recommendations
    # Customers' products (A: p1 p2 p3, B: p1 p2, C: p1 p2, D: p4): only p1-p2 is bought by two customers
    # or more (min_together = 2), and A, B, C have both: no score, the lists are all popularity:
    # p1 (3 baskets), p2 (3), p3 (1), p4 (1), ties by id.
    expected = pl.DataFrame({
        "customer_id": ["A", "B", "B", "C", "C", "D", "D"],
        "rank": [1, 1, 2, 1, 2, 1, 2],
        "product_id": ["p4", "p3", "p4", "p3", "p4", "p1", "p2"],
        "score": [None] * 7,
        "source": ["popularity"] * 7,
    }, schema_overrides={"score": pl.Float64})
    assert_frame_equal(recs, expected)
    # Up-sell from the most bought product (ties: the smaller id): A p1 (10) -> p3 (30) bought: none left
    # in x; B p1 -> p3; C p1 (p1, p2 once each) -> p3; D p4 (8 per unit) -> none dearer in y.
    ups = result.upsell
    assert ups.select("customer_id", "from_product_id", "product_id", "from_price", "price").rows() == [
        ("B", "p1", "p3", 10.0, 30.0), ("C", "p1", "p3", 10.0, 30.0)]


def test_holdout_by_hand(tmp_path: Path) -> None:
    result = recommend_customers(load(tmp_path), engine=ENGINE, method="cooccurrence", n=1, calibration_end=D(2024, 1, 31))
    # Calibration: A p1 p2, B p1 p2, C p1, D p4; new after it: A p3, C p2. Co-purchase: P(p2 | p1) = 2/3.
    # A: nothing scored (p1, p2 bought, p4 only with D) -> popularity p4: miss. C: p2 (2/3): hit.
    # Popularity: A -> p4 (miss), C -> p2 (hit: p1 3 baskets bought, then p2 2 baskets).
    ev = result.evaluation
    assert ev is not None
    assert ev.select("method", "customers", "hits", "hit_rate", "recall_at_n", "precision_at_n").rows() == [
        ("cooccurrence", 2, 1, 0.5, 0.5, 0.5), ("popularity", 2, 1, 0.5, 0.5, 0.5)]
    # Wilson 95 % interval of 1/2: 0.5 -+ 1.96/(1 + 1.96^2/2) x sqrt(0.125 + 1.96^2/16) = [0.0945, 0.9055].
    assert ev["hit_rate_low"][0] == pytest.approx(0.0945, abs=1e-4) and ev["hit_rate_high"][0] == pytest.approx(0.9055, abs=1e-4)
    assert result.headline()["evaluated"] == 2
    with pytest.raises(InputError, match="leaves no calibration or no holdout"):
        recommend_customers(load(tmp_path), engine=ENGINE, calibration_end=D(2023, 1, 1))


def test_holdout_metrics_count_every_new_product() -> None:
    new = pl.DataFrame({"customer_id": ["a", "a", "b"], "item": [1, 2, 3]})
    recs = pl.DataFrame({"customer_id": ["a", "a", "b", "b"], "item": [1, 5, 4, 6]})
    ev = holdout_metrics({"m": recs}, new, pl.Series(["a", "b"]), n=2)
    # a: 1 of 2 new products recommended (recall 0.5, precision 1/2); b: none. Means: recall 0.25, precision 0.25.
    assert ev.select("hits", "hit_rate", "recall_at_n", "precision_at_n").row(0) == (1, 0.5, 0.25, 0.25)


@pytest.mark.slow
def test_recommender_beats_popularity_on_the_sample(tmp_path: Path) -> None:
    out = tmp_path / "s"
    truth = generate(out, customers=4000, seed=11, formats=("parquet",))
    assert truth.basket.favourite_prob > 0
    tx = ENGINE.load(scan_table(out / "transactions.parquet", "transactions"), CleanOptions())
    result = recommend_customers(tx, engine=ENGINE, method="cosine", n=10, calibration_end=D(2025, 6, 30))
    ev = result.evaluation
    assert ev is not None
    ours, popular = ev.row(0, named=True), ev.row(1, named=True)
    assert ours["customers"] == popular["customers"] > 1000
    # The planted taste (favourite category) is what a popularity list cannot know.
    assert ours["hit_rate"] > popular["hit_rate"] + 0.02
    assert ours["recall_at_n"] > popular["recall_at_n"]


@pytest.mark.parametrize("method", ["cosine", "rules"])
def test_lists_do_not_depend_on_the_customer_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """Customers are scored by chunks to bound memory (1M customers ran out of memory in one piece):
    chunks of 2 customers must give the same lists and holdout figures as one chunk."""
    from fidelcli.analyses.recommend import analysis

    out = tmp_path / "s"
    generate(out, customers=300, seed=5, formats=("parquet",))
    tx = ENGINE.load(scan_table(out / "transactions.parquet", "transactions"), CleanOptions())
    whole = recommend_customers(tx, engine=ENGINE, method=method, n=5, calibration_end=D(2025, 6, 30))  # type: ignore[arg-type]
    monkeypatch.setattr(analysis, "CHUNK_CUSTOMERS", 2)
    chunked = recommend_customers(tx, engine=ENGINE, method=method, n=5, calibration_end=D(2025, 6, 30))  # type: ignore[arg-type]
    assert whole.recommendations.height >= 5 * 250
    assert_frame_equal(chunked.recommendations, whole.recommendations)
    assert whole.evaluation is not None and chunked.evaluation is not None
    assert_frame_equal(chunked.evaluation, whole.evaluation)
