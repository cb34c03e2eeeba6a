"""`validate` never prints personal data: planted emails, phone numbers, an IBAN and names in ordinary
columns are reported with their rows and kind, and appear nowhere (terminal, JSON, files) without
`--show-values`; with it they are shown as written.

The planted rows (1-based data rows, row 1 = the first line after the header):

transactions.csv
    2  amount "jean.dupont@example.com"            -> unparseable-number, an email address
    3  customer_id "06.12.34.56.78"                 -> orphan-customer, a phone number
    4  date "Jean Dupont"                           -> unparseable-date, a name
    5  customer_id "FR76 3000 6000 0112 3456 7890 189" -> orphan-customer, an IBAN
    6  amount "(555) 123-4567"                      -> unparseable-number, a phone number
    7  customer_id "+33 6 12 34 56 78"              -> orphan-customer, a phone number
    8  amount "85123A"                              -> unparseable-number, not personal: shown as written
customers.csv (name, email and phone are personal-data columns: no examples ever)
    1  referred_by empty                            -> null-optional
    2  referred_by "anne.martin@example.net"        -> orphan-customer, an email address
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fidelcli.cli.app import app
from fidelcli.errors import InputError
from fidelcli.io.read import scan_table
from fidelcli.validate import validate
from fidelcli.validate.findings import from_input_error

TRANSACTIONS = """customer_id,date,amount,order_id
C1,2024-01-05,10.00,O1
C2,2024-01-06,jean.dupont@example.com,O2
06.12.34.56.78,2024-01-07,12.00,O3
C1,Jean Dupont,11.00,O4
FR76 3000 6000 0112 3456 7890 189,2024-01-08,13.00,O5
C2,2024-01-09,(555) 123-4567,O6
+33 6 12 34 56 78,2024-01-10,9.00,O7
C1,2024-01-11,85123A,O8
"""
CUSTOMERS = """customer_id,name,email,phone,referred_by
C1,Jean Dupont,jean.dupont@example.com,+33 6 12 34 56 78,
C2,Marie Curie,marie.curie@example.org,06.12.34.56.78,anne.martin@example.net
C3,Paul Martin,paul.martin@example.com,(555) 123-4567,C1
C4,Léa Petit,lea.petit@example.fr,555-123-4567,C1
"""
# Every planted value, and recognisable pieces of them.
SECRETS = [
    "jean.dupont@example.com", "@example", "anne.martin", "06.12.34.56.78", "12 34 56 78", "(555) 123-4567",
    "123-4567", "FR76", "3000 6000", "Jean Dupont", "Marie Curie", "Paul Martin", "Petit",
]
AS_OF = dt.date(2025, 1, 1)


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.chdir(tmp_path)  # no ./fidelcli.toml around
    tx, cu = tmp_path / "transactions.csv", tmp_path / "customers.csv"
    tx.write_text(TRANSACTIONS, encoding="utf-8")
    cu.write_text(CUSTOMERS, encoding="utf-8")
    return tx, cu


def report_of(tx: Path, cu: Path, *, show_values: bool = False):
    tables = {"transactions": scan_table(tx, "transactions", lenient=True), "customers": scan_table(cu, "customers", lenient=True)}
    return validate(tables, as_of=AS_OF, show_values=show_values)


def test_planted_values_are_reported_by_row_and_kind(planted: tuple[Path, Path]):
    report = report_of(*planted)
    assert [(f.code, f.column, f.rows, f.examples) for f in report.findings] == [
        ("unparseable-date", "date", [4], ["a name"]),
        ("unparseable-number", "amount", [2, 6, 8], ["an email address", "a phone number", "85123A"]),
        ("orphan-customer", "customer_id", [3, 5, 7], ["a phone number", "an IBAN", "a phone number"]),
        ("orphan-customer", "referred_by", [2], ["an email address"]),
        ("null-optional", "referred_by", [1], []),
        ("pii-column", "email", [], []),
        ("pii-column", "name", [], []),
        ("pii-column", "phone", [], []),
    ]
    dump = report.model_dump_json()
    assert [s for s in SECRETS if s in dump] == []


def test_show_values_gives_them_as_written(planted: tuple[Path, Path]):
    report = report_of(*planted, show_values=True)
    examples = {(f.code, f.column): f.examples for f in report.findings}
    assert examples["unparseable-number", "amount"] == ["jean.dupont@example.com", "(555) 123-4567", "85123A"]
    assert examples["unparseable-date", "date"] == ["Jean Dupont"]
    assert examples["orphan-customer", "customer_id"] == ["06.12.34.56.78", "FR76 3000 6000 0112 3456 7890 189", "+33 6 12 34 56 78"]
    assert examples["orphan-customer", "referred_by"] == ["anne.martin@example.net"]
    # Personal-data columns never show their values, even then.
    assert examples["pii-column", "email"] == []


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "jsonl", "markdown"])
def test_no_planted_value_in_any_output(planted: tuple[Path, Path], tmp_path: Path, fmt: str):
    tx, cu = planted
    for out in (tmp_path / "report.json", tmp_path / "findings.csv"):
        result = invoke("validate", "-t", str(tx), "-c", str(cu), "--as-of", "2025-01-01", "--format", fmt, "-o", str(out))
        assert result.exit_code == 1
        written = out.read_text(encoding="utf-8")
        leaks = [s for s in SECRETS if s in result.stdout or s in result.stderr or s in written]
        assert leaks == []
    assert "an email address" in written  # the csv file keeps the kind


def test_json_report_keeps_rows_and_kinds(planted: tuple[Path, Path]):
    tx, cu = planted
    result = invoke("validate", "-t", str(tx), "-c", str(cu), "--as-of", "2025-01-01", "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == report_of(tx, cu).model_dump(mode="json")


def test_show_values_flag_shows_them(planted: tuple[Path, Path], tmp_path: Path):
    tx, cu = planted
    out = tmp_path / "report.json"
    result = invoke("--show-values", "validate", "-t", str(tx), "-c", str(cu), "--as-of", "2025-01-01", "--format", "json", "-o", str(out))
    assert result.exit_code == 1
    assert json.loads(result.stdout) == report_of(tx, cu, show_values=True).model_dump(mode="json")
    for text in (result.stdout, out.read_text(encoding="utf-8")):
        assert "jean.dupont@example.com" in text and "+33 6 12 34 56 78" in text and "Jean Dupont" in text
    # The flag lasts one invocation: the next run masks again.
    again = invoke("validate", "-t", str(tx), "-c", str(cu), "--as-of", "2025-01-01", "--format", "json")
    assert "jean.dupont@example.com" not in again.stdout


def test_personal_values_in_every_column_not_only_mapped_ones(tmp_path: Path):
    # A survey's long-format `type` column is no personal-data field; an email typed into it is still masked.
    path = tmp_path / "surveys.csv"
    path.write_text("customer_id,date,type,score\nC1,2024-01-05,nps,9\nC2,2024-01-06,bob@example.org,3\nC3,2024-01-07,Jean Dupont,4\n")
    report = validate({"surveys": scan_table(path, "surveys", lenient=True)}, as_of=AS_OF)
    assert [(f.code, f.column, f.rows, f.examples) for f in report.findings] == [
        ("unknown-score-type", "type", [2, 3], ["an email address", "a name"]),
    ]


def test_messages_are_scrubbed_too(tmp_path: Path):
    # A reader's message may quote a cell (here a ragged row's first field): the finding keeps the row.
    exc = InputError("row 3 has 5 fields, expected 4: 'jean.dupont@example.com', ...", file="tx.csv", row=3)
    problem = from_input_error(exc, "transactions", "tx.csv")
    report = validate({}, as_of=AS_OF, problems=[problem])
    assert [(f.code, f.rows, f.message) for f in report.findings] == [
        ("unreadable-file", [3], "cannot read the file: row 3 has 5 fields, expected 4: an email address, ...")
    ]
    shown = validate({}, as_of=AS_OF, problems=[problem], show_values=True)
    assert "'jean.dupont@example.com'" in shown.findings[0].message


def test_names_found_by_content_but_not_in_places_or_stores(tmp_path: Path):
    # "contact" is no personal-data word, but every value is a person's name; the store names are places.
    path = tmp_path / "tx.csv"
    path.write_text(
        "customer_id,date,amount,contact,store,city\n"
        "C1,2024-01-05,10,Jean Dupont,Lyon Part-Dieu,Saint-Étienne\n"
        "C2,2024-01-06,12,Marie Curie,Paris Opéra,Le Havre\n"
        "C3,2024-01-07,11,Paul Martin,Lille Flandres,New York\n",
        encoding="utf-8",
    )
    report = validate({"transactions": scan_table(path, "transactions", lenient=True)}, as_of=AS_OF)
    assert [(f.code, f.column, f.message) for f in report.findings] == [
        ("pii-column", "contact", "personal data (name): values are never shown; pseudonymize before sharing"),
    ]
