"""The audit log of `privacy erase` and `privacy retain`: one JSON line per file examined.

A line says when (UTC), which run, which action, which file (absolute path), how many rows it had and
how many were removed; for an erasure, whose data was removed as keyed pseudonyms only (never an id in
clear: `fidelcli.privacy.pseudonymize.pseudonym`), with the fingerprint of the key that made them
(`key_id`), so that an auditor holding the key can check that a given person's erasure was done.

Lines are appended, each with one `write` of the whole line followed by `fsync`, right after the file
it describes was replaced: a run that stops midway has logged exactly the files it changed. The log is
created readable by its owner only (mode 600).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from pydantic import BaseModel

from fidelcli.errors import OutputError


class AuditRecord(BaseModel):
    """One line of the audit log."""

    time: str
    run: str
    action: str
    file: str
    sheet: str | None = None
    rows_before: int
    rows_removed: int
    rows_after: int
    # erase: the column matched, the references (referred_by) cleared, and the pseudonyms of the ids asked for.
    id_column: str | None = None
    references_cleared: int | None = None
    subjects: list[str] | None = None
    key_id: str | None = None
    # retain: the date column, the retention period and the first day kept.
    date_column: str | None = None
    period: str | None = None
    kept_from: str | None = None


def utc_now() -> str:
    """The current time in UTC, ISO 8601 to the second (`2025-03-01T02:00:00Z`)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def append_audit(path: Path, record: AuditRecord) -> None:
    """Append one record to the JSON-lines log at `path` (created with mode 600 if missing)."""
    line = (json.dumps(record.model_dump(mode="json", exclude_none=True), ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise OutputError(f"cannot write the audit log: {exc.strerror}", file=str(path), hint="choose a writable path with --audit") from None
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_audit(path: Path) -> list[AuditRecord]:
    """The records of an audit log, in order."""
    return [AuditRecord.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
