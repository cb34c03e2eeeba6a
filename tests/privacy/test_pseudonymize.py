"""Keyed pseudonyms: the HMAC itself against RFC 4231, the normalisation of contacts, the key handling."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fidelcli.analyses.clv.value import pseudonym as clv_pseudonym
from fidelcli.errors import ConfigError
from fidelcli.privacy.detect import iban_checksum_ok, value_kind
from fidelcli.privacy.mask import personal_kind
from fidelcli.privacy.pseudonymize import (
    canonical_id,
    hmac_hex,
    normalized_email,
    normalized_phone,
    postal_area,
    pseudonym,
    pseudonymized_frame,
    read_key_file,
)
from fidelcli.privacy.retain import kept_from

KEY = b"0123456789abcdef0123456789abcdef"


def test_hmac_is_rfc_4231_test_case_2() -> None:
    # RFC 4231, section 4.3: key "Jefe", data "what do ya want for nothing?", HMAC-SHA-256 as published.
    out = hmac_hex(pl.Series(["what do ya want for nothing?", None, "what do ya want for nothing?"]), b"Jefe")
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert out.to_list() == [expected, None, expected]


def test_pseudonym_equals_pythons_hmac_and_clv_shows_its_prefix() -> None:
    ids = pl.DataFrame({"id": ["17850", "C2", "ä"]})
    full = ids.select(pseudonym(pl.col("id"), KEY))["id"].to_list()
    assert full == [hmac.new(KEY, v.encode(), hashlib.sha256).hexdigest() for v in ["17850", "C2", "ä"]]
    short = ids.select(clv_pseudonym(pl.col("id"), KEY))["id"].to_list()
    assert short == [f[:10] for f in full]
    other = ids.select(pseudonym(pl.col("id"), b"another key of 16 bytes"))["id"].to_list()
    assert not set(other) & set(full)


def test_ids_emails_and_phones_are_normalised_before_hashing() -> None:
    df = pl.DataFrame({"id": [17850.0, 3.5, None], "email": [" Jean.Dupont@Example.COM ", "a+promo@x.fr", ""]})
    out = df.select(canonical_id(pl.col("id"), pl.Float64()), normalized_email(pl.col("email")))
    assert out.rows() == [("17850", "jean.dupont@example.com"), ("3.5", "a+promo@x.fr"), (None, None)]
    phones = ["06 12 34 56 78", "+33 (0)6 12 34 56 78", "0033 6 12 34 56 78", "+33612345678", "06.12.34.56.78", "n/a"]
    fr = pl.DataFrame({"p": phones}).select(normalized_phone(pl.col("p"), country="FR").alias("p"))["p"].to_list()
    assert fr == ["+33612345678"] * 5 + [None]
    uk = pl.DataFrame({"p": ["07700 900123", "+44 7700 900123"]}).select(normalized_phone(pl.col("p"), country="GB").alias("p"))["p"]
    assert uk.to_list() == ["+447700900123", "+447700900123"]
    us = pl.DataFrame({"p": ["(415) 555-2671", "1 415 555 2671", "+1 415-555-2671"]}).select(normalized_phone(pl.col("p"), country="US").alias("p"))
    assert us["p"].to_list() == ["+14155552671"] * 3


def test_other_personal_data_is_dropped_or_generalised_unless_kept() -> None:
    lf = pl.LazyFrame({"customer_id": ["C1"], "name": ["Jean Dupont"], "zip": ["SW1A 1AA"], "cp": ["75002"],
                       "dob": ["1980-05-17"], "tier": ["gold"]})
    kinds = {"customer_id": "customer_id", "name": "name", "zip": "postal_code", "cp": "postal_code", "dob": "birth_date"}
    out = pseudonymized_frame(lf, kinds, key=KEY).collect()
    expected = pl.DataFrame({"customer_id": [hmac.new(KEY, b"C1", hashlib.sha256).hexdigest()], "zip": ["SW1A"], "cp": ["75"],
                             "dob": pl.Series([1980], dtype=pl.Int32), "tier": ["gold"]})
    assert_frame_equal(out, expected)
    kept = pseudonymized_frame(lf, kinds, key=KEY, keep=frozenset({"name", "birth_date"})).collect()
    assert kept["name"].to_list() == ["Jean Dupont"] and kept["dob"].to_list() == ["1980-05-17"]
    assert pl.select(postal_area(pl.lit("m1 1ae"))).item() == "M1"


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_bytes(KEY + b"\n")
    path.chmod(0o640)
    with pytest.raises(ConfigError, match=r"the key file may be read by other users \(mode 640\)") as err:
        read_key_file(path)
    assert err.value.hint == f"make it readable by its owner only: chmod 600 {path}"
    path.chmod(0o600)
    assert read_key_file(path) == KEY  # the final newline is not part of the key
    path.write_bytes(b"short")
    with pytest.raises(ConfigError, match="5 bytes long; at least 16 are needed"):
        read_key_file(path)


def test_iban_checksum_and_detectors_agree_with_the_masking() -> None:
    # ISO 13616 examples (valid), and the same with one digit changed (invalid).
    assert iban_checksum_ok("GB82WEST12345698765432") and iban_checksum_ok("FR7630006000011234567890189")
    assert not iban_checksum_ok("GB82WEST12345698765433") and not iban_checksum_ok("FR7630006000011234567890188")
    values = ["jean.dupont@example.com", "+33 6 12 34 56 78", "06.12.34.56.78", "0612345678", "(555) 123-4567", "+44 20 7946 0958",
              "07700 900123", "+14155552671", "FR76 3000 6000 0112 3456 7890 189", "Jean Dupont", "Jean DUPONT", "jean dupont",
              "M. Dupont", "Marie-Claire O'Neil", "2024-01-15 10:30:00", "12/10/2010 9:33", "1 234,56", "17850", "1700000000",
              "Online Store", "WHITE HANGING HEART T-LIGHT HOLDER", "85123A", "United Kingdom"]
    kinds = pl.DataFrame({"v": values}).select(value_kind(pl.col("v")).alias("k"))["k"].to_list()
    assert kinds == [personal_kind(v) for v in values]
    addresses = ["12 rue de la Paix", "221B Baker Street", "1600 Pennsylvania Avenue NW", "SW1A 1AA", "75002 Paris", "90210-1234"]
    assert pl.DataFrame({"v": addresses}).select(value_kind(pl.col("v")).alias("k"))["k"].to_list() == ["address"] * 6


@pytest.mark.parametrize(("as_of", "period", "first"), [
    (dt.date(2025, 3, 1), "3y", dt.date(2022, 3, 1)),  # 2025 - 3 = 2022, same day
    (dt.date(2024, 2, 29), "1y", dt.date(2023, 2, 28)),  # no 29 February in 2023: the month's last day
    (dt.date(2025, 3, 31), "1m", dt.date(2025, 2, 28)),  # no 31 February
    (dt.date(2025, 3, 1), "36m", dt.date(2022, 3, 1)),
    (dt.date(2025, 3, 1), "90d", dt.date(2024, 12, 1)),  # 28 (Feb) + 31 (Jan) + 31 (Dec) = 90 days back
    (dt.date(2025, 3, 1), "2w", dt.date(2025, 2, 15)),
])
def test_first_day_kept_by_hand(as_of: dt.date, period: str, first: dt.date) -> None:
    assert kept_from(as_of, period) == first
