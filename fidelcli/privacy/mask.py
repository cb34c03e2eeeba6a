"""Recognise personal values (emails, phone numbers, IBANs, names) and mask them in diagnostics.

SPEC section 3: no personal data in logs, errors or reports by default. Every place that quotes
an input value in a message or a report goes through `shown()` (one value, quoted), `masked()` (one
value as written, for report examples) or `scrub()` (free text, such as a message a library echoed);
`--show-values` is the only way to see the value itself.

Recognition errs on the side of masking: a product called "Coffee Mug" may be shown as "a name",
but an email address, a phone number written the usual ways (`+33 6 12 34 56 78`, `06.12.34.56.78`,
`(555) 123-4567`) or an IBAN never reaches a terminal. Dates, amounts and identifiers are left alone.

Example:
    >>> personal_kind("06.12.34.56.78"), personal_kind("2024-01-15 10:30:00")
    ('phone', None)
    >>> scrub("'jean@exemple.fr' is not a valid number")
    'an email address is not a valid number'
"""

from __future__ import annotations

import re
import unicodedata

KINDS = {"email": "an email address", "phone": "a phone number", "iban": "an IBAN", "name": "a name"}

# Also used by the column scan (`fidelcli.privacy.detect`), as a Polars (Rust) regex: no look-around.
EMAIL_PATTERN = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
_EMAIL = re.compile(EMAIL_PATTERN)

# An IBAN: country code, two check digits, 11 to 30 letters and digits (15 to 34 in all), often in
# groups of four. In free text only the grouped or compact upper-case form is looked for.
_IBAN_COMPACT = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")
_IBAN_TEXT = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")

# A phone number: an international prefix (+ or 00) and a country code; or a national number with
# its trunk 0 (06 12 34 56 78, 06.12.34.56.78); or a North-American (555) 123-4567 / 555-123-4567.
# Digits come in groups separated by a space, a dot or a dash. `_is_phone` then asks for 9 to 15
# digits in all, which leaves out dates (8 digits), times and short codes.
_SEP = r"[ .\-]?"
_PHONE = re.compile(
    r"(?<![\w.,+\-/])(?:"
    rf"(?:\+|00)[1-9]\d{{0,2}}{_SEP}(?:\(0\){_SEP})?\d{{1,4}}(?:{_SEP}\d{{2,4}}){{1,5}}"
    rf"|\(0?\d{{1,4}}\){_SEP}\d{{2,4}}(?:{_SEP}\d{{2,4}}){{1,4}}"
    rf"|0[1-9]\d{{0,3}}(?:{_SEP}\d{{2,4}}){{2,5}}"
    r"|\d{3}[.\-]\d{3}[.\-]\d{4}"
    r")(?![\w,]|[.\-/:]\d)"
)
_DATE_START = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}")

# A name: two to four words, each capitalised (Jean, Marie-Claire, O'Neil, McDonald) or a surname in
# capitals next to one (Jean DUPONT), with particles (de, van, d') and an optional title (M., Mme, Dr).
_UP, _LO = "A-ZÀ-ÖØ-Þ", "a-zß-öø-ÿ"
_CAP = rf"(?:[{_UP}]['’])?(?:Mc|Mac)?[{_UP}][{_LO}]+(?:-[{_UP}][{_LO}]+)*"
_CAPS = rf"[{_UP}]{{2,}}(?:[-'’][{_UP}]{{2,}})*"
_INITIAL = rf"[{_UP}]\."
# Name particles and titles: one definition, also used by the column-wide detector (privacy/detect.py).
NAME_PARTICLE = r"(?:de|du|des|del|della|di|da|dos|van|von|der|den|ter|ten|le|la|y|bin|ibn|al|d['’]|l['’])"
NAME_TITLE = r"(?:M\.|MM\.|Mme|Mlle|Mr|Mrs|Ms|Miss|Dr|Pr|Me)\.?"
_PART = rf"(?:{_CAP}|{_CAPS}|{_INITIAL})"
_NAME = re.compile(rf"(?:{NAME_TITLE}\s+)?{_PART}(?:\s+(?:{NAME_PARTICLE}\s*)*{_PART}){{1,3}}")
_TITLED = re.compile(rf"{NAME_TITLE}\s+(?:{NAME_PARTICLE}\s*)*{_PART}")
_TOKEN = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")

# Words that make a run of capitalised words something other than a person: places, channels, products,
# tiers, column headers ("Online Store", "United Kingdom", "Black Friday", "Invoice Date", "Nom Client").
NOT_PERSON = set(
    """
    united kingdom states new north south east west saint sainte st san santa los las el rio port mont fort lake
    city island islands republic county street avenue road rue boulevard place ville centre center
    store shop online web website site app mobile email e-mail mail newsletter sms push social search organic
    referral partner partners marketplace retail outlet mall market card gift voucher tier gold silver bronze
    platinum premium basic standard plus pro member members loyalty program programme campaign offer promo sale
    sales black friday cyber christmas noel noël easter day days week weeks month months year years welcome back
    club service support customer customers client clients order orders product products category price amount
    date time invoice unit quantity total name names first last full home office direct paid free delivery
    shipping return returns team group company inc ltd llc sa sas sarl gmbh bank insurance hotel restaurant cafe
    coffee tea mug bag box set pack kit magasin boutique commande produit montant prix remise marge statut canal
    achat vente carte fidélité fidelite cadeau soldes livraison retour nom prénom prenom numéro numero adresse
    ticket caisse drive click collect express test demo sample default unknown other others none
    monday tuesday wednesday thursday saturday sunday january february march april may june july august
    september october november december lundi mardi mercredi jeudi vendredi samedi dimanche janvier février
    fevrier mars avril mai juin juillet août aout septembre octobre novembre décembre decembre
    """.split()
)
# A place or a title starts with an article ("Le Havre", "La Rochelle", "The Body Shop"); a name rarely does.
ARTICLES = {"le", "la", "les", "l", "the", "el", "il"}
# Common first names (French and English), to recognise a name in any case: "jean dupont", "DUPONT JEAN".
# Names that are also ordinary words (Rose, Grace, Mark, Victoria...) are left out.
FIRST_NAMES = set(
    """
    adam adrien agathe alain alexandre alexis alice amandine amelie amélie anaïs anais andre andré anne antoine
    arnaud arthur aurelie aurélie baptiste benjamin bernard camille caroline catherine celine céline charles
    charlotte chloe chloé christian christine christophe claire clement clément damien daniel david denis didier
    dominique elise élise elodie élodie emilie émilie emma emmanuel eric éric etienne étienne fabien fabrice florian
    francois françois frederic frédéric gabriel gerard gérard guillaume helene hélène hugo isabelle jacques jean
    jeanne jerome jérôme jonathan julie julien karine laetitia laura laurent lea léa lucas lucie louis louise
    manon marc marie marine martin mathieu mathilde maxime michel michele nathalie nicolas olivier pascal patrick
    paul philippe pierre quentin raphael raphaël remi rémi romain sandrine sarah sebastien sébastien sophie
    stephane stéphane sylvie thomas thierry valerie valérie vincent virginie yann yves
    alan alex amanda andrew angela anthony ashley barbara brian carol charlotte christopher cynthia david deborah
    dennis donald donna dorothy edward elizabeth emily eric gary george helen james jason jeffrey jennifer jessica
    john jonathan joseph joshua karen kenneth kevin kimberly laura linda lisa margaret mary matthew melissa
    michael michelle nancy nicole patricia paul rachel rebecca richard robert ronald ryan sandra sarah scott
    sharon stephanie stephen steven susan thomas timothy william
    """.split()
)

# The canonical fields that hold personal data (a value of theirs is never quoted in a message).
PII_FIELDS = {"email", "phone", "name", "birth_date"}


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _phone_ok(text: str) -> bool:
    """A candidate from `_PHONE` is a phone number: 9 to 15 digits, not a date, not a run of zeros."""
    digits = "".join(ch for ch in text if ch.isdigit())
    return 9 <= len(digits) <= 15 and not _DATE_START.match(text) and not digits.startswith("000")


def _fold(word: str) -> str:
    return unicodedata.normalize("NFC", word).lower()


def _is_name(text: str) -> bool:
    words = [_fold(w) for w in _TOKEN.findall(text)]
    if len(words) < 2 or len(words) > 5 or words[0] in ARTICLES or any(w in NOT_PERSON for w in words):
        return False
    if _NAME.fullmatch(text) or _TITLED.fullmatch(text):
        # Capitals alone ("WHITE HANGING HEART") are product labels, not names, unless a word is a first name.
        return not text.isupper() or any(w in FIRST_NAMES for w in words)
    # Any case ("jean dupont", "DUPONT JEAN"): two or three words of letters, one of them a first name.
    plain = re.fullmatch(r"[^\W\d_]+(?:['’-][^\W\d_]+)*(?:\s+[^\W\d_]+(?:['’-][^\W\d_]+)*){1,2}", text)
    return bool(plain) and (words[0] in FIRST_NAMES or words[-1] in FIRST_NAMES)


def personal_kind(value: object) -> str | None:
    """"email", "phone", "iban" or "name" when `value` looks like one (or holds an email, a phone
    number or an IBAN, as in `tel: 06 12 34 56 78`), else None. Only text is personal: numbers, dates
    and None are not."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    if not text or len(text) > 200:
        return None
    if _EMAIL.search(text):
        return "email"
    if _IBAN_COMPACT.fullmatch(text.replace(" ", "")) or any(_iban_ok(m.group(0)) for m in _IBAN_TEXT.finditer(text)):
        return "iban"
    if any(_phone_ok(m.group(0)) for m in _PHONE.finditer(text)):
        return "phone"
    if _is_name(text):
        return "name"
    return None


def _iban_ok(text: str) -> bool:
    return bool(_IBAN_COMPACT.fullmatch(text.replace(" ", "")))


def shown(value: object, *, show_values: bool = False) -> str:
    """How a value is quoted in a message: `'abc'`, or its kind (`an email address`) when personal."""
    kind = None if show_values else personal_kind(value)
    return KINDS[kind] if kind else repr(value)


def masked(value: str, *, show_values: bool = False) -> str:
    """A value as written (an example in a report), or its kind (`an email address`) when personal."""
    kind = None if show_values else personal_kind(value)
    return KINDS[kind] if kind else value


# A quoted value in a message ('abc', "abc"), unless it is a column name (`column "Nom Client"`).
_QUOTED = re.compile(r"""(?<!column )(?<!field )(?<![\w'"])(['"])([^'"\n]{1,200})\1(?!\w)""")


def scrub(text: str) -> str:
    """`text` with its personal values masked: a quoted value that looks personal becomes its kind
    (`'jean@x.fr' is not a valid number` → `an email address is not a valid number`); any other email
    address, IBAN and phone number becomes `<email>`, `<iban>`, `<phone>`. Names are recognised only
    when quoted: in free text a capitalised pair of words is too often a column or a place."""

    def quoted(m: re.Match[str]) -> str:
        kind = personal_kind(m.group(2))
        return KINDS[kind] if kind else m.group(0)

    text = _QUOTED.sub(quoted, text)
    text = _EMAIL.sub("<email>", text)
    text = _IBAN_TEXT.sub(lambda m: "<iban>" if _iban_ok(m.group(0)) else m.group(0), text)
    return _PHONE.sub(lambda m: "<phone>" if _phone_ok(m.group(0)) else m.group(0), text)
