"""Sniff a delimited text file's dialect from a bounded sample of its first bytes."""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path

from fidelcli.errors import InputError

SAMPLE_BYTES = 1 << 20  # 1 MiB is plenty to see the header and thousands of rows
DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class Dialect:
    """How a text table is written: encoding ("utf8" or "cp1252"), BOM, delimiter."""

    encoding: str
    bom: bool
    separator: str


def open_binary(path: Path) -> io.BufferedIOBase:
    """Open a file for reading bytes, decompressing `.gz` transparently."""
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def read_sample(path: Path, size: int = SAMPLE_BYTES) -> bytes:
    """The first `size` bytes of the (decompressed) file."""
    try:
        with open_binary(path) as fh:
            return fh.read(size)
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", file=str(path)) from None


def detect_encoding(sample: bytes) -> tuple[str, bool]:
    """("utf8", has_bom) when the sample decodes as UTF-8, else ("cp1252", False)."""
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf8", True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the sample is not an encoding error.
        if exc.start < len(sample) - 4:
            return "cp1252", False
    return "utf8", False


def detect_separator(text: str) -> str:
    """The delimiter that splits the sample's lines into the same number (> 1) of fields."""
    lines = text.splitlines()[:200]
    if len(lines) > 1 and len(text) >= SAMPLE_BYTES - 4:
        lines = lines[:-1]  # the last line of a cut sample may be partial
    best, best_score = ",", (0, 0)
    for sep in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=sep) if row]
        if not counts or counts[0] < 2:
            continue
        consistent = sum(c == counts[0] for c in counts)
        score = (consistent, counts[0])
        if score > best_score:
            best, best_score = sep, score
    return best


def sniff(path: Path) -> Dialect:
    """Encoding, BOM and delimiter of a text table, from its first MiB."""
    sample = read_sample(path)
    if not sample.strip():
        raise InputError("the file is empty", file=str(path), hint="export the table again")
    encoding, bom = detect_encoding(sample)
    text = sample[3:].decode("utf-8", "replace") if bom else sample.decode("cp1252" if encoding == "cp1252" else "utf-8", "replace")
    return Dialect(encoding=encoding, bom=bom, separator=detect_separator(text))
