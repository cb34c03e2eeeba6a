"""Data-quality validation of every input kind: findings with severity, rows and examples, as a Report.

Example:
    >>> from fidelcli.io.read import scan_table
    >>> from fidelcli.validate import validate
    >>> report = validate({"transactions": scan_table("sales.csv", "transactions", strict=False)})
    >>> report.passed, report.summary.error
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path

from fidelcli.errors import MappingError
from fidelcli.io.columns import KINDS
from fidelcli.io.read import Table, scan_table
from fidelcli.validate.checks import check_table
from fidelcli.validate.findings import CODES, SEVERITIES, FileInfo, Finding, Report, Summary, from_mapping_error, summarize

__all__ = ["CODES", "FileInfo", "Finding", "Report", "Summary", "from_mapping_error", "scan_for_validation", "validate"]


def scan_for_validation(
    source: str | Path, kind: str, *, columns: dict[str, str] | None = None, date_format: str | None = None
) -> Table | Finding:
    """Scan a source leniently for `validate`: a missing or ambiguous column becomes a Finding, not an error.

    Raises
    ------
    InputError: the source cannot be read at all (missing file, unsupported type); `--map` mistakes.
    """
    try:
        return scan_table(source, kind, columns=columns, date_format=date_format, strict=False)
    except MappingError as exc:
        found = from_mapping_error(exc, kind, Path(str(source)).name)
        if found is None:
            raise
        return found


def validate(
    tables: Mapping[str, Table],
    *,
    as_of: dt.date | None = None,
    examples: int = 5,
    problems: Iterable[Finding] = (),
) -> Report:
    """Check every table and the ids between them; return the findings as a Report.

    What is checked: columns (required fields mapped, date formats decidable, personal data present),
    values (empty required and optional fields, unparseable dates, numbers and yes/no values, exact
    duplicate rows, duplicate customer ids, future and implausible dates, negative and zero amounts,
    outliers, score ranges, subscriptions ending before they start) and customer ids of every table
    that are absent from the customers table. `docs/validate.md` lists every code and its severity.

    Parameters
    ----------
    tables: {input kind: Table}, scanned with `scan_table(..., strict=False)` (or `scan_for_validation`).
    as_of: analysis date (exclusive): dates on or after it are in the future. Default: tomorrow, so only
        dates after today are.
    examples: how many row numbers and example values to keep per finding.
    problems: findings already known (columns that could not be mapped), included in the report.

    Returns
    -------
    Report: findings sorted by file (in input-kind order), severity, code and column; `passed` is True
    when no finding is an error.
    """
    reference = as_of or dt.date.today() + dt.timedelta(days=1)
    problems = list(problems)
    customer_ids = None
    if "customers" in tables and "customer_id" in tables["customers"].exprs:
        ids = tables["customers"].exprs["customer_id"]
        customer_ids = tables["customers"].raw.select(ids.drop_nulls().unique().alias("id")).collect()["id"]
    files: list[FileInfo] = []
    findings: list[Finding] = []
    for kind in tables:
        info, found = check_table(tables[kind], as_of=reference, examples=examples, customer_ids=customer_ids)
        files.append(info)
        findings += found
    for p in problems:
        if (p.kind, p.file) not in {(f.kind, f.file) for f in files}:
            files.append(FileInfo(kind=p.kind, file=p.file))
    findings += problems
    files.sort(key=lambda f: KINDS.index(f.kind) if f.kind in KINDS else len(KINDS))
    rank = {(f.kind, f.file): i for i, f in enumerate(files)}
    findings.sort(key=lambda f: (rank[f.kind, f.file], SEVERITIES.index(f.severity), f.code, f.column or "", f.field or ""))
    summary = summarize(findings)
    return Report(as_of=reference, files=files, findings=findings, summary=summary, passed=summary.error == 0)
