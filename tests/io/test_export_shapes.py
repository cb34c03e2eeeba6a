"""Real export shapes read right (issue 11): dates without zero padding, Quantity x Price, the mapping
line, whitespace-separated and header-less files, standard input, --delimiter.

Fixtures (tests/fixtures/io):
- `uci_mdy_iso.csv`: 46 lines of UCI Online Retail (../shared/data), as published (ISO dates): the first
  12 lines (2010-12-01 08:26), 6 lines of 2010-12-10 09:xx, and 3 or 4 lines of nine days across 2011.
  `uci_mdy.csv`: the same lines with InvoiceDate written as the UCI Excel export writes it, m/d/yyyy H:MM
  without zero padding (`12/1/2010 8:26`, `1/4/2011 10:00`): see `to_mdy`.
- `online_retail_ii.csv`: the first 20 lines with a customer of uci_online_retail_2010-12.csv, under the
  Online Retail II header (Invoice, StockCode, Description, Quantity, InvoiceDate, Price, Customer ID, Country).
- `cdnow_master.txt`: the rows of customers 1-300 of clvtools_cdnow.csv (897 rows) in the CDNOW master
  format: `%05d %Y%m%d %d %.2f`, no header, fields separated by 1 to 3 spaces or a tab.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fidelcli.clean import clean_transactions
from fidelcli.cli import options
from fidelcli.cli.app import app
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.errors import InputError, MappingError
from fidelcli.io import values as V
from fidelcli.io.columns import resolve_columns
from fidelcli.io.dialect import WHITESPACE, sniff
from fidelcli.io.read import scan_table

IO = Path(__file__).parents[1] / "fixtures" / "io"
CDNOW_MAP = ["--no-header", "--map", "customer_id=1", "--map", "date=2", "--map", "quantity=3", "--map", "amount=4"]


def to_mdy(column: str) -> pl.Expr:
    """An ISO date-time as the UCI Excel export writes it: `12/1/2010 8:26`."""
    return pl.col(column).str.to_datetime("%Y-%m-%d %H:%M:%S").dt.strftime("%-m/%-d/%Y %-H:%M")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # no stray fidelcli.toml
    monkeypatch.setattr(options.context, "_config", None)
    monkeypatch.setattr(options.context, "config_path", None)

    def run(*args: str, input: bytes | None = None):
        return CliRunner().invoke(app, list(args), input=input)

    return run


def dates(path: Path, **kw) -> list[dt.date]:
    table = scan_table(path, "transactions", **kw)
    table.check()
    return table.lf.select("date").collect()["date"].to_list()


# --- 1. dates without zero padding ----------------------------------------------------------------------------


def test_mdy_fixture_is_the_iso_lines_rewritten():
    iso = pl.read_csv(IO / "uci_mdy_iso.csv", infer_schema=False)
    assert (IO / "uci_mdy.csv").read_text() == iso.with_columns(to_mdy("InvoiceDate")).write_csv()


@pytest.mark.parametrize("sample_rows", [20_000, 10])
def test_dates_without_zero_padding_parse_right(monkeypatch, sample_rows):
    # With a sample of 10 rows every sampled date is `12/1/2010 8:26` (9 characters before the time):
    # the date was cut at that width, and `12/10/2010 9:33` read as the year 201.
    monkeypatch.setattr("fidelcli.io.read.SAMPLE_ROWS", sample_rows)
    expected = dates(IO / "uci_mdy_iso.csv")
    assert dates(IO / "uci_mdy.csv") == expected
    assert expected[12] == dt.date(2010, 12, 10) and expected[18] == dt.date(2011, 1, 4)  # the shapes of the issue
    # Date-times too (touchpoints keep the time): `12/10/2010 9:33` is 09:33.
    raw = pl.read_csv(IO / "uci_mdy.csv", infer_schema=False).select("InvoiceDate")
    iso = pl.read_csv(IO / "uci_mdy_iso.csv", infer_schema=False)["InvoiceDate"].str.to_datetime("%Y-%m-%d %H:%M:%S")
    assert raw.select(V.datetime_expr("InvoiceDate", "%m/%d/%Y", strict=True))["InvoiceDate"].to_list() == iso.to_list()


def test_date_format_applies_with_a_time_part(cli, tmp_path):
    expected = dates(IO / "uci_mdy_iso.csv")
    # A format of the date alone applies to the date part of `1/4/2011 10:00`; a format with the time
    # reads the whole value.
    assert dates(IO / "uci_mdy.csv", date_format="%m/%d/%Y") == expected
    assert dates(IO / "uci_mdy.csv", date_format="%m/%d/%Y %H:%M") == expected
    # And on values that are ambiguous (no day above 12): the flag decides.
    path = tmp_path / "t.csv"
    path.write_text("customer_id,date,amount\n1,1/4/2011 10:00,1\n2,12/1/2010 8:26,2\n3,2/3/2011,3\n4,2/3/2011 7:05:09,4\n")
    with pytest.raises(InputError) as err:
        dates(path)
    assert err.value.hint == "use --date-format %d/%m/%Y (or %m/%d/%Y)"
    assert dates(path, date_format="%m/%d/%Y") == [dt.date(2011, 1, 4), dt.date(2010, 12, 1), dt.date(2011, 2, 3), dt.date(2011, 2, 3)]
    result = cli("rfm", "-t", str(path), "--date-format", "%d/%m/%Y", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert [line.split(",")[4] for line in result.stdout.splitlines()[1:]] == ["2011-04-01", "2010-01-12", "2011-03-02", "2011-03-02"]


@pytest.mark.slow
def test_dates_without_zero_padding_whole_year(shared_data, tmp_path):
    # The whole December 2010 file and the whole year, rewritten m/d/yyyy H:MM: every date equals
    # the ISO original (the first 20,000 rows, the sample, are all 12/1 to 12/9: 9 characters).
    for name in ("uci_online_retail_2010-12.csv", "uci_online_retail.csv.gz"):
        iso = pl.read_csv(shared_data / name, infer_schema=False)
        path = tmp_path / "mdy.csv"
        iso.with_columns(to_mdy("InvoiceDate")).write_csv(path)
        expected = iso["InvoiceDate"].str.slice(0, 10).str.to_date("%Y-%m-%d").to_list()
        assert dates(path) == expected, name
    assert dates(path, date_format="%m/%d/%Y") == expected


# --- 2. quantity and unit price -------------------------------------------------------------------------------


def test_quantity_and_price_make_the_line_amount(tmp_path):
    table = scan_table(IO / "online_retail_ii.csv", "transactions")
    assert table.mapping == {
        "customer_id": "Customer ID", "date": "InvoiceDate", "quantity": "Quantity", "unit_price": "Price",
        "order_id": "Invoice", "product_id": "StockCode",
    }
    raw = pl.read_csv(IO / "online_retail_ii.csv")
    amounts = table.lf.collect()["amount"]
    assert amounts.to_list() == (raw["Quantity"] * raw["Price"]).to_list()
    assert round(amounts.sum(), 2) == 408.25  # not 81.36, the sum of the prices

    def mapping(header: str, columns: dict[str, str] | None = None) -> dict[str, str]:
        return resolve_columns(header.split(","), "transactions", explicit=columns)

    # Without a quantity, a price is the amount (CDNOW, apparelTrans: one price per purchase);
    # CDNOW's CDs is no quantity of units priced by its Price.
    assert mapping("Id,Date,Price") == {"customer_id": "Id", "date": "Date", "amount": "Price"}
    assert mapping("Id,Date,CDs,Price") == {"customer_id": "Id", "date": "Date", "amount": "Price"}
    # An explicit line total is the amount; the price beside it is a unit price.
    assert mapping("client,date,qte,prix,montant_ttc") == {
        "customer_id": "client", "date": "date", "amount": "montant_ttc", "quantity": "qte", "unit_price": "prix",
    }
    # In doubt, refused: two unit prices, or a price named as neither.
    with pytest.raises(MappingError) as err:
        mapping("Customer ID,InvoiceDate,Quantity,UnitPrice,Price")
    assert err.value.message == "with a quantity column ('Quantity'), columns 'UnitPrice', 'Price' may be a unit price or a line total"
    assert err.value.hint == "say which: --map unit_price=UnitPrice (amount = quantity x unit price) or --map amount=UnitPrice (a line total)"
    assert mapping("Customer ID,InvoiceDate,Quantity,UnitPrice,Price", columns={"amount": "Price"})["amount"] == "Price"
    with pytest.raises(MappingError) as err:
        mapping("Customer ID,InvoiceDate,Quantity,Sale Price")
    assert err.value.message == "with a quantity column ('Quantity'), column 'Sale Price' may be a unit price or a line total"
    assert err.value.hint == 'say which: --map unit_price="Sale Price" (amount = quantity x unit price) or --map amount="Sale Price" (a line total)'
    assert mapping("Customer ID,InvoiceDate,Quantity,Sale Price", columns={"unit_price": "Sale Price"})["unit_price"] == "Sale Price"


@pytest.mark.slow
def test_online_retail_ii_header_on_the_whole_year(shared_data, tmp_path):
    # The UCI year under the Online Retail II header: revenue is the sum of Quantity x Price over the
    # lines with a customer (8.30 M), not the sum of the prices.
    raw = pl.read_csv(shared_data / "uci_online_retail.csv.gz", infer_schema=False).rename(
        {"InvoiceNo": "Invoice", "UnitPrice": "Price", "CustomerID": "Customer ID"}
    )
    path = tmp_path / "online_retail_ii.csv"
    raw.write_csv(path)
    tx = clean_transactions(scan_table(path, "transactions"))
    revenue = DEFAULT_ENGINE.customer_summary(tx)["revenue_cents"].sum()
    lines = raw.filter(pl.col("Customer ID").is_not_null()).select(
        (pl.col("Quantity").cast(pl.Float64) * pl.col("Price").cast(pl.Float64) * 100).round(0).cast(pl.Int64).sum()
    ).item()
    assert revenue == lines
    assert 8.29e8 < revenue < 8.31e8


def test_mapping_line_printed_once_on_stderr(cli):
    line = (
        'online_retail_ii.csv: columns: customer_id <- "Customer ID", date <- "InvoiceDate", amount <- "Quantity" x "Price", '
        'order_id <- "Invoice", product_id <- "StockCode"'
    )
    result = cli("rfm", "-t", str(IO / "online_retail_ii.csv"), "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert [x for x in result.stderr.splitlines() if "columns:" in x] == [line]
    quiet = cli("-q", "rfm", "-t", str(IO / "online_retail_ii.csv"), "--format", "csv")
    assert quiet.exit_code == 0 and quiet.stderr == ""
    # validate says it too, and its JSON report holds it per input.
    result = cli("validate", "-t", str(IO / "online_retail_ii.csv"), "--format", "json")
    assert [x for x in result.stderr.splitlines() if "columns:" in x] == [line]
    report = json.loads(result.stdout)
    assert report["files"][0]["columns"] == {
        "customer_id": "Customer ID", "date": "InvoiceDate", "amount": "Quantity x Price", "quantity": "Quantity",
        "unit_price": "Price", "order_id": "Invoice", "product_id": "StockCode",
    }


# --- 3. whitespace-separated, header-less and piped input -----------------------------------------------------


def cdnow_as_csv(tmp_path: Path) -> Path:
    """The master file split by Python, written as a CSV with a header: an independent reading."""
    rows = [line.split() for line in (IO / "cdnow_master.txt").read_text().splitlines()]
    path = tmp_path / "cdnow.csv"
    path.write_text("customer_id,date,quantity,amount\n" + "".join(",".join(r) + "\n" for r in rows))
    return path


def test_whitespace_separated_cdnow_master(cli, tmp_path):
    dialect = sniff(IO / "cdnow_master.txt", has_header=False)
    assert (dialect.separator, dialect.header) == (WHITESPACE, ("column_1", "column_2", "column_3", "column_4"))
    table = scan_table(IO / "cdnow_master.txt", "transactions", header=False,
                       columns={"customer_id": "1", "date": "2", "quantity": "3", "amount": "4"})
    df = table.lf.collect()
    assert df.height == 897
    # The first four lines: customer 00001 on 1997-01-01, 01-18, 08-02 and 12-12 (a tab before the date).
    assert df.head(4).rows() == [
        ("00001", dt.date(1997, 1, 1), 29.33, 2.0), ("00001", dt.date(1997, 1, 18), 29.73, 2.0),
        ("00001", dt.date(1997, 8, 2), 14.96, 1.0), ("00001", dt.date(1997, 12, 12), 26.48, 2.0),
    ]
    csv = cdnow_as_csv(tmp_path)
    for command in ("rfm", "clv"):
        result = cli(command, "-t", str(IO / "cdnow_master.txt"), *CDNOW_MAP, "--format", "csv")
        assert result.exit_code == 0, result.stderr
        assert "cdnow_master.txt: columns: customer_id <- column 1, date <- column 2, amount <- column 4, quantity <- column 3" in result.stderr
        same = cli(command, "-t", str(csv), "--format", "csv")
        assert same.exit_code == 0, same.stderr
        assert result.stdout == same.stdout
        assert len(result.stdout.splitlines()) == 301  # customers 1-300
    # Without --no-header the first line is taken for a header: the hint says so.
    result = cli("rfm", "-t", str(IO / "cdnow_master.txt"))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-2:] == [
        "error: cdnow_master.txt: no column for required field 'customer_id' of transactions; candidates: '00001', '19970101', '2', '29.33'",
        "hint: the first line looks like data, not a header: pass --no-header and map columns by number, e.g. --map customer_id=1",
    ]


def test_cdnow_master_fixture_is_the_clvtools_rows(shared_data):
    src = pl.read_csv(shared_data / "clvtools_cdnow.csv").filter(pl.col("Id") <= 300)
    rows = [line.split() for line in (IO / "cdnow_master.txt").read_text().splitlines()]
    assert rows == [[f"{i:05d}", d.replace("-", ""), str(n), f"{p:.2f}"] for i, d, n, p in src.iter_rows()]


def test_whitespace_rows_that_do_not_split_are_named(tmp_path):
    path = tmp_path / "log.txt"
    path.write_text("cust  date      amount\nA     20240105  10\n\nB     20240106  2 3\nC 20240107 4\n")
    with pytest.raises(InputError) as err:
        scan_table(path, "transactions")
    assert str(err.value) == "log.txt, row 3: 4 fields where the header has 3"
    table = scan_table(path, "transactions", ragged="skip")
    assert table.warnings == ["log.txt: 1 malformed row left out (row 3); row 3 has 4 fields where the header has 3"]
    # The blank line is a row of nulls, as in a CSV file: row numbers stay those of the lines.
    assert table.lf.collect().rows() == [("A", dt.date(2024, 1, 5), 10.0), (None, None, None), ("C", dt.date(2024, 1, 7), 4.0)]


def test_no_header_positional_map(cli, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("C1,2024-01-05,10.5\nC2,2024-01-06,3\nC1,2024-02-01,1\n")
    table = scan_table(path, "transactions", header=False, columns={"customer_id": "1", "date": "column_2", "amount": "3"})
    assert table.mapping == {"customer_id": "column_1", "date": "column_2", "amount": "column_3"}
    assert table.lf.collect()["amount"].to_list() == [10.5, 3.0, 1.0]  # the first line is data
    result = cli("rfm", "-t", str(path), "--no-header", "--map", "customer_id=1", "--map", "date=2", "--map", "amount=3", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert [r.split(",")[:4] for r in result.stdout.splitlines()[1:]] == [["C1", "1", "2", "11.5"], ["C2", "27", "1", "3.0"]]
    with pytest.raises(MappingError) as err:
        scan_table(path, "transactions", header=False, columns={"customer_id": "1", "date": "4"})
    assert (err.value.message, err.value.hint) == ("--map date=4: the file has 3 columns", "number columns from 1 to 3")
    result = cli("rfm", "-t", str(path), "--no-header", "--map", "customer_id=1")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == "hint: name it by number with --map date=N (columns are numbered from 1 to 3)"


def test_stdin_input(cli):
    data = (IO / "online_retail_ii.csv").read_bytes()
    expected = cli("rfm", "-t", str(IO / "online_retail_ii.csv"), "--format", "csv")
    for piped in (data, gzip.compress(data)):
        result = cli("rfm", "-t", "-", "--format", "csv", input=piped)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == expected.stdout
        assert result.stderr.splitlines()[0].startswith("<stdin>: columns: customer_id <- \"Customer ID\"")
    result = cli("rfm", "-t", "-", *CDNOW_MAP, "--format", "csv", input=(IO / "cdnow_master.txt").read_bytes())
    assert result.exit_code == 0, result.stderr
    empty = cli("rfm", "-t", "-", input=b"")
    assert empty.exit_code == 2
    assert empty.stderr.splitlines()[-2:] == ["error: <stdin>: the file is empty", "hint: export the table again"]


def test_delimiter_option(cli, tmp_path):
    # One space per field: an empty field is two spaces (not a run), which `whitespace` would merge.
    path = tmp_path / "spaces.txt"
    path.write_text("customer_id date channel amount\nA 2024-01-05 web 10\nB 2024-01-06  3\n")
    with pytest.raises(InputError):  # sniffed as whitespace: row 2 has 3 fields
        scan_table(path, "transactions")
    df = scan_table(path, "transactions", delimiter=" ").lf.collect()
    assert df.select("customer_id", "channel", "amount").rows() == [("A", "web", 10.0), ("B", None, 3.0)]
    # A tab, named as a shell passes it; `whitespace` on a file that sniffing reads as one column.
    tabs = tmp_path / "tabs.txt"
    tabs.write_text("customer_id\tdate\tamount\nA\t2024-01-05\t1\n")
    for flag in ("\\t", "tab", "\t", "whitespace"):
        result = cli("rfm", "-t", str(tabs), "--delimiter", flag, "--format", "csv")
        assert result.exit_code == 0, (flag, result.stderr)
    semi = tmp_path / "semi.txt"
    semi.write_text("customer_id;date;amount\nA;2024-01-05;1,5\n")
    assert scan_table(semi, "transactions", delimiter=";").lf.collect()["amount"].to_list() == [1.5]
    result = cli("rfm", "-t", str(semi), "--delimiter", "ab")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-2:] == [
        "error: --delimiter expects one character, \\t, space or whitespace, got 'ab'",
        "hint: e.g. --delimiter ';', --delimiter '\\t' or --delimiter whitespace",
    ]
    result = cli("rfm", "-t", str(IO / "tx.parquet"), "--delimiter", ";")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-2] == "error: tx.parquet: --delimiter and --no-header are for text files (csv, tsv, txt)"
