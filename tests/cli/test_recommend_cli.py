"""`fidelcli recommend rules` and `recommend customers` end to end: files without customers or
dates read with --map only, exact exit codes and stderr lines, JSON equal to the library result."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import refdata
from typer.testing import CliRunner

from fidelcli.analyses.recommend import recommend_customers, recommend_rules
from fidelcli.clean import CleanOptions
from fidelcli.cli.app import app
from fidelcli.engine import PolarsEngine
from fidelcli.io.baskets import OPTIONAL, basket_table
from fidelcli.io.read import scan_table

GROCERIES_MAP = ["--map", "order_id=transaction_id", "--map", "product_id=item"]


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def groceries() -> Path:
    return refdata.reference("arules_Groceries_long.csv")


def test_groceries_rules_with_only_the_map(groceries: Path) -> None:
    result = run("recommend", "rules", "-t", str(groceries), *GROCERIES_MAP, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "antecedent,consequent,antecedent_items,baskets,support,confidence,lift,leverage,conviction"
    assert lines[1].startswith("citrus fruit + root vegetables,other vegetables,2,102,")
    assert len(lines) == 16  # arules' 15 rules at support 0.01, confidence 0.5
    err = result.stderr.splitlines()
    assert "arules_Groceries_long.csv.gz: no customer id column: each order stands for its customer" in err
    assert "arules_Groceries_long.csv.gz: no date column: the baskets are undated (date options cannot be used)" in err
    assert "9,835 baskets, 169 products: 15 rules" in err


def test_json_equals_the_library_result(groceries: Path) -> None:
    result = run("recommend", "rules", "-t", str(groceries), *GROCERIES_MAP, "--min-support", "0.02", "--min-confidence", "0.3",
                 "--format", "json")
    assert result.exit_code == 0, result.stderr
    engine = PolarsEngine()
    table = scan_table(groceries, "transactions", columns={"order_id": "transaction_id", "product_id": "item"}, optional=OPTIONAL)
    library = recommend_rules(engine.load(basket_table(table), CleanOptions()), engine=engine, min_support=0.02, min_confidence=0.3)
    assert json.loads(result.stdout) == json.loads(library.to_json())


def test_category_level_and_filters(groceries: Path) -> None:
    # level1 of Groceries is the category: 10 departments.
    result = run("recommend", "rules", "-t", str(groceries), *GROCERIES_MAP, "--map", "category=level1", "--level", "category",
                 "--min-support", "0.05", "--min-confidence", "0.5", "--consequent", "fresh products", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = result.stdout.splitlines()[1:]
    assert rows and all(",fresh products," in r for r in rows)
    assert "9,835 baskets, 10 categories:" in result.stderr


def test_date_options_need_a_date_column(groceries: Path) -> None:
    result = run("recommend", "rules", "-t", str(groceries), *GROCERIES_MAP, "--as-of", "2024-01-01")
    assert result.exit_code == 2
    assert "error: arules_Groceries_long.csv.gz: --as-of, --start and --end need a date column, and the file has none" in result.stderr


def test_baskets_need_an_order_or_a_customer_and_a_date(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text("item,day\nmilk,2024-01-01\n")
    result = run("recommend", "rules", "-t", str(path), "--map", "product_id=item", "--map", "date=day")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-2] == (
        "error: items.csv: baskets need an order id column, or a customer id and a date; the file has no order id and no customer_id")


def test_breadbasket_runs_with_only_the_map(shared_data: Path) -> None:
    result = run("recommend", "rules", "-t", str(shared_data / "breadbasket_dms.csv"), "--map", "order_id=Transaction",
                 "--map", "product_id=Item", "--min-support", "0.01", "--min-confidence", "0.5", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert "9,531 baskets, 95 products:" in result.stderr
    assert result.stdout.splitlines()[1].startswith("Toast,Coffee,1,224,")


@pytest.mark.slow
def test_online_retail_runs_with_only_the_path(shared_data: Path) -> None:
    # Invoices are baskets; the 135,080 lines without a customer id keep their invoice's basket;
    # cancellations ("C" invoices) are returns, not bought items.
    result = run("recommend", "rules", "-t", str(shared_data / "uci_online_retail.csv.gz"), "--min-support", "0.02",
                 "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert "22,062 baskets, 4,059 products:" in result.stderr


def test_customers_with_a_holdout_print_the_comparison(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    rows = ["A,o1,2024-01-05,p1,10", "A,o1,2024-01-05,p2,5", "B,o2,2024-01-06,p1,10", "B,o2,2024-01-06,p2,5",
            "C,o3,2024-01-07,p1,10", "A,o5,2024-02-10,p3,30", "C,o6,2024-02-11,p2,5"]
    path.write_text("customer_id,order_id,date,product_id,amount\n" + "\n".join(rows) + "\n")
    result = run("recommend", "customers", "-t", str(path), "--method", "cooccurrence", "--top", "1", "--calibration-end",
                 "2024-01-31", "--format", "json")
    assert result.exit_code == 0, result.stderr
    engine = PolarsEngine()
    library = recommend_customers(engine.load(scan_table(path, "transactions"), CleanOptions()), engine=engine,
                                  method="cooccurrence", n=1, calibration_end=dt.date(2024, 1, 31))
    assert json.loads(result.stdout) == json.loads(library.to_json())
    assert ("holdout after 2024-01-31: cooccurrence does not beat popularity on hit rate@1 (50.0% vs 50.0% of 2 customers; "
            "recall@1 50.0% vs 50.0%)") in result.stderr.splitlines()
