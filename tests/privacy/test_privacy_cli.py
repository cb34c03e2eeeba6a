"""`fidelcli privacy`: scan prints no personal value, pseudonyms join across files and runs, erase and
retain rewrite files atomically and idempotently with an audit log that holds no id in clear."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fidelcli.cli.app import app
from fidelcli.privacy.audit import read_audit
from fidelcli.privacy.scan import scan

KEY = "0123456789abcdef0123456789abcdef"
# Planted personal values: none may reach stdout or stderr.
PLANTED = {
    "names": ["Jean Dupont", "Mary Smith", "Léa Petit", "Paul Martin"],
    "emails": ["Jean.Dupont@Example.com", "mary.smith@mail.co.uk", "lea@exemple.fr", "paul.martin@exemple.fr"],
    "phones": ["06 12 34 56 78", "+44 20 7946 0958", "+1 415 555 2671", "0033 6 98 76 54 32"],
    "addresses": ["12 rue de la Paix", "221B Baker Street", "1600 Pennsylvania Avenue NW", "5 avenue Victor Hugo"],
    "ibans": ["FR76 3000 6000 0112 3456 7890 189", "GB82 WEST 1234 5698 7654 32", "DE89 3704 0044 0532 0130 00", ""],
    "births": ["1980-05-17", "1975-02-03", "1999-12-31", "1962-07-14"],
}


def invoke(*args: str, env: dict[str, str | None] | None = None):  # noqa: ANN201
    return CliRunner().invoke(app, list(args), env={"FIDELCLI_PSEUDONYM_KEY": KEY, **(env or {})})


@pytest.fixture
def files(tmp_path: Path) -> Path:
    pl.DataFrame({
        "customer_id": ["C1", "C2", "C3", "C4"], "full_name": PLANTED["names"], "contact": PLANTED["emails"], "tel": PLANTED["phones"],
        "street": PLANTED["addresses"], "zip_code": ["75002", "SW1A 1AA", "90210", "69002"], "dob": PLANTED["births"],
        "bank": PLANTED["ibans"], "email_opt_in": ["yes", "no", "yes", "no"], "referred_by": ["", "C1", "C1", "C2"],
    }).write_csv(tmp_path / "customers.csv")
    pl.DataFrame({"customer_id": ["C1", "C2", "C1", "C3", "C4"], "date": ["2015-01-02", "2020-06-01", "2024-03-01", "2023-02-28", "2023-03-01"],
                  "amount": ["10.5", "NA", "7", "3", "4"]}).write_csv(tmp_path / "sales.csv")
    pl.DataFrame({"Customer ID": [1, 2, 3], "spend": [1.5, 2.5, 3.5]}).write_parquet(tmp_path / "spend.parquet")
    return tmp_path


def hashed(value: str) -> str:
    return hmac.new(KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def test_scan_finds_the_planted_pii_and_prints_none_of_it(files: Path) -> None:
    result = scan({"customers.csv": pl.scan_csv(files / "customers.csv", infer_schema=False)}, as_of=dt.date(2025, 3, 1))
    found = {r["column"]: (r["pii"], r["found_by"], r["values"], r["matching"]) for r in result.columns.to_dicts()}
    assert found == {
        "full_name": ("name", "name+content", 4, 4), "contact": ("email", "content", 4, 4), "tel": ("phone", "name+content", 4, 4),
        "street": ("address", "name+content", 4, 4), "zip_code": ("postal_code", "name", 4, None),
        # 4 dates, ages 25 to 62 at 2025-03-01, years 1962-1999: 10th-90th percentile spread of 24 years >= 15
        "dob": ("birth_date", "name+content", 4, 4), "bank": ("iban", "content", 3, 3),
    }
    for fmt in ("table", "csv", "json", "markdown"):
        r = invoke("privacy", "scan", str(files / "customers.csv"), str(files / "sales.csv"), "--as-of", "2025-03-01", "--format", fmt)
        assert r.exit_code == 0, r.stderr
        for values in PLANTED.values():
            for v in filter(None, values):
                assert v not in r.stdout and v not in r.stderr
                assert v.lower() not in r.stdout.lower()
    r = invoke("privacy", "scan", str(files / "customers.csv"), "--as-of", "2025-03-01", "--format", "json")
    assert json.loads(r.stdout) == json.loads(scan({str(files / "customers.csv"): pl.scan_csv(files / "customers.csv", infer_schema=False)},
                                                   as_of=dt.date(2025, 3, 1)).to_json())


def test_pseudonyms_join_across_files_and_runs_and_change_with_the_key(files: Path, tmp_path: Path) -> None:
    args = ["privacy", "pseudonymize", str(files / "customers.csv"), str(files / "sales.csv"), str(files / "spend.parquet")]
    r = invoke(*args, "-o", str(tmp_path / "a"), "--format", "csv")
    assert r.exit_code == 0, r.stderr
    invoke(*args, "-o", str(tmp_path / "b"))
    for name in ("customers.csv", "sales.csv", "spend.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()  # same key: same bytes
    customers = pl.read_csv(tmp_path / "a" / "customers.csv")
    sales = pl.read_csv(tmp_path / "a" / "sales.csv")
    assert customers["customer_id"].to_list() == [hashed(c) for c in ("C1", "C2", "C3", "C4")]
    assert sales.join(customers, on="customer_id").height == 5  # every sale still finds its customer
    assert pl.read_parquet(tmp_path / "a" / "spend.parquet")["Customer ID"].to_list() == [hashed(c) for c in "123"]
    assert customers["referred_by"].to_list() == [None, hashed("C1"), hashed("C1"), hashed("C2")]
    assert customers["contact"][0] == hashed("jean.dupont@example.com") and customers["tel"][0] == hashed("+33612345678")
    assert customers.columns == ["customer_id", "contact", "tel", "zip_code", "dob", "email_opt_in", "referred_by"]
    assert customers["dob"].to_list() == [1980, 1975, 1999, 1962] and customers["zip_code"].to_list() == ["75", "SW1A", "90", "69"]
    other = invoke(*args, "-o", str(tmp_path / "c"), env={"FIDELCLI_PSEUDONYM_KEY": "another secret key, 32 bytes...."})
    assert other.exit_code == 0
    assert not set(pl.read_csv(tmp_path / "c" / "customers.csv")["customer_id"]) & set(customers["customer_id"])


def test_keys_on_the_command_line_without_a_key_or_in_an_open_file_are_refused(files: Path, tmp_path: Path) -> None:
    out = ["privacy", "pseudonymize", str(files / "sales.csv"), "-o", str(tmp_path / "x.csv")]
    r = invoke(*out, "--key", KEY)
    assert r.exit_code == 2 and r.stderr.splitlines() == [
        "error: a key on the command line is refused: other users can read it in the process list, and it stays in the shell history",
        "hint: set FIDELCLI_PSEUDONYM_KEY, or pass --key-file FILE (chmod 600)"]
    r = invoke(*out, env={"FIDELCLI_PSEUDONYM_KEY": None})
    assert r.exit_code == 2 and r.stderr.splitlines()[0] == (
        "error: no pseudonym key: pseudonyms made without a secret key could be reversed by hashing candidate values")
    key = tmp_path / "key"
    key.write_text(KEY)
    key.chmod(0o644)
    r = invoke(*out, "--key-file", str(key))
    assert r.exit_code == 2 and r.stderr.splitlines()[0] == f"error: {key}: the key file may be read by other users (mode 644)"
    for args in (out, ["privacy", "erase", str(files), "--id", "C1"]):
        assert invoke(*args, "--key", KEY).exit_code == 2
    assert not (tmp_path / "x.csv").exists() and pl.read_csv(files / "sales.csv").height == 5


def test_erase_leaves_no_trace_of_the_ids_and_twice_is_harmless(files: Path, tmp_path: Path) -> None:
    invoke("privacy", "pseudonymize", str(files / "customers.csv"), "-o", str(files / "pseudo.parquet"))
    requests = tmp_path / "requests"  # beside the data, not in it
    requests.mkdir()
    (requests / "ids.txt").write_text("C1\nC3\n")
    audit = requests / "audit.jsonl"
    r = invoke("privacy", "erase", *[str(p) for p in sorted(files.glob("*.*"))], "--ids", str(requests / "ids.txt"), "--audit", str(audit), "--format", "csv")
    assert r.exit_code == 0, r.stderr
    rows = {Path(d["file"]).name: (d["rows_before"], d["rows_removed"], d["references_cleared"], d["status"])
            for d in pl.read_csv(r.stdout.encode()).to_dicts()}
    assert rows == {
        "customers.csv": (4, 2, 1, "erased"),  # C1, C3 gone; C2's referrer C1 emptied (C3's row is gone with it)
        "pseudo.parquet": (4, 2, 1, "erased"),  # matched by their keyed pseudonyms
        "sales.csv": (5, 3, 0, "erased"),
        "spend.parquet": (3, 0, 0, "unchanged"),
    }
    customers = pl.read_csv(files / "customers.csv", infer_schema=False)
    assert customers["customer_id"].to_list() == ["C2", "C4"] and customers["referred_by"].to_list() == [None, "C2"]
    assert pl.read_csv(files / "sales.csv", infer_schema=False).rows() == [("C2", "2020-06-01", "NA"), ("C4", "2023-03-01", "4")]
    assert set(pl.read_parquet(files / "pseudo.parquet")["customer_id"]) == {hashed("C2"), hashed("C4")}
    log = audit.read_text()
    assert "C1" not in log and "C3" not in log
    records = read_audit(audit)
    assert len(records) == 4 and all(r.subjects == sorted([hashed("C1"), hashed("C3")]) for r in records)
    before = {p.name: p.read_bytes() for p in files.glob("*.*")}
    again = invoke("privacy", "erase", *[str(p) for p in sorted(files.glob("*.*"))], "--id", "C1", "--id", "C3", "--audit", str(audit), "--format", "csv")
    assert again.exit_code == 0
    assert set(pl.read_csv(again.stdout.encode())["rows_removed"]) == {0}
    assert {p.name: p.read_bytes() for p in files.glob("*.*")} == before  # nothing rewritten
    assert len(read_audit(audit)) == 8


def test_retain_drops_records_before_the_first_day_kept(files: Path, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    r = invoke("privacy", "retain", "-t", str(files / "sales.csv"), "--as-of", "2026-03-01", "--period", "transactions=3y",
               "--audit", str(audit), "--format", "csv")
    assert r.exit_code == 0, r.stderr
    # 2026-03-01 - 3y = 2023-03-01: 2023-03-01 and 2024-03-01 stay; 2023-02-28, 2020-06-01, 2015-01-02 go.
    assert pl.read_csv(files / "sales.csv", infer_schema=False)["date"].to_list() == ["2024-03-01", "2023-03-01"]
    row = pl.read_csv(r.stdout.encode()).row(0, named=True)
    assert (row["kept_from"], row["rows_before"], row["rows_removed"], row["rows_after"]) == ("2023-03-01", 5, 3, 2)
    (record,) = read_audit(audit)
    assert (record.action, record.kept_from, record.rows_removed, record.period) == ("retain", "2023-03-01", 3, "3y")


def test_retain_drops_customers_without_activity_for_the_period(tmp_path: Path) -> None:
    pl.DataFrame({"customer_id": ["C1", "C2", "C3", "C4", "C5", "C6", "C7"],
                  "signup_date": ["2015-01-01", "2019-01-01", "2020-01-01", "", "2025-12-01", "", "2018-01-01"],
                  "email": [f"c{i}@example.org" for i in range(1, 8)]}).write_csv(tmp_path / "customers.csv")
    pl.DataFrame({"customer_id": ["C1", "C1", "C2", "C3", "C4", "C7"],
                  "date": ["2015-01-02", "2024-03-01", "2020-06-01", "2023-02-28", "2023-03-01", "2019-01-01"],
                  "amount": ["1", "2", "3", "4", "5", "6"]}).write_csv(tmp_path / "sales.csv")
    pl.DataFrame({"customer_id": ["C7"], "timestamp": ["2024-05-05 10:00:00"], "channel": ["email"], "stage": ["visit"]}).write_csv(tmp_path / "tp.csv")
    audit = tmp_path / "audit.jsonl"
    r = invoke("privacy", "retain", "-c", str(tmp_path / "customers.csv"), "-t", str(tmp_path / "sales.csv"), "--touchpoints",
               str(tmp_path / "tp.csv"), "--as-of", "2026-03-01", "--period", "transactions=3y", "--audit", str(audit), "--format", "csv")
    assert r.exit_code == 0, r.stderr
    # First day kept: 2026-03-01 - 3y = 2023-03-01. Last activity: C1 2024-03-01 (purchase), C2 2020-06-01, C3 2023-02-28
    # (the day before: goes), C4 2023-03-01 (kept), C5 2025-12-01 (signup), C6 none (undated: kept), C7 2024-05-05 (touchpoint).
    # C2's purchases all go with transactions=3y, yet C2 goes too: activity is read before any file is pruned.
    assert pl.read_csv(tmp_path / "customers.csv")["customer_id"].to_list() == ["C1", "C4", "C5", "C6", "C7"]
    table = pl.read_csv(r.stdout.encode())
    row = table.filter(pl.col("kind") == "customers").row(0, named=True)
    assert (row["date_column"], row["period"], row["kept_from"], row["rows_before"], row["rows_removed"], row["undated"]) == (
        "last activity", "3y", "2023-03-01", 7, 2, 1)
    assert pl.read_csv(tmp_path / "sales.csv")["customer_id"].to_list() == ["C1", "C4"]
    assert {rec.file.rsplit("/", 1)[-1]: rec.rows_removed for rec in read_audit(audit)} == {"customers.csv": 2, "sales.csv": 4, "tp.csv": 0}
    assert all("C2" not in line and "c2@" not in line for line in audit.read_text().splitlines())
