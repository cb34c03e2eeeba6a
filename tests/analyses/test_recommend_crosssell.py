"""`item_recommender` (the cross-sell of `target`): the same first product as `recommend customers`,
scoring only the customers asked; `eligible` exact without scoring everyone; the sparse
co-occurrence blocks change no neighbour."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fidelcli.analyses.recommend import item_recommender, recommend_customers
from fidelcli.analyses.recommend import similarity as similarity_module
from fidelcli.analyses.recommend.similarity import item_neighbours
from fidelcli.analyses.target import target_analysis
from fidelcli.clean import CleanOptions
from fidelcli.engine import PolarsEngine
from fidelcli.io.read import scan_table
from fidelcli.sample import generate

ENGINE = PolarsEngine()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("xsell")
    generate(out, customers=600, seed=8, formats=("parquet",))
    return out


def _tx(path: Path):  # type: ignore[no-untyped-def]
    return ENGINE.load(scan_table(path, "transactions"), CleanOptions())


def _first_personal(path: Path) -> pl.DataFrame:
    recs = recommend_customers(_tx(path), engine=ENGINE, n=1).recommendations
    return recs.filter(pl.col("source") != "popularity").select("customer_id", item="product_id", score="score")


def test_best_and_eligible_equal_recommend_customers_top_1(sample: Path) -> None:
    path = sample / "transactions.parquet"
    expected = _first_personal(path)
    model = item_recommender(_tx(path), engine=ENGINE)
    assert expected.height > 400
    # Eligible: exactly the customers whose recommend list starts with a personal product.
    assert model.eligible().to_list() == expected["customer_id"].to_list()
    # Scored alone, any subset gets the same product and score (bitwise: the same sparse products).
    some = expected["customer_id"].gather(list(range(0, expected.height, 3)))
    assert_frame_equal(model.best(some), expected.filter(pl.col("customer_id").is_in(some.implode())), check_exact=True)
    assert model.best(pl.Series(["nobody"])).height == 0


def test_eligible_scores_the_customers_the_quick_test_cannot_decide(tmp_path: Path) -> None:
    # One neighbour per item (neighbours=1): A bought p1 and p2, each the other's only neighbour, so
    # the quick test (an item with h = 2 or more neighbours) cannot decide and scoring says no;
    # B, C and D bought p1 with p2 or p3: p1's neighbour p2 (together in 2 baskets) is new to D.
    rows = ["A,o1,2024-01-05,p1", "A,o1,2024-01-05,p2", "B,o2,2024-01-06,p1", "B,o2,2024-01-06,p2",
            "C,o3,2024-01-07,p1", "C,o3,2024-01-07,p3", "D,o4,2024-01-08,p1", "D,o4,2024-01-08,p3", "E,o5,2024-01-09,p3"]
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,order_id,date,product_id\n" + "\n".join(rows) + "\n")
    model = item_recommender(_tx(path), engine=ENGINE, neighbours=1)
    # Customers per product: p1 4 (A-D), p2 2, p3 3; pairs in 2+ customers: p1-p2 (A, B), p1-p3 (C, D).
    # Cosine p1-p2 = 2 / sqrt(4 x 2) = 0.707 > p1-p3 = 2 / sqrt(4 x 3) = 0.577: p1 keeps p2; p2 and
    # p3 keep p1. C and D get p2 (0.707), E (one product: decided by the quick test) p1 (0.577);
    # A and B (h = 2 > 1 neighbour: scored) have bought every neighbour: none.
    assert model.eligible().to_list() == ["C", "D", "E"]
    best = model.best(pl.Series(["A", "B", "C", "D", "E"]))
    assert best.select("customer_id", "item").rows() == [("C", "p2"), ("D", "p2"), ("E", "p1")]
    assert best["score"].to_list() == pytest.approx([2 / 8**0.5, 2 / 8**0.5, 2 / 12**0.5])


def test_neighbour_blocks_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = pl.DataFrame({"basket": [0, 0, 0, 1, 1, 2, 2, 2, 3, 3], "item": [0, 1, 2, 0, 1, 1, 2, 3, 0, 3]},
                         schema={"basket": pl.UInt32, "item": pl.UInt32})
    whole = item_neighbours(lines, neighbours=2, min_together=1)
    monkeypatch.setattr(similarity_module, "BLOCK_CELLS", 4)  # one item per block
    assert_frame_equal(item_neighbours(lines, neighbours=2, min_together=1), whole)
    assert whole.height == 8


def test_target_cross_sell_rows_are_recommend_top_1(sample: Path) -> None:
    path = sample / "transactions.parquet"
    customers = pl.read_parquet(sample / "customers.parquet")
    result = target_analysis(_tx(path), engine=ENGINE, customers=customers, scenarios=["cross_sell"])
    rows = pl.concat([result.targets, result.control]).sort("customer_id")
    expected = _first_personal(path).join(rows.select("customer_id"), on="customer_id", how="semi").sort("customer_id")
    assert rows.height > 200
    assert rows["customer_id"].to_list() == expected["customer_id"].to_list()
    assert rows["offer"].to_list() == [f"recommended for you: {p}" for p in expected["item"]]
    funnel = result.funnel.row(0, named=True)
    assert funnel["eligible"] == _first_personal(path).height  # every customer with a personal product
