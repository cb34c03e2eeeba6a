"""Library tests of `fidelcli.validate`: one fixture per input kind with planted defects.

Each expected row number is the 1-based data row of the planted defect in the fixture (row 1 = the
first line after the header); the comment says what was planted there.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import polars as pl
import pytest

from fidelcli.errors import ConfigError, InputError, MappingError
from fidelcli.io.read import scan_table
from fidelcli.validate import CODES, Finding, Report, scan_for_validation, validate
from fidelcli.validate.findings import from_mapping_error

FIX = Path(__file__).parents[1] / "fixtures" / "validate"
IO = Path(__file__).parents[1] / "fixtures" / "io"
AS_OF = dt.date(2025, 1, 1)


def run(*, as_of: dt.date | None = AS_OF, examples: int = 5, date_format: str | None = None, **sources: str) -> Report:
    tables, problems = {}, []
    for kind, name in sources.items():
        path = FIX / name if (FIX / name).exists() else IO / name
        scanned = scan_for_validation(path, kind, date_format=date_format)
        if isinstance(scanned, Finding):
            problems.append(scanned)
        else:
            tables[kind] = scanned
    return validate(tables, as_of=as_of, today=dt.date.today(), examples=examples, problems=problems)


def triples(report: Report) -> list[tuple[str, str, str | None, list[int]]]:
    return [(f.code, f.severity, f.column, f.rows) for f in report.findings]


def test_transactions_defects_with_orphans():
    report = run(transactions="transactions_defects.csv", customers="customers_clean.csv")
    assert triples(report) == [
        ("unparseable-date", "error", "date", [3]),  # 2024-02-30
        ("unparseable-number", "error", "amount", [4]),  # "abc"
        ("duplicate-row", "warning", None, [6]),  # row 6 repeats row 2
        ("future-date", "warning", "date", [7]),  # 2025-03-01 >= as-of 2025-01-01
        ("implausible-date", "warning", "date", [8]),  # 1985-06-01 < 1990
        ("missing-customer", "warning", "customer_id", [5]),  # empty customer id: a guest purchase
        ("orphan-customer", "warning", "customer_id", [11]),  # C9 is not in customers_clean.csv
        ("zero-amount", "warning", "amount", [10]),
        ("negative-amount", "info", "amount", [9]),  # -12.50, a return
        ("null-optional", "info", "order_id", [12]),
        # 28 positive amounts; on the log scale Q1 = ln 10, Q3 = ln 13 (linear interpolation):
        # fence = 13 x (13/10)^3 = 28.561, and only 5000.00 is above it
        ("outlier", "info", "amount", [31]),  # 5000.00
        ("pii-column", "info", "email", []),  # customers_clean.csv
    ]
    by_code = {f.code: f for f in report.findings}
    assert by_code["unparseable-date"].examples == ["2024-02-30"]
    assert by_code["unparseable-number"].examples == ["abc"]
    assert by_code["orphan-customer"].examples == ["C9"]
    assert by_code["outlier"].examples == ["5000.00"]
    assert report.summary.model_dump() == {"error": 2, "warning": 6, "info": 4}
    assert not report.passed
    assert [(f.kind, f.rows) for f in report.files] == [("transactions", 31), ("customers", 5)]


def test_customers_defects_never_show_personal_data():
    report = run(customers="customers_defects.csv")
    assert triples(report) == [
        ("duplicate-id", "error", "customer_id", [2, 3]),  # C2 twice
        ("unparseable-bool", "error", "loyalty_member", [4]),  # "maybe"
        ("unparseable-date", "error", "birth_date", [6]),  # 1975-02-30
        ("unparseable-date", "error", "signup_date", [6]),  # 2023-13-40
        ("future-date", "warning", "signup_date", [5]),  # 2026-05-14
        # 2030-01-01: age below 0; 1890-01-01: age 134 at 2024-12-31
        ("implausible-date", "warning", "birth_date", [4, 5]),
        ("orphan-customer", "warning", "referred_by", [5]),  # C99
        ("null-optional", "info", "name", [6]),
        ("null-optional", "info", "referred_by", [1, 3, 4]),
        ("pii-column", "info", "birth_date", []),
        ("pii-column", "info", "email", []),
        ("pii-column", "info", "name", []),
    ]
    by = {(f.code, f.column): f for f in report.findings}
    assert by["duplicate-id", "customer_id"].examples == ["C2", "C2"]
    assert by["unparseable-date", "signup_date"].examples == ["2023-13-40"]
    assert by["unparseable-date", "birth_date"].examples == []
    assert by["implausible-date", "birth_date"].examples == []
    dump = report.model_dump_json()
    for secret in ("example.com", "Ann Lee", "Bob", "1975-02-30", "2030-01-01", "1890-01-01"):
        assert secret not in dump


def test_surveys_wide_defects():
    assert triples(run(surveys="surveys_defects.csv")) == [
        ("null-required", "error", "date", [6]),
        ("out-of-range", "error", "ces", [4]),  # 9 > 7
        ("out-of-range", "error", "csat", [3]),  # 0 < 1
        ("out-of-range", "error", "nps", [2]),  # 11 > 10
        ("unparseable-number", "error", "nps", [5]),  # "ten"
        ("null-optional", "info", "csat", [7]),
    ]


def test_surveys_long_format_ranges_by_type():
    report = run(surveys="surveys_long_defects.csv")
    assert triples(report) == [
        ("out-of-range", "error", "score", [2, 3]),  # nps 12, csat 6 (NPS 9 and ces 7 are in range)
        ("unknown-score-type", "warning", "type", [5]),  # "mood"
    ]
    assert report.findings[0].examples == ["12", "6"]


def test_campaigns_defects():
    assert triples(run(campaigns="campaigns_defects.csv")) == [
        ("null-required", "error", "campaign_id", [5]),
        ("null-required", "error", "variant", [3]),
        ("unparseable-bool", "error", "opened", [2]),  # "maybe"
        ("negative-value", "warning", "revenue", [4]),  # -5.00
    ]


def test_subscriptions_defects():
    assert triples(run(subscriptions="subscriptions_defects.csv")) == [
        ("end-before-start", "error", "end_date", [2]),  # 2024-01-15 < 2024-02-01
        ("null-required", "error", "start_date", [4]),
        ("unparseable-date", "error", "start_date", [5]),  # 2024-04-31
        ("negative-value", "warning", "price", [3]),  # -19.90
    ]


def test_touchpoints_defects():
    assert triples(run(touchpoints="touchpoints_defects.csv")) == [
        ("null-required", "error", "stage", [3]),
        ("out-of-range", "error", "satisfaction", [2]),  # 6 > 5
        ("unparseable-date", "error", "timestamp", [4]),  # 2024-07-32 10:00
        ("future-date", "warning", "timestamp", [5]),  # 2026-01-01 08:00
    ]


def test_spend_defects():
    assert triples(run(spend="spend_defects.csv")) == [
        ("null-required", "error", "spend", [4]),
        ("unparseable-number", "error", "spend", [3]),  # "lots"
        ("negative-value", "warning", "spend", [2]),  # -50
    ]


@pytest.mark.parametrize("kind", ["transactions", "surveys", "campaigns", "subscriptions", "touchpoints", "spend"])
def test_clean_files_have_no_findings(kind: str):
    report = run(**{kind: f"{kind}_clean.csv"})
    assert report.findings == []
    assert report.passed


def test_clean_customers_only_note_personal_data():
    report = run(customers="customers_clean.csv")
    assert triples(report) == [("pii-column", "info", "email", [])]
    assert report.passed


def test_french_export_validates_cleanly():
    # Semicolons, decimal comma with €, dd/mm/yyyy, cp1252, CRLF: the only finding is its return (-12,50 €).
    report = run(transactions="fr_export.csv", as_of=None)
    assert triples(report) == [("negative-amount", "info", "Montant TTC", [3])]
    assert report.findings[0].examples == ["-12,50 €"]
    assert report.passed


def test_examples_caps_rows_but_not_count():
    report = run(customers="customers_defects.csv", examples=1)
    dup = next(f for f in report.findings if f.code == "duplicate-id")
    assert (dup.rows, dup.count, dup.examples) == ([2], 2, ["C2"])


def test_ambiguous_date_is_a_finding_and_date_format_resolves_it():
    report = run(transactions="ambiguous_dates.csv")
    assert triples(report) == [("ambiguous-date", "error", "date", [])]
    assert "--date-format %d/%m/%Y" in report.findings[0].message
    assert run(transactions="ambiguous_dates.csv", date_format="%d/%m/%Y").findings == []


def test_date_format_errors_carry_their_finding_code():
    # The finding's code comes from the error raised by the format inference, not from its text.
    from fidelcli.errors import DateFormatError
    from fidelcli.io.values import infer_date_format

    cases = {
        ("01/02/2024", "03/04/2024"): "ambiguous-date",  # no number above 12: day/month or month/day
        ("13/14/2024",): "unknown-date-format",  # 13 and 14: neither a day/month nor a month/day
        ("soon", "later"): "unknown-date-format",  # no known format at all
    }
    for values, code in cases.items():
        with pytest.raises(DateFormatError) as err:
            infer_date_format(list(values), column="date", file="tx.csv")
        assert (err.value.code, err.value.column, err.value.file) == (code, "date", "tx.csv")
    assert infer_date_format(["13/02/2024", "01/02/2024"], column="date", file="tx.csv") == "%d/%m/%Y"


def test_one_bad_date_does_not_stop_inference():
    # "unknown" does not look like a date: the column is still read as ISO, and row 2 is reported.
    report = run(transactions="garbage_date.csv")
    assert triples(report) == [("unparseable-date", "error", "date", [2])]
    assert report.findings[0].examples == ["unknown"]


def test_mixed_date_formats():
    # The format is the one most values are written in (a tie: the first seen, ISO); the row written
    # otherwise does not parse, and is reported with its row, as the analyses refuse it.
    report = run(transactions="mixed_dates.csv")
    assert triples(report) == [("unparseable-date", "error", "date", [2])]
    assert report.findings[0].examples == ["05/01/2024"]


def test_strict_scan_still_raises_on_bad_dates():
    # The lenient path is only for validate: analyses keep refusing to guess, and a value that is no
    # date at all is reported with its row by the parse check.
    with pytest.raises(InputError, match="ambiguous"):
        scan_table(FIX / "ambiguous_dates.csv", "transactions")
    with pytest.raises(InputError, match="not a valid date") as err:
        scan_table(FIX / "garbage_date.csv", "transactions").check()
    assert err.value.row is not None


def test_missing_required_column_lists_candidates():
    report = run(transactions="no_customer.csv", customers="customers_clean.csv")
    assert triples(report) == [("missing-column", "error", None, []), ("pii-column", "info", "email", [])]
    missing = report.findings[0]
    assert (missing.file, missing.field) == ("no_customer.csv", "customer_id")
    assert "candidates: 'client_ref'" in missing.message
    assert [(f.kind, f.rows) for f in report.files] == [("transactions", None), ("customers", 5)]


def test_missing_amount_is_a_warning():
    report = run(transactions="no_amount.csv")
    assert triples(report) == [("missing-amount", "warning", None, [])]
    assert "candidates: 'total_paid'" in report.findings[0].message
    assert report.passed


def test_surveys_without_a_score_column(tmp_path: Path):
    path = tmp_path / "s.csv"
    path.write_text("customer_id,date,comment\nC1,2024-05-01,fine\n")
    report = validate({"surveys": scan_table(path, "surveys", lenient=True)}, as_of=AS_OF)
    assert [(f.code, f.field) for f in report.findings] == [("missing-column", "score")]


def test_ambiguous_column_is_a_finding(tmp_path: Path):
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,date,Date,amount\nC1,2024-01-05,2024-01-05,10\n")
    found = scan_for_validation(path, "transactions")
    assert isinstance(found, Finding)
    assert (found.code, found.severity, found.field, found.file) == ("ambiguous-column", "error", "date", "tx.csv")
    assert "--map date=COLUMN" in found.message


def test_map_mistakes_are_not_findings():
    exc = MappingError("--map names an unknown field 'cust' for transactions", code="unknown-field", field="cust", file="x.csv")
    assert from_mapping_error(exc, "transactions", "x.csv") is None


def test_mapping_findings_come_from_the_error_data_not_its_text():
    exc = MappingError("the text says nothing of the field", code="missing-column", field="date", candidates=("Jour",), hint="map it")
    found = from_mapping_error(exc, "transactions", "x.csv")
    assert found is not None
    assert (found.code, found.severity, found.field, found.file, found.message) == (
        "missing-column", "error", "date", "x.csv", "the text says nothing of the field; map it"
    )
    money = MappingError("with a quantity column ('Qty'), columns 'UnitPrice', 'Price' may be a unit price or a line total",
                         code="ambiguous-money", candidates=("UnitPrice", "Price"))
    assert from_mapping_error(money, "transactions", "x.csv") is None  # a usage error (exit 2), as before


def test_future_dates_default_to_after_today(tmp_path: Path):
    today = dt.date.today()
    tomorrow = today + dt.timedelta(days=1)
    path = tmp_path / "tx.csv"
    path.write_text(f"customer_id,date,amount\nC1,{today},10\nC2,{tomorrow},10\n")
    report = validate({"transactions": scan_table(path, "transactions", lenient=True)}, today=today)
    assert triples(report) == [("future-date", "warning", "date", [2])]
    assert report.as_of == tomorrow


def test_the_library_takes_today_and_never_reads_the_clock(tmp_path: Path):
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,date,amount\nC1,2020-03-01,10\nC2,2020-03-02,10\nC3,2020-03-03,10\n")
    table = scan_table(path, "transactions", lenient=True)
    report = validate({"transactions": table}, today=dt.date(2020, 3, 1))
    # Dates after 2020-03-01 are in the future: rows 2 and 3 (whatever the system date).
    assert triples(report) == [("future-date", "warning", "date", [2, 3])]
    assert report.as_of == dt.date(2020, 3, 2)
    # as_of wins over today.
    assert validate({"transactions": table}, as_of=dt.date(2020, 3, 3), today=dt.date(2020, 3, 1)).as_of == dt.date(2020, 3, 3)
    with pytest.raises(ConfigError, match="^validate needs an analysis date"):
        validate({"transactions": table})


def test_phone_and_email_found_by_content_and_name(tmp_path: Path):
    path = tmp_path / "tx.csv"
    path.write_text(
        "customer_id,date,amount,contact,tel_fixe,product_name,zip_code\n"
        "C1,2024-01-05,10,a@b.fr,+33 1 23 45 67 89,Tea,75001\n"
        "C2,2024-01-06,12,c@d.fr,01 23 45 67 89,Cake,69002\n"
    )
    report = validate({"transactions": scan_table(path, "transactions", lenient=True)}, as_of=AS_OF)
    pii = {f.column: f.message for f in report.findings if f.code == "pii-column"}
    assert sorted(pii) == ["contact", "tel_fixe", "zip_code"]  # product_name is not a person's name
    assert "(email)" in pii["contact"] and "(phone)" in pii["tel_fixe"] and "(address)" in pii["zip_code"]


def test_consent_flags_are_not_personal_data(tmp_path: Path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,email_opt_in,sms_opt_in,customer_email\nC1,yes,no,a@b.fr\n")
    report = validate({"customers": scan_table(path, "customers", lenient=True)}, as_of=AS_OF)
    assert triples(report) == [("pii-column", "info", "customer_email", [])]


def test_empty_optional_column_is_a_warning(tmp_path: Path):
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,date,amount,channel\nC1,2024-01-05,10,\nC2,2024-01-06,12,\n")
    report = validate({"transactions": scan_table(path, "transactions", lenient=True)}, as_of=AS_OF)
    assert triples(report) == [("empty-column", "warning", "channel", [1, 2])]


def test_outlier_fence(tmp_path: Path):
    # Ten 10s, ten 13s, then 28.50 and 28.60: sorted logs have Q1 = ln 10 (index 5.25) and Q3 = ln 13
    # (index 15.75); fence = 13 x (13/10)^3 = 28.561: 28.60 is above it, 28.50 is not.
    amounts = [10] * 10 + [13] * 10 + [28.5, 28.6]
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,date,amount\n" + "".join(f"C{i},2024-01-{i + 1:02d},{a}\n" for i, a in enumerate(amounts)))
    report = validate({"transactions": scan_table(path, "transactions", lenient=True)}, as_of=AS_OF)
    assert triples(report) == [("outlier", "info", "amount", [22])]
    assert report.findings[0].examples == ["28.6"]


def test_no_outliers_below_twenty_values(tmp_path: Path):
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,date,amount\n" + "".join(f"C{i},2024-01-{i + 1:02d},{a}\n" for i, a in enumerate([10, 13] * 9 + [5000])))
    assert validate({"transactions": scan_table(path, "transactions", lenient=True)}, as_of=AS_OF).findings == []


def test_empty_amount_is_an_error(tmp_path: Path):
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,date,amount\nC1,2024-01-05,10\nC2,2024-01-06,\n")
    report = validate({"transactions": scan_table(path, "transactions", lenient=True)}, as_of=AS_OF)
    assert triples(report) == [("null-required", "error", "amount", [2])]


def test_amount_from_quantity_times_unit_price(tmp_path: Path):
    path = tmp_path / "retail.csv"
    path.write_text("CustomerID,InvoiceDate,Quantity,UnitPrice\n17850,2010-12-01 08:26,6,2.55\n17850,2010-12-01 08:26,-1,0\n")
    report = validate({"transactions": scan_table(path, "transactions", lenient=True)}, as_of=AS_OF)
    assert triples(report) == [("zero-amount", "warning", "Quantity x UnitPrice", [2])]
    assert report.findings[0].examples == ["-1 x 0"]


def test_typed_parquet_input(tmp_path: Path):
    path = tmp_path / "tx.parquet"
    pl.DataFrame(
        {"customer_id": ["C1", "C2", "C2"], "date": [dt.date(2024, 1, 5), dt.date(2026, 1, 1), dt.date(2026, 1, 1)], "amount": [10.0, -1.0, -1.0]}
    ).write_parquet(path)
    report = validate({"transactions": scan_table(path, "transactions", lenient=True)}, as_of=AS_OF)
    assert triples(report) == [
        ("duplicate-row", "warning", None, [3]),
        ("future-date", "warning", "date", [2, 3]),
        ("negative-amount", "info", "amount", [2, 3]),
    ]


def test_docs_list_every_code_with_its_severity():
    doc = (Path(__file__).parents[2] / "docs" / "validate.md").read_text(encoding="utf-8")
    documented = dict(re.findall(r"^\| `([a-z-]+)` \| (error|warning|info) \|", doc, flags=re.M))
    assert documented == {code: severity for code, (severity, _) in CODES.items()}


def test_report_json_round_trip():
    report = run(transactions="transactions_defects.csv")
    again = Report.model_validate(json.loads(report.model_dump_json()))
    assert again == report


def test_uci_december_cut(shared_data: Path):
    # README of ../shared/data: 15,631 lines of the 2010-12 cut have no CustomerID.
    tbl = scan_table(shared_data / "uci_online_retail_2010-12.csv", "transactions", lenient=True)
    report = validate({"transactions": tbl}, as_of=dt.date(2011, 1, 1))
    missing = next(f for f in report.findings if f.code == "missing-customer")
    assert (missing.column, missing.count) == ("CustomerID", 15_631)
    assert report.files[0].rows == 42_481
