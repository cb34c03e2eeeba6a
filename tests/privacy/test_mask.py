"""Recognising personal values: a table of values as exports write them, and what each one is.

True positives are the formats a French or English CRM export holds (SPEC section 3: an email, a phone
number, an IBAN or a name is masked in every diagnostic); true negatives are the values `validate` and
the readers quote all the time (dates, amounts, ids), which must stay readable.
"""

from __future__ import annotations

import pytest

from fidelcli.privacy.mask import KINDS, masked, personal_kind, scrub, shown

PERSONAL = [
    ("jean.dupont@example.com", "email"),
    ("Jean.Dupont+promo@mail.example.co.uk", "email"),
    ("Jean Dupont <jean@exemple.fr>", "email"),
    ("+33 6 12 34 56 78", "phone"),
    ("+33612345678", "phone"),
    ("+33 (0)6 12 34 56 78", "phone"),
    ("0033 6 12 34 56 78", "phone"),
    ("06.12.34.56.78", "phone"),  # dotted French number: three groups are a date, five are not
    ("06-12-34-56-78", "phone"),
    ("06 12 34 56 78", "phone"),
    ("0612345678", "phone"),
    ("tel: 06 12 34 56 78", "phone"),
    ("(555) 123-4567", "phone"),
    ("555-123-4567", "phone"),
    ("+1 555 123 4567", "phone"),
    ("+44 20 7946 0958", "phone"),
    ("07700 900123", "phone"),
    ("FR76 3000 6000 0112 3456 7890 189", "iban"),
    ("FR7630006000011234567890189", "iban"),
    ("DE89 3704 0044 0532 0130 00", "iban"),
    ("GB82WEST12345698765432", "iban"),
    ("Jean Dupont", "name"),
    ("Léa Petit", "name"),
    ("Marie-Claire O'Neil", "name"),
    ("Jean DUPONT", "name"),
    ("DUPONT Jean", "name"),
    ("jean dupont", "name"),  # any case, when one word is a common first name
    ("Charles de Gaulle", "name"),
    ("M. Dupont", "name"),
    ("J. Dupont", "name"),
]

NOT_PERSONAL = [
    "2024-01-15 10:30:00",
    "2024-01-15T10:30:00+01:00",
    "2010-12-01 08:26",
    "12/10/2010 9:33",
    "01.02.2024 10:30",
    "12.10.2010",
    "2024-01-15",
    "1 234,56",
    "12,50 €",
    "-12,50 €",
    "10.000.000,00",
    "12345.678",
    "0.000123456789",
    "17850",
    "85123A",
    "C536365",
    "C000001",
    "O000000001",
    "CAMP-AB-01",
    "0000012345",  # an id with leading zeros, not a number anyone dials
    "1234567890",
    "20100102",
    "NaN",
    "inf",
    "1e300",
    "Tea",
    "Paris",
    "WHITE HANGING HEART T-LIGHT HOLDER",  # Online Retail product labels are in capitals
    "United Kingdom",
    "New York",
    "Le Havre",
    "Online Store",
    "Black Friday",
    "Gold Tier",
    "Email Newsletter",
    "Site web",
    "asked for advice",
    "Invoice Date",  # column headers quoted in messages
    "Nom Client",
    "Montant TTC",
    "Quantity x UnitPrice",
    "",
]


@pytest.mark.parametrize(("value", "kind"), PERSONAL)
def test_personal_values_are_recognised(value: str, kind: str):
    assert personal_kind(value) == kind


@pytest.mark.parametrize("value", NOT_PERSONAL)
def test_dates_amounts_and_ids_are_not_personal(value: str):
    assert personal_kind(value) is None


@pytest.mark.parametrize("value", [None, 1e300, float("nan"), 17850, 12.5])
def test_only_text_is_personal(value: object):
    assert personal_kind(value) is None


def test_shown_quotes_or_names_the_kind():
    assert shown("abc") == "'abc'"
    assert shown("jean@exemple.fr") == "an email address"
    assert shown("jean@exemple.fr", show_values=True) == "'jean@exemple.fr'"


def test_masked_keeps_values_as_written():
    assert masked("12,50 €") == "12,50 €"
    values = ["jean.dupont@example.com", "+33 6 12 34 56 78", "FR7630006000011234567890189", "Jean Dupont"]
    assert [masked(v) for v in values] == ["an email address", "a phone number", "an IBAN", "a name"]
    assert masked("Jean Dupont", show_values=True) == "Jean Dupont"
    assert set(KINDS) == {"email", "phone", "iban", "name"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A quoted personal value becomes its kind, so the sentence still reads.
        ("tx.csv, column \"amount\", row 3: 'jean@exemple.fr' is not a valid number",
         "tx.csv, column \"amount\", row 3: an email address is not a valid number"),
        ("row 7: 'Jean Dupont' is not a valid date", "row 7: a name is not a valid date"),
        # A Polars error echoing cells.
        ('conversion from `str` to `f64` failed in column \'amount\' for 2 out of 9 values: ["06 12 34 56 78", "Jean Dupont"]',
         "conversion from `str` to `f64` failed in column 'amount' for 2 out of 9 values: [a phone number, a name]"),
        # Bare values.
        ("call +33 6 12 34 56 78 or write to jean@exemple.fr", "call <phone> or write to <email>"),
        ("paid from FR76 3000 6000 0112 3456 7890 189 today", "paid from <iban> today"),
        # Left alone: column names, dates, counts, paths, candidates.
        ('error: sales.csv, column "Nom Client", row 17: \'31/02/2024\' is not a date',
         'error: sales.csv, column "Nom Client", row 17: \'31/02/2024\' is not a date'),
        ("dates are ambiguous: '01/02/2024' may be day/month or month/day", "dates are ambiguous: '01/02/2024' may be day/month or month/day"),
        ("date on or after 2025-01-01 on 1,234 rows", "date on or after 2025-01-01 on 1,234 rows"),
        ("wrote 12 rows to /tmp/pytest-of-root/pytest-3/run0/out.csv", "wrote 12 rows to /tmp/pytest-of-root/pytest-3/run0/out.csv"),
        ("candidates: 'Nom Client', 'client_ref'", "candidates: 'Nom Client', 'client_ref'"),
        ("conversion from `f64` to `i64` failed in column 'amount' for 1 out of 3 values: [1.0000e302]",
         "conversion from `f64` to `i64` failed in column 'amount' for 1 out of 3 values: [1.0000e302]"),
    ],
)
def test_scrub(text: str, expected: str):
    assert scrub(text) == expected
    assert scrub(expected) == expected  # idempotent
