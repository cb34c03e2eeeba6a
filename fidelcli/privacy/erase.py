"""`privacy erase`: remove customers from every given file (the GDPR right to erasure, art. 17).

In each file (each sheet of a workbook), the customer-id column is the one named like a customer id
(the synonyms of the readers: `customer_id`, `Customer ID`, `client`, `id`...; `id_column` overrides).
A row goes when its id, read as the readers read ids (trimmed; 17850.0 is `17850`), is one of the ids
given or the keyed pseudonym of one (a file written by `privacy pseudonymize` with the same key);
a `referred_by` column that names an erased customer is emptied (the referral is the erased
person's data too). A file with no such row is left untouched; the others are rewritten atomically
(`fidelcli.privacy.files`), so running the same erasure twice changes nothing the second time.
Each file examined gets one audit line (`fidelcli.privacy.audit`) naming the erased customers by
their pseudonyms only.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from fidelcli.errors import InputError
from fidelcli.privacy.audit import AuditRecord, append_audit, utc_now
from fidelcli.privacy.files import DataFile, data_files, find_column, read_data_file, write_data_file
from fidelcli.privacy.pseudonymize import canonical_id, hmac_hex, key_id
from fidelcli.result import Figure, JsonResult

FILES_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(), "sheet": pl.String(), "id_column": pl.String(), "rows_before": pl.Int64(), "rows_removed": pl.Int64(),
    "rows_after": pl.Int64(), "references_cleared": pl.Int64(), "status": pl.String(),
}


def subjects(ids: Sequence[str], *, key: bytes) -> list[str]:
    """The keyed pseudonyms of the ids (trimmed, once each, sorted): how the audit names them."""
    clean = sorted({i.strip() for i in ids if i.strip()})
    return sorted(hmac_hex(pl.Series(clean, dtype=pl.String), key).to_list())


def read_ids(path: Path) -> list[str]:
    """The customer ids of a file: its customer-id column (by name, as in `find_column`), or, in a file
    of one column whose header is not such a name, every line (the first one included)."""
    data = read_data_file(path)
    lf = next(iter(data.sheets.values()))
    names = lf.collect_schema().names()
    column = find_column(names, "customer_id", file=data.name)
    if column is None and len(names) != 1:
        raise InputError("no customer-id column in the ids file", file=path.name, hint="name the column customer_id, or write one id a line")
    if column is None:
        values = [names[0], *lf.select(pl.first().cast(pl.String)).collect()[names[0]].to_list()]
    else:
        schema = lf.collect_schema()
        values = lf.select(canonical_id(pl.col(column), schema[column])).collect().to_series().to_list()
    return [v.strip() for v in values if v is not None and v.strip()]


@dataclass
class EraseResult(JsonResult):
    """`privacy erase`: table `files` (file, sheet, id_column, rows_before, rows_removed, rows_after,
    references_cleared, status: erased, unchanged, or no customer id column), never an id."""

    files: pl.DataFrame
    subjects: int
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pl.DataFrame]:
        return {"files": self.files}

    def headline(self) -> dict[str, Figure]:
        return {"customers": self.subjects, "files": self.files["file"].n_unique(), "rows_removed": int(self.files["rows_removed"].sum()),
                "files_changed": self.files.filter(pl.col("status") == "erased")["file"].n_unique()}


def _erase_file(data: DataFile, match: pl.Series, *, id_column: str | None, run: str, names: list[str], kid: str,
                audit: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    plans: dict[str | None, tuple[pl.Expr, list[pl.Expr]]] = {}
    for sheet, lf in data.sheets.items():
        schema = lf.collect_schema()
        column = id_column if id_column is not None and id_column in schema else find_column(schema.names(), "customer_id", file=data.name)
        referred = find_column([c for c in schema.names() if c != column], "referred_by", file=data.name)
        row: dict[str, object] = {"file": data.name, "sheet": sheet, "id_column": column}
        if column is None:
            n = lf.select(pl.len()).collect(engine="streaming").item()
            rows.append({**row, "rows_before": n, "rows_removed": 0, "rows_after": n, "references_cleared": 0, "status": "no customer id column"})
            continue
        gone = canonical_id(pl.col(column), schema[column]).is_in(match.implode()).fill_null(False)
        cleared = canonical_id(pl.col(referred), schema[referred]).is_in(match.implode()).fill_null(False) if referred else pl.lit(False)
        counts = lf.select(n=pl.len(), gone=gone.sum(), cleared=(cleared & ~gone).sum()).collect(engine="streaming").row(0, named=True)
        fixes = [pl.when(cleared).then(None).otherwise(pl.col(referred)).alias(referred)] if referred else []
        plans[sheet] = (gone, fixes)
        rows.append({**row, "rows_before": counts["n"], "rows_removed": counts["gone"], "rows_after": counts["n"] - counts["gone"],
                     "references_cleared": counts["cleared"], "status": "erased" if counts["gone"] or counts["cleared"] else "unchanged"})
    if any(r["status"] == "erased" for r in rows):
        def transform(sheet: str | None, lf: pl.LazyFrame) -> pl.LazyFrame:
            plan = plans.get(sheet)
            if plan is None:
                return lf
            gone, fixes = plan
            return lf.filter(~gone).with_columns(fixes) if fixes else lf.filter(~gone)

        write_data_file(data, transform)
    for r in rows:
        append_audit(audit, AuditRecord(
            time=utc_now(), run=run, action="erase", file=str(data.path.resolve()), sheet=r["sheet"],  # type: ignore[arg-type]
            rows_before=r["rows_before"], rows_removed=r["rows_removed"], rows_after=r["rows_after"],  # type: ignore[arg-type]
            id_column=r["id_column"], references_cleared=r["references_cleared"], subjects=names, key_id=kid,  # type: ignore[arg-type]
        ))
    return rows


def erase(sources: Sequence[str | Path], ids: Sequence[str], *, key: bytes, audit: Path, id_column: str | None = None,
          run: str | None = None) -> EraseResult:
    """Remove the rows of the given customers from every file (see the module's docstring).

    Parameters
    ----------
    sources: files, globs or directories (csv, tsv, txt, gz, parquet, xlsx).
    ids: the customer ids, in clear (never written anywhere by this function).
    key: the pseudonym key: the audit names customers by their pseudonyms, and rows of pseudonymised
        files are matched by them.
    audit: the JSON-lines audit log, appended to.
    id_column: the customer-id column, when the synonyms do not find it.
    run: the run's identifier in the audit (default: 12 random hex digits).

    Returns
    -------
    EraseResult: per file and sheet, rows before, removed and after.
    """
    clean = sorted({i.strip() for i in ids if i.strip()})
    if not clean:
        raise InputError("no customer id to erase", hint="give --id ID (repeatable) or --ids FILE")
    names = subjects(clean, key=key)
    match = pl.Series("id", [*clean, *names], dtype=pl.String)
    run = run or secrets.token_hex(6)
    kid = key_id(key)
    paths = data_files(sources)
    rows = [r for path in paths for r in _erase_file(read_data_file(path), match, id_column=id_column, run=run, names=names,
                                                     kid=kid, audit=audit)]
    files = pl.DataFrame(rows, schema=FILES_SCHEMA, orient="row")
    warnings = [f"{r['file']}{' [' + str(r['sheet']) + ']' if r['sheet'] else ''}: no customer id column, left unchanged (name it with "
                "--id-column)" for r in rows if r["status"] == "no customer id column"]
    return EraseResult(files=files, subjects=len(clean), warnings=warnings)
