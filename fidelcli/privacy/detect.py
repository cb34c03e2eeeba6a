"""Recognise personal values in whole columns, as Polars expressions (one streaming pass, no Python per row).

`fidelcli.privacy.mask.personal_kind` recognises one value in a message; the column scan counts, over
every value of a column, how many look like each kind of personal data. The two agree on the usual
formats (tests/privacy/test_detect.py); the expressions here are anchored (the whole cell is the value)
and use the Rust regex dialect of Polars (no look-around).

Kinds and what makes a cell one (after trimming and collapsing inner whitespace):

- `email`: contains an address (`mask.EMAIL_PATTERN`).
- `phone`: a French, British, North-American or E.164 number, national or international: `0X XX XX XX XX`
  (spaces, dots, dashes or nothing between groups), `+33 6 12 34 56 78`, `+33 (0)6...`, `0033...`,
  `07700 900123`, `020 7946 0958`, `+44 20 7946 0958`, `(555) 123-4567`, `555-123-4567`,
  `+1 555 123 4567`, `+14155552671`; 9 to 15 digits in all (E.164 allows 15), so that dates (8 digits)
  and short codes are not numbers. A bare run of 10 digits is a phone number only with a leading 0
  (`0612345678`): epoch seconds and order numbers are not.
- `iban`: country code, two check digits, 11 to 30 letters or digits (spaces allowed), whose ISO 7064
  mod-97 checksum is 1 (ISO 13616): a reference that merely looks like an IBAN is not one.
- `address`: a street address (`12 rue de la Paix`, `221B Baker Street`, `1600 Pennsylvania Avenue NW`),
  a British postcode (`SW1A 1AA`), a French postal code with its town (`75002 Paris`) or a US ZIP+4.
- `name`: two to four words of letters, capitalised (`Jean Dupont`, `Jean DUPONT`, `Marie-Claire O'Neil`,
  `M. Dupont`) or in any case with a common first name (`jean dupont`), and none of the words that make
  a place, a product or a channel (`mask.NOT_PERSON`); capitals alone only with a first name.
- `birth_date` is a property of a whole date column, not of one value: see `birth_date_like`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl

from fidelcli.privacy.mask import ARTICLES, EMAIL_PATTERN, FIRST_NAMES, NAME_PARTICLE, NAME_TITLE, NOT_PERSON

VALUE_KINDS = ("email", "phone", "iban", "address", "name")

_SEP = r"[ .\-]?"
_PHONE_PATTERNS = (
    # French national: 0 then 9 digits, in pairs (06 12 34 56 78, 06.12.34.56.78, 0612345678).
    rf"0[1-9](?:{_SEP}\d{{2}}){{4}}",
    # British national: 0 then 9 or 10 digits in two or three groups (07700 900123, 020 7946 0958, 01632 960 983).
    r"\(?0\d{2,4}\)?[ \-]?\d{3,4}(?:[ \-]?\d{3,4})?",
    # North-American: (555) 123-4567, 555-123-4567, 555.123.4567, with an optional +1 / 001.
    r"(?:(?:\+|00)1[ .\-]?)?(?:\(\d{3}\)[ .\-]?|\d{3}[.\-])\d{3}[.\-]\d{4}",
    # International with a country code (+33 6 12..., +33 (0)6 12..., 0044 20 7946 0958, +1 555 123 4567).
    rf"(?:\+|00)[1-9]\d{{0,2}}{_SEP}(?:\(0\){_SEP})?\(?\d{{1,4}}\)?(?:{_SEP}\d{{1,4}}){{1,6}}",
    # E.164 as stored (+14155552671).
    r"\+[1-9]\d{7,14}",
)
# A label before the number (`tel: 06 12 34 56 78`) is allowed.
PHONE_PATTERN = r"^(?i:(?:t[ée]l[ée]?(?:phone)?|phone|mobile|portable|fax)\.?\s*:?\s*)?(?:" + "|".join(_PHONE_PATTERNS) + ")$"
IBAN_SHAPE = r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$"
_STREET_WORDS = (
    "rue|avenue|av|boulevard|bd|bld|place|pl|chemin|impasse|allée|allee|route|quai|cours|square|passage|voie|"
    "street|st|road|rd|lane|ln|drive|dr|way|court|ct|close|terrace|crescent|gardens|avenida|calle|strasse|straße"
)
ADDRESS_PATTERN = (
    r"(?i)^(?:"
    # A number, an optional bis/ter or letter, then a street word: 12 rue de la Paix, 221B Baker Street.
    rf"\d{{1,5}}\s?(?:bis|ter|[a-z])?,?\s+(?:\p{{L}}+\s+){{0,3}}(?:{_STREET_WORDS})\.?(?:\s.*)?"
    # A British postcode: SW1A 1AA, M1 1AE, B33 8TH.
    r"|[a-z]{1,2}\d[a-z\d]?\s*\d[a-z]{2}"
    # A French postal code and its town: 75002 Paris, 69002 LYON.
    r"|\d{5}\s+\p{L}[\p{L}' \-]*"
    # A US ZIP+4: 90210-1234.
    r"|\d{5}-\d{4}"
    r")$"
)
_CAP = r"(?:\p{Lu}['’])?(?:Mc|Mac)?\p{Lu}\p{Ll}+(?:-\p{Lu}\p{Ll}+)*"
_CAPS = r"\p{Lu}{2,}(?:[-'’]\p{Lu}{2,})*"
_WORD = rf"(?:{_CAP}|{_CAPS}|\p{{Lu}}\.)"
CAPITALISED_NAME = rf"^(?:{NAME_TITLE}\s+)?{_WORD}(?:\s+(?:{NAME_PARTICLE}\s*)*{_WORD}){{1,3}}$"
TITLED_NAME = rf"^{NAME_TITLE}\s+(?:{NAME_PARTICLE}\s*)*{_WORD}$"
PLAIN_WORDS = r"^\p{L}+(?:['’-]\p{L}+)*(?:\s+\p{L}+(?:['’-]\p{L}+)*){1,2}$"


# The word lists of `mask` as regexes (one automaton each: faster than splitting every value into words).
_WORD_END = r"(?:$|[^\p{L}'’-])"
_NOT_PERSON = rf"(?i)(?:^|[^\p{{L}}'’-])(?:{'|'.join(sorted(NOT_PERSON))}){_WORD_END}|^(?i:{'|'.join(sorted(ARTICLES))})(?:$|[ '’])"
_FIRST_WORD = rf"(?i)^(?:{'|'.join(sorted(FIRST_NAMES))}){_WORD_END}"
_LAST_WORD = rf"(?i)(?:^|[ ]){'(?:' + '|'.join(sorted(FIRST_NAMES)) + ')'}$"


def cleaned(column: pl.Expr) -> pl.Expr:
    """A column's values as text, trimmed, inner runs of whitespace made one space; empty is null."""
    text = column.cast(pl.String).str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.when(text != "").then(text)


def digit_count(text: pl.Expr) -> pl.Expr:
    return text.str.count_matches(r"\d")


def is_email(text: pl.Expr) -> pl.Expr:
    return text.str.contains(EMAIL_PATTERN)


def is_phone(text: pl.Expr) -> pl.Expr:
    digits = digit_count(text)
    return text.str.contains(PHONE_PATTERN) & digits.is_between(9, 15) & ~text.str.contains(r"^\+?0{3}")


def iban_checksum_ok(value: str) -> bool:
    """ISO 13616: move the first four characters to the end, write each letter as two digits (A = 10 ...
    Z = 35): the number is 1 modulo 97."""
    return int("".join(str(int(c, 36)) for c in value[4:] + value[:4])) % 97 == 1


def _iban_checksums(compact: pl.Series) -> pl.Series:
    """The checksum test of each IBAN-shaped value (the others are False): computed only on those, which
    are few outside a column of IBANs."""
    shaped = compact.str.contains(IBAN_SHAPE).fill_null(False)
    ok = pl.Series([iban_checksum_ok(v) for v in compact.filter(shaped).to_list()], dtype=pl.Boolean)
    out = pl.Series([False] * len(compact), dtype=pl.Boolean)
    return out.scatter(shaped.arg_true(), ok) if len(ok) else out


def is_iban(text: pl.Expr) -> pl.Expr:
    compact = text.str.replace_all(" ", "").str.to_uppercase()
    return compact.str.contains(IBAN_SHAPE) & compact.map_batches(_iban_checksums, return_dtype=pl.Boolean, is_elementwise=True)


def is_address(text: pl.Expr) -> pl.Expr:
    return text.str.contains(ADDRESS_PATTERN)


def is_name(text: pl.Expr) -> pl.Expr:
    """See the module's docstring; `mask.personal_kind` says the same of one value."""
    count = text.str.count_matches(r"\p{L}+(?:['’-]\p{L}+)*")
    first_name = text.str.contains(_FIRST_WORD) | text.str.contains(_LAST_WORD)
    not_person = text.str.contains(_NOT_PERSON)
    capitalised = text.str.contains(CAPITALISED_NAME) | text.str.contains(TITLED_NAME)
    upper = text == text.str.to_uppercase()
    shaped = (capitalised & (~upper | first_name)) | (text.str.contains(PLAIN_WORDS) & first_name)
    return count.is_between(2, 5) & ~not_person & shaped & ~text.str.contains(r"\d")


def value_kind(column: pl.Expr, *, clean: bool = True) -> pl.Expr:
    """The kind of each value ("email", "phone", "iban", "address", "name") or null, as
    `personal_kind` orders them: an email first, then an IBAN, a phone number, an address, a name.
    `clean=False`: the column is already `cleaned` (computed once by the caller)."""
    text = cleaned(column) if clean else column
    return (
        pl.when(is_email(text)).then(pl.lit("email"))
        .when(is_iban(text)).then(pl.lit("iban"))
        .when(is_phone(text)).then(pl.lit("phone"))
        .when(is_address(text)).then(pl.lit("address"))
        .when(is_name(text)).then(pl.lit("name"))
    )


# What a cleaned IBAN starts with (`is_iban` removes the single spaces `cleaned` leaves and upper-cases).
_IBAN_START = r"^[A-Za-z] ?[A-Za-z] ?\d ?\d"


def _candidates(text: pl.Series) -> dict[str, pl.Series]:
    """Per kind, the values that could be of it, from what the kind cannot lack: an email an `@`;
    an IBAN its start (two letters, two check digits: `_IBAN_START`); a phone number 9 to 15 digits;
    every address pattern a digit; a name no digit and a space between its words (after `cleaned`,
    whitespace is single spaces)."""
    frame = text.to_frame("t").select(
        digits=digit_count(pl.col("t")), at=pl.col("t").str.contains("@", literal=True),
        iban=pl.col("t").str.contains(_IBAN_START), space=pl.col("t").str.contains(" ", literal=True))
    digits = frame.get_column("digits")
    return {
        "email": frame.get_column("at"), "iban": frame.get_column("iban"), "phone": digits.is_between(9, 15),
        "address": digits >= 1, "name": (digits == 0) & frame.get_column("space"),
    }


TESTS: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "email": is_email, "iban": is_iban, "phone": is_phone, "address": is_address, "name": is_name}


def kinds_of(text: pl.Series) -> pl.Series:
    """`value_kind` of every value of the `cleaned` text `text` (a Series), computed test by test in
    `value_kind`'s order on the values no earlier test took and that are candidates of the kind
    (`_candidates`): the same answer as every regex on every value, at the cost of the candidates
    only (a column of names never meets the phone, address or IBAN automata, a column of ids or
    amounts never meets the name ones)."""
    kind = pl.Series("kind", [None] * text.len(), dtype=pl.String)
    candidates = _candidates(text)
    for name in ("email", "iban", "phone", "address", "name"):
        open_ = (candidates[name] & kind.is_null()).fill_null(False)
        if not open_.any():
            continue
        where = open_.arg_true()
        hit = text.gather(where).to_frame("t").select(TESTS[name](pl.col("t")).fill_null(False)).to_series()
        kind = kind.scatter(where.filter(hit), name)
    return kind


def kind_counts(text: pl.Series, weights: pl.Series | None = None) -> dict[str, int]:
    """{kind: how many values of `text` (each counting `weights`, e.g. its occurrences) are of it}
    for every kind of `VALUE_KINDS` (`kinds_of`)."""
    frame = pl.DataFrame({"kind": kinds_of(text), "w": weights if weights is not None else pl.repeat(1, text.len(), eager=True)})
    got = dict(frame.group_by("kind").agg(pl.col("w").sum()).drop_nulls("kind").iter_rows())
    return {k: int(got.get(k, 0)) for k in VALUE_KINDS}


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y")


def as_date(column: pl.Expr, dtype: pl.DataType) -> pl.Expr | None:
    """A column as dates: Date and Datetime columns as they are, text in a usual format (the first
    10 characters: a time after the date is ignored), other types not (None)."""
    if dtype == pl.Date:
        return column
    if isinstance(dtype, pl.Datetime):
        return column.dt.date()
    if dtype == pl.String:
        head = column.str.strip_chars().str.slice(0, 10)
        # Every format starts with digits and a separator: the parsers run on those values only.
        dated = pl.when(head.str.contains(r"^\d{1,4}[-/.]")).then(head)
        return pl.coalesce([dated.str.to_date(f, strict=False) for f in _DATE_FORMATS])
    return None


BIRTH_AGES = (15, 110)
BIRTH_SPREAD_YEARS = 15
BIRTH_SHARE = 0.9


def birth_date_stats(day: pl.Expr, *, as_of: dt.date) -> list[pl.Expr]:
    """Aggregates of a date column that say whether it holds birth dates: how many dates, how many give
    an age of 15 to 110 years at `as_of`, and the 10th and 90th percentile of their years."""
    oldest = dt.date(as_of.year - BIRTH_AGES[1], 1, 1)
    youngest = dt.date(as_of.year - BIRTH_AGES[0], 12, 31)
    year = day.dt.year()
    return [
        day.count().alias("dates"),
        day.is_between(oldest, youngest).sum().alias("ages"),
        year.quantile(0.1, interpolation="lower").alias("p10"),
        year.quantile(0.9, interpolation="lower").alias("p90"),
    ]


def birth_date_like(dates: int, ages: int, p10: int | None, p90: int | None) -> bool:
    """A date column holds birth dates when 90 % of its dates give an age of 15 to 110 years and its
    years spread over 15 years or more (10th to 90th percentile): purchase or signup dates a few years
    old, however old, span a few years only."""
    return dates > 0 and ages >= BIRTH_SHARE * dates and p10 is not None and p90 is not None and p90 - p10 >= BIRTH_SPREAD_YEARS
