"""`privacy retain`: drop the records older than their retention period (GDPR art. 5(1)(e), storage limitation).

Each input kind has a period (`[privacy.retention]` of the config; defaults in `fidelcli.config.Privacy`)
and a date that ages its records: transactions by `date`, touchpoints by `timestamp`, campaigns by
`sent_at`, surveys by `date`, subscriptions by `end_date` (a running subscription, with no end, is
kept whatever its start), customers by their last activity: the latest of their purchases, their
interactions (touchpoints) and their signup and enrollment dates (`_retain_customers`; 3 years by
default, the CNIL's term after the end of the commercial relationship). The first day kept is `as_of` minus the period, in calendar units
(`3y` before 2025-03-01 is 2022-03-01; before 2024-02-29 `1y` is 2023-02-28): a record dated that day
is kept, the day before goes. A record whose date is empty or unreadable is kept (its age is unknown)
and counted in a warning. Files are rewritten atomically, left untouched when nothing goes, and each
file examined gets one audit line (`fidelcli.privacy.audit`).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from fidelcli.analyses.timeunits import parse_horizon
from fidelcli.errors import MappingError
from fidelcli.io.columns import Kind, fields
from fidelcli.io.read import scan_table
from fidelcli.privacy.audit import AuditRecord, append_audit, utc_now
from fidelcli.privacy.files import data_files, read_data_file, write_data_file
from fidelcli.result import Figure, JsonResult

# The date that ages a record of each kind.
AGE_FIELDS: dict[Kind, str] = {
    "transactions": "date", "touchpoints": "timestamp", "campaigns": "sent_at", "surveys": "date", "subscriptions": "end_date",
}
_OFFSET = {"day": "d", "week": "w", "month": "mo", "year": "y"}
FILES_SCHEMA: dict[str, pl.DataType] = {
    "kind": pl.String(), "file": pl.String(), "date_column": pl.String(), "period": pl.String(), "kept_from": pl.Date(),
    "rows_before": pl.Int64(), "rows_removed": pl.Int64(), "rows_after": pl.Int64(), "undated": pl.Int64(), "status": pl.String(),
}


def kept_from(as_of: dt.date, period: str) -> dt.date:
    """The first day kept: `as_of` minus `period` (`10y`, `36m`, `52w`, `90d`), by the calendar; a day
    missing in the target month is its last day (2024-02-29 minus 1y is 2023-02-28).

    Raises ConfigError for a period that is not a whole number of d, w, m or y.
    """
    horizon = parse_horizon(period)
    day: dt.date = pl.select(pl.lit(as_of).dt.offset_by(f"-{horizon.count}{_OFFSET[horizon.unit]}")).item()
    return day


@dataclass
class RetainResult(JsonResult):
    """`privacy retain`: table `files` (kind, file, date_column, period, kept_from, rows_before,
    rows_removed, rows_after, undated: rows kept because their date is empty or unreadable, status:
    pruned or unchanged)."""

    files: pl.DataFrame
    as_of: dt.date
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pl.DataFrame]:
        return {"files": self.files}

    def headline(self) -> dict[str, Figure]:
        return {"as_of": self.as_of.isoformat(), "files": self.files.height, "rows_removed": int(self.files["rows_removed"].sum()),
                "files_changed": int((self.files["status"] == "pruned").sum())}


def _retain_file(path: Path, kind: Kind, *, period: str, as_of: dt.date, columns: Mapping[str, str], date_format: str | None,
                 run: str, audit: Path) -> dict[str, object]:
    name = AGE_FIELDS[kind]
    table = scan_table(path, kind, columns=dict(columns), date_format=date_format, lenient=True)
    if name not in table.exprs:
        raise table.unparsed.get(name) or MappingError(
            f"no {name} column to age the {kind} by", code="missing-column", field=name, file=path.name, hint=f"name it with --map {name}=COLUMN")
    column = table.mapping[name]
    day = table.exprs[name]
    if next(f.type for f in fields(kind) if f.name == name) == "datetime":
        day = day.dt.date()
    first = kept_from(as_of, period)
    data = read_data_file(path)
    target = next(iter(data.sheets))  # the table read: a workbook's first sheet (the others are kept as they are)
    old = (day < first).fill_null(False)
    missing = day.is_null() if kind != "subscriptions" else pl.col(column).is_not_null() & day.is_null()
    counts = data.sheets[target].select(n=pl.len(), old=old.sum(), undated=missing.sum()).collect(engine="streaming").row(0, named=True)
    if counts["old"]:
        write_data_file(data, lambda s, lf: lf.filter(~old) if s == target else lf)
    row: dict[str, object] = {
        "kind": kind, "file": str(path), "date_column": column, "period": period, "kept_from": first, "rows_before": counts["n"],
        "rows_removed": counts["old"], "rows_after": counts["n"] - counts["old"], "undated": counts["undated"],
        "status": "pruned" if counts["old"] else "unchanged",
    }
    append_audit(audit, AuditRecord(
        time=utc_now(), run=run, action="retain", file=str(path.resolve()), sheet=target, rows_before=counts["n"], rows_removed=counts["old"],
        rows_after=counts["n"] - counts["old"], date_column=column, period=period, kept_from=first.isoformat(),
    ))
    return row


# The customer's own dates that show activity; purchases and interactions come from the other files.
CUSTOMER_DATES = ("signup_date", "enrollment_date")
# The files whose records date a customer's last activity, and by which column.
ACTIVITY_FIELDS: dict[Kind, str] = {"transactions": "date", "touchpoints": "timestamp"}


def last_activity(sources: Mapping[Kind, Sequence[str | Path]], *, columns: Mapping[Kind, Mapping[str, str]],
                  date_format: str | None) -> pl.DataFrame:
    """customer_id, last: each customer's latest purchase (transactions' date) or interaction
    (touchpoints' day) in the files of `sources`, one streaming pass per file."""
    parts = []
    for kind, name in ACTIVITY_FIELDS.items():
        for path in data_files(sources.get(kind, [])):
            table = scan_table(path, kind, columns=dict(columns.get(kind, {})), date_format=date_format, lenient=True)
            if name not in table.exprs or "customer_id" not in table.exprs:
                continue
            day = table.exprs[name].dt.date() if kind == "touchpoints" else table.exprs[name]
            parts.append(table.raw.select(customer_id=table.exprs["customer_id"].cast(pl.String), last=day.cast(pl.Date)))
    if not parts:
        return pl.DataFrame(schema={"customer_id": pl.String, "last": pl.Date})
    return pl.concat(parts).drop_nulls("customer_id").group_by("customer_id").agg(pl.col("last").max()).collect(engine="streaming")


def _retain_customers(path: Path, *, period: str, as_of: dt.date, columns: Mapping[str, str], date_format: str | None,
                      activity: pl.DataFrame, run: str, audit: Path) -> dict[str, object]:
    """Drop the customers whose last activity (`last_activity`, and their own signup and enrollment
    dates) is before the first day kept; a customer with no dated activity at all is kept (undated)."""
    table = scan_table(path, "customers", columns=dict(columns), date_format=date_format, lenient=True)
    if "customer_id" not in table.exprs:
        raise MappingError("no customer_id column in the customers table", code="missing-column", field="customer_id", file=path.name,
                           hint="name it with --map customer_id=COLUMN")
    first = kept_from(as_of, period)
    own = [table.exprs[c].cast(pl.Date) for c in CUSTOMER_DATES if c in table.exprs]
    ids = table.raw.select(customer_id=table.exprs["customer_id"].cast(pl.String),
                           own=pl.max_horizontal(own) if own else pl.lit(None, pl.Date)).collect(engine="streaming")
    last = ids.join(activity, on="customer_id", how="left", maintain_order="left").select(
        "customer_id", last=pl.max_horizontal("own", "last"))
    gone = last.filter(pl.col("last") < first).get_column("customer_id").unique()
    undated = int(last.get_column("last").is_null().sum())
    data = read_data_file(path)
    target = next(iter(data.sheets))
    column = table.mapping["customer_id"]
    old = pl.col(column).cast(pl.String).str.strip_chars().is_in(gone.implode()).fill_null(False)
    removed = int(data.sheets[target].select(old.sum()).collect(engine="streaming").item())
    if removed:
        write_data_file(data, lambda s, lf: lf.filter(~old) if s == target else lf)
    append_audit(audit, AuditRecord(
        time=utc_now(), run=run, action="retain", file=str(path.resolve()), sheet=target, rows_before=ids.height, rows_removed=removed,
        rows_after=ids.height - removed, date_column="last activity", period=period, kept_from=first.isoformat(),
    ))
    return {"kind": "customers", "file": str(path), "date_column": "last activity", "period": period, "kept_from": first,
            "rows_before": ids.height, "rows_removed": removed, "rows_after": ids.height - removed, "undated": undated,
            "status": "pruned" if removed else "unchanged"}


def retain(sources: Mapping[Kind, Sequence[str | Path]], *, periods: Mapping[str, str], as_of: dt.date, audit: Path,
           columns: Mapping[Kind, Mapping[str, str]] | None = None, date_format: str | None = None, run: str | None = None) -> RetainResult:
    """Drop, in every file of each kind, the records older than the kind's retention period.

    Parameters
    ----------
    sources: {kind: files, globs or directories}; kinds among `AGE_FIELDS`, and `customers`: a
        customer goes when her last activity (latest purchase in the transactions given, latest
        interaction in the touchpoints given, signup or enrollment date) is before the first day kept.
    periods: {kind: period such as `10y`, `36m`}.
    as_of: the day ages are counted at (the CLI: today, or --as-of: storage limitation runs on the
        calendar, not on the data's latest date).
    audit: the JSON-lines audit log, appended to.
    columns: explicit column maps per kind (`[columns.<kind>]`, --map).
    date_format: strptime format of the dates, when inference refuses.

    Returns
    -------
    RetainResult: per file, the first day kept and the rows removed.
    """
    run = run or secrets.token_hex(6)
    maps = columns or {}
    # Customers' last activity is read before any file is pruned: a purchase about to go for its
    # age still dates the customer (it is older than the customers' period anyway, in the defaults).
    activity = last_activity(sources, columns=maps, date_format=date_format) if "customers" in sources else None
    rows = [
        _retain_customers(path, period=periods[kind], as_of=as_of, columns=maps.get(kind, {}), date_format=date_format,
                          activity=activity, run=run, audit=audit)
        if kind == "customers" and activity is not None else
        _retain_file(path, kind, period=periods[kind], as_of=as_of, columns=maps.get(kind, {}), date_format=date_format,
                     run=run, audit=audit)
        for kind, srcs in sources.items() for path in data_files(srcs)
    ]
    files = pl.DataFrame(rows, schema=FILES_SCHEMA, orient="row")
    warnings = [f"{r['file']}: {r['undated']:,} rows have no readable {r['date_column']} and were kept" for r in rows if r["undated"]]
    return RetainResult(files=files, as_of=as_of, warnings=warnings)
