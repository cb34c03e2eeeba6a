"""Open a source (file, glob, directory, database URI, `-` for standard input) as a lazy frame of its
own columns.

Every problem met here is an `InputError` naming the file: a path that does not exist, a glob that
matches nothing, files of a directory that disagree on their columns or types, a workbook that is
not one (or whose table is on another sheet), a Parquet file that is not one.
"""

from __future__ import annotations

import glob as globmod
import gzip
import shutil
import sqlite3
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import polars as pl

from fidelcli.errors import InputError
from fidelcli.extras import require
from fidelcli.io.dialect import Encoding, read_error
from fidelcli.io.scratch import scratch_dir
from fidelcli.io.text import Ragged, same_columns, scan_text
from fidelcli.privacy.mask import scrub

TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
DATA_SUFFIXES = TEXT_SUFFIXES | {".parquet", ".xlsx"}
STDIN = "-"
STDIN_NAME = "<stdin>"


@dataclass
class Source:
    """A source's own columns, lazily; `text`: every column is text to parse (a delimited file)."""

    frame: pl.LazyFrame
    text: bool = False
    separator: str = ","
    warnings: list[str] = field(default_factory=list)
    # A workbook's sheet names, and the one read (to say where else the table may be).
    sheets: tuple[str, ...] = ()
    sheet: str | None = None


def display(source: str | Path) -> str:
    """How a source is named in messages: a file's name, a URI without its query, `<stdin>`."""
    if str(source) == STDIN:
        return STDIN_NAME
    return Path(source).name if not str(source).count("://") else str(source).split("?")[0]


# Standard input spooled once per stream: {id: (stream, file)}; the stream is kept so its id is not reused.
_SPOOLED: dict[int, tuple[object, Path]] = {}


def spool_stdin() -> Path:
    """Copy standard input to a temporary file named `<stdin>` (removed at exit), in bounded chunks,
    and return it; a gzip stream is decompressed. The same stream is spooled once.

    Raises `InputError` when standard input is a terminal (nothing was piped).
    """
    stream = sys.stdin
    if id(stream) in _SPOOLED and _SPOOLED[id(stream)][0] is stream:
        return _SPOOLED[id(stream)][1]
    if stream is None or stream.isatty():
        raise InputError(
            "standard input is a terminal, not a table", file=STDIN_NAME, hint="pipe a file into the command: cat sales.csv | fidelcli rfm -t -"
        )
    out = scratch_dir() / STDIN_NAME
    source = getattr(stream, "buffer", stream)
    try:
        with open(out, "wb") as dst:
            head = source.read(2)
            if isinstance(head, str):  # a text stream without a buffer (tests)
                head = head.encode("utf-8")
                dst.write(head + source.read().encode("utf-8"))
            elif head == b"\x1f\x8b":
                with tempfile.TemporaryFile(dir=out.parent) as packed:
                    packed.write(head)
                    shutil.copyfileobj(source, packed, 1 << 22)
                    packed.seek(0)
                    with gzip.open(packed, "rb") as unpacked:
                        shutil.copyfileobj(unpacked, dst, 1 << 22)
            else:
                dst.write(head)
                shutil.copyfileobj(source, dst, 1 << 22)
    except (OSError, EOFError, zlib.error) as exc:
        raise read_error(exc, STDIN_NAME) from None
    _SPOOLED[id(stream)] = (stream, out)
    return out


def stdin_kind(path: Path) -> str:
    """The format of spooled standard input, from its first bytes: Parquet, a workbook, else text."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    return ".parquet" if head == b"PAR1" else ".xlsx" if head == b"PK\x03\x04" else ".csv"


def suffix(path: Path) -> str:
    """`.csv` for sales.csv and sales.csv.gz."""
    suffixes = [x.lower() for x in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def list_files(source: Path | str) -> list[Path]:
    """The data files a path, glob or directory names (a directory's hidden files left out)."""
    s = str(source)
    if any(ch in s for ch in "*?["):
        found = sorted(Path(p) for p in globmod.glob(s, recursive=True) if Path(p).is_file())
        if not found:
            raise InputError("no file matches this pattern", file=s, hint="check the pattern (quote it so the shell does not expand it)")
        return found
    path = Path(s)
    if path.is_dir():
        found = sorted(
            p for p in path.rglob("*")
            if p.is_file() and suffix(p) in DATA_SUFFIXES and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not found:
            raise InputError("no data files in this directory", file=s, hint="point to .csv, .parquet or .xlsx files")
        return found
    if path.exists():
        return [path]
    raise InputError("no such file", file=s, hint="check the path")


def open_source(
    source: str | Path, *, encoding: Encoding | None = None, sheet: str | None = None, ragged: Ragged = "error",
    delimiter: str | None = None, header: bool = True,
) -> Source:
    """The source's own columns, lazily: text files as all-text columns, typed formats as they are.

    `encoding`, `ragged`, `delimiter`, `header`: for delimited text files (see `scan_text`); `sheet`: for
    workbooks (a name, or a number from 1). `-` is standard input, spooled to a temporary file.
    """
    s = str(source)
    if "://" in s:
        if delimiter is not None or not header:
            raise InputError("--delimiter and --no-header are for text files", file=display(s), hint="leave them out for a database")
        return Source(_scan_database(s))
    if s == STDIN:
        files = [spool_stdin()]
        kinds = {stdin_kind(files[0])}
    else:
        files = list_files(source)
        kinds = {suffix(p) for p in files}
    if len(kinds) > 1:
        raise InputError(f"mixed file types {sorted(kinds)}", file=display(s), hint="point to files of one format")
    kind = kinds.pop()
    if sheet is not None and kind != ".xlsx":
        raise InputError("--sheet is for Excel workbooks (.xlsx)", file=display(s), hint="leave --sheet out for this input")
    if encoding is not None and kind not in TEXT_SUFFIXES:
        raise InputError("--encoding is for text files (csv, tsv, txt)", file=display(s), hint="leave --encoding out for this input")
    if (delimiter is not None or not header) and kind not in TEXT_SUFFIXES:
        raise InputError("--delimiter and --no-header are for text files (csv, tsv, txt)", file=display(s), hint="leave them out for this input")
    if kind == ".parquet":
        return Source(_scan_parquet(files, hive=Path(s).is_dir()))
    if kind == ".xlsx":
        return _read_workbooks(files, sheet)
    if kind in TEXT_SUFFIXES:
        frame, separator, warnings = scan_text(files, encoding=encoding, ragged=ragged, delimiter=delimiter, header=header)
        return Source(frame, text=True, separator=separator, warnings=warnings)
    raise InputError(f"unsupported file type {kind or '(none)'!r}", file=display(s), hint="use csv, tsv, txt, gz, parquet or xlsx")


def _same_types(schema: dict[str, pl.DataType], first: dict[str, pl.DataType], *, file: str, first_file: str) -> None:
    for name, dtype in schema.items():
        if dtype != first[name]:
            raise InputError(
                f"column \"{name}\" is {dtype} here but {first[name]} in {first_file}", file=file, column=name,
                hint="export every file with the same column types",
            )


def _scan_parquet(files: list[Path], *, hive: bool) -> pl.LazyFrame:
    schemas = []
    for p in files:
        try:
            schemas.append(dict(pl.read_parquet_schema(p)))
        except (pl.exceptions.PolarsError, OSError):
            raise InputError("not a Parquet file, or a corrupt one", file=p.name, hint="export it again") from None
    first = schemas[0]
    for p, schema in zip(files[1:], schemas[1:], strict=True):
        same_columns(list(schema), list(first), file=p.name, first_file=files[0].name)
        _same_types(schema, first, file=p.name, first_file=files[0].name)
    if all(list(schema) == list(first) for schema in schemas):
        return pl.scan_parquet([str(p) for p in files], hive_partitioning=hive)
    return pl.concat([pl.scan_parquet(str(p)).select(list(first)) for p in files], how="vertical")


def _choose_sheet(names: tuple[str, ...], sheet: str | None, *, file: str) -> str:
    if not names:
        raise InputError("the workbook has no sheet", file=file, hint="save the table in an .xlsx workbook again")
    if sheet is None:
        return names[0]
    if sheet in names:
        return sheet
    if sheet.strip().isdigit() and 1 <= int(sheet) <= len(names):
        return names[int(sheet) - 1]
    raise InputError(
        f"no sheet {sheet!r} in the workbook; its sheets are {', '.join(map(repr, names))}", file=file,
        hint="pass --sheet with one of these names, or a sheet number from 1",
    )


def _read_workbook(path: Path, sheet: str | None) -> tuple[pl.DataFrame, tuple[str, ...], str]:
    import fastexcel  # Polars' Excel reader

    try:
        names = tuple(fastexcel.read_excel(str(path)).sheet_names)
    except (fastexcel.FastExcelError, OSError):
        raise InputError(
            "not an Excel workbook (.xlsx), or a corrupt one", file=path.name,
            hint="open it in Excel and save it as .xlsx, or export the table as CSV",
        ) from None
    chosen = _choose_sheet(names, sheet, file=path.name)
    others = f"the workbook has sheets {', '.join(map(repr, names))}: choose one with --sheet NAME"
    try:
        frame = pl.read_excel(path, sheet_name=chosen, engine="calamine")
    except pl.exceptions.NoDataError:
        raise InputError(f"sheet {chosen!r} is empty", file=path.name, hint=others if len(names) > 1 else "export the table again") from None
    except (fastexcel.FastExcelError, pl.exceptions.PolarsError, OSError) as exc:
        reason = scrub(str(exc).strip().splitlines()[0]) if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read sheet {chosen!r}: {reason}", file=path.name, hint=others) from None
    return frame, names, chosen


def _read_workbooks(files: list[Path], sheet: str | None) -> Source:
    frames: list[pl.DataFrame] = []
    sheets: tuple[str, ...] = ()
    chosen: str | None = None
    for p in files:
        frame, names, name = _read_workbook(p, sheet)
        if not frames:
            sheets, chosen = names, name
        else:
            same_columns(frame.columns, frames[0].columns, file=p.name, first_file=files[0].name)
            _same_types(dict(frame.schema), dict(frames[0].schema), file=p.name, first_file=files[0].name)
            frame = frame.select(frames[0].columns)
        frames.append(frame)
    return Source(pl.concat(frames, how="vertical").lazy(), sheets=sheets if len(files) == 1 else (), sheet=chosen)


def _scan_database(uri: str) -> pl.LazyFrame:
    """`sqlite:///path.db?table=sales` or `?query=SELECT ...`; also `duckdb:///path.db?table=...`.

    Paths follow the SQLAlchemy convention: three slashes for a relative path, four for an absolute one.
    """
    parsed = urlparse(uri)
    params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    query = params.get("query") or (f'SELECT * FROM "{params["table"]}"' if "table" in params else None)
    if query is None:
        raise InputError("a database URI needs ?table=NAME or ?query=SELECT...", file=uri.split("?")[0])
    # SQLAlchemy convention: sqlite:///relative.db, sqlite:////absolute/path.db
    path = parsed.path[1:] if parsed.path.startswith("/") else parsed.path
    if parsed.scheme == "sqlite":
        if not Path(path).exists():
            raise InputError("no such database file", file=path)
        with sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True) as conn:
            try:
                return pl.read_database(query, conn, infer_schema_length=None).lazy()
            except Exception as exc:  # sqlite3 errors carry the reason in their text
                raise InputError(f"query failed: {scrub(str(exc))}", file=path) from None
    if parsed.scheme == "duckdb":
        require("duckdb", purpose="reading DuckDB", file=path)
        import duckdb
        if not Path(path).exists():
            raise InputError("no such database file", file=path)
        with duckdb.connect(path, read_only=True) as conn:
            try:
                frame: pl.DataFrame = conn.sql(query).pl()
            except duckdb.Error as exc:
                raise InputError(f"query failed: {scrub(str(exc).splitlines()[0])}", file=path) from None
        return frame.lazy()
    if parsed.scheme in {"postgresql", "postgres"}:
        require("postgres", purpose="reading PostgreSQL", file=uri.split("?")[0])
        import psycopg
        dsn = uri.split("?")[0]
        with psycopg.connect(dsn) as conn:
            return pl.read_database(query, conn, infer_schema_length=None).lazy()
    raise InputError(f"unsupported database scheme {parsed.scheme!r}", file=uri.split("?")[0], hint="use sqlite://, duckdb:// or postgresql://")
