"""Validation findings and the report: data, not exceptions (JSON for CI is `Report.model_dump_json()`)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Literal

import polars as pl
from pydantic import BaseModel, Field

from fidelcli.errors import InputError, MappingError
from fidelcli.privacy.mask import masked, personal_kind, scrub
from fidelcli.result import Figure

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")

# Every code, its severity and meaning (docs/validate.md repeats this table; a test keeps them in step).
CODES: dict[str, tuple[Severity, str]] = {
    "missing-column": ("error", "a required field has no column; the message lists the candidate columns"),
    "missing-amount": ("warning", "transactions without an amount column, nor quantity and unit_price: no monetary figures"),
    "ambiguous-column": ("error", "several columns match one field; choose one with --map"),
    "ambiguous-date": ("error", "a date column may be day/month or month/day; give --date-format"),
    "unknown-date-format": ("error", "a date column is in no known format; give --date-format"),
    "unparseable-date": ("error", "values of a date column that are not dates (with --date-format or the inferred one)"),
    "unparseable-number": ("error", "values of a numeric column that are not numbers"),
    "unparseable-bool": ("error", "values of a yes/no column that are not yes/no, true/false, 1/0"),
    "null-required": ("error", "empty values in a required field"),
    "missing-customer": ("warning", "transactions without a customer id (guest purchases): the analyses drop them"),
    "null-optional": ("info", "empty values in an optional field"),
    "empty-column": ("warning", "an optional field whose column is empty on every row"),
    "duplicate-row": ("warning", "rows identical to an earlier row on every column (rows: the repeats)"),
    "duplicate-id": ("error", "a customer id that appears on more than one row of the customers table (rows: all of them)"),
    "future-date": ("warning", "dates after today, or on or after --as-of (the analyses ignore them)"),
    "implausible-date": ("warning", "dates before 1990-01-01, or birth dates giving an age below 0 or above 120"),
    "negative-amount": ("info", "negative transaction amounts: returns or cancellations, netted by default"),
    "negative-value": ("warning", "negative spend, price, revenue or cost"),
    "zero-amount": ("warning", "transaction amounts equal to zero"),
    "outlier": ("info", "positive values above Q3 x (Q3/Q1)^3, i.e. Q3 + 3 x IQR on the log scale (20 positive values or more)"),
    "orphan-customer": ("warning", "customer ids absent from the customers table"),
    "out-of-range": ("error", "scores outside their scale: nps 0-10, csat 1-5, ces 1-7, satisfaction 1-5"),
    "unknown-score-type": ("warning", "long-format survey rows whose type is not nps, csat or ces"),
    "end-before-start": ("error", "subscriptions whose end_date is before their start_date"),
    "empty-file": ("error", "a file with no data rows: nothing at all, or a header only"),
    "unreadable-file": ("error", "a file whose contents cannot be read: ragged rows, duplicate column names, a column of the wrong type"),
    "pii-column": ("info", "a column holding personal data (email, phone, name, birth date, address); values never shown"),
}


class Finding(BaseModel):
    """One problem found in one column (or row set) of one file."""

    code: str = Field(description="stable kebab-case identifier, e.g. unparseable-date")
    severity: Severity
    kind: str = Field(description="input kind: transactions, customers, surveys, ...")
    file: str
    column: str | None = Field(default=None, description="source column as written in the file; None for whole rows")
    field: str | None = Field(default=None, description="canonical field the column is mapped to")
    rows: list[int] = Field(default_factory=list, description="1-based data rows (row 1 = first line after the header), first N")
    count: int = Field(default=0, description="number of rows concerned (0 for a column-level finding)")
    examples: list[str] = Field(default_factory=list, description="first N offending values; never values of personal-data columns")
    message: str


class Summary(BaseModel):
    """Number of findings per severity."""

    error: int = 0
    warning: int = 0
    info: int = 0


class FileInfo(BaseModel):
    """One input checked."""

    kind: str
    file: str
    rows: int | None = Field(default=None, description="data rows; None when the file could not be mapped")
    columns: dict[str, str] = Field(default_factory=dict, description="{field: source column}")


FINDING_COLUMNS: dict[str, type[pl.DataType]] = {
    "severity": pl.String, "code": pl.String, "kind": pl.String, "file": pl.String, "column": pl.String,
    "count": pl.Int64, "rows": pl.String, "examples": pl.String, "message": pl.String,
}


class Report(BaseModel):
    """Result of `validate`: findings sorted by file, severity, code and column.

    It satisfies the result protocol (`fidelcli.result.Result`): `tables()` holds the findings,
    `headline()` the counts, and `to_json()` is the JSON report (`--format json`, docs/validate.md).
    """

    as_of: dt.date = Field(description="reference date of the date checks (exclusive)")
    files: list[FileInfo]
    findings: list[Finding]
    summary: Summary
    passed: bool = Field(description="no error")
    # The result protocol's warnings: validation has none of its own (its problems are findings).
    warnings: list[str] = Field(default_factory=list, exclude=True)

    def failed(self, *, strict: bool = False) -> bool:
        """True when a finding is an error (with `strict`: an error or a warning)."""
        return self.summary.error > 0 or (strict and self.summary.warning > 0)

    def findings_frame(self) -> pl.DataFrame:
        """One row per finding (`FINDING_COLUMNS`): the column, else the field; rows and examples joined as
        text (`, …` when more rows are concerned than listed)."""
        return pl.DataFrame(
            [
                {
                    "severity": f.severity, "code": f.code, "kind": f.kind, "file": f.file, "column": f.column or f.field,
                    "count": f.count, "rows": ", ".join(map(str, f.rows)) + (", …" if f.count > len(f.rows) else ""),
                    "examples": ", ".join(f.examples), "message": f.message,
                }
                for f in self.findings
            ],
            schema=FINDING_COLUMNS,
        )

    def tables(self) -> dict[str, pl.DataFrame]:
        """findings (`findings_frame`)."""
        return {"findings": self.findings_frame()}

    def headline(self) -> dict[str, Figure]:
        """The reference date, the files checked, the findings per severity and whether it passed."""
        return {"as_of": self.as_of.isoformat(), "files": len(self.files), "error": self.summary.error,
                "warning": self.summary.warning, "info": self.summary.info, "passed": self.passed}

    def to_json(self) -> str:
        """The JSON report (docs/validate.md): `model_dump` as indented JSON, non-ASCII kept."""
        return json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False)

    def verdict(self, *, strict: bool = False) -> str:
        """`passed: 0 errors, 1 warning, 0 info in 1 file`, or `FAILED (strict): ...`."""
        s = self.summary
        counts = f"{s.error} error{'s' * (s.error != 1)}, {s.warning} warning{'s' * (s.warning != 1)}, {s.info} info"
        files = f"{len(self.files)} file{'s' * (len(self.files) != 1)}"
        return f"{'FAILED' if self.failed(strict=strict) else 'passed'}{' (strict)' if strict else ''}: {counts} in {files}"


def finding(code: str, *, kind: str, file: str, **values: object) -> Finding:
    """A `Finding` whose severity is the one documented for `code`."""
    return Finding(code=code, severity=CODES[code][0], kind=kind, file=file, **values)  # type: ignore[arg-type]


# The column-mapping problems that are in the data (findings); other `MappingError`s are usage mistakes.
MAPPING_FINDINGS = ("missing-column", "ambiguous-column")


def from_mapping_error(exc: MappingError, kind: str, file: str) -> Finding | None:
    """The finding for a column-mapping problem of the data (missing or ambiguous column), else None.

    The finding's code and field are the exception's. `--map` mistakes (unknown field, no such column)
    and a money column that is neither clearly a unit price nor a line total are usage errors, not
    findings: None.
    """
    if exc.code not in MAPPING_FINDINGS:
        return None
    message = exc.message + (f"; {exc.hint}" if exc.hint else "")
    return finding(exc.code, kind=kind, file=exc.file or file, field=exc.field, message=message)


def from_input_error(exc: InputError, kind: str, file: str, *, empty: bool = False) -> Finding:
    """The finding for a file whose contents could not be read (`empty`: it holds nothing at all).

    The exception's column and row, when it names them, locate the finding.
    """
    if empty:
        return finding("empty-file", kind=kind, file=file, message="the file is empty: no header and no data rows; export the table again")
    message = exc.message + (f"; {exc.hint}" if exc.hint else "")
    rows = [exc.row] if exc.row is not None else []
    if not message.startswith("cannot read"):
        message = f"cannot read the file: {message}"
    return finding("unreadable-file", kind=kind, file=file, column=exc.column, rows=rows, count=len(rows), message=message)


def mask_finding(f: Finding) -> Finding:
    """`f` without personal values: examples that look like an email address, a phone number, an IBAN
    or a name become their kind (`an email address`), whatever the column; the message is scrubbed,
    and a column name that is itself personal (a header-less file) is masked too."""
    column = f.column
    if column is not None and personal_kind(column) in ("email", "phone", "iban"):
        column = masked(column)
    return f.model_copy(update={"examples": [masked(v) for v in f.examples], "message": scrub(f.message), "column": column})


def summarize(findings: list[Finding]) -> Summary:
    """Count findings per severity."""
    return Summary(**{s: sum(f.severity == s for f in findings) for s in SEVERITIES})
