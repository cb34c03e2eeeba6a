"""Write the bad-input corpus of tests/test_bad_corpus.py: one file per defect class, and manifest.json.

Run from the repository root: `python tests/data/bad/make_corpus.py` (deterministic; the files are
committed, so the test does not depend on this script). Each manifest entry gives the file, what
it plants, and what every reading command must do with it:
- "exit": the analyses' exit code (0: read correctly, 2: refused with one error line);
- "column"/"row": what that error line must name (when the defect has a column or a row);
- "validate": validate's exit code (0 clean, 1 an error finding).
Files whose defect is a planted personal value check that the value is printed nowhere.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from pathlib import Path

HERE = Path(__file__).parent
# Files too large to commit (each over 128 KiB): written into the test's copy of the corpus by `write_large`.
LARGE = ("long_line.csv", "invalid_utf8_late.csv")
EMAIL = "jean.dupont@example.com"
PHONE = "+33 6 12 34 56 78"
NAME = "Jean Dupont"


def base_rows(customers: int = 12, seed: int = 3) -> list[list[str]]:
    """customer_id, date (ISO), amount: a few purchases per customer in 2024."""
    rng = random.Random(seed)
    rows = []
    for c in range(1, customers + 1):
        for _ in range(rng.randint(1, 6)):
            day = rng.randint(1, 360)
            month, dom = min(12, 1 + day // 30), 1 + day % 28
            rows.append([f"C{c:04d}", f"2024-{month:02d}-{dom:02d}", f"{rng.randint(100, 20000) / 100:.2f}"])
    rows.sort(key=lambda r: (r[1], r[0]))
    return rows


HEADER = ["customer_id", "date", "amount"]


def csv_text(rows: list[list[str]], header: list[str] = HEADER, sep: str = ",") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def with_value(rows: list[list[str]], row: int, col: int, value: str) -> list[list[str]]:
    """Rows with data row `row` (1-based) column `col` replaced."""
    out = [list(r) for r in rows]
    out[row - 1][col] = value
    return out


def main(out: Path = HERE, *, only: tuple[str, ...] | None = None) -> None:
    """Write the corpus into `out` (every file, or only those named in `only`) and its manifest."""
    manifest: list[dict[str, object]] = []

    def add(name: str, data: bytes | str, plants: str, *, exit: int, validate: int, column: str | None = None,
            row: int | None = None, pii: str | None = None) -> None:
        path = out / name
        if (only is None and name not in LARGE) or (only is not None and name in only):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        manifest.append({"file": name, "plants": plants, "exit": exit, "validate": validate,
                         "column": column, "row": row, "pii": pii})

    small = base_rows()
    big = base_rows(customers=150, seed=5)
    # Files the foundation reads correctly: they must give exit 0 and the numbers of the plain file.
    add("ok_bom.csv", b"\xef\xbb\xbf" + csv_text(big).encode(), "UTF-8 with BOM", exit=0, validate=0)
    add("ok_cp1252.csv", csv_text([[c.replace("C0", "Cé"), d, a] for c, d, a in big], ["N° client", "date", "montant"], sep=";").encode("cp1252"),
        "Windows-1252, French header, semicolons", exit=0, validate=0)
    add("ok_decimal_comma.csv", csv_text([[c, d, a.replace(".", ",") + " €"] for c, d, a in big], sep=";"),
        "decimal comma and euro sign", exit=0, validate=0)
    add("ok_utf16.csv", csv_text(big).encode("utf-16"), "UTF-16 with BOM", exit=0, validate=0)
    # Structure defects.
    add("empty.csv", b"", "empty file", exit=2, validate=1)
    add("header_only.csv", csv_text([]), "header, no data rows", exit=2, validate=1)
    add("missing_customer.csv", csv_text([[d, a] for _, d, a in small], ["date", "amount"]), "no customer column",
        exit=2, validate=1, column="customer_id")
    add("missing_date.csv", csv_text([[c, a] for c, _, a in small], ["customer_id", "amount"]), "no date column",
        exit=2, validate=1, column="date")
    add("binary.csv", bytes(random.Random(1).randrange(256) for _ in range(4000)), "binary garbage", exit=2, validate=1)
    gz = gzip.compress(csv_text(big).encode(), mtime=0)
    add("truncated.csv.gz", gz[: len(gz) // 2], "gzip cut in the middle", exit=2, validate=1)
    add("not_a_workbook.xlsx", csv_text(small), "text named .xlsx", exit=2, validate=1)
    long = with_value(small, 3, 2, "1" * 10) + [["C0099", "2024-05-05", "12.00"]]
    add("long_line.csv", csv_text(long).replace("C0099", "C" + "9" * (200 * 1024)), "a line longer than 128 KiB",
        exit=2, validate=1)
    add("ragged_extra.csv", csv_text(small).replace(small[3][2] + "\n", small[3][2] + ",extra\n", 1),
        "row 4 has an extra field", exit=2, validate=1, row=4)
    add("ragged_missing.csv", csv_text(small).replace("," + small[4][2] + "\n", "\n", 1),
        "row 5 lacks a field", exit=2, validate=1, row=5)
    add("duplicate_columns.csv", csv_text([r + [r[2]] for r in small], HEADER + ["amount"]), "two columns named amount",
        exit=2, validate=1, column="amount")
    lines = csv_text(small).splitlines()
    changed = [ln.replace(",", ";") if i % 3 == 0 and i else ln for i, ln in enumerate(lines)]
    add("delimiter_changes.csv", "\n".join(changed) + "\n", "every third line uses ';'", exit=2, validate=1, row=3)
    # Values.
    add("text_in_amount.csv", csv_text(with_value(small, 3, 2, "n/a euros")), "text in an amount", exit=2, validate=1,
        column="amount", row=3)
    add("email_in_amount.csv", csv_text(with_value(small, 7, 2, EMAIL)), "an email in an amount", exit=2, validate=1,
        column="amount", row=7, pii=EMAIL)
    add("phone_in_amount.csv", csv_text(with_value(small, 5, 2, PHONE)), "a phone number in an amount", exit=2,
        validate=1, column="amount", row=5, pii=PHONE)
    add("name_in_date.csv", csv_text(with_value(small, 6, 1, NAME)), "a name in a date", exit=2, validate=1,
        column="date", row=6, pii=NAME)
    add("email_in_date.csv", csv_text(with_value(small, 2, 1, EMAIL)), "an email in a date", exit=2, validate=1,
        column="date", row=2, pii=EMAIL)
    add("amount_1e300.csv", csv_text(with_value(small, 3, 2, "1e300")), "an amount of 1e300", exit=2, validate=1,
        column="amount", row=3)
    add("amount_inf.csv", csv_text(with_value(small, 4, 2, "inf")), "an infinite amount", exit=2, validate=1,
        column="amount", row=4)
    add("amount_nan.csv", csv_text(with_value(small, 2, 2, "NaN")), "a NaN amount", exit=2, validate=1,
        column="amount", row=2)
    add("amount_cents_overflow.csv", csv_text(with_value(small, 3, 2, "99999999999999999999.99")),
        "an amount whose cents overflow 64-bit integers", exit=2, validate=1, column="amount", row=3)
    qp = [[c, d, "2", a] for c, d, a in small]
    qp[2][3] = "9" * 18
    qp[2][2] = "9" * 6
    add("quantity_price_overflow.csv", csv_text(qp, ["customer_id", "date", "quantity", "unit_price"]),
        "quantity x unit price overflowing", exit=2, validate=1, row=3)
    add("year_0201.csv", csv_text(with_value(small, 4, 1, "0201-12-10")), "a date in the year 201", exit=2, validate=1,
        column="date", row=4)
    ddmm = [[c, f"{d[8:10]}/{d[5:7]}/{d[0:4]}", a] for c, d, a in small]
    add("impossible_date.csv", csv_text(with_value([r for r in ddmm], 5, 1, "31/02/2024")), "31 February", exit=2,
        validate=1, column="date", row=5)
    amb = [[c, f"0{1 + i % 9}/0{1 + (i * 7) % 9}/2024", a] for i, (c, _, a) in enumerate(small)]
    add("ambiguous_dates.csv", csv_text(amb), "dates that read as dd/mm and mm/dd", exit=2, validate=1, column="date")
    mixed = [list(r) for r in small]
    for i in (6, 9):
        d = mixed[i - 1][1]
        mixed[i - 1][1] = f"{d[8:10]}/{d[5:7]}/{d[0:4]}"
    add("mixed_date_formats.csv", csv_text(mixed), "two rows in dd/mm/yyyy among ISO dates", exit=2, validate=1,
        column="date", row=6)
    head = csv_text(big).encode()
    filler = "".join(f"C{i % 150 + 1:04d},2024-03-{1 + i % 28:02d},{i % 90 + 10}.50\n" for i in range(60_000)).encode()
    add("invalid_utf8_late.csv", head + filler + b"C0001,2024-04-01,12\xff.00\n", "an invalid UTF-8 byte after the first MiB",
        exit=2, validate=1, row=None)
    # A directory whose files disagree on the column set.
    add("disagree/part1.csv", csv_text(small[:20]), "first part", exit=2, validate=1)
    add("disagree/part2.csv", csv_text([[c, d] for c, d, _ in small[20:]], ["customer_id", "date"]),
        "second part lacks the amount column", exit=2, validate=1)
    manifest = [m for m in manifest if not str(m["file"]).startswith("disagree/")]
    manifest.append({"file": "disagree", "plants": "a directory whose files disagree on the columns", "exit": 2,
                     "validate": 1, "column": None, "row": None, "pii": None})
    manifest.append({"file": "does_not_exist.csv", "plants": "a path that does not exist", "exit": 2, "validate": 2,
                     "column": None, "row": None, "pii": None})
    manifest.append({"file": "nothing_*.csv", "plants": "a glob that matches nothing", "exit": 2, "validate": 2,
                     "column": None, "row": None, "pii": None})
    if only is None:
        _workbook_on_second_sheet(out, big, manifest)
        (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


def write_large(out: Path) -> None:
    """Write the corpus files too large to commit into `out`."""
    main(out, only=LARGE)


def _workbook_on_second_sheet(out: Path, rows: list[list[str]], manifest: list[dict[str, object]]) -> None:
    import xlsxwriter  # a dependency of fidelcli

    path = out / "second_sheet.xlsx"
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    wb.set_properties({"created": __import__("datetime").datetime(2024, 1, 1)})
    notes = wb.add_worksheet("Notes")
    notes.write(0, 0, "Export of the shop, see the next sheet")
    data = wb.add_worksheet("Ventes")
    data.write_row(0, 0, HEADER)
    for i, (c, d, a) in enumerate(rows, start=1):
        data.write_row(i, 0, [c, d, float(a)])
    wb.close()
    manifest.append({"file": "second_sheet.xlsx", "plants": "the data is on the second sheet", "exit": 2,
                     "validate": 1, "column": None, "row": None, "pii": None})


if __name__ == "__main__":
    main()
