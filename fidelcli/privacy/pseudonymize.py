"""Keyed pseudonyms (HMAC-SHA256) of identifiers, and the pseudonymisation of whole files.

One function makes every pseudonym of fidelcli (`pseudonym`): the top customers of `clv`, the
identifiers written by `privacy pseudonymize`, the subjects of the `privacy erase` audit log. It is
HMAC-SHA256 (RFC 2104, FIPS 198-1) of the value's UTF-8 bytes under a secret key, in lowercase hex: the
same key gives the same pseudonym for the same value in every file and every run, so joins still work;
without the key nobody can compute a pseudonym from a candidate id (a plain hash could be reversed by
hashing every possible id). `clv` shows the first 10 hex digits, a prefix of the full pseudonym.

Values are normalised first, so that one person gets one pseudonym whatever the export wrote:
- customer ids: text, trimmed (an integral number 17850 or 17850.0 is `17850`, as the readers read ids);
- emails: trimmed and lowercased (`Jean.Dupont@Example.COM ` -> `jean.dupont@example.com`); dots and
  `+tags` are kept: they make another address for most providers;
- phone numbers: E.164 (`+33612345678`): `+` or `00` then the digits; a national number (leading 0,
  or 10 digits in North America) gets the calling code of `country` (`PHONE_COUNTRIES`), its trunk 0
  removed; an `(0)` after the calling code is dropped.

The key is bytes, given by the caller: the CLI reads `FIDELCLI_PSEUDONYM_KEY` or a key file readable
by its owner only (`read_key_file`). The library never reads the environment.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from fidelcli.errors import ConfigError, InputError
from fidelcli.result import Figure, JsonResult

PSEUDONYM_KEY_ENV = "FIDELCLI_PSEUDONYM_KEY"
MIN_KEY_BYTES = 16
PSEUDONYM_DIGITS = 64
# Calling codes of national numbers (ITU-T E.164), and whether the national number starts with a trunk
# 0 that E.164 drops (France 06..., UK 07...); North America has no trunk prefix, Italy keeps its 0.
PHONE_COUNTRIES: dict[str, tuple[str, bool]] = {
    "FR": ("33", True), "GB": ("44", True), "US": ("1", False), "CA": ("1", False), "BE": ("32", True), "CH": ("41", True),
    "DE": ("49", True), "NL": ("31", True), "LU": ("352", False), "ES": ("34", False), "IT": ("39", False), "IE": ("353", True),
}


def hmac_hex(values: pl.Series, key: bytes, *, digits: int = PSEUDONYM_DIGITS) -> pl.Series:
    """HMAC-SHA256 of each text value under `key`, as `digits` lowercase hex digits; null stays null.

    Each distinct value is hashed once (by `hmac.digest`, in C), then the digests are put back in place.
    """
    uniques = values.drop_nulls().unique()
    digests = [hmac.digest(key, v.encode("utf-8"), hashlib.sha256).hex()[:digits] for v in uniques.to_list()]
    return values.replace_strict(uniques, pl.Series(digests, dtype=pl.String), default=None, return_dtype=pl.String)


def pseudonym(values: pl.Expr, key: bytes, *, digits: int = PSEUDONYM_DIGITS) -> pl.Expr:
    """The keyed pseudonym of each value of a text expression (see the module's docstring).

    Element-wise, so the streaming engine computes it batch by batch.

    Example
    -------
    >>> pl.select(pseudonym(pl.lit("17850"), b"k" * 16, digits=10)).item()  # doctest: +SKIP
    """
    if not key:
        raise ConfigError("the pseudonym key must be non-empty bytes", hint=f"set {PSEUDONYM_KEY_ENV}")
    return values.map_batches(lambda s: hmac_hex(s, key, digits=digits), return_dtype=pl.String, is_elementwise=True)


def key_id(key: bytes) -> str:
    """A public fingerprint of the key (8 hex digits of HMAC(key, "fidelcli key id")): says which key
    made a set of pseudonyms without revealing it."""
    return hmac.digest(key, b"fidelcli key id", hashlib.sha256).hex()[:8]


def canonical_id(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Customer ids as text as the readers read them: trimmed text; an integral float without `.0`."""
    if dtype == pl.String:
        text = column.str.strip_chars()
    elif dtype.is_float():
        text = pl.when(column == column.round(0)).then(column.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(column.cast(pl.String))
    else:
        text = column.cast(pl.String)
    return pl.when(text != "").then(text)


def normalized_email(column: pl.Expr) -> pl.Expr:
    text = column.cast(pl.String).str.strip_chars().str.to_lowercase()
    return pl.when(text != "").then(text)


def normalized_phone(column: pl.Expr, *, country: str) -> pl.Expr:
    """A phone number in E.164 (see the module's docstring); null when it holds no digit."""
    code, trunk = PHONE_COUNTRIES[country]
    text = column.cast(pl.String).str.strip_chars().str.replace(r"\(0\)", "")
    digits = text.str.replace_all(r"\D", "")
    national = digits.str.strip_prefix("0") if trunk else digits
    e164 = (
        pl.when(text.str.starts_with("+")).then(pl.lit("+") + digits)
        .when(digits.str.starts_with("00")).then(pl.lit("+") + digits.str.slice(2))
        .when(pl.lit(code == "1") & (digits.str.len_chars() == 11) & digits.str.starts_with("1")).then(pl.lit("+") + digits)
        .otherwise(pl.lit("+" + code) + national)
    )
    return pl.when(digits.str.len_chars() > 0).then(e164)


def read_key_file(path: Path) -> bytes:
    """The key in a file readable by its owner only (mode 600 or 400): its bytes, a final newline removed.

    Raises
    ------
    ConfigError: no such file, group or others may read it, or it holds fewer than 16 bytes.
    """
    try:
        st = os.stat(path)
    except OSError:
        raise ConfigError("cannot read the key file", file=str(path), hint="check the path of --key-file") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError("the key file is not a regular file", file=str(path), hint="give a file holding the key")
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"the key file may be read by other users (mode {stat.S_IMODE(st.st_mode):o})", file=str(path),
            hint=f"make it readable by its owner only: chmod 600 {path}",
        )
    try:
        key = path.read_bytes().rstrip(b"\r\n")
    except OSError as exc:
        raise ConfigError(f"cannot read the key file: {exc.strerror}", file=str(path)) from None
    return check_key(key, source=str(path))


def check_key(key: bytes, *, source: str) -> bytes:
    """`key` if it is long enough to be secret (16 bytes or more), else ConfigError."""
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"the pseudonym key from {source} is {len(key)} bytes long; at least {MIN_KEY_BYTES} are needed",
            hint="draw one with: python -c 'import secrets; print(secrets.token_hex(32))'",
        )
    return key


# What becomes of each kind of personal data by default; `keep` leaves a kind as it is.
ACTIONS = {
    "customer_id": "pseudonymised", "referred_by": "pseudonymised", "email": "pseudonymised", "phone": "pseudonymised",
    "birth_date": "generalised to the year", "postal_code": "generalised to the area", "name": "dropped", "address": "dropped",
    "iban": "dropped", "national_id": "dropped",
}
KEEPABLE = ("name", "address", "postal_code", "birth_date", "iban", "national_id")
CONTENT_SAMPLE = 10_000
COLUMNS_SCHEMA: dict[str, pl.DataType] = {"file": pl.String(), "column": pl.String(), "pii": pl.String(), "action": pl.String()}


def postal_area(column: pl.Expr) -> pl.Expr:
    """The area of a postal code: a British postcode's outward code (`SW1A 1AA` -> `SW1A`), else its
    first two characters (a French département, `75002` -> `75`; a US ZIP's region, `90210` -> `90`)."""
    text = column.cast(pl.String).str.strip_chars().str.to_uppercase()
    uk = text.str.extract(r"^([A-Z]{1,2}\d[A-Z\d]?)\s*\d[A-Z]{2}$", 1)
    return pl.when(text == "").then(None).otherwise(pl.coalesce(uk, text.str.slice(0, 2)))


def birth_year(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    from fidelcli.privacy.detect import as_date

    day = as_date(column, dtype)
    return day.dt.year() if day is not None else pl.lit(None, dtype=pl.Int32)


def column_kinds(lf: pl.LazyFrame, *, file: str, id_column: str | None = None) -> dict[str, str]:
    """{column: kind of personal data} of a table: the customer id and referrer columns by name, the
    other kinds by name or by the content of the first 10,000 rows (`fidelcli.privacy.scan`)."""
    from fidelcli.privacy.files import find_column
    from fidelcli.privacy.scan import kind_by_content, kind_by_name, scan_frame

    names = lf.collect_schema().names()
    kinds: dict[str, str] = {}
    ident = id_column if id_column in names else find_column(names, "customer_id", file=file)
    if ident is not None:
        kinds[ident] = "customer_id"
    referred = find_column([c for c in names if c != ident], "referred_by", file=file)
    if referred is not None:
        kinds[referred] = "referred_by"
    for scan in scan_frame(lf.head(CONTENT_SAMPLE), as_of=None, columns=[c for c in names if c not in kinds]):
        kind = kind_by_name(scan.column) or kind_by_content(scan.column, scan.counts, scan.values)
        if kind is not None:
            kinds[scan.column] = kind
    return kinds


def pseudonymized_frame(lf: pl.LazyFrame, kinds: dict[str, str], *, key: bytes, keep: frozenset[str] = frozenset(),
                        phone_country: str = "FR") -> pl.LazyFrame:
    """`lf` with its identifiers replaced by keyed pseudonyms, and its other personal data generalised or
    dropped unless its kind is in `keep` (see `ACTIONS`); other columns as they are, in their order."""
    schema = lf.collect_schema()
    out: list[pl.Expr] = []
    for column, dtype in schema.items():
        kind = kinds.get(column)
        col = pl.col(column)
        if kind is None or kind in keep:
            out.append(col)
        elif kind in ("customer_id", "referred_by"):
            out.append(pseudonym(canonical_id(col, dtype), key).alias(column))
        elif kind == "email":
            out.append(pseudonym(normalized_email(col), key).alias(column))
        elif kind == "phone":
            out.append(pseudonym(normalized_phone(col, country=phone_country), key).alias(column))
        elif kind == "birth_date":
            out.append(birth_year(col, dtype).alias(column))
        elif kind == "postal_code":
            out.append(postal_area(col).alias(column))
        # names, addresses, IBANs, national ids: dropped
    return lf.select(out)


@dataclass
class PseudonymizeResult(JsonResult):
    """`privacy pseudonymize`: table `columns` (file, column, pii, action: pseudonymised, generalised to
    the year / area, dropped, kept), one row per column holding personal data; `outputs`: the files written."""

    columns: pl.DataFrame
    outputs: list[str]
    key_id: str
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pl.DataFrame]:
        return {"columns": self.columns}

    def headline(self) -> dict[str, Figure]:
        return {"files": len(self.outputs), "key_id": self.key_id,
                "pseudonymised": int((self.columns["action"] == "pseudonymised").sum()),
                "dropped": int((self.columns["action"] == "dropped").sum())}


def pseudonymize(pairs: Sequence[tuple[Path, Path]], *, key: bytes, keep: frozenset[str] = frozenset(), phone_country: str = "FR",
                 id_column: str | None = None) -> PseudonymizeResult:
    """Write a pseudonymised copy of each input: `pairs` of (input, output); the output's format (csv,
    parquet, xlsx) comes from its extension. CSV and Parquet are streamed; each output is written
    atomically. The inputs are never changed.

    Raises
    ------
    InputError: an unreadable input, or a workbook of several sheets written to CSV or Parquet.
    """
    from fidelcli.privacy.files import read_data_file, write_as

    rows: list[dict[str, object]] = []
    for source, target in pairs:
        data = read_data_file(source)
        fmt = target.suffix.lower().lstrip(".")
        if len(data.sheets) > 1 and fmt != "xlsx":
            raise InputError(f"the workbook has {len(data.sheets)} sheets; a {fmt} file holds one", file=source.name,
                             hint="write it to an .xlsx output, or export each sheet apart")
        frames: dict[str | None, pl.LazyFrame] = {}
        for sheet, lf in data.sheets.items():
            kinds = column_kinds(lf, file=data.name, id_column=id_column)
            rows += [{"file": data.name if sheet is None else f"{data.name} [{sheet}]", "column": c, "pii": k,
                      "action": "kept" if k in keep else ACTIONS[k]} for c, k in kinds.items()]
            frames[sheet] = pseudonymized_frame(lf, kinds, key=key, keep=keep, phone_country=phone_country)
        if fmt == "xlsx":
            import xlsxwriter

            from fidelcli.io.write import atomic_path

            with atomic_path(target) as tmp, xlsxwriter.Workbook(str(tmp)) as workbook:
                for sheet, lf in frames.items():
                    lf.collect().write_excel(workbook, worksheet=sheet)
        else:
            write_as(frames[next(iter(frames))], target, fmt=fmt)
    return PseudonymizeResult(columns=pl.DataFrame(rows, schema=COLUMNS_SCHEMA, orient="row"), outputs=[str(t) for _, t in pairs],
                              key_id=key_id(key))
