"""Each reading rule of SPEC section 1 on a small fixture file, checking the parsed values."""

import datetime as dt
import gzip
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fidelcli.errors import InputError, MappingError
from fidelcli.io.read import scan_table

IO = Path(__file__).parents[1] / "fixtures" / "io"


def load(name: str, **kw) -> pl.DataFrame:
    table = scan_table(IO / name if "://" not in name else name, "transactions", **kw)
    table.check()
    return table.lf.collect()


def test_french_backoffice_export_loads_with_no_options():
    # cp1252, `;`, CRLF, `1 234,56 €` with a non-breaking space, dd/mm/yyyy, `N° client`.
    df = load("fr_export.csv")
    expected = pl.DataFrame(
        {
            "customer_id": ["00012", "00012", "00345", "00345"],
            "date": [dt.date(2024, 1, 3), dt.date(2024, 2, 15), dt.date(2024, 2, 28), dt.date(2024, 3, 1)],
            "amount": [12.5, 1234.56, -12.5, 7.0],
            "order_id": ["F-001", "F-002", "F-003", "F-004"],
            "category": ["Épicerie", "Électroménager", "Épicerie", "Crèmerie"],
        }
    )
    assert_frame_equal(df, expected)


def test_bom_tab_iso_datetimes_keep_leading_zeros():
    df = load("bom_tab.tsv")
    assert df["customer_id"].to_list() == ["007", "007", "010"]
    assert df["date"].to_list() == [dt.date(2024, 1, 5), dt.date(2024, 1, 6), dt.date(2024, 2, 1)]
    assert df["amount"].to_list() == [10.5, 2.0, 3.25]


def test_pipe_us_dates_dollars_thousands_and_parentheses():
    # 01/13/2024 can only be month/day; "(5.00)" is an accounting negative.
    df = load("us_pipe.csv")
    assert df["date"].to_list() == [dt.date(2024, 1, 13), dt.date(2024, 2, 1), dt.date(2023, 12, 31)]
    assert df["amount"].to_list() == [1234.5, 10.0, -5.0]


def test_ambiguous_dates_ask_for_a_format():
    with pytest.raises(InputError) as err:
        load("ambiguous_dates.csv")
    assert err.value.column == "date"
    assert err.value.hint == "use --date-format %d/%m/%Y (or %m/%d/%Y)"


def test_date_format_option_resolves_ambiguity():
    df = load("ambiguous_dates.csv", date_format="%m/%d/%Y")
    assert df["date"].to_list() == [dt.date(2024, 1, 2), dt.date(2024, 3, 4), dt.date(2024, 5, 6)]


def test_ambiguity_beyond_the_sample_is_resolved_by_the_whole_column(tmp_path, monkeypatch):
    # The sample (first 2 rows) is ambiguous; row 3 (day 25) settles dd/mm over the full column.
    monkeypatch.setattr("fidelcli.io.read.SAMPLE_ROWS", 2)
    path = tmp_path / "t.csv"
    path.write_text("customer_id,date,amount\n1,01/02/2024,1\n2,03/04/2024,2\n3,25/04/2024,3\n")
    df = scan_table(path, "transactions").lf.collect()
    assert df["date"].to_list() == [dt.date(2024, 2, 1), dt.date(2024, 4, 3), dt.date(2024, 4, 25)]


def test_amount_from_quantity_times_unit_price_and_ids_as_text():
    df = load("retail.csv")
    assert df["amount"].to_list() == pytest.approx([15.3, 20.34, 3.7, -2.55, 7.4, 5.0])
    assert df["product_id"].to_list()[0] == "85123A"
    assert df["order_id"].to_list()[3] == "C536379"


def test_unparseable_amount_names_file_column_row():
    with pytest.raises(InputError) as err:
        load("bad_amount.csv")
    assert str(err.value) == "bad_amount.csv, column \"amount\", row 3: 'douze' is not a valid number"


def test_impossible_date_names_its_row():
    with pytest.raises(InputError) as err:
        load("bad_date.csv")
    assert str(err.value) == "bad_date.csv, column \"date\", row 2: '31/02/2024' is not a valid date"


def test_missing_column_lists_candidates():
    with pytest.raises(MappingError) as err:
        load("no_customer.csv")
    assert "candidates: 'client_name'" in err.value.message
    assert err.value.hint == "name it with --map customer_id=COLUMN"


def test_explicit_map_wins_and_is_accent_insensitive():
    df = load("no_customer.csv", columns={"customer_id": "client_name"})
    assert df["customer_id"].to_list() == ["x"]


def test_ambiguous_synonyms_are_an_error(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("Customer ID,customer_id,date,amount\n1,2,2024-01-01,3\n")
    with pytest.raises(MappingError, match="ambiguous"):
        scan_table(path, "transactions")


@pytest.mark.parametrize("name", ["tx.parquet", "tx.xlsx"])
def test_typed_formats(name):
    df = load(name)
    assert df["customer_id"].to_list() == ["001", "002", "001"]
    assert df["date"].dtype == pl.Date
    assert df["amount"].to_list() == [10.0, 20.0, 5.5]


def test_hive_partitioned_directory():
    df = load("hive").sort("customer_id")
    assert df["customer_id"].to_list() == ["001", "002", "003"]
    assert df["date"].to_list() == [dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2025, 1, 3)]


@pytest.mark.parametrize("source", ["parts", "parts/*.csv"])
def test_directory_and_glob_of_csv(source):
    df = load(source).sort("customer_id")
    assert df["amount"].to_list() == [10.0, 20.0]


def test_gzip_csv(tmp_path):
    target = tmp_path / "fr.csv.gz"
    with open(IO / "fr_export.csv", "rb") as src, gzip.open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    df = scan_table(target, "transactions").lf.collect()
    assert df["amount"].to_list() == [12.5, 1234.56, -12.5, 7.0]


def test_sqlite_table_and_query():
    df = load(f"sqlite:///{IO / 'crm.db'}?query=SELECT * FROM sales WHERE amount > 15")
    assert df.to_dicts() == [{"customer_id": "002", "date": dt.date(2024, 1, 2), "amount": 20.0}]


def test_missing_file():
    with pytest.raises(InputError, match="no such file"):
        scan_table(IO / "nope.csv", "transactions")


def test_reading_is_lazy_no_rows_read_before_collect():
    table = scan_table(IO / "retail.csv", "transactions")
    assert isinstance(table.lf, pl.LazyFrame)


def test_a_bad_birth_date_is_reported_without_its_value(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,birth_date\n1,1980-02-03\n2,1985-13-45\n")
    with pytest.raises(InputError) as err:
        scan_table(path, "customers").check()
    assert str(err.value) == 'customers.csv, column "birth_date", row 2: the value is not a valid date'


def test_duckdb_table(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    db = tmp_path / "crm.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE sales AS SELECT '007' AS customer_id, DATE '2024-01-05' AS date, 12.5 AS amount")
    df = load(f"duckdb:///{db}?table=sales")
    assert df.to_dicts() == [{"customer_id": "007", "date": dt.date(2024, 1, 5), "amount": 12.5}]
