"""Sniff a delimited text file's dialect (encoding, delimiter, header) from a bounded sample of its first bytes.

Anything that is not a text table is refused here, before Polars sees it: an empty file, binary data
(or a workbook, a Parquet file, a gzip stream under a text name), a header line that is not one.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fidelcli.errors import InputError

SAMPLE_BYTES = 1 << 20  # 1 MiB is plenty to see the header and thousands of rows
DELIMITERS = (",", ";", "\t", "|")
# Fields separated by runs of spaces or tabs (CDNOW's master file, fixed-width-like exports): not a
# character but a separator of its own, sniffed when no delimiter splits the lines.
WHITESPACE = "whitespace"
_RUNS = re.compile(r"[ \t]+")
# No row of a table export is this long; the csv module refuses fields over it, and so do we.
MAX_LINE_BYTES = 128 * 1024

# How a file's text is encoded: `--encoding` spells the first three; UTF-16 is told apart by its BOM.
Encoding = Literal["utf8", "cp1252", "utf16"]
FileEncoding = Literal["utf8", "cp1252", "utf-16-le", "utf-16-be"]

# Signatures of files that are not text tables, and what to do with them.
_MAGIC = (
    (b"PK\x03\x04", "a zip archive (an Excel workbook?), not a text table", "give a workbook the .xlsx extension"),
    (b"\x1f\x8b", "gzip-compressed, not plain text", "name it with a .gz extension (sales.csv.gz)"),
    (b"PAR1", "a Parquet file, not a text table", "name it with the .parquet extension"),
    (b"%PDF", "a PDF document, not a table", "export the table as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) or Office file, not a text table", "save it as .xlsx or CSV"),
)


@dataclass(frozen=True)
class Dialect:
    """How a text table is written: encoding, BOM, delimiter, and the header's column names."""

    encoding: FileEncoding
    bom: bool
    separator: str
    header: tuple[str, ...] = ()
    # False with `--no-header`: the first line is data, and `header` holds `column_1`, `column_2`...
    has_header: bool = True


def open_binary(path: Path) -> io.BufferedIOBase:
    """Open a file for reading bytes, decompressing `.gz` transparently."""
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def read_error(exc: BaseException, file: str) -> InputError:
    """The InputError for an exception met while reading the bytes of `file` (decompression, I/O)."""
    if isinstance(exc, gzip.BadGzipFile):
        return InputError("not a gzip file, despite its .gz name", file=file, hint="rename it without .gz, or compress it again")
    if isinstance(exc, (EOFError, zlib.error)) or "end of file" in str(exc) or "deflate" in str(exc).lower():
        return InputError(
            "the compressed file is truncated or corrupt", file=file, hint="download or export it again (`gzip -t FILE` checks it)"
        )
    if isinstance(exc, OSError):
        return InputError(f"cannot read the file: {exc.strerror or exc}", file=file, hint="check the file and its permissions")
    return InputError(f"cannot read the file: {type(exc).__name__}", file=file, hint="check the file")


def read_sample(path: Path, size: int = SAMPLE_BYTES) -> bytes:
    """The first `size` bytes of the (decompressed) file."""
    try:
        with open_binary(path) as fh:
            return fh.read(size)
    except (OSError, EOFError, zlib.error) as exc:
        raise read_error(exc, path.name) from None


def detect_encoding(sample: bytes) -> tuple[FileEncoding, bool]:
    """(encoding, has_bom): UTF-8 (BOM or not), UTF-16 (BOM, or NUL bytes every other byte), else Windows-1252."""
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf8", True
    if sample.startswith(b"\xff\xfe"):
        return "utf-16-le", True
    if sample.startswith(b"\xfe\xff"):
        return "utf-16-be", True
    utf16 = _utf16_without_bom(sample)
    if utf16 is not None:
        return utf16, False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the sample is not an encoding error.
        if exc.start < len(sample) - 4:
            return "cp1252", False
    return "utf8", False


def _utf16_without_bom(sample: bytes) -> FileEncoding | None:
    """UTF-16 text of Latin script has a NUL in (nearly) every other byte; binary data does not."""
    if b"\x00" not in sample or len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def forced_encoding(sample: bytes, encoding: Encoding) -> tuple[FileEncoding, bool]:
    """The file encoding when `--encoding` names it (UTF-16's byte order from its BOM, else guessed)."""
    if encoding == "utf16":
        detected, bom = detect_encoding(sample)
        if detected.startswith("utf-16"):
            return detected, bom
        return "utf-16-le", False
    if encoding == "utf8":
        return "utf8", sample.startswith(b"\xef\xbb\xbf")
    return "cp1252", False


def decode(sample: bytes, encoding: FileEncoding, bom: bool) -> str:
    """The sample as text (invalid bytes replaced: the sample only serves to sniff)."""
    if encoding == "utf8":
        return sample[3 if bom else 0 :].decode("utf-8", "replace")
    if encoding.startswith("utf-16"):
        data = sample[2:] if bom else sample
        return data[: len(data) // 2 * 2].decode(encoding, "replace")
    return sample.decode("cp1252", "replace")


def _field_counts(lines: list[str], sep: str) -> list[int]:
    """Fields per record of `lines` split on `sep`; -1 for a line the csv module refuses (a field
    over its 128 KiB limit, a NUL byte)."""
    try:
        return [len(row) for row in csv.reader(lines, delimiter=sep) if row]
    except csv.Error:
        counts = []
        for line in lines:
            try:
                counts += [len(row) for row in csv.reader([line], delimiter=sep) if row]
            except csv.Error:
                counts.append(-1)
        return counts


def whitespace_fields(line: str) -> list[str]:
    """The fields of a whitespace-separated line (runs of spaces and tabs; ends trimmed)."""
    text = line.strip(" \t\r\ufeff")
    return _RUNS.split(text) if text else []


def detect_separator(text: str) -> str:
    """The delimiter that splits the sample's lines into the same number (> 1) of fields; `WHITESPACE`
    when none splits the first line but runs of spaces and tabs split most lines as they split it (the
    others are then reported as malformed rows)."""
    lines = text.splitlines()[:200]
    if len(lines) > 1 and len(text) >= SAMPLE_BYTES - 4:
        lines = lines[:-1]  # the last line of a cut sample may be partial
    best, best_score = ",", (0, 0)
    for sep in DELIMITERS:
        counts = _field_counts(lines, sep)
        if not counts or counts[0] < 2:
            continue
        consistent = sum(c == counts[0] for c in counts)
        score = (consistent, counts[0])
        if score > best_score:
            best, best_score = sep, score
    if best_score == (0, 0):
        counts = [len(f) for f in map(whitespace_fields, lines) if f]
        if counts and counts[0] >= 2 and sum(c == counts[0] for c in counts) > len(counts) / 2:
            return WHITESPACE
    return best


def delimiter_option(text: str) -> str:
    """The separator that `--delimiter` names: one character (`;`), `\\t` or `tab`, `space` (one space
    per field), or `whitespace` (runs of spaces and tabs). Raises `InputError` for anything else."""
    named = {"\\t": "\t", "tab": "\t", "space": " ", "whitespace": WHITESPACE}
    sep = named.get(text.lower(), text) if len(text) != 1 else text
    if sep == WHITESPACE or (len(sep) == 1 and sep not in "\"\r\n"):
        return sep
    raise InputError(
        f"--delimiter expects one character, \\t, space or whitespace, got {text!r}",
        hint="e.g. --delimiter ';', --delimiter '\\t' or --delimiter whitespace",
    )


def parse_header(text: str, separator: str, *, file: str, has_header: bool = True) -> tuple[str, ...]:
    """The column names of the first record of `text` (without a header: `column_1`, `column_2`... as
    many as the first record has fields)."""
    first_line = text.split("\n", 1)[0]
    if len(first_line.encode("utf-8", "replace")) > MAX_LINE_BYTES or ("\n" not in text and len(text) >= SAMPLE_BYTES // 2):
        raise InputError(
            "the first line is longer than 128 KiB: not the header of a table", file=file,
            hint="export the table as CSV with one header line",
        )
    if separator == WHITESPACE:
        row = whitespace_fields(first_line)
    else:
        try:
            row = next(csv.reader(io.StringIO(text), delimiter=separator), [])
        except csv.Error:
            row = first_line.rstrip("\r").split(separator)
    return tuple(row) if has_header else tuple(f"column_{i}" for i in range(1, len(row) + 1))


def _refuse_binary(sample: bytes, text: str, encoding: FileEncoding, file: str) -> None:
    for magic, what, hint in _MAGIC:
        if sample.startswith(magic):
            raise InputError(f"the file is {what}", file=file, hint=hint)
    controls = sum(1 for ch in text[:65536] if ord(ch) < 32 and ch not in "\t\n\r\x0c")
    if (not encoding.startswith("utf-16") and b"\x00" in sample) or controls > max(2, len(text[:65536]) // 100):
        raise InputError(
            "the file holds binary data, not a text table", file=file,
            hint="export the table as CSV, or give a Parquet or Excel file its own extension",
        )


def sniff(path: Path, *, encoding: Encoding | None = None, delimiter: str | None = None, has_header: bool = True) -> Dialect:
    """Encoding, BOM, delimiter and header of a text table, from its first MiB.

    `encoding` (`--encoding`) and `delimiter` (`--delimiter`, see `delimiter_option`) override the
    detection; `has_header=False` (`--no-header`): the first line is data. Raises `InputError` for an
    empty file, binary data, or a first line that cannot be a header.
    """
    file = path.name
    sample = read_sample(path)
    if not sample.strip() or sample in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        raise InputError("the file is empty", file=file, hint="export the table again")
    enc, bom = forced_encoding(sample, encoding) if encoding else detect_encoding(sample)
    text = decode(sample, enc, bom)
    _refuse_binary(sample, text, enc, file)
    if not text.strip():
        raise InputError("the file is empty", file=file, hint="export the table again")
    separator = delimiter_option(delimiter) if delimiter is not None else detect_separator(text)
    if delimiter is None and separator == "," and ".tsv" in (x.lower() for x in path.suffixes) and "," not in text.split("\n", 1)[0]:
        separator = "\t"
    header = parse_header(text, separator, file=file, has_header=has_header)
    return Dialect(encoding=enc, bom=bom, separator=separator, header=header, has_header=has_header)
