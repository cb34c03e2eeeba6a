"""Data files read and rewritten as they are, for the privacy commands that change files in place.

`erase` and `retain` remove rows and leave every other value as written: a CSV file is read with every
column as text and no value but the empty one taken for null (`NA` stays `NA`), and written back with its delimiter;
Parquet keeps its types; every sheet of a workbook is read and written back (as a plain table:
formatting and formulas are not kept). Each file is replaced atomically (`fidelcli.io.write.atomic_path`:
a temporary beside it, renamed over it), so a failure leaves it as it was. CSV files are rewritten in
UTF-8 (a cp1252 export comes back as UTF-8); `.csv.gz` stays gzip-compressed.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from fidelcli.errors import InputError
from fidelcli.io.columns import fields, normalize
from fidelcli.io.dialect import WHITESPACE, sniff
from fidelcli.io.sources import DATA_SUFFIXES, display, list_files, suffix
from fidelcli.io.text import malformed_rows, transcode
from fidelcli.io.write import WRITERS, atomic_path

READ_ERRORS = (pl.exceptions.PolarsError, OSError, EOFError)


@dataclass
class DataFile:
    """A file's tables: {sheet name (None for CSV and Parquet): its own columns, lazily}."""

    path: Path
    format: str
    sheets: dict[str | None, pl.LazyFrame]
    separator: str = ","

    @property
    def name(self) -> str:
        return str(self.path)


def data_files(sources: Sequence[str | Path]) -> list[Path]:
    """The data files (csv, tsv, txt, gz, parquet, xlsx) that files, globs and directories name, each once."""
    out: dict[Path, None] = {}
    for source in sources:
        for path in list_files(source):
            if suffix(path) not in DATA_SUFFIXES:
                raise InputError("not a data file (csv, tsv, txt, parquet, xlsx)", file=display(path), hint="leave it out")
            out[path] = None
    return list(out)


def read_data_file(path: Path) -> DataFile:
    """Open one data file as it is (see the module's docstring). Raises InputError naming it."""
    kind = suffix(path)
    try:
        if kind == ".parquet":
            return DataFile(path, "parquet", {None: pl.scan_parquet(path)})
        if kind == ".xlsx":
            sheets = pl.read_excel(path, sheet_id=0, raise_if_empty=False)
            return DataFile(path, "xlsx", {name: df.lazy() for name, df in sheets.items()})
        dialect = sniff(path)
        if dialect.separator == WHITESPACE:
            raise InputError("a whitespace-separated file cannot be rewritten as it is", file=path.name,
                             hint="convert it to CSV first")
        bad = malformed_rows(path, dialect)
        if bad is not None:
            raise InputError(bad.message(), file=path.name, row=bad.rows[0], hint="fix the file first: it would not be rewritten faithfully")
        source = path if dialect.encoding == "utf8" else transcode(path, dialect.encoding)
        options = {"separator": dialect.separator, "infer_schema": False}
        if source.suffix.lower() == ".gz":
            frame = pl.read_csv(source, **options).lazy()  # type: ignore[arg-type]
        else:
            frame = pl.scan_csv(source, **options)  # type: ignore[arg-type]
        return DataFile(path, "csv", {None: frame}, separator=dialect.separator)
    except InputError:
        raise
    except READ_ERRORS as exc:
        raise InputError(f"cannot read the file: {type(exc).__name__}", file=path.name, hint="check that it is a valid table") from None


def _write_csv(lf: pl.LazyFrame, tmp: Path, *, separator: str, gz: bool) -> None:
    if not gz:
        lf.sink_csv(tmp, separator=separator)
        return
    plain = tmp.with_name(tmp.name + ".csv")
    try:
        lf.sink_csv(plain, separator=separator)
        with open(plain, "rb") as src, open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
    finally:
        plain.unlink(missing_ok=True)


def write_data_file(data: DataFile, transform: Callable[[str | None, pl.LazyFrame], pl.LazyFrame], target: Path | None = None) -> Path:
    """Write `transform(sheet, table)` of each table of `data` to `target` (default: over the file itself), in the
    file's format, atomically. Values are written as read (no rounding)."""
    target = data.path if target is None else target
    with atomic_path(target) as tmp:
        if data.format == "parquet":
            transform(None, data.sheets[None]).sink_parquet(tmp)
        elif data.format == "csv":
            _write_csv(transform(None, data.sheets[None]), tmp, separator=data.separator, gz=target.suffix.lower() == ".gz")
        else:
            import xlsxwriter

            with xlsxwriter.Workbook(str(tmp)) as workbook:
                for name, lf in data.sheets.items():
                    transform(name, lf).collect().write_excel(workbook, worksheet=name)
    return target


def write_as(lf: pl.LazyFrame, target: Path, *, fmt: str) -> Path:
    """Write a new file (pseudonymised output) in `fmt` (csv, parquet, xlsx), streaming CSV and
    Parquet, atomically, values as they are."""
    with atomic_path(target) as tmp:
        if fmt == "parquet":
            lf.sink_parquet(tmp)
        elif fmt == "csv":
            lf.sink_csv(tmp)
        else:
            WRITERS[fmt](lf.collect(), tmp)
    return target


# The customer fields a privacy command finds by name in any file (erase, pseudonymize).
_SYNONYMS = {f.name: f.synonyms for f in fields("customers") if f.name in ("customer_id", "referred_by")}


def find_column(columns: Sequence[str], name: str, *, file: str) -> str | None:
    """The column named like the customer field `name` (customer_id, referred_by): the first synonym
    that matches wins; two columns matching one synonym are ambiguous (InputError)."""
    for synonym in _SYNONYMS[name]:
        found = [c for c in columns if normalize(c) == normalize(synonym)]
        if len(found) > 1:
            raise InputError(f"columns {', '.join(map(repr, found))} may both be the {name}", file=file, hint="name it with --id-column")
        if found:
            return found[0]
    return None
