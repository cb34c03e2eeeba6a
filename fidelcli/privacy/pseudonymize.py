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
from pathlib import Path

import polars as pl

from fidelcli.errors import ConfigError

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
    if not isinstance(key, bytes) or not key:
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
