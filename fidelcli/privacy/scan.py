"""Find the columns that hold personal data: by their name and by their content. The one home of
PII-column detection: `validate` reports these columns (`pii_columns`), `privacy scan` counts them
(`scan`), `privacy pseudonymize` decides what to do with each (`classify`).

By name: words of the column name (`customer_email`, `Téléphone`, `code_postal`, `DateNaissance`) from
`PII_WORDS`, unless another word says it is something else (`product_name`, `email_opt_in`).
By content: the share of a column's non-empty values that look like emails, phone numbers, IBANs
(checksum verified), postal addresses or people's names (`fidelcli.privacy.detect`): more than half
(names: more than 80 %, and not in a column named like a place or a product); a date column holds
birth dates when nearly all its dates give an age of 15 to 110 years and they spread over 15 years.
Values are counted, never kept: no result, message or log holds one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from fidelcli.io.columns import fields, normalize
from fidelcli.privacy import detect
from fidelcli.privacy.mask import PII_FIELDS
from fidelcli.result import Figure, JsonResult

if TYPE_CHECKING:
    from fidelcli.io.read import Table

# Canonical fields of the customers table that are personal data (their values are never quoted).
PII_SAMPLE = 1_000

# Kinds of personal data, and how a report words them ("personal data (address)").
LABELS = {
    "email": "email", "phone": "phone", "name": "name", "address": "address", "postal_code": "address",
    "birth_date": "birth date", "iban": "bank account", "national_id": "national id",
}
PII_WORDS = {
    "email": "email", "mail": "email", "courriel": "email", "phone": "phone", "telephone": "phone", "tel": "phone",
    "mobile": "phone", "portable": "phone", "name": "name", "fullname": "name", "firstname": "name",
    "lastname": "name", "surname": "name", "nom": "name", "prenom": "name", "address": "address",
    "adresse": "address", "street": "address", "rue": "address", "zip": "postal_code", "zipcode": "postal_code",
    "postcode": "postal_code", "postal": "postal_code", "birth": "birth_date", "birthdate": "birth_date",
    "birthday": "birth_date", "dob": "birth_date", "naissance": "birth_date", "iban": "iban", "ssn": "national_id",
}
# Words that make a *name* column something other than a person's name (product_name, nom_magasin).
NOT_PERSON_COLUMN = {
    "product", "item", "campaign", "store", "shop", "plan", "category", "brand", "file", "company", "magasin",
    "produit", "article", "campagne", "categorie", "marque", "stage", "channel", "event", "page", "domain",
}
# Words that make any column a flag or a property of personal data, not personal data (email_opt_in).
NOT_PII_COLUMN = {"opt", "optin", "optout", "consent", "consentement", "verified", "bounced", "bounce"}
# Columns named like these do not hold people's names, whatever their values look like.
NOT_NAMES = NOT_PERSON_COLUMN | {
    "city", "ville", "country", "pays", "region", "town", "commune", "departement", "state", "label", "libelle",
    "description", "designation", "title", "titre", "status", "statut", "type", "outcome", "touchpoint", "variant", "tier",
}
# Share of a column's values above which its content makes it personal data.
THRESHOLDS = {"email": 0.5, "phone": 0.5, "iban": 0.5, "address": 0.5, "name": 0.8}
_CUSTOMER_ID = next(f for f in fields("customers") if f.name == "customer_id").synonyms


def words(column: str) -> list[str]:
    """`customerEmail` -> ["customer", "email"]: the normalised words of a column name."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", column)
    return [w for w in (normalize(p) for p in re.split(r"[^A-Za-z0-9À-ÿ]+", spaced)) if w]


def kind_by_name(column: str) -> str | None:
    """The kind of personal data a column's name announces, or None."""
    ws = words(column)
    hits = [PII_WORDS[w] for w in ws if w in PII_WORDS]
    if not hits or NOT_PII_COLUMN & set(ws) or (hits[0] == "name" and NOT_PERSON_COLUMN & set(ws)):
        return None
    return hits[0]


def is_customer_id(column: str) -> bool:
    """Whether a column's name is one of the customer-id synonyms (`Customer ID`, `client`, `id`)."""
    return normalize(column) in {normalize(s) for s in _CUSTOMER_ID}


def kind_by_content(column: str, counts: dict[str, int], total: int, *, names: bool = True) -> str | None:
    """The kind most of a column's `total` non-empty values are (`counts` per kind), or None;
    `names=False`: people's names are not looked for (a column mapped to another field)."""
    if total == 0:
        return None
    for kind, threshold in THRESHOLDS.items():
        if kind == "name" and (not names or NOT_NAMES & set(words(column))):
            continue
        if counts.get(kind, 0) > threshold * total:
            return kind
    return None


def content_exprs(column: str, dtype: pl.DataType, *, prefix: str, as_of: dt.date | None) -> list[pl.Expr]:
    """Aggregates of one column: `{prefix}values` (non-empty values), and with `as_of` the birth-date
    statistics of a date column (`detect.birth_date_stats`). Value kinds: `text_kinds`."""
    col = pl.col(column)
    out: list[pl.Expr] = []
    if dtype == pl.String:
        out.append(detect.cleaned(col).count().alias(f"{prefix}values"))
    else:
        out.append(col.count().alias(f"{prefix}values"))
    day = detect.as_date(col, dtype) if as_of is not None else None
    if day is not None:
        out += [e.name.prefix(prefix) for e in detect.birth_date_stats(day, as_of=as_of)]  # type: ignore[arg-type]
    return out


@dataclass
class ColumnScan:
    """What is known of one column: its kind by name, its counts by content, and its final kind."""

    column: str
    values: int
    counts: dict[str, int] = field(default_factory=dict)
    by_name: str | None = None
    by_content: str | None = None

    @property
    def kind(self) -> str | None:
        return self.by_name or self.by_content

    @property
    def matching(self) -> int | None:
        """Values of the column's kind (None: a kind the content does not count, e.g. a name-only hit)."""
        kind = self.kind
        if kind == "birth_date":
            return self.counts.get("birth_date")
        return self.counts.get(kind) if kind in detect.VALUE_KINDS else None


def text_kinds(lf: pl.LazyFrame, column: str) -> dict[str, int]:
    """Values of each kind (`detect.VALUE_KINDS`) in a text column: its distinct cleaned values and
    their counts (a streaming group-by), then `detect.kind_counts` on the distinct values only
    (a status, a channel or a product id repeated a million times is tested once)."""
    distinct = (
        lf.select(detect.cleaned(pl.col(column)).alias("text")).drop_nulls()
        .group_by("text").agg(n=pl.len()).collect(engine="streaming")
    )
    return detect.kind_counts(distinct.get_column("text"), distinct.get_column("n"))


def scan_frame(lf: pl.LazyFrame, *, as_of: dt.date | None, columns: list[str] | None = None) -> list[ColumnScan]:
    """Scan every column of `lf` (or `columns`): one streaming pass for the counts of values and the
    birth-date statistics, then one per text column for its kinds of values (`text_kinds`); and the
    kind each column holds by name and by content."""
    schema = lf.collect_schema()
    names = list(schema.names()) if columns is None else columns
    exprs = [e for i, c in enumerate(names) for e in content_exprs(c, schema[c], prefix=f"c{i}_", as_of=as_of)]
    row = lf.select(exprs).collect(engine="streaming").row(0, named=True) if exprs else {}
    out: list[ColumnScan] = []
    for i, c in enumerate(names):
        p = f"c{i}_"
        counts = text_kinds(lf, c) if schema[c] == pl.String else {}
        scan = ColumnScan(column=c, values=int(row[p + "values"]), counts=counts, by_name=kind_by_name(c))
        scan.by_content = kind_by_content(c, counts, scan.values)
        if scan.by_content is None and p + "dates" in row and detect.birth_date_like(
                int(row[p + "dates"]), int(row[p + "ages"]), row[p + "p10"], row[p + "p90"]):
            scan.by_content = "birth_date"
            scan.counts["birth_date"] = int(row[p + "ages"])
        out.append(scan)
    return out


def pii_columns(table: Table) -> dict[str, str]:
    """Columns of a read table holding personal data: {source column: what it holds}, by mapped field,
    name, or content (`validate`'s `pii-column` findings).

    Content is judged on the first 1,000 rows. A column mapped to a field that is not personal data
    (email_opt_in) is known by its field, not its name, and is not taken for names; identifier columns
    are pseudonymous and reported only when their values look personal.
    """
    found: dict[str, str] = {}
    for name in ("email", "phone", "name", "birth_date"):
        if table.kind == "customers" and name in table.mapping:
            found[table.mapping[name]] = LABELS[name]
    schema = table.raw.collect_schema()
    known = {c for n, c in table.mapping.items() if n not in PII_FIELDS}
    for column in schema.names():
        kind = kind_by_name(column)
        if column not in found and column not in known and kind is not None:
            found[column] = LABELS[kind]
    text = [c for c, t in schema.items() if t == pl.String and c not in found]
    if text:
        for scan in scan_frame(table.raw.select(text).head(PII_SAMPLE), as_of=None):
            kind = kind_by_content(scan.column, scan.counts, scan.values, names=scan.column not in known)
            if kind is not None:
                found[scan.column] = LABELS[kind]
    return found


@dataclass
class ScanResult(JsonResult):
    """`privacy scan`: one row per column that holds personal data (or has values that look personal).

    Table `columns`: file, column, pii (the kind: email, phone, name, address, postal_code, birth_date,
    iban, national_id; empty when no kind wins), found_by (name, content, name+content), values (non-empty),
    matching (values of that kind; empty for a kind found by name only that the content cannot count),
    share (matching / values), and the count of values of each kind (email, phone, iban, address, name).
    """

    columns: pl.DataFrame
    files: int
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pl.DataFrame]:
        return {"columns": self.columns}

    def headline(self) -> dict[str, Figure]:
        pii = self.columns.filter(pl.col("pii").is_not_null())
        return {"files": self.files, "pii_columns": pii.height, "kinds": ", ".join(sorted(set(pii["pii"].to_list())))}


SCAN_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(), "column": pl.String(), "pii": pl.String(), "found_by": pl.String(), "values": pl.Int64(),
    "matching": pl.Int64(), "share": pl.Float64(), **{k: pl.Int64() for k in detect.VALUE_KINDS},
}


def scan_rows(file: str, scans: list[ColumnScan]) -> list[dict[str, object]]:
    """The rows of `ScanResult.columns` for one file: columns with a kind or a value of some kind."""
    rows: list[dict[str, object]] = []
    for s in scans:
        if s.kind is None and not any(s.counts.get(k) for k in detect.VALUE_KINDS):
            continue
        found_by = "+".join(w for w, k in (("name", s.by_name), ("content", s.by_content)) if k is not None) or None
        matching = s.matching
        rows.append({
            "file": file, "column": s.column, "pii": s.kind, "found_by": found_by, "values": s.values, "matching": matching,
            "share": matching / s.values if matching is not None and s.values else None,
            **{k: s.counts.get(k, 0) for k in detect.VALUE_KINDS},
        })
    return rows


def scan(frames: dict[str, pl.LazyFrame], *, as_of: dt.date) -> ScanResult:
    """Scan tables for personal data, each in one streaming pass.

    Parameters
    ----------
    frames: {name shown in the report (a file, `file [sheet]`): the table's own columns}.
    as_of: the day ages are computed at, for birth dates found by content.

    Returns
    -------
    ScanResult; its `columns` table counts values and never holds one.
    """
    rows = [r for name, lf in frames.items() for r in scan_rows(name, scan_frame(lf, as_of=as_of))]
    return ScanResult(columns=pl.DataFrame(rows, schema=SCAN_SCHEMA, orient="row"), files=len(frames))
