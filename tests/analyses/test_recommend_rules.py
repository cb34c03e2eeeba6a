"""`recommend_rules`: the Groceries baskets against an independent DuckDB count and arules' classic
rules, a hand-computed example of every measure, and the planted pair lifts of the sample."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
import refdata
from polars.testing import assert_frame_equal

from fidelcli.analyses.recommend import recommend_rules
from fidelcli.analyses.recommend.rules import coded_rules, encode, frequent_itemsets
from fidelcli.clean import CleanOptions
from fidelcli.engine import PolarsEngine
from fidelcli.errors import InputError, MappingError
from fidelcli.io.baskets import OPTIONAL, basket_table
from fidelcli.io.read import scan_table
from fidelcli.sample import generate

ENGINE = PolarsEngine()
GROCERIES = {"order_id": "transaction_id", "product_id": "item"}


def load(path: Path, columns: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    table = scan_table(path, "transactions", columns=columns, optional=OPTIONAL)
    return ENGINE.load(basket_table(table), CleanOptions())


@pytest.fixture(scope="module")
def groceries() -> Path:
    return refdata.reference("arules_Groceries_long.csv")


def test_groceries_rules_equal_an_independent_duckdb_count(groceries: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    result = recommend_rules(load(groceries, GROCERIES), engine=ENGINE, min_support=0.01, min_confidence=0.5, max_antecedents=2)
    # Independent: SQL over the raw file, every itemset of 1 to 3 items counted by self-joins.
    con = duckdb.connect()
    con.sql(f"CREATE TABLE b AS SELECT DISTINCT transaction_id AS t, item FROM read_csv('{groceries}', all_varchar = true)")
    n = con.sql("SELECT count(DISTINCT t) FROM b").fetchall()[0][0]
    expected = con.sql("""
        WITH one AS (SELECT item, count(*) AS n FROM b GROUP BY item),
        two AS (SELECT x.item AS a, y.item AS c, count(*) AS n FROM b x JOIN b y ON x.t = y.t AND x.item <> y.item GROUP BY 1, 2),
        three AS (SELECT x.item AS a0, y.item AS a1, z.item AS c, count(*) AS n FROM b x
                  JOIN b y ON x.t = y.t AND x.item < y.item JOIN b z ON z.t = x.t AND z.item NOT IN (x.item, y.item)
                  GROUP BY 1, 2, 3)
        SELECT two.a AS antecedent, two.c AS consequent, two.n AS baskets, two.n / one.n AS confidence, ocon.n AS ny
        FROM two JOIN one ON one.item = two.a JOIN one ocon ON ocon.item = two.c
        UNION ALL
        SELECT three.a0 || ' + ' || three.a1, three.c, three.n, three.n / p.n, ocon.n
        FROM three JOIN (SELECT x.item AS a0, y.item AS a1, count(*) AS n FROM b x JOIN b y ON x.t = y.t AND x.item < y.item GROUP BY 1, 2) p
          ON p.a0 = three.a0 AND p.a1 = three.a1 JOIN one ocon ON ocon.item = three.c
    """).pl()
    assert isinstance(expected, pl.DataFrame)
    expected = (
        expected.filter(pl.col("baskets") >= math.ceil(0.01 * n), pl.col("confidence") >= 0.5)
        .select("antecedent", "consequent", pl.col("baskets").cast(pl.Int64), support=pl.col("baskets") / n,
                confidence="confidence", lift=pl.col("confidence") / (pl.col("ny") / n))
        .sort("antecedent", "consequent")
    )
    got = result.rules.select(expected.columns).sort("antecedent", "consequent")
    assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-12)
    assert result.baskets == n == 9835 and result.items == 169


def test_groceries_classic_rules_come_out(groceries: Path) -> None:
    # arules' `apriori(Groceries, parameter = list(support = 0.01, confidence = 0.5))` finds 15 rules;
    # sorted by lift, the first is {citrus fruit, root vegetables} => {other vegetables}: support
    # 0.01037112, confidence 0.5862069, lift 3.029608 (Hahsler et al., arules documentation and
    # "Introduction to arules", section 5), then {tropical fruit, root vegetables} => {other vegetables}, lift 3.020999.
    result = recommend_rules(load(groceries, GROCERIES), engine=ENGINE, min_support=0.01, min_confidence=0.5, max_antecedents=3)
    assert result.rules.height == 15
    first, second = result.rules.row(0, named=True), result.rules.row(1, named=True)
    assert (first["antecedent"], first["consequent"], first["baskets"]) == ("citrus fruit + root vegetables", "other vegetables", 102)
    assert first["support"] == pytest.approx(0.01037112, abs=5e-9)
    assert first["confidence"] == pytest.approx(0.5862069, abs=5e-8)
    assert first["lift"] == pytest.approx(3.029608, abs=5e-7)
    assert (second["antecedent"], second["lift"]) == ("root vegetables + tropical fruit", pytest.approx(3.020999, abs=5e-7))
    assert result.headline()["frequent_1_itemsets"] == 88


def test_every_measure_by_hand(tmp_path: Path) -> None:
    # 5 baskets: {a,b,c}, {a,b}, {a,c}, {b}, {a,b,c}. n(a)=4, n(b)=4, n(c)=3, n(ab)=3, n(ac)=3, n(bc)=2, n(abc)=2.
    path = tmp_path / "b.csv"
    rows = [("1", "a"), ("1", "b"), ("1", "c"), ("2", "a"), ("2", "b"), ("3", "a"), ("3", "c"), ("4", "b"),
            ("5", "a"), ("5", "b"), ("5", "c")]
    path.write_text("ticket,article\n" + "\n".join(f"{t},{i}" for t, i in rows) + "\n")
    result = recommend_rules(load(path, {"order_id": "ticket", "product_id": "article"}), engine=ENGINE, min_support=0.4,
                             min_confidence=0.0, max_antecedents=2)
    rules = {(r["antecedent"], r["consequent"]): r for r in result.rules.iter_rows(named=True)}
    # c -> a: support 3/5, confidence 3/3 = 1, lift 1 / (4/5) = 1.25, leverage 0.6 - 0.6 x 0.8 = 0.12, conviction infinite: null.
    ca = rules[("c", "a")]
    assert (ca["support"], ca["confidence"], ca["lift"], ca["conviction"]) == (pytest.approx(0.6), 1.0, pytest.approx(1.25), None)
    assert ca["leverage"] == pytest.approx(0.12, abs=1e-15)
    # a -> b: confidence 3/4, lift 0.75 / 0.8 = 0.9375, leverage 0.6 - 0.64 = -0.04, conviction (1 - 0.8) / 0.25 = 0.8.
    ab = rules[("a", "b")]
    assert ab["lift"] == pytest.approx(0.9375) and ab["leverage"] == pytest.approx(-0.04) and ab["conviction"] == pytest.approx(0.8)
    # {a, c} -> b: n(abc) = 2 of 5 = 0.4 >= 0.4; confidence 2/3; lift (2/3) / 0.8 = 0.8333.
    acb = rules[("a + c", "b")]
    assert (acb["baskets"], acb["antecedent_items"]) == (2, 2) and acb["lift"] == pytest.approx(5 / 6)
    # b and c are together in 2 baskets only: {b, c} is frequent (0.4), {a, b, c} too; 6 one-item and 3 two-item rules.
    assert result.rules.height == 9
    # Sorted by lift (then support, antecedent, consequent).
    assert result.rules["lift"].to_list() == sorted(result.rules["lift"].to_list(), reverse=True)


def test_apriori_pruning_and_row_order(groceries: Path) -> None:
    tx = load(groceries, GROCERIES)
    lines, _ = encode(ENGINE.baskets(tx), "product_id")
    sets = frequent_itemsets(lines, n_baskets=9835, min_support=0.005, max_size=4)
    # Every frequent k-itemset's (k-1)-subsets are frequent (the downward closure Apriori relies on).
    for k in range(1, len(sets)):
        cols = [f"i{j}" for j in range(k + 1)]
        for drop in cols:
            sub = sets[k].select([c for c in cols if c != drop]).rename(dict(zip([c for c in cols if c != drop], cols[:-1], strict=True)))
            assert sub.join(sets[k - 1], on=cols[:-1], how="anti").height == 0
    shuffled = lines.sample(fraction=1.0, shuffle=True, seed=1)
    a, _ = coded_rules(lines, n_baskets=9835, min_support=0.005, max_antecedents=3)
    b, _ = coded_rules(shuffled, n_baskets=9835, min_support=0.005, max_antecedents=3)
    keys = [c for c in a.columns if c.startswith("a")] + ["consequent"]
    assert_frame_equal(a.sort(keys, nulls_last=True), b.sort(keys, nulls_last=True))


def test_filters_and_errors(groceries: Path, tmp_path: Path) -> None:
    tx = load(groceries, GROCERIES)
    milk = recommend_rules(tx, engine=ENGINE, min_support=0.01, min_confidence=0.5, consequent="whole milk")
    assert milk.rules.height == 11 and set(milk.rules["consequent"]) == {"whole milk"}
    curd = recommend_rules(tx, engine=ENGINE, min_support=0.01, min_confidence=0.5, contains="curd")
    assert curd.rules["antecedent"].to_list() == ["curd + yogurt"]
    with pytest.raises(InputError, match="--max-antecedents must be 1, 2 or 3"):
        recommend_rules(tx, engine=ENGINE, max_antecedents=4)
    path = tmp_path / "x.csv"
    path.write_text("item\nmilk\n")
    with pytest.raises(MappingError, match="baskets need an order id column"):
        load(path, {"product_id": "item"})


def test_sample_planted_pair_lifts_are_recovered(tmp_path: Path) -> None:
    out = tmp_path / "s"
    truth = generate(out, customers=3000, seed=7, formats=("parquet",))
    tx = ENGINE.load(scan_table(out / "transactions.parquet", "transactions"), CleanOptions())
    result = recommend_rules(tx, engine=ENGINE, level="category", min_support=0.001, min_confidence=0.0, max_antecedents=1)
    rules = result.rules
    for pair, lift in truth.basket.pair_lift.items():
        a, b = pair.split("|")
        row = rules.filter(pl.col("antecedent") == a, pl.col("consequent") == b).row(0, named=True)
        # Standard error of a lift from n baskets, delta method: lift x sqrt(1/n_ab - 1/N), about.
        se = row["lift"] * math.sqrt(1 / row["baskets"])
        assert abs(row["lift"] - lift) < 4 * se, (pair, row["lift"], lift)


def test_lines_without_a_customer_keep_their_order_basket(tmp_path: Path) -> None:
    # Online Retail style: o2 has no customer id; it is still a basket (customer_id <- order id).
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,order_id,date,product_id\nA,o1,2024-01-02,p1\nA,o1,2024-01-02,p2\n,o2,2024-01-03,p1\n"
                    ",o2,2024-01-03,p2\n,o3,2024-01-03,p3\n")
    result = recommend_rules(load(path), engine=ENGINE, min_support=0.5, min_confidence=0.5)
    # 3 baskets; {p1, p2} in 2 of them: support 2/3, confidence 1, lift 1 / (2/3) = 1.5.
    assert result.baskets == 3
    assert result.rules.select("antecedent", "consequent", "baskets").rows() == [("p1", "p2", 2), ("p2", "p1", 2)]
    assert result.rules["lift"].to_list() == pytest.approx([1.5, 1.5])
