"""Delimited text files: transcoding to UTF-8, the structure check, and the lazy scan.

A text table is never read silently wrong. Its header must name each column once, and every data row
must split into the header's fields: a row with an extra or a missing field, a line written with
another delimiter, a line over 128 KiB or an invalid UTF-8 byte is found by one streaming pass over
the file's lines (`pl.scan_lines`, counting delimiters outside quotes: no Python loop over rows), and
is an error naming its row, or with `ragged="skip"` a row left out and counted in a warning.
Row numbers are 1-based data rows: row 1 is the first line after the header (the first line of a
file read without a header).

Whitespace-separated files (fields separated by runs of spaces and tabs, no quoting) are split by
expressions over `pl.scan_lines`, lazily: Polars' CSV reader takes a one-character separator only.
"""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict

import polars as pl

from fidelcli.errors import InputError
from fidelcli.io import values as V
from fidelcli.io.dialect import DELIMITERS, MAX_LINE_BYTES, WHITESPACE, Dialect, Encoding, open_binary, read_error, sniff
from fidelcli.io.scratch import scratch_dir
from fidelcli.privacy.mask import scrub

Ragged = Literal["error", "skip"]
SHOWN_ROWS = 5  # rows named in a message


class CsvOptions(TypedDict, total=False):
    """The options of `pl.scan_csv` that depend on the header (every column read as text)."""

    infer_schema: bool
    has_header: bool
    schema: dict[str, type[pl.String]]
    null_values: list[str]
def transcode(path: Path, encoding: str) -> Path:
    """Copy a Windows-1252 or UTF-16 file to UTF-8 in a temporary file, in bounded chunks."""
    out = scratch_dir() / (path.name.removesuffix(".gz").rsplit(".", 1)[0] + ".csv")
    # Windows-1252 leaves 5 bytes undefined: replaced, as Excel shows them. UTF-16 must be valid.
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace" if encoding == "cp1252" else "strict")
    try:
        with open_binary(path) as src, open(out, "w", encoding="utf-8", newline="") as dst:
            first = True
            while chunk := src.read(1 << 22):
                text = decoder.decode(chunk)
                if first and text.startswith("\ufeff"):
                    text = text[1:]  # the BOM of UTF-16
                first = False
                dst.write(text)
            dst.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        raise InputError(
            f"the file is not valid {encoding.upper()}", file=path.name, hint="re-export it as UTF-8, or pass --encoding"
        ) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise read_error(exc, path.name) from None
    return out


@dataclass(frozen=True)
class Malformed:
    """Data rows that do not split into the header's fields: how many, which (the first ones, or all
    when asked), and what is wrong with the first one."""

    count: int
    rows: list[int]
    what: str

    def listed(self) -> str:
        """`rows 3, 6, 9, …` (the first ones)."""
        rows = ", ".join(map(str, self.rows[:SHOWN_ROWS])) + (", …" if self.count > SHOWN_ROWS else "")
        return f"row{'s' * (self.count != 1)} {rows}"

    def message(self) -> str:
        """For the error, located at the first row: what is wrong with it, and how many rows are."""
        return self.what + (f"; {self.count:,} malformed rows in all ({self.listed()})" if self.count > 1 else "")

    def warning(self, file: str) -> str:
        """For `ragged="skip"`."""
        rows = f"{self.count:,} malformed row{'s' * (self.count != 1)}"
        return f"{file}: {rows} left out ({self.listed()}); row {self.rows[0]} has {self.what}"


def _fields(n: int) -> str:
    return f"{n} field{'s' * (n != 1)}"


def _what(fields: int | None, size: int, text: str, dialect: Dialect) -> str:
    """What is wrong with one malformed row, for the message (never its values)."""
    n = len(dialect.header)
    if size > MAX_LINE_BYTES:
        return f"a line of {size // 1024:,} KiB, longer than 128 KiB: not a table row"
    if fields is None:
        return f"more fields than the header's {n}"
    what = f"{_fields(fields)} where the header has {n}"
    for other in DELIMITERS:
        if other != dialect.separator and text.count(other) == n - 1:
            what += f" (the row is separated by {other!r}, the header by {dialect.separator!r})"
            break
    return what


def malformed_rows(path: Path, dialect: Dialect, *, every: bool = False) -> Malformed | None:
    """The data rows of a UTF-8 file that do not split into the header's fields, or None.

    One streaming pass over the lines: a line is suspect when its count of delimiters is not the
    header's minus one; only suspects are then split honouring quotes. `every`: list every row (to
    skip them), not only the first ones. Raises `InputError` on an invalid UTF-8 byte or a truncated
    compressed file.
    """
    n, sep = len(dialect.header), dialect.separator
    line = pl.col("line")
    size = line.str.len_bytes()
    lines = pl.scan_lines(path).with_row_index("row", offset=0 if dialect.has_header else 1)  # the header is row 0
    if sep == WHITESPACE:
        stripped = line.str.strip_chars(_BLANKS)
        fields = stripped.str.count_matches(r"[ \t]+") + 1
        suspect = lines.filter((pl.col("row") > 0) & ((size > MAX_LINE_BYTES) | ((fields != n) & (stripped.str.len_bytes() > 0))))
        bad = suspect.select("row", fields=fields, size=size, odd=pl.lit(False), text=line.str.slice(0, 4096))
    else:
        suspect = lines.filter(
            (pl.col("row") > 0) & ((size > MAX_LINE_BYTES) | ((line.str.count_matches(sep, literal=True) != n - 1) & (size > 0)))
        )
        bad = suspect.select(
            "row",
            fields=line.str.replace_all(r'"[^"]*"', "").str.count_matches(sep, literal=True) + 1,
            size=size,
            odd=line.str.count_matches('"', literal=True) % 2 == 1,
            text=line.str.slice(0, 4096),
        ).filter(pl.col("odd") | (pl.col("fields") != n) | (pl.col("size") > MAX_LINE_BYTES))
    found = _collect(
        bad.select(
            count=pl.len(), multiline=pl.col("odd").any(), rows=(pl.col("row") if every else pl.col("row").head(SHOWN_ROWS)).implode(),
            fields=pl.col("fields").first(), size=pl.col("size").first(), text=pl.col("text").first(),
        ),
        path,
    )
    if found["multiline"]:
        # A quoted field spans lines: lines are not rows. Let the CSV parser split the records.
        return _malformed_records(path, dialect, every=every)
    if not found["count"]:
        return None
    what = _what(found["fields"], found["size"], found["text"], dialect)
    return Malformed(count=found["count"], rows=list(found["rows"]), what=what)


def _malformed_records(path: Path, dialect: Dialect, *, every: bool) -> Malformed | None:
    """For a file with quoted fields over several lines: the records with more fields than the
    header, or with only a first field that holds another delimiter (the delimiter changed)."""
    n = len(dialect.header)
    names = [f"c{i}" for i in range(n)]
    records = pl.scan_csv(
        path, has_header=False, skip_rows=1 if dialect.has_header else 0, separator=dialect.separator,
        schema=dict.fromkeys([*names, "extra"], pl.String), missing_columns="insert", truncate_ragged_lines=True,
    ).with_row_index("row", offset=1)
    others = "".join(re.escape(d) for d in DELIMITERS if d != dialect.separator)
    changed = pl.all_horizontal(pl.col(c).is_null() for c in names[1:]) & pl.col("c0").str.contains(f"[{others}]") if n > 1 else pl.lit(False)
    bad = records.filter(pl.col("extra").is_not_null() | changed)
    found = _collect(
        bad.select(
            count=pl.len(), rows=(pl.col("row") if every else pl.col("row").head(SHOWN_ROWS)).implode(),
            extra=pl.col("extra").is_not_null().first(), text=pl.col("c0").str.slice(0, 4096).first(),
        ),
        path,
    )
    if not found["count"]:
        return None
    what = _what(None if found["extra"] else 1, 0, found["text"], dialect)
    return Malformed(count=found["count"], rows=list(found["rows"]), what=what)


def _collect(plan: pl.LazyFrame, path: Path) -> dict[str, Any]:
    try:
        return plan.collect(engine="streaming").row(0, named=True)
    except pl.exceptions.ComputeError as exc:
        if "utf8" in str(exc).lower() or "utf-8" in str(exc).lower():
            raise invalid_utf8(path) from None
        reason = scrub(str(exc).strip().splitlines()[0]) if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read the file: {reason}", file=path.name, hint="check the file") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise read_error(exc, path.name) from None


def invalid_utf8(path: Path) -> InputError:
    """The error for a file that is not all UTF-8, naming the row of its first invalid byte.

    Only run once reading failed: one pass over the bytes, in chunks.
    """
    offset, lines = 0, 0
    carry = b""
    try:
        with open_binary(path) as fh:
            while chunk := fh.read(1 << 22):
                data = carry + chunk
                try:
                    data.decode("utf-8")
                    carry = b""
                except UnicodeDecodeError as exc:
                    if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
                        carry = data[exc.start :]  # a character cut by the chunk's end
                        data = data[: exc.start]
                    else:
                        row = lines + data.count(b"\n", 0, exc.start)
                        return InputError(
                            f"invalid UTF-8 byte 0x{data[exc.start]:02x} at byte {offset + exc.start:,} of the file "
                            "(the first MiB, which fixes the encoding, was UTF-8)",
                            file=path.name, row=row or None,
                            hint="if it is a Windows (Excel) export, pass --encoding cp1252; otherwise re-export it as UTF-8",
                        )
                lines += data.count(b"\n")
                offset += len(data)
    except (OSError, EOFError, zlib.error) as exc:
        return read_error(exc, path.name)
    return InputError("the file is not valid UTF-8", file=path.name, hint="pass --encoding cp1252, or re-export it as UTF-8")


def duplicate_columns(header: tuple[str, ...], *, file: str) -> None:
    """Raise when the header names a column twice (which one would be read is anybody's guess)."""
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(header, start=1):
        if name.strip():
            seen.setdefault(name.strip(), []).append(i)
    for name, positions in seen.items():
        if len(positions) > 1:
            raise InputError(
                f"the header names column \"{name}\" {len(positions)} times (columns {', '.join(map(str, positions))})",
                file=file, column=name, hint="rename or remove the duplicate column in the export",
            )


def same_columns(names: Sequence[str], first: Sequence[str], *, file: str, first_file: str) -> None:
    """Raise, naming `file`, when its columns are not those of the first file of the source."""
    if set(names) == set(first):
        return
    missing = [c for c in first if c not in names]
    extra = [c for c in names if c not in first]
    parts = ([f"lacks {', '.join(map(repr, missing))}"] if missing else []) + ([f"adds {', '.join(map(repr, extra))}"] if extra else [])
    raise InputError(
        f"its columns differ from those of {first_file}: it {' and '.join(parts)}", file=file,
        hint="point to files with the same columns, or read them separately",
    )


_BLANKS = " \t\r\ufeff"


def scan_whitespace(path: Path, dialect: Dialect, *, skip: Sequence[int] = ()) -> pl.LazyFrame:
    """A whitespace-separated UTF-8 file as all-text columns named by `dialect.header`, lazily: each
    line's ends trimmed, its runs of spaces and tabs made one tab, then split. A blank line is a row of
    nulls (as Polars' CSV reader reads it), so row numbers stay those of the lines; `skip`: data rows
    to leave out (`ragged="skip"`)."""
    lines = pl.scan_lines(path).with_row_index("__fidelcli_row", offset=0 if dialect.has_header else 1)
    lines = lines.filter(pl.col("__fidelcli_row") > 0)
    if skip:
        lines = lines.filter(~pl.col("__fidelcli_row").is_in(list(skip)))
    split = pl.col("line").str.strip_chars(_BLANKS).str.replace_all(r"[ \t]+", "\t").str.split("\t")
    nulls = [v for v in V.NULL_VALUES if v]
    columns = []
    for i, name in enumerate(dialect.header):
        value = pl.col("__fidelcli_fields").list.get(i, null_on_oob=True)
        columns.append(pl.when((value != "") & ~value.is_in(nulls)).then(value).alias(name))
    return lines.select(split.alias("__fidelcli_fields")).select(columns)


def scan_text(
    files: list[Path], *, encoding: Encoding | None = None, ragged: Ragged = "error", delimiter: str | None = None, header: bool = True,
) -> tuple[pl.LazyFrame, str, list[str]]:
    """Scan delimited text files lazily, every column as text, after checking their structure.

    `delimiter` (`--delimiter`: a character, or `whitespace`) overrides the sniffing; `header=False`
    (`--no-header`): the first line is data, and the columns are `column_1`, `column_2`...
    Returns the frame (columns in the first file's order), the first file's delimiter, and warnings
    (malformed rows skipped with `ragged="skip"`). Raises `InputError` naming the file (and the row).
    """
    dialects = [sniff(p, encoding=encoding, delimiter=delimiter, has_header=header) for p in files]
    for p, d in zip(files, dialects, strict=True):
        duplicate_columns(d.header, file=p.name)
        same_columns(d.header, dialects[0].header, file=p.name, first_file=files[0].name)
    paths = [p if d.encoding == "utf8" else transcode(p, d.encoding) for p, d in zip(files, dialects, strict=True)]
    warnings: list[str] = []
    skips: list[list[int]] = []
    for p, path, d in zip(files, paths, dialects, strict=True):
        bad = malformed_rows(path, d, every=ragged == "skip")
        if bad is None:
            skips.append([])
            continue
        if ragged == "error":
            raise InputError(
                bad.message(), file=p.name, row=bad.rows[0],
                hint="fix the export (a delimiter inside an unquoted value?), or pass --ragged skip to leave these rows out",
            )
        skips.append(bad.rows)
        warnings.append(bad.warning(p.name))
    options: CsvOptions = {"infer_schema": False, "null_values": V.NULL_VALUES}
    first = dialects[0]
    names = list(first.header)
    if not first.has_header:
        # Polars names header-less columns from 0; ours count from 1, as `--map field=1` does.
        options = {"has_header": False, "schema": dict.fromkeys(names, pl.String), "null_values": V.NULL_VALUES}
    whitespace = any(d.separator == WHITESPACE for d in dialects)
    if not whitespace and all(d.separator == first.separator and d.header == first.header for d in dialects) and not any(skips):
        # Extra fields would raise (a safety net: the check above found none).
        return pl.scan_csv([str(p) for p in paths], separator=first.separator, **options), first.separator, warnings
    frames = []
    for path, d, skip in zip(paths, dialects, skips, strict=True):
        if d.separator == WHITESPACE:
            frames.append(scan_whitespace(path, d, skip=skip))
            continue
        lf = pl.scan_csv(str(path), separator=d.separator, truncate_ragged_lines=bool(skip), **options)
        if skip:
            lf = lf.with_row_index("__fidelcli_row", offset=1).filter(~pl.col("__fidelcli_row").is_in(skip)).drop("__fidelcli_row")
        frames.append(lf)
    names = frames[0].collect_schema().names()
    return pl.concat([lf.select(names) for lf in frames], how="vertical"), first.separator, warnings
