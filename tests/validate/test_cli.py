"""`fidelcli validate` on the command line: exit codes, JSON equal to the library report, files written."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fidelcli.cli.app import app
from fidelcli.io.read import scan_table
from fidelcli.result import Result
from fidelcli.validate import validate

FIX = Path(__file__).parents[1] / "fixtures" / "validate"
IO = Path(__file__).parents[1] / "fixtures" / "io"
KIND_FLAGS = {
    "transactions": "-t", "customers": "-c", "surveys": "--surveys", "campaigns": "--campaigns",
    "subscriptions": "--subscriptions", "touchpoints": "--touchpoints", "spend": "--spend",
}


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture(autouse=True)
def _no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./fidelcli.toml around


@pytest.mark.parametrize("kind", list(KIND_FLAGS))
def test_defects_exit_1_and_clean_exit_0(kind: str):
    bad = invoke("validate", KIND_FLAGS[kind], str(FIX / f"{kind}_defects.csv"), "--as-of", "2025-01-01", "--format", "csv")
    assert bad.exit_code == 1
    assert bad.stderr.strip().splitlines()[-1].startswith("FAILED: ")
    good = invoke("validate", KIND_FLAGS[kind], str(FIX / f"{kind}_clean.csv"), "--as-of", "2025-01-01", "--format", "csv")
    assert good.exit_code == 0
    assert good.stderr.strip().splitlines()[-1].startswith("passed: 0 errors, 0 warnings")


def test_strict_fails_on_warnings_only():
    args = ["validate", "-t", str(FIX / "transactions_warnings.csv"), "--as-of", "2025-01-01", "--format", "table"]
    plain = invoke(*args)
    assert plain.exit_code == 0
    assert "passed: 0 errors, 1 warning, 0 info in 1 file" in plain.stdout
    strict = invoke(*args, "--strict")
    assert strict.exit_code == 1
    assert "FAILED (strict): 0 errors, 1 warning, 0 info in 1 file" in strict.stdout


def test_json_equals_library_report():
    result = invoke(
        "validate", "-t", str(FIX / "transactions_defects.csv"), "-c", str(FIX / "customers_clean.csv"),
        "--as-of", "2025-01-01", "--format", "json",
    )
    assert result.exit_code == 1
    tables = {
        "transactions": scan_table(FIX / "transactions_defects.csv", "transactions", lenient=True),
        "customers": scan_table(FIX / "customers_clean.csv", "customers", lenient=True),
    }
    expected = validate(tables, as_of=dt.date(2025, 1, 1)).model_dump(mode="json")
    assert json.loads(result.stdout) == expected


def test_output_report_is_written_even_when_failing(tmp_path: Path):
    out = tmp_path / "report.json"
    result = invoke("validate", "--spend", str(FIX / "spend_defects.csv"), "--format", "csv", "-o", str(out))
    assert result.exit_code == 1
    report = json.loads(out.read_text(encoding="utf-8"))
    assert [(f["code"], f["rows"]) for f in report["findings"]] == [
        ("null-required", [4]), ("unparseable-number", [3]), ("negative-value", [2])
    ]
    assert report["passed"] is False
    assert not list(tmp_path.glob("*.tmp*"))


def test_output_csv_one_row_per_finding(tmp_path: Path):
    out = tmp_path / "findings.csv"
    result = invoke("validate", "--spend", str(FIX / "spend_defects.csv"), "--format", "json", "-o", str(out))
    assert result.exit_code == 1
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "severity,code,kind,file,column,count,rows,examples,message"
    assert lines[3] == "warning,negative-value,spend,spend_defects.csv,spend,1,2,-50,negative spend on 1 row"


def test_table_shows_summary_columns():
    result = invoke("validate", "--surveys", str(FIX / "surveys_long_defects.csv"), "--format", "table")
    assert result.exit_code == 1
    header = next(line for line in result.stdout.splitlines() if "severity" in line)
    assert [w for w in header.replace("┃", " ").split()] == ["severity", "code", "file", "column", "count", "rows"]
    assert "FAILED: 1 error, 1 warning, 0 info in 1 file" in result.stdout


def test_french_export_passes():
    result = invoke("validate", "-t", str(IO / "fr_export.csv"), "--format", "csv")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1:] == [
        "info,negative-amount,transactions,fr_export.csv,Montant TTC,1,3,\"-12,50 €\",negative amount (a return or cancellation) on 1 row"
    ]


def test_unreadable_input_exits_2():
    result = invoke("validate", "-t", "nope.csv")
    assert result.exit_code == 2
    assert "error: nope.csv: no such file" in result.stderr.splitlines()


def test_nothing_to_validate_exits_2():
    result = invoke("validate")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "error: nothing to validate"


def test_map_per_kind_fixes_missing_column():
    missing = invoke("validate", "-t", str(FIX / "no_customer.csv"), "--format", "csv")
    assert missing.exit_code == 1
    assert ",missing-column,transactions,no_customer.csv," in missing.stdout
    mapped = invoke("validate", "-t", str(FIX / "no_customer.csv"), "--map", "transactions.customer_id=client_ref", "--format", "csv")
    assert mapped.exit_code == 0
    unprefixed = invoke("validate", "-t", str(FIX / "no_customer.csv"), "--map", "customer_id=client_ref", "--format", "csv")
    assert unprefixed.exit_code == 0


def test_map_unknown_field_is_a_usage_error():
    result = invoke("validate", "-t", str(FIX / "no_customer.csv"), "--map", "cust=client_ref")
    assert result.exit_code == 2
    assert "error: no_customer.csv: --map names an unknown field 'cust' for transactions" in result.stderr.splitlines()


def test_date_format_option_and_config_inputs(tmp_path: Path):
    (tmp_path / "fidelcli.toml").write_text(f'[inputs]\ntransactions = "{FIX / "ambiguous_dates.csv"}"\n')
    ambiguous = invoke("validate", "--format", "csv")
    assert ambiguous.exit_code == 1
    assert ",ambiguous-date,transactions,ambiguous_dates.csv,date," in ambiguous.stdout
    fixed = invoke("validate", "--date-format", "%d/%m/%Y", "--format", "csv")
    assert fixed.exit_code == 0
    assert fixed.stdout == "severity,code,kind,file,column,count,rows,examples,message\n"


def test_help_has_an_example():
    result = invoke("validate", "--help")
    assert result.exit_code == 0
    assert "Example: fidelcli validate -t sales.csv" in result.stdout


def test_cli_equals_the_library_result():
    # The command is one library call: `--format json` prints the report's `to_json()`, `--format csv`
    # its findings table, and the verdict line is the report's.
    args = ["validate", "-t", str(FIX / "transactions_warnings.csv"), "--as-of", "2025-01-01"]
    report = validate({"transactions": scan_table(FIX / "transactions_warnings.csv", "transactions", lenient=True)}, as_of=dt.date(2025, 1, 1))
    assert isinstance(report, Result)
    as_json = invoke(*args, "--format", "json")
    assert as_json.exit_code == 0
    assert as_json.stdout == report.to_json() + "\n"
    assert as_json.stderr.splitlines()[-1] == report.verdict() == "passed: 0 errors, 1 warning, 0 info in 1 file"
    as_csv = invoke(*args, "--format", "csv")
    assert as_csv.stdout == report.tables()["findings"].write_csv()
    # The fixture repeats row 2 on row 3 (C2, 2024-01-06, 12.50, O2): one duplicate-row warning on row 3.
    assert report.tables()["findings"].select("severity", "code", "rows").rows() == [("warning", "duplicate-row", "3")]
    assert report.headline() == {"as_of": "2025-01-01", "files": 1, "error": 0, "warning": 1, "info": 0, "passed": True}
    assert report.verdict(strict=True) == "FAILED (strict): 0 errors, 1 warning, 0 info in 1 file"
    assert report.warnings == [] and "warnings" not in json.loads(report.to_json())
