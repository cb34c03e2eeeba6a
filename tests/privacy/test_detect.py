"""`detect.kinds_of` (what `privacy scan` counts) tests each kind on its candidates only: it must give
exactly `value_kind` (every regex on every value), which agrees with the masking's `personal_kind`."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_series_equal

from fidelcli.privacy.detect import cleaned, kind_counts, kinds_of, value_kind
from fidelcli.privacy.mask import personal_kind
from tests.privacy.test_mask import NOT_PERSONAL, PERSONAL

# Values on the edges of the candidate rules: an email with digits and an IBAN-like part, an
# IBAN with a bad checksum (then a phone? an address?), a phone number of exactly 9 and 15
# digits, a street address with 9 digits, a name with a digit, a one-word name, whitespace.
EDGES = [
    "jean.dupont1234567890@example.com", "FR76 3000 6000 0112 3456 7890 189", "FR76 3000 6000 0112 3456 7890 188",
    "GB82 WEST 1234 5698 7654 32", "gb82west12345698765432", "+33 612345678", "+123456789012345", "123456789 rue de la Paix",
    "12 rue de la Paix 75002 Paris", "Jean Dupont 2", "Dupont", "  Jean   Dupont  ", "SW1A 1AA", "06 12 34 56 78 rue",
    "AB12 345", "12", "", "@", "a@b", "Jean@Dupont Martin", "Marie Curie", "M. Dupont",
]


def test_kinds_of_equals_value_kind_on_every_value() -> None:
    values = [v for v, _ in PERSONAL] + [v for v in NOT_PERSONAL if isinstance(v, str)] + EDGES
    text = pl.DataFrame({"v": values}).select(cleaned(pl.col("v"))).to_series()
    expected = pl.DataFrame({"v": values}).select(value_kind(pl.col("v")).alias("kind")).to_series()
    assert_series_equal(kinds_of(text), expected)
    # And the masking, value by value, on its own table.
    assert kinds_of(pl.Series([v for v, _ in PERSONAL])).to_list() == [k for _, k in PERSONAL]
    assert expected.drop_nulls().len() > len(PERSONAL)
    assert [personal_kind(v) for v, _ in PERSONAL] == [k for _, k in PERSONAL]


def test_kind_counts_weigh_distinct_values() -> None:
    # Three distinct values standing for 1,000,000 rows: 600,000 emails, 300,000 phones, 100,000 nothing.
    text = pl.Series(["a.b@example.com", "06 12 34 56 78", "completed"])
    counts = kind_counts(text, pl.Series([600_000, 300_000, 100_000]))
    assert counts == {"email": 600_000, "phone": 300_000, "iban": 0, "address": 0, "name": 0}
    assert kind_counts(pl.Series([], dtype=pl.String)) == {"email": 0, "phone": 0, "iban": 0, "address": 0, "name": 0}
