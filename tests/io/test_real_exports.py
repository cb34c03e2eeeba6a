"""The real exports of ../shared/data load with no options (README of that folder)."""

import polars as pl
import pytest
from refdata import reference

from fidelcli.clean import clean_transactions
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.io.read import scan_table


def test_uci_online_retail(shared_data):
    table = scan_table(shared_data / "uci_online_retail.csv.gz", "transactions")
    assert table.mapping == {
        "customer_id": "CustomerID", "date": "InvoiceDate", "quantity": "Quantity", "unit_price": "UnitPrice",
        "order_id": "InvoiceNo", "product_id": "StockCode",
    }
    tx = clean_transactions(table)
    # README: 541,909 lines, 135,080 without CustomerID.
    assert tx.stats["rows"] == 541_909
    assert tx.warnings == ["135,080 rows without a customer id were dropped"]
    s = DEFAULT_ENGINE.customer_summary(tx)
    assert s.height == 4372  # distinct CustomerID values in the data set
    # Independent check: net spend of customer 17850 and its distinct non-"C" invoices.
    raw = pl.read_csv(shared_data / "uci_online_retail.csv.gz", schema_overrides={"CustomerID": pl.String, "InvoiceNo": pl.String})
    c = raw.filter(pl.col("CustomerID") == "17850")
    expected_cents = (c["Quantity"] * c["UnitPrice"] * 100).round(0).cast(pl.Int64).sum()
    invoices = c.filter(~pl.col("InvoiceNo").str.starts_with("C"))["InvoiceNo"].n_unique()
    row = s.filter(pl.col("customer_id") == "17850").row(0, named=True)
    assert row["revenue_cents"] == expected_cents
    assert row["frequency"] == invoices


@pytest.mark.parametrize(
    ("name", "mapping"),
    [
        ("uci_online_retail_2010-12.csv", {"customer_id": "CustomerID", "order_id": "InvoiceNo"}),
        ("clvtools_cdnow.csv", {"customer_id": "Id", "date": "Date", "amount": "Price"}),
        ("clvtools_apparelTrans_2020.csv", {"customer_id": "Id", "date": "Date", "amount": "Price"}),
        ("btydplus_groceryElog.csv", {"customer_id": "cust", "date": "date"}),
        ("completejourney_transactions_sample.csv",
         {"customer_id": "household_id", "date": "transaction_timestamp", "amount": "sales_value", "order_id": "basket_id"}),
    ],
)
def test_other_transaction_files(shared_data, name, mapping):
    table = scan_table(shared_data / name, "transactions")
    assert {k: table.mapping[k] for k in mapping} == mapping
    tx = clean_transactions(table)
    assert DEFAULT_ENGINE.customer_summary(tx).height > 0


def test_cdnow_customers_and_range():
    tx = clean_transactions(scan_table(reference("clvtools_cdnow.csv"), "transactions"))
    s = DEFAULT_ENGINE.customer_summary(tx)
    assert s.height == 2357  # the CDNOW 1/10 cohort
    assert str(tx.as_of) == "1998-07-01"
