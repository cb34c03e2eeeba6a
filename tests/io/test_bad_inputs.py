"""The read layer on bad inputs: every problem is one InputError naming the file (and the column and the
1-based data row where there is one), with an actionable hint; never a crash, never a silent misread.

Fixtures are in tests/fixtures/io/bad/ (small, readable); binary and large files are written by the tests.
"""

from __future__ import annotations

import datetime as dt
import gzip
import random
from pathlib import Path

import polars as pl
import pytest
import typer
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from fidelcli.clean import clean_transactions
from fidelcli.cli import options, render
from fidelcli.cli.app import FidelGroup
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.errors import InputError, MappingError
from fidelcli.io.dialect import MAX_LINE_BYTES, detect_separator
from fidelcli.io.read import scan_table

BAD = Path(__file__).parents[1] / "fixtures" / "io" / "bad"
ROWS = "".join(f"C{i % 40},2024-03-{1 + i % 28:02d},{10 + i % 50}.50\n" for i in range(60_000))  # ~1.4 MB


def error(source: Path | str, **kw) -> InputError:
    """The InputError of scanning and checking `source` as transactions."""
    with pytest.raises(InputError) as err:
        scan_table(source, "transactions", **kw).check()
    return err.value


def failed_rows(source: Path, name: str) -> list[int]:
    """Rows `validate` reports as not parsing in field `name` (the lenient scan and `Table.failed`)."""
    t = scan_table(source, "transactions", lenient=True)
    return t.raw.with_row_index("r", offset=1).filter(t.failed(name)).collect()["r"].to_list()


# --- 1. files that are not readable tables -------------------------------------------------------------------


def test_truncated_gzip_found_by_the_sniffer(tmp_path):
    gz = gzip.compress(("customer_id,date,amount\n" + ROWS[:20_000]).encode(), mtime=0)
    (tmp_path / "cut.csv.gz").write_bytes(gz[: len(gz) // 2])
    err = error(tmp_path / "cut.csv.gz")
    assert str(err) == "cut.csv.gz: the compressed file is truncated or corrupt"
    assert err.hint == "download or export it again (`gzip -t FILE` checks it)"


def test_truncated_gzip_after_the_first_mib(tmp_path):
    # The first MiB decompresses: the truncation shows only when the whole file is read.
    gz = gzip.compress(("customer_id,date,amount\n" + ROWS).encode(), mtime=0)
    (tmp_path / "late.csv.gz").write_bytes(gz[:-200])
    assert str(error(tmp_path / "late.csv.gz")) == "late.csv.gz: the compressed file is truncated or corrupt"


def test_text_named_xlsx_and_empty_xlsx(tmp_path):
    assert str(error(BAD / "not_a_workbook.xlsx")) == "not_a_workbook.xlsx: not an Excel workbook (.xlsx), or a corrupt one"
    (tmp_path / "zero.xlsx").write_bytes(b"")
    assert error(tmp_path / "zero.xlsx").message == "not an Excel workbook (.xlsx), or a corrupt one"


def test_workbook_whose_sheet_is_empty(tmp_path):
    xlsxwriter = pytest.importorskip("xlsxwriter")
    wb = xlsxwriter.Workbook(str(tmp_path / "blank.xlsx"))
    wb.add_worksheet("Ventes")
    wb.close()
    err = error(tmp_path / "blank.xlsx")
    assert (err.file, err.message, err.hint) == ("blank.xlsx", "sheet 'Ventes' is empty", "export the table again")


def test_a_line_over_128_kib_is_refused_with_its_row(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("customer_id,date,amount\nC1,2024-01-05,10\nC" + "9" * (200 * 1024) + ",2024-01-06,3\nC2,2024-01-07,4\n")
    err = error(path)
    assert (err.file, err.row) == ("long.csv", 2)
    assert err.message == "a line of 200 KiB, longer than 128 KiB: not a table row"


def test_a_header_over_128_kib_is_not_a_header(tmp_path):
    path = tmp_path / "long_header.csv"
    path.write_text("c" * (MAX_LINE_BYTES + 10) + ",date\n1,2024-01-01\n")
    assert error(path).message == "the first line is longer than 128 KiB: not the header of a table"


def test_sniffer_survives_fields_over_the_csv_module_limit():
    # `_csv.Error: field larger than field limit (131072)` must not escape the sniffer.
    text = "a;b;c\n1;2;3\n" + "x" * 200_000 + ";2;3\n4;5;6\n"
    assert detect_separator(text) == ";"


def test_binary_garbage_is_not_a_table(tmp_path):
    (tmp_path / "noise.csv").write_bytes(random.Random(7).randbytes(5000))
    err = error(tmp_path / "noise.csv")
    assert (err.file, err.message) == ("noise.csv", "the file holds binary data, not a text table")
    (tmp_path / "book.csv").write_bytes(b"PK\x03\x04" + bytes(200))
    assert error(tmp_path / "book.csv").message == "the file is a zip archive (an Excel workbook?), not a text table"


def test_directory_whose_files_disagree_on_columns_names_the_file(tmp_path):
    (tmp_path / "a.csv").write_text("customer_id,date,amount\nC1,2024-01-05,10\n")
    (tmp_path / "b.csv").write_text("customer_id,date,total\nC2,2024-01-06,3\n")
    for source in (tmp_path, tmp_path / "*.csv"):
        err = error(source)
        assert str(err) == "b.csv: its columns differ from those of a.csv: it lacks 'amount' and adds 'total'"


def test_directory_of_parquet_whose_types_disagree_names_file_and_column(tmp_path):
    pl.DataFrame({"customer_id": ["C1"], "date": [dt.date(2024, 1, 5)], "amount": [10.0]}).write_parquet(tmp_path / "a.parquet")
    pl.DataFrame({"customer_id": [2], "date": [dt.date(2024, 1, 6)], "amount": [3.0]}).write_parquet(tmp_path / "b.parquet")
    err = error(tmp_path)
    assert (err.file, err.column, err.message) == ("b.parquet", "customer_id", 'column "customer_id" is Int64 here but String in a.parquet')


def test_files_with_the_same_columns_in_another_order_are_aligned(tmp_path):
    (tmp_path / "a.csv").write_text("customer_id,date,amount\nC1,2024-01-05,10\n")
    (tmp_path / "b.csv").write_text("amount;date;customer_id\n3,50;2024-01-06;C2\n")
    df = scan_table(tmp_path, "transactions").lf.collect()
    assert df.to_dicts() == [
        {"customer_id": "C1", "date": dt.date(2024, 1, 5), "amount": 10.0},
        {"customer_id": "C2", "date": dt.date(2024, 1, 6), "amount": 3.5},
    ]


def test_empty_glob_empty_directory_missing_path(tmp_path):
    assert error(str(tmp_path / "none_*.csv")).message == "no file matches this pattern"
    assert error(tmp_path).message == "no data files in this directory"
    err = error(tmp_path / "nope.csv")
    assert (err.file, err.message, err.hint) == (str(tmp_path / "nope.csv"), "no such file", "check the path")


# --- 2. values the analyses refuse are parse failures ----------------------------------------------------------


def test_non_finite_and_huge_numbers_are_parse_failures():
    assert failed_rows(BAD / "numbers_out_of_range.csv", "amount") == [2, 3, 4, 5, 6]  # inf, 1e300, NaN, 1e20, -inf
    err = error(BAD / "numbers_out_of_range.csv")
    assert str(err) == 'numbers_out_of_range.csv, column "amount", row 2: \'inf\' is not a finite number'


def test_cents_overflow_names_the_row_not_a_polars_cast_error(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("customer_id,date,amount\nC1,2024-01-05,10\nC2,2024-01-06,99999999999999999999.99\n")
    tx = clean_transactions(scan_table(path, "transactions"))
    with pytest.raises(InputError) as err:
        DEFAULT_ENGINE.customer_summary(tx)
    assert str(err.value) == 'big.csv, column "amount", row 2: \'99999999999999999999.99\' is out of range: numbers must be below 1e13 in absolute value'


def test_quantity_times_unit_price_overflow():
    source = BAD / "quantity_price_overflow.csv"
    err = error(source)
    assert (err.column, err.row) == ("quantity x unit_price", 2)
    assert err.message == "quantity x unit price ('10000000' x '10000000') is out of range: amounts must be below 1e13"
    assert failed_rows(source, "amount") == [2]


def test_implausible_years_are_parse_failures_birth_dates_may_be_older(tmp_path):
    # 0201, 2300 and 1899 are refused; 1900 is the first plausible year.
    assert failed_rows(BAD / "implausible_years.csv", "date") == [2, 3, 4]
    assert str(error(BAD / "implausible_years.csv")) == (
        'implausible_years.csv, column "date", row 2: \'0201-12-10\' has an implausible year (201): dates must fall in 1900-2199'
    )
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,birth_date\n1,1890-01-01\n2,1790-01-01\n")
    t = scan_table(path, "customers", lenient=True)
    assert t.raw.with_row_index("r", offset=1).filter(t.failed("birth_date")).collect()["r"].to_list() == [2]


def test_typed_sources_are_bounded_too(tmp_path):
    pl.DataFrame(
        {"customer_id": ["C1", "C2", "C3"], "date": [dt.date(2024, 1, 5), dt.date(201, 12, 10), dt.date(2024, 1, 7)],
         "amount": [10.0, 3.0, float("nan")]}
    ).write_parquet(tmp_path / "t.parquet")
    assert failed_rows(tmp_path / "t.parquet", "date") == [2]
    assert failed_rows(tmp_path / "t.parquet", "amount") == [3]
    assert error(tmp_path / "t.parquet").row == 2


def test_a_phone_number_is_not_a_number_grouped_by_thousands():
    assert str(error(BAD / "phone_in_amount.csv")) == 'phone_in_amount.csv, column "amount", row 2: a phone number is not a valid number'


def test_personal_values_are_masked_unless_asked():
    assert str(error(BAD / "email_in_amount.csv")) == 'email_in_amount.csv, column "amount", row 2: an email address is not a valid number'
    shown = error(BAD / "email_in_amount.csv", show_values=True)
    assert shown.message == "'jean.dupont@example.com' is not a valid number"


# --- 3. malformed CSV is never read silently -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "row", "message"),
    [
        ("ragged_extra.csv", 3, "4 fields where the header has 3"),
        ("ragged_missing.csv", 2, "2 fields where the header has 3"),
        ("delimiter_changes.csv", 2, "1 field where the header has 3 (the row is separated by ';', the header by ','); "
         "2 malformed rows in all (rows 2, 4)"),
        ("multiline_extra.csv", 2, "more fields than the header's 4"),
    ],
)
def test_malformed_rows_are_errors_naming_the_rows(name, row, message):
    err = error(BAD / name)
    assert (err.file, err.row, err.message) == (name, row, message)
    assert err.hint == "fix the export (a delimiter inside an unquoted value?), or pass --ragged skip to leave these rows out"


def test_ragged_skip_leaves_the_rows_out_with_a_counted_warning():
    t = scan_table(BAD / "delimiter_changes.csv", "transactions", ragged="skip")
    assert t.warnings == ["delimiter_changes.csv: 2 malformed rows left out (rows 2, 4); row 2 has 1 field where the header "
                          "has 3 (the row is separated by ';', the header by ',')"]
    assert t.lf.collect()["customer_id"].to_list() == ["C1", "C3"]


def test_quotes_multiline_fields_blank_lines_and_empty_last_fields_are_not_ragged():
    df = scan_table(BAD / "quoted_ok.csv", "transactions").lf.collect()
    assert df["customer_id"].to_list() == ["C1", "C2", "C3", None, "C4"]  # the blank line is an empty row
    assert df["status"].to_list() == [None, None, "returned", None, None]


def test_duplicate_column_names_are_an_error():
    err = error(BAD / "duplicate_columns.csv")
    assert (err.column, err.message) == ("amount", 'the header names column "amount" 2 times (columns 3, 4)')


def test_ragged_row_far_beyond_the_sample(tmp_path):
    path = tmp_path / "late.csv"
    path.write_text("customer_id,date,amount\n" + ROWS + "C1,2024-04-01\n")
    assert error(path).row == 60_001


# --- 4. errors blame the right thing -------------------------------------------------------------------------


def test_mixed_date_formats_name_the_odd_rows():
    assert failed_rows(BAD / "mixed_dates.csv", "date") == [3, 5]
    err = error(BAD / "mixed_dates.csv")
    assert str(err) == 'mixed_dates.csv, column "date", row 3: \'07/01/2024\' is not a valid date'
    assert err.hint == "use --date-format, or fix the value (the dates of this column are read as %Y-%m-%d)"


def test_invalid_utf8_after_the_first_mib_names_the_row_and_the_encoding(tmp_path):
    path = tmp_path / "late_latin1.csv"
    path.write_bytes(("customer_id,date,amount\n" + ROWS).encode() + "C9,2024-04-01,12,50 caf\xe9\n".encode("cp1252"))
    err = error(path)
    assert (err.file, err.row) == ("late_latin1.csv", 60_001)
    assert err.hint == "if it is a Windows (Excel) export, pass --encoding cp1252; otherwise re-export it as UTF-8"
    # With the encoding given the file reads (the row has 4 fields: the amount's comma is a separator).
    assert error(path, encoding="cp1252").message == "4 fields where the header has 3"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_is_read_like_utf8(tmp_path, codec):
    text = "N° client;date;montant\n007;05/01/2024;12,50 €\n008;13/01/2024;3,00 €\n"
    path = tmp_path / "u16.csv"
    path.write_bytes(text.encode(codec))  # "utf-16" writes a BOM, the others none
    expected = pl.DataFrame({"customer_id": ["007", "008"], "date": [dt.date(2024, 1, 5), dt.date(2024, 1, 13)], "amount": [12.5, 3.0]})
    assert_frame_equal(scan_table(path, "transactions").lf.collect(), expected)


def test_workbook_whose_table_is_on_another_sheet(tmp_path):
    xlsxwriter = pytest.importorskip("xlsxwriter")
    path = tmp_path / "book.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("Notes").write(0, 0, "see the next sheet")
    data = wb.add_worksheet("Ventes")
    data.write_row(0, 0, ["customer_id", "date", "amount"])
    data.write_row(1, 0, ["C1", "2024-01-05", 10.5])
    wb.close()
    with pytest.raises(MappingError) as err:
        scan_table(path, "transactions")
    assert err.value.hint == "sheet 'Notes' was read; the workbook has sheets 'Notes', 'Ventes': choose one with --sheet NAME"
    for sheet in ("Ventes", "2"):
        assert scan_table(path, "transactions", sheet=sheet).lf.collect()["amount"].to_list() == [10.5]
    assert error(path, sheet="Achats").message == "no sheet 'Achats' in the workbook; its sheets are 'Notes', 'Ventes'"
    assert error(BAD / "mixed_dates.csv", sheet="2").message == "--sheet is for Excel workbooks (.xlsx)"


# --- through the CLI: exit 2, one line, the shared reading options ----------------------------------------------

probe = typer.Typer(cls=FidelGroup)


@probe.command("load")
@options.read_options
def load(transactions: options.TransactionsOpt = None) -> None:
    """Load transactions and print the customer count."""
    tx = options.transactions(transactions)
    typer.echo(DEFAULT_ENGINE.customer_summary(tx).height)


@probe.callback()
def root() -> None:
    render.settings.show_values = False
    options.context.tables = []
    options.context.transactions = []


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("ragged_missing.csv", "error: ragged_missing.csv, row 2: 2 fields where the header has 3"),
        ("numbers_out_of_range.csv", "error: numbers_out_of_range.csv, column \"amount\", row 2: 'inf' is not a finite number"),
        ("email_in_amount.csv", 'error: email_in_amount.csv, column "amount", row 2: an email address is not a valid number'),
        ("not_a_workbook.xlsx", "error: not_a_workbook.xlsx: not an Excel workbook (.xlsx), or a corrupt one"),
    ],
)
def test_cli_exit_2_with_one_error_line(name, line):
    result = CliRunner().invoke(probe, ["load", "-t", str(BAD / name)])
    assert result.exit_code == 2
    assert [x for x in result.stderr.splitlines() if x.startswith("error:")] == [line]
    assert "jean.dupont" not in result.stderr


def test_cli_ragged_skip_option_and_its_warning():
    result = CliRunner().invoke(probe, ["load", "-t", str(BAD / "ragged_extra.csv"), "--ragged", "skip"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "2\n"  # C1 and C2; the row of C3 is left out
    assert "ragged_extra.csv: 1 malformed row left out (row 3); row 3 has 4 fields where the header has 3" in result.stderr
