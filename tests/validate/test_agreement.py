"""`validate` and the analyses agree: every value an analysis refuses is a `validate` error with its rows,
and a file the readers cannot read through (empty, a header only, ragged, duplicate column names) is an
error finding, not a crash.

Row numbers are 1-based data rows (row 1 = the first line after the header); each file says what was
planted where.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fidelcli.cli import options
from fidelcli.cli.app import app
from fidelcli.errors import InputError
from fidelcli.io.read import scan_table
from fidelcli.validate import Finding, Report, scan_for_validation, validate

AS_OF = dt.date(2025, 1, 1)


def check(path: Path, kind: str = "transactions") -> Report:
    scanned = scan_for_validation(path, kind)
    if isinstance(scanned, Finding):
        return validate({}, as_of=AS_OF, problems=[scanned])
    return validate({kind: scanned}, as_of=AS_OF)


def triples(report: Report) -> list[tuple[str, str, str | None, list[int]]]:
    return [(f.code, f.severity, f.column, f.rows) for f in report.findings]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture(autouse=True)
def _no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./fidelcli.toml around


# Values the analyses refuse -------------------------------------------------------------------------


def test_amount_of_1e300_is_an_error_with_its_row(tmp_path: Path):
    path = write(tmp_path, "tx.csv", "customer_id,date,amount\nC1,2024-01-05,10\nC2,2024-01-06,12\nC3,2024-01-07,1e300\n")
    report = check(path)
    assert triples(report) == [("unparseable-number", "error", "amount", [3])]
    assert report.findings[0].examples == ["1e300"]


def test_non_finite_and_cent_overflowing_amounts(tmp_path: Path):
    # 2: inf, 3: -inf, 5: 1e13, the readers' bound (MAX_ABS_NUMBER: 1e15 cents, so that 9,000 such
    # lines still sum in 64 bits); 4 and 6 (just below the bound) are fine.
    path = write(tmp_path, "tx.csv", "customer_id,date,amount\nC1,2024-01-05,10\nC2,2024-01-06,inf\nC3,2024-01-07,-inf\n"
                 "C4,2024-01-08,12\nC5,2024-01-09,1e13\nC6,2024-01-10,9999999999999\n")
    report = check(path)
    assert triples(report) == [("unparseable-number", "error", "amount", [2, 3, 5])]
    assert report.findings[0].examples == ["inf", "-inf", "1e13"]


def test_nan_amount_is_an_error(tmp_path: Path):
    # The readers treat "NaN" as empty or as a value that does not parse: an error on row 2 either way.
    path = write(tmp_path, "tx.csv", "customer_id,date,amount\nC1,2024-01-05,10\nC2,2024-01-06,NaN\n")
    (finding,) = check(path).findings
    assert (finding.severity, finding.column, finding.rows) == ("error", "amount", [2])
    assert finding.code in ("unparseable-number", "null-required")


def test_typed_non_finite_numbers(tmp_path: Path):
    # A Parquet file stores floats: NaN (2), inf (3) and 1e300 (4) are refused by the analyses' cents.
    path = tmp_path / "tx.parquet"
    pl.DataFrame({
        "customer_id": ["C1", "C2", "C3", "C4"],
        "date": [dt.date(2024, 1, d) for d in (5, 6, 7, 8)],
        "amount": [10.0, math.nan, math.inf, 1e300],
    }).write_parquet(path)
    report = check(path)
    assert triples(report) == [("unparseable-number", "error", "amount", [2, 3, 4])]
    assert report.findings[0].examples == ["NaN", "inf", "1e+300"]


def test_quantity_times_price_overflowing_cents(tmp_path: Path):
    # Row 2: 1e10 x 1e10 = 1e20, each a number but their product too large to count in cents.
    path = write(tmp_path, "retail.csv", "CustomerID,InvoiceDate,Quantity,UnitPrice\n17850,2010-12-01 08:26,6,2.55\n"
                 "17851,2010-12-01 08:27,10000000000,10000000000\n")
    report = check(path)
    assert triples(report) == [("unparseable-number", "error", "Quantity x UnitPrice", [2])]
    assert report.findings[0].examples == ["10000000000 x 10000000000"]


def test_implausible_dates_are_errors_like_in_the_readers(tmp_path: Path):
    # The readers refuse dates before 1900 (row 2) and after 2200 (row 4); 1985 (row 3) is only implausible.
    path = write(tmp_path, "tx.csv", "customer_id,date,amount\nC1,2024-01-05,10\nC2,1850-01-01,10\nC3,1985-06-01,10\nC4,2250-06-01,10\n")
    report = check(path)
    assert triples(report) == [
        ("unparseable-date", "error", "date", [2, 4]),
        ("implausible-date", "warning", "date", [3]),
    ]


@pytest.mark.parametrize(
    ("text", "row"),
    [
        ("customer_id,date,amount\nC1,2024-01-05,10\nC2,2024-01-06,douze\n", 2),
        ("customer_id,date,amount\nC1,2024-01-05,10\nC2,2024-01-06,1e300\n", 2),
        ("customer_id,date,amount\nC1,2024-01-05,10\nC2,2024-02-30,12\n", 2),
        ("customer_id,date,amount\nC1,2024-01-05,10\nC2,2024-01-06,12\nC3,1850-01-01,12\n", 3),
    ],
)
def test_what_an_analysis_refuses_validate_reports(tmp_path: Path, text: str, row: int):
    path = write(tmp_path, "tx.csv", text)
    refused = invoke("rfm", "-t", str(path), "--as-of", "2025-01-01", "--format", "csv")
    assert refused.exit_code == 2
    result = invoke("validate", "-t", str(path), "--as-of", "2025-01-01", "--format", "json")
    assert result.exit_code == 1
    errors = [f for f in Report.model_validate_json(result.stdout).findings if f.severity == "error"]
    assert [f.rows for f in errors] == [[row]]


# Files that cannot be read through -------------------------------------------------------------------


def test_header_only_file_is_an_error(tmp_path: Path):
    path = write(tmp_path, "tx.csv", "customer_id,date,amount\n")
    report = check(path)
    assert triples(report) == [("empty-file", "error", None, [])]
    assert report.files[0].rows == 0
    result = invoke("validate", "-t", str(path), "--format", "csv")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1] == 'error,empty-file,transactions,tx.csv,,0,"","",no data rows: the file has a header only'


@pytest.mark.parametrize("content", ["", "\n\n", "\ufeff"])
def test_empty_file_is_an_error(tmp_path: Path, content: str):
    path = write(tmp_path, "tx.csv", content)
    assert triples(check(path)) == [("empty-file", "error", None, [])]
    result = invoke("validate", "-t", str(path), "-c", str(write(tmp_path, "c.csv", "customer_id\nC1\n")), "--format", "csv")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == "FAILED: 1 error, 0 warnings, 0 info in 2 files"


def test_ragged_rows_are_an_error(tmp_path: Path):
    # Row 2 has one field too many. The readers refuse it (with its row when they know it).
    path = write(tmp_path, "tx.csv", "customer_id,date,amount\nC1,2024-01-05,10\nC2,2024-01-06,12,oops\nC3,2024-01-07,11\n")
    (finding,) = check(path).findings
    assert (finding.code, finding.severity, finding.file) == ("unreadable-file", "error", "tx.csv")
    assert finding.rows in ([], [2])


def test_duplicate_column_names_are_an_error(tmp_path: Path):
    path = write(tmp_path, "tx.csv", "customer_id,date,amount,amount\nC1,2024-01-05,10,11\n")
    (finding,) = check(path).findings
    assert (finding.code, finding.severity, finding.file) == ("unreadable-file", "error", "tx.csv")
    assert finding.column in (None, "amount")


def test_reader_error_while_scanning_becomes_a_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Whatever the reader refuses in the contents, with file, column and row, is a finding; exit 1.
    path = write(tmp_path, "tx.csv", "customer_id,date,amount\nC1,2024-01-05,10\n")
    customers = write(tmp_path, "customers.csv", "customer_id\nC1\n")

    def refuse(source: object, kind: str, **kwargs: object):
        if kind == "transactions":
            raise InputError("3 fields expected, 4 found", file="tx.csv", column="amount", row=7, hint="fix the export")
        return scan_table(source, kind, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(options, "scan_table", refuse)
    result = invoke("validate", "-t", str(path), "-c", str(customers), "--format", "json")
    assert result.exit_code == 1
    report = Report.model_validate_json(result.stdout)
    assert [(f.code, f.kind, f.file, f.column, f.rows, f.count, f.message) for f in report.findings] == [
        ("unreadable-file", "transactions", "tx.csv", "amount", [7], 1, "cannot read the file: 3 fields expected, 4 found; fix the export"),
    ]
    assert [(f.kind, f.rows) for f in report.files] == [("transactions", None), ("customers", 1)]


def test_reader_error_during_the_pass_becomes_a_finding(tmp_path: Path):
    # A reader that fails only when the rows are read (Polars' strict CSV reader on a ragged row):
    # validate reports the file and still checks the others.
    good = write(tmp_path, "good.csv", "customer_id,date,amount\nC1,2024-01-05,10\nC2,2024-01-06,12\n")
    ragged = write(tmp_path, "tx.csv", "customer_id,date,amount\nC1,2024-01-05,10\nC2,2024-01-06,12,oops\n")
    table = dataclasses.replace(scan_table(good, "transactions", lenient=True), file="tx.csv", raw=pl.scan_csv(ragged, infer_schema=False))
    customers = write(tmp_path, "customers.csv", "customer_id,country\nC1,FR\nC1,BE\n")
    report = validate({"transactions": table, "customers": scan_table(customers, "customers", lenient=True)}, as_of=AS_OF)
    assert triples(report) == [
        ("unreadable-file", "error", None, []),
        ("duplicate-id", "error", "customer_id", [1, 2]),
    ]
    assert report.findings[0].message.startswith("cannot read the file: found more fields than defined in 'Schema'")


def test_missing_file_and_unsupported_type_stay_usage_errors(tmp_path: Path):
    missing = invoke("validate", "-t", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2
    assert missing.stderr.splitlines()[-2:] == [f"error: {tmp_path / 'nope.csv'}: no such file", "hint: check the path"]
    doc = write(tmp_path, "tx.doc", "customer_id,date,amount\n")
    unsupported = invoke("validate", "-t", str(doc))
    assert unsupported.exit_code == 2
    with pytest.raises(InputError, match="no such file"):
        scan_for_validation(tmp_path / "nope.csv", "transactions")
