"""Data-quality validation of every input kind: findings with severity, rows and examples, as a Report.

Example:
    >>> from fidelcli.io.read import scan_table
    >>> from fidelcli.validate import validate
    >>> import datetime as dt
    >>> report = validate({"transactions": scan_table("sales.csv", "transactions", lenient=True)}, today=dt.date.today())
    >>> report.passed, report.summary.error
"""

from __future__ import annotations

import datetime as dt
import glob
from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl

from fidelcli.errors import ConfigError, InputError, MappingError
from fidelcli.io.columns import KINDS, Kind
from fidelcli.io.read import TEXT_SUFFIXES, Table, scan_table
from fidelcli.privacy.mask import masked, personal_kind
from fidelcli.validate.checks import check_table
from fidelcli.validate.findings import (
    CODES,
    SEVERITIES,
    FileInfo,
    Finding,
    Report,
    Summary,
    from_input_error,
    from_mapping_error,
    mask_finding,
    summarize,
)

__all__ = ["CODES", "FileInfo", "Finding", "Report", "Summary", "from_mapping_error", "scan_for_validation", "scan_problem", "validate"]

SUPPORTED_SUFFIXES = TEXT_SUFFIXES | {".parquet", ".xlsx"}
# Errors of a pass over a file's contents that say the file cannot be read (a ragged row, an encoding).
_READ_ERRORS = (InputError, pl.exceptions.ComputeError, pl.exceptions.NoDataError)


def _suffix(path: Path) -> str:
    suffixes = [x.lower() for x in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _opens(source: str | Path) -> bool:
    """True when `source` names existing files of a type fidelcli reads: an error reading it is then about
    its contents (a finding), not about the path or the type (a usage error, exit 2)."""
    s = str(source)
    if "://" in s:  # a database: its errors are about the connection or the query
        return False
    if any(ch in s for ch in "*?["):
        candidates = [Path(p) for p in glob.glob(s, recursive=True)]
    elif Path(s).is_dir():
        candidates = list(Path(s).rglob("*"))
    else:
        candidates = [Path(s)]
    return any(p.is_file() and _suffix(p) in SUPPORTED_SUFFIXES for p in candidates)


def _is_blank(source: str | Path) -> bool:
    """True for a plain file holding nothing but white space (or a byte-order mark)."""
    path = Path(str(source))
    if not path.is_file() or path.suffix.lower() == ".gz" or path.stat().st_size > 1 << 16:
        return False
    return not path.read_bytes().removeprefix(b"\xef\xbb\xbf").strip()


def scan_problem(exc: InputError, kind: str, source: str | Path) -> Finding | None:
    """The finding for an error raised while scanning `source` for `validate`, or None when the error is
    not about the data: a missing file, an unsupported type, a database that cannot be queried, a
    `--map` mistake (those stay errors: exit 2).

    Data problems: a missing or ambiguous column (`missing-column`, `ambiguous-column`), an empty file
    (`empty-file`), contents that cannot be read, such as ragged rows or duplicate column names
    (`unreadable-file`, located by the exception's column and row).
    """
    file = Path(str(source)).name if "://" not in str(source) else str(source).split("?")[0]
    if isinstance(exc, MappingError):
        return from_mapping_error(exc, kind, file)
    if not _opens(source):
        return None
    return from_input_error(exc, kind, file, empty=_is_blank(source))


def scan_for_validation(
    source: str | Path, kind: Kind, *, columns: dict[str, str] | None = None, date_format: str | None = None, show_values: bool = False
) -> Table | Finding:
    """Scan a source leniently for `validate`: a problem of the data (a missing or ambiguous column, an
    empty or unreadable file) becomes a Finding, not an error (see `scan_problem`).

    Raises
    ------
    InputError: the source cannot be opened at all (missing file, unsupported type); `--map` mistakes.
    """
    try:
        return scan_table(source, kind, columns=columns, date_format=date_format, lenient=True, show_values=show_values)
    except InputError as exc:
        found = scan_problem(exc, kind, source)
        if found is None:
            raise
        return found


def _unreadable(exc: Exception, table: Table) -> Finding:
    if not isinstance(exc, InputError):  # Polars' own reading error: its first line says what it met
        exc = InputError(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, file=table.file)
    return from_input_error(exc, table.kind, table.file)


def _mask_file(info: FileInfo) -> FileInfo:
    """A file's mapping without column names that are themselves personal values (a header-less file)."""
    personal = {c for c in info.columns.values() if personal_kind(c) in ("email", "phone", "iban")}
    if not personal:
        return info
    return info.model_copy(update={"columns": {f: masked(c) if c in personal else c for f, c in info.columns.items()}})


def validate(
    tables: Mapping[str, Table],
    *,
    as_of: dt.date | None = None,
    today: dt.date | None = None,
    examples: int = 5,
    problems: Iterable[Finding] = (),
    show_values: bool = False,
) -> Report:
    """Check every table and the ids between them; return the findings as a Report.

    What is checked: columns (required fields mapped, date formats decidable, personal data present),
    values (empty required and optional fields, unparseable dates, numbers and yes/no values, exact
    duplicate rows, duplicate customer ids, future and implausible dates, negative and zero amounts,
    outliers, score ranges, subscriptions ending before they start) and customer ids of every table
    that are absent from the customers table; files with no data rows, and files whose contents cannot be
    read (a ragged row met during the pass: `unreadable-file`, instead of an exception).
    `docs/validate.md` lists every code and its severity.

    Personal data is never in the report unless `show_values`: an example value that looks like an
    email address, a phone number, an IBAN or a name becomes its kind (`an email address`) in every
    column, and messages are scrubbed the same way; findings on personal-data columns have no examples.

    Parameters
    ----------
    tables: {input kind: Table}, scanned with `scan_table(..., lenient=True)` (or `scan_for_validation`).
    as_of: analysis date (exclusive): dates on or after it are in the future. Default: the day after
        `today`, so only dates after today are.
    today: the current date, for the default `as_of` (the library never reads the clock: the CLI
        passes the system date). One of `as_of` and `today` is required.
    examples: how many row numbers and example values to keep per finding.
    problems: findings already known (columns that could not be mapped), included in the report.
    show_values: keep personal values in examples and messages (`--show-values`).

    Returns
    -------
    Report: findings sorted by file (in input-kind order), severity, code and column; `passed` is True
    when no finding is an error.

    Raises
    ------
    ConfigError: neither `as_of` nor `today` is given.
    """
    if as_of is not None:
        reference = as_of
    elif today is not None:
        reference = today + dt.timedelta(days=1)
    else:
        raise ConfigError("validate needs an analysis date: as_of, or today for the default (the day after)",
                          hint="pass today=datetime.date.today()")
    problems = list(problems)
    customer_ids = None
    if "customers" in tables and "customer_id" in tables["customers"].exprs:
        ids = tables["customers"].exprs["customer_id"]
        try:
            customer_ids = tables["customers"].raw.select(ids.drop_nulls().unique().alias("id")).collect()["id"]
        except _READ_ERRORS:
            customer_ids = None  # the customers file is reported unreadable below; no orphan check without it
    files: list[FileInfo] = []
    findings: list[Finding] = []
    for kind, table in tables.items():
        try:
            info, found = check_table(table, as_of=reference, examples=examples, customer_ids=customer_ids)
        except _READ_ERRORS as exc:
            info, found = FileInfo(kind=kind, file=table.file), [_unreadable(exc, table)]
        # Where each field comes from, as the mapping line says it: `column 1`, `Quantity x Price`.
        files.append(info.model_copy(update={"columns": table.sources()}))
        findings += found
    for p in problems:
        if (p.kind, p.file) not in {(f.kind, f.file) for f in files}:
            files.append(FileInfo(kind=p.kind, file=p.file))
    findings += problems
    if not show_values:
        findings = [mask_finding(f) for f in findings]
        files = [_mask_file(f) for f in files]
    files.sort(key=lambda f: KINDS.index(f.kind) if f.kind in KINDS else len(KINDS))
    rank = {(f.kind, f.file): i for i, f in enumerate(files)}
    findings.sort(key=lambda f: (rank[f.kind, f.file], SEVERITIES.index(f.severity), f.code, f.column or "", f.field or ""))
    summary = summarize(findings)
    return Report(as_of=reference, files=files, findings=findings, summary=summary, passed=summary.error == 0)
