"""Recognise personal values (emails, phone numbers, IBANs, names) and mask them in diagnostics.

SPEC section 3: no personal data in logs, errors or reports by default. Every place that quotes
an input value in a message or a report goes through `shown()` (one value) or `scrub()` (free
text, such as a message a library echoed); `--show-values` is the only way to see the value itself.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
# A phone number: an international prefix (+ or 00) or a leading 0, then 8 to 14 more digits,
# possibly grouped by spaces, dots, dashes or parentheses; or a North-American (555) 123-4567.
_PHONE = re.compile(
    r"(?<![\w.,])(?:(?:\+|00)\d{1,3}[ .\-]?(?:\(0?\d{1,4}\)[ .\-]?)?|0)\d{1,4}(?:[ .\-]?\d{2,4}){2,5}(?![\w,])"
    r"|\(\d{3}\)[ .\-]?\d{3}[ .\-]?\d{4}(?!\w)"
)
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
# Two to four capitalised words of letters (accents, hyphens, apostrophes): "Jean Dupont", "Marie-Claire O'Neil".
_WORD = r"(?:[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+|[A-ZÀ-ÖØ-Þ]')(?:[-']?[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)*"
_NAME = re.compile(rf"^{_WORD}(?:\s+{_WORD}){{1,3}}$")

KINDS = {"email": "an email address", "phone": "a phone number", "iban": "an IBAN", "name": "a name"}


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _is_phone(text: str) -> bool:
    m = _PHONE.fullmatch(text.strip())
    return bool(m) and 9 <= _digits(text) <= 15 and not _DATE_LIKE.match(text.strip())


def personal_kind(value: object) -> str | None:
    """"email", "phone", "iban" or "name" when `value` looks like one, else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 200:
        return None
    if _EMAIL.search(text):
        return "email"
    if _IBAN.fullmatch(text.upper().replace(" ", "")) and _IBAN.fullmatch(text.replace(" ", "")):
        return "iban"
    if _is_phone(text):
        return "phone"
    if _NAME.match(text):
        return "name"
    return None


def shown(value: object, *, show_values: bool = False) -> str:
    """How a value is quoted in a message: `'abc'`, or its kind (`an email address`) when personal."""
    kind = None if show_values else personal_kind(value)
    return KINDS[kind] if kind else repr(value)


def scrub(text: str) -> str:
    """`text` with every email address, IBAN and phone number in it replaced by `<email>`, `<iban>`, `<phone>`."""
    text = _EMAIL.sub("<email>", text)
    text = _IBAN.sub("<iban>", text)

    def phone(m: re.Match[str]) -> str:
        s = m.group(0)
        return "<phone>" if 9 <= _digits(s) <= 15 and not _DATE_LIKE.match(s) else s

    return _PHONE.sub(phone, text)
