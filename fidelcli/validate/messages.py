"""The validation messages in French: a catalogue keyed by check id (`Finding.code`).

A finding's English message is written by the check that found it (`checks.py`). Its French rendering
is built here from the finding's structured fields only (code, field, column, count) and the report's
reference date, never by translating the English text: every code of `findings.CODES` has an entry in
`FR` (a test keeps them in step), and its placeholders are

- `{rows}`: the count of rows concerned, `1 ligne` / `13 178 lignes` (narrow no-break space);
- `{field}`: the canonical field in French (`le magasin`; `FIELDS_FR`), else the source column;
  `{of_field}`: the same after `de` (du magasin, de la date); `{name}`: the field as `--map` spells it;
- `{as_of}`, `{oldest}`, `{max_age}`, `{lo}`, `{hi}`: the reference date and the checks' constants.

Messages built from a reader's exception (unreadable file, missing or ambiguous column, date format)
have a French sentence of their own naming the field or column; their English detail (the candidate
columns, the parser's words) stays in the English message and in `validate --format json`.

Example
-------
>>> from fidelcli.validate.findings import finding
>>> french(finding("null-optional", kind="transactions", file="f.csv", field="store", count=13178,
...                message="store is empty on 13,178 rows"), as_of=dt.date(2026, 1, 1))
'le magasin manque sur 13\\u202f178 lignes'
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from fidelcli.privacy.mask import scrub
from fidelcli.validate.checks import MAX_AGE, OLDEST_DATE, RANGES
from fidelcli.validate.findings import FINDING_COLUMNS, Finding, Report

FR: dict[str, str] = {
    "missing-column": "aucune colonne pour {field}, champ obligatoire ; désignez-la avec --map {name}=COLONNE",
    "missing-amount": "aucune colonne de montant (ni quantité et prix unitaire) : les montants sont inconnus ; "
                      "désignez-la avec --map amount=COLONNE",
    "ambiguous-column": "plusieurs colonnes peuvent être {field} ; choisissez-en une avec --map {name}=COLONNE",
    "ambiguous-date": "{field} peut se lire jour/mois ou mois/jour ; précisez --date-format",
    "unknown-date-format": "aucun format de date connu ne convient aux valeurs {of_field} ; précisez --date-format",
    "unparseable-date": "date invalide sur {rows} (précisez --date-format ou corrigez les valeurs)",
    "unparseable-number": "nombre invalide ou inutilisable (NaN, infini ou trop grand) sur {rows}",
    "unparseable-bool": "valeur qui n'est pas oui/non sur {rows}",
    "null-required": "{field} manque sur {rows}",
    "missing-customer": "aucun identifiant client sur {rows} (achats anonymes : les analyses les ignorent)",
    "null-optional": "{field} manque sur {rows}",
    "empty-column": "{field} manque sur toutes les lignes",
    "duplicate-row": "répétition exacte d'une ligne précédente sur {rows}",
    "duplicate-id": "identifiant client partagé par plusieurs lignes sur {rows}",
    "future-date": "date le {as_of} ou après sur {rows}",
    "implausible-date": "date antérieure au {oldest} sur {rows}",
    "implausible-birth-date": "date de naissance donnant un âge inférieur à 0 ou supérieur à {max_age} ans sur {rows}",
    "negative-amount": "montant négatif (retour ou annulation) sur {rows}",
    "negative-value": "valeur négative {of_field} sur {rows}",
    "zero-amount": "montant nul sur {rows}",
    "outlier": "valeur {of_field} très au-dessus des autres (plus de Q3 x (Q3/Q1)^3) sur {rows}",
    "orphan-customer": "identifiant client absent de la table des clients sur {rows}",
    "out-of-range": "valeur {of_field} hors de l'échelle {lo}-{hi} sur {rows}",
    "out-of-range-score": "score hors de l'échelle de son type (nps 0-10, csat 1-5, ces 1-7) sur {rows}",
    "unknown-score-type": "type de score autre que nps, csat ou ces sur {rows}",
    "end-before-start": "date de fin antérieure à la date de début sur {rows}",
    "empty-file": "aucune ligne de données : le fichier est vide ou n'a qu'un en-tête ; exportez de nouveau la table",
    "unreadable-file": "le fichier ne peut pas être lu{where} : lignes de longueurs différentes, noms de colonnes en double "
                       "ou colonne d'un mauvais type",
    "pii-column": "données personnelles : les valeurs ne sont jamais affichées ; pseudonymisez avant de partager",
}
# The canonical fields, named in French in the messages (the source column is shown beside them).
FIELDS_FR: dict[str, str] = {
    "acquisition_channel": "le canal d'acquisition", "amount": "le montant", "birth_date": "la date de naissance", "campaign_id": "la campagne",
    "category": "la catégorie", "ces": "le CES", "channel": "le canal", "clicked": "le clic", "converted": "la conversion", "cost": "le coût",
    "country": "le pays", "csat": "le CSAT", "customer_id": "l'identifiant client", "date": "la date", "delivered": "la délivrance",
    "discount": "la remise", "email": "l'e-mail", "email_opt_in": "le consentement e-mail", "end_date": "la date de fin",
    "enrollment_date": "la date d'adhésion", "loyalty_member": "l'adhésion au programme", "margin": "la marge", "name": "le nom",
    "nps": "le NPS", "opened": "l'ouverture", "order_id": "la commande", "outcome": "le résultat", "period": "la période",
    "phone": "le téléphone", "plan": "la formule", "points": "les points", "price": "le prix", "product_id": "le produit",
    "quantity": "la quantité", "referred_by": "le parrain", "revenue": "le chiffre d'affaires", "satisfaction": "la satisfaction",
    "score": "le score", "sent_at": "la date d'envoi", "signup_date": "la date d'inscription", "sms_opt_in": "le consentement SMS",
    "spend": "la dépense", "stage": "l'étape", "start_date": "la date de début", "status": "le statut", "store": "le magasin",
    "tier": "le palier", "timestamp": "l'horodatage", "touchpoint": "le point de contact", "type": "le type", "unit_price": "le prix unitaire",
    "variant": "la variante",
}
SEVERITY_FR = {"error": "erreur", "warning": "avertissement", "info": "info"}


def _count(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")


def _rows(n: int) -> str:
    return f"{_count(n)} ligne{'s' * (n != 1)}"


def _scale(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def _of(field: str) -> str:
    """`de` + the field's article: du magasin, de la date, de l'e-mail, des points."""
    if field.startswith("le "):
        return "du " + field[3:]
    if field.startswith("les "):
        return "des " + field[4:]
    return "de " + field


def french(f: Finding, *, as_of: dt.date) -> str:
    """The French message of `f` (its check's entry of `FR`); personal values scrubbed as in English."""
    key = f.code
    lo = hi = ""
    if key == "implausible-date" and f.field == "birth_date":
        key = "implausible-birth-date"
    elif key == "out-of-range":
        scale = RANGES.get((f.kind, f.field or ""))
        if scale is None:
            key = "out-of-range-score"
        else:
            lo, hi = _scale(scale[0]), _scale(scale[1])
    where = ""
    if f.column:
        where = f" (colonne {f.column}" + (f", ligne {f.rows[0]}" if f.rows else "") + ")"
    template = FR[key]
    name = f.field or f.column or "?"
    field = FIELDS_FR.get(name, name)
    text = template.format(rows=_rows(f.count), field=field, of_field=_of(field), name=name, as_of=as_of.isoformat(), oldest=OLDEST_DATE.isoformat(),
                           max_age=MAX_AGE, lo=lo, hi=hi, where=where)
    return scrub(text)


def findings_frame(report: Report, *, lang: str = "en") -> pl.DataFrame:
    """`report.findings_frame()` with its messages (and severities) in `lang` ("en" or "fr")."""
    frame = report.findings_frame()
    if lang != "fr" or not frame.height:
        return frame
    return frame.with_columns(
        pl.Series("severity", [SEVERITY_FR[f.severity] for f in report.findings], dtype=pl.String),
        pl.Series("message", [french(f, as_of=report.as_of) for f in report.findings], dtype=pl.String),
    ).select(list(FINDING_COLUMNS))
