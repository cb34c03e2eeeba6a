"""Canonical fields of each input kind, their synonyms, and the mapping of source columns.

Synonyms are compared after normalisation (lowercase, accents removed, only letters and digits),
so `Customer ID`, `customer_id`, `CustomerID` and `N° client` all match as written below.

Money in transactions: a line total (`amount`, `total`, `sales_value`, `montant_ttc`...) is the amount.
A bare price (`Price`, `prix`, `tarif`) is a unit price when the file has a quantity column (Online
Retail II: amount = Quantity x Price), and the amount otherwise (CDNOW, apparelTrans: one price per
purchase). With a quantity and no line total, two price-like columns (`UnitPrice` and `Price`), or one
whose name says neither (`Sale Price`, `prix_ttc`), are refused: `--map` says which is which.
CDNOW's `CDs` (`number_of_cds`) counts the items of a purchase whose dollar value is already the
total: it is not a quantity synonym, so that CDNOW's `Price` stays the amount.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal, get_args

from fidelcli.errors import MappingError
from fidelcli.privacy.mask import shown

Kind = Literal["transactions", "customers", "surveys", "campaigns", "subscriptions", "touchpoints", "spend", "loyalty_events"]
KINDS: tuple[Kind, ...] = get_args(Kind)

# Field types drive parsing: id (text, kept as written), date, datetime, number, int, bool, text.
FieldType = Literal["id", "date", "datetime", "number", "int", "bool", "text"]


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    synonyms: tuple[str, ...] = ()
    required: bool = False


def _f(name: str, type_: FieldType, synonyms: str = "", *, required: bool = False) -> Field:
    return Field(name, type_, tuple(s.strip() for s in synonyms.split(",") if s.strip()), required)


_CUSTOMER_ID = (
    "customer_id, customerid, customer, customer_number, customer_no, client_id, clientid, client, cust, cust_id, "
    "id, user_id, userid, member_id, household_id, household, account_id, id_client, idclient, n_client, n° client, no_client, "
    "numero_client, num_client, code_client, identifiant_client, ref_client"
)

FIELDS: dict[Kind, tuple[Field, ...]] = {
    "transactions": (
        _f("customer_id", "id", _CUSTOMER_ID, required=True),
        _f("date", "date", "date, order_date, invoice_date, invoicedate, purchase_date, transaction_date, "
           "transaction_timestamp, timestamp, datetime, created_at, date_achat, date d'achat, date_commande, "
           "date_de_commande, date_facture, date_vente, date_transaction", required=True),
        _f("amount", "number", "amount, total, total_amount, line_total, line_amount, sales, sales_value, revenue, value, "
           "dollar_value, net_amount, order_total, spend, amount_paid, total_price, montant, montant_ttc, montant ttc, "
           "montant_ht, montant_total, total_ttc, ca, chiffre_affaires, prix_total, valeur"),
        _f("quantity", "number", "quantity, qty, units, quantite, qte, nb_articles"),
        # A bare price (the last three) is the amount when there is no quantity: see `_money`.
        _f("unit_price", "number", "unit_price, unitprice, price_per_unit, prix_unitaire, pu, price, prix, tarif"),
        _f("order_id", "id", "order_id, orderid, order, invoice, invoice_no, invoiceno, invoice_number, basket_id, "
           "transaction_id, receipt_id, ticket, ticket_id, num_commande, numero_commande, n° commande, commande, "
           "n° facture, numero_facture, facture"),
        _f("product_id", "id", "product_id, productid, product, sku, stockcode, stock_code, item_id, article, "
           "ref_produit, code_article, reference, produit"),
        _f("category", "text", "category, product_category, categorie, famille, rayon, department"),
        _f("channel", "text", "channel, canal, sales_channel"),
        _f("store", "text", "store, store_id, shop, magasin, boutique, point_de_vente"),
        _f("margin", "number", "margin, gross_margin, profit, marge"),
        _f("cost", "number", "cost, cogs, cout, prix_achat"),
        _f("discount", "number", "discount, remise, reduction, retail_disc"),
        _f("status", "text", "status, order_status, statut, etat"),
    ),
    "customers": (
        _f("customer_id", "id", _CUSTOMER_ID, required=True),
        _f("signup_date", "date", "signup_date, created_at, registration_date, date_inscription, date_creation"),
        _f("acquisition_channel", "text", "acquisition_channel, source, canal_acquisition, origine"),
        _f("referred_by", "id", "referred_by, referrer, referrer_id, parrain, parrain_id"),
        _f("birth_date", "date", "birth_date, birthdate, date_of_birth, dob, date_naissance, date_de_naissance"),
        _f("country", "text", "country, pays"),
        _f("loyalty_member", "bool", "loyalty_member, member, is_member, membre, adherent, fidelite"),
        _f("enrollment_date", "date", "enrollment_date, enrolment_date, join_date, date_adhesion"),
        _f("tier", "text", "tier, level, niveau, palier, statut_fidelite"),
        _f("email_opt_in", "bool", "email_opt_in, email_optin, optin_email, opt_in_email, consent_email"),
        _f("sms_opt_in", "bool", "sms_opt_in, sms_optin, optin_sms, opt_in_sms, consent_sms"),
        _f("email", "text", "email, e_mail, mail, courriel, adresse_email"),
        _f("phone", "text", "phone, phone_number, telephone, tel, mobile, portable"),
        _f("name", "text", "name, full_name, customer_name, nom, nom_client, prenom_nom"),
    ),
    "surveys": (
        _f("customer_id", "id", _CUSTOMER_ID, required=True),
        _f("date", "date", "date, survey_date, response_date, date_reponse, submitted_at", required=True),
        _f("nps", "number", "nps, nps_score, recommend, likelihood_to_recommend, recommandation"),
        _f("csat", "number", "csat, csat_score, satisfaction, satisfaction_score"),
        _f("ces", "number", "ces, ces_score, effort, customer_effort, effort_score"),
        _f("type", "text", "type, score_type, survey_type, metric"),
        _f("score", "number", "score, note, value, rating"),
        _f("channel", "text", "channel, canal"),
        _f("touchpoint", "text", "touchpoint, point_de_contact"),
    ),
    "campaigns": (
        _f("campaign_id", "id", "campaign_id, campaign, campagne, id_campagne", required=True),
        _f("customer_id", "id", _CUSTOMER_ID, required=True),
        _f("variant", "text", "variant, group, arm, version, variante, groupe, segment", required=True),
        _f("sent_at", "date", "sent_at, send_date, date_envoi, sent_date"),
        _f("delivered", "bool", "delivered, delivre"),
        _f("opened", "bool", "opened, open, ouvert"),
        _f("clicked", "bool", "clicked, click, clique"),
        _f("converted", "bool", "converted, conversion, converti"),
        _f("revenue", "number", "revenue, spend, ca, chiffre_affaires"),
        _f("cost", "number", "cost, cout"),
    ),
    "subscriptions": (
        _f("customer_id", "id", _CUSTOMER_ID, required=True),
        _f("start_date", "date", "start_date, start, date_debut, subscription_start, started_at", required=True),
        _f("end_date", "date", "end_date, end, date_fin, cancelled_at, churn_date, subscription_end"),
        _f("plan", "text", "plan, formule, offre"),
        _f("price", "number", "price, mrr, prix, tarif, amount"),
    ),
    "touchpoints": (
        _f("customer_id", "id", _CUSTOMER_ID, required=True),
        _f("timestamp", "datetime", "timestamp, date, datetime, event_time, horodatage", required=True),
        _f("stage", "text", "stage, etape, phase", required=True),
        _f("channel", "text", "channel, canal", required=True),
        _f("satisfaction", "number", "satisfaction, rating, note"),
        _f("outcome", "text", "outcome, resultat, issue"),
    ),
    "spend": (
        _f("period", "date", "period, month, date, periode, mois", required=True),
        _f("spend", "number", "spend, cost, budget, depense, depenses, marketing_spend", required=True),
        _f("channel", "text", "channel, canal"),
    ),
    # A loyalty platform's points ledger (`loyalty`): redemptions are the rows of type redeem, or with
    # negative points.
    "loyalty_events": (
        _f("customer_id", "id", _CUSTOMER_ID, required=True),
        _f("date", "date", "date, event_date, created_at, timestamp, date_operation", required=True),
        _f("points", "number", "points, point, amount, delta, nb_points, points_delta", required=True),
        _f("type", "text", "type, event_type, operation, kind, nature"),
    ),
}


def quoted(column: str) -> str:
    """A column name as messages quote it: masked when it looks personal (the first data row of a file
    without a header is taken for one), cut when it is long (a file that is not a table)."""
    text = shown(column)
    return text if len(text) <= 60 else text[:57] + "…'"


def normalize(name: str) -> str:
    """`N° Client` -> `nclient`: lowercase, accents removed, letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]", "", ascii_only.lower())


def fields(kind: Kind) -> tuple[Field, ...]:
    """The canonical fields of an input kind."""
    try:
        return FIELDS[kind]
    except KeyError:
        raise MappingError(f"unknown input kind {kind!r}", code="unknown-kind", candidates=KINDS, hint=f"use one of: {', '.join(KINDS)}") from None


def parse_map_options(items: list[str] | None) -> dict[str, str]:
    """`["customer_id=Client", "date=Jour"]` -> {"customer_id": "Client", "date": "Jour"}."""
    result: dict[str, str] = {}
    for item in items or []:
        field, sep, column = item.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise MappingError(f"--map expects field=Column, got {item!r}", code="map-syntax", hint="e.g. --map customer_id=\"N° client\"")
        result[field.strip()] = column.strip()
    return result


# A bare price: the amount without a quantity column, a unit price with one (see `_money`).
_BARE_PRICES = {"price", "prix", "tarif"}
# The first line of a file without a header: numbers, dates, times (`00001`, `19970101`, `29.33`).
_DATA_LIKE = re.compile(r"^[+-]?[\d.,/:\- ]*\d[\d.,/:\- ]*$")


def looks_like_data(columns: list[str]) -> bool:
    """True when every column name is a number or a date: the first line is data, not a header."""
    return bool(columns) and all(_DATA_LIKE.match(c.strip()) for c in columns)


def column_number(column: str, columns: list[str], *, field: str, file: str | None) -> str:
    """The source column of a positional `--map field=N` (N from 1)."""
    n = int(column)
    if not 1 <= n <= len(columns):
        raise MappingError(
            f"--map {field}={column}: the file has {len(columns)} column{'s' * (len(columns) != 1)}", code="no-such-column",
            field=field, candidates=columns, file=file,
            hint=f"number columns from 1 to {len(columns)}",
        )
    return columns[n - 1]


def resolve_columns(
    columns: list[str], kind: Kind, *, explicit: dict[str, str] | None = None, file: str | None = None, positional: bool = False,
    optional: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """Map canonical fields to source columns.

    Explicit `--map` entries win: a column's name, or its number from 1 (`--map customer_id=1`, for a
    file read with `--no-header`: `positional`); other fields are matched by synonym. A required field
    with no match, a field matched by two columns, or a money column that is neither clearly a line total
    nor clearly a unit price (see the module's docstring) raises `MappingError` listing the candidates.
    `optional` names required fields that this reading does without (`recommend rules` reads
    baskets without a customer id or a date: `fidelcli.io.baskets`).

    Returns
    -------
    {canonical field: source column} for every field found.
    """
    explicit = dict(explicit or {})
    spec = fields(kind)
    names = {f.name for f in spec}
    by_norm: dict[str, list[str]] = {}
    for col in columns:
        by_norm.setdefault(normalize(col), []).append(col)

    mapping: dict[str, str] = {}
    for field, column in explicit.items():
        if field not in names:
            close = difflib.get_close_matches(field, list(names), n=1)
            raise MappingError(
                f"--map names an unknown field {field!r} for {kind}",
                code="unknown-field",
                field=field,
                candidates=close or sorted(names),
                file=file,
                hint=f"did you mean {close[0]!r}?" if close else f"fields: {', '.join(sorted(names))}",
            )
        if column not in columns:
            matches = by_norm.get(normalize(column), [])
            if column.strip().isdigit() and not matches:
                column = column_number(column.strip(), columns, field=field, file=file)
            elif len(matches) != 1:
                raise MappingError(
                    f"--map {field}={column}: no such column",
                    code="no-such-column",
                    field=field,
                    candidates=columns,
                    file=file,
                    hint=f"columns are: {', '.join(map(quoted, columns))}, or give a column's number from 1",
                )
            else:
                column = matches[0]
        mapping[field] = column

    taken = set(mapping.values())
    for f in spec:
        if f.name in mapping:
            continue
        # Synonyms are in order of preference: the first that matches any free column wins.
        for synonym in f.synonyms:
            found = [c for c in by_norm.get(normalize(synonym), []) if c not in taken]
            if len(found) > 1:
                raise MappingError(
                    f"field {f.name!r} is ambiguous: columns {', '.join(map(quoted, found))} all match",
                    code="ambiguous-column",
                    field=f.name,
                    candidates=found,
                    file=file,
                    hint=f"choose one with --map {f.name}=COLUMN",
                )
            if found:
                mapping[f.name] = found[0]
                taken.add(found[0])
                break
    if kind == "transactions":
        _money(mapping, columns, explicit=explicit, file=file)

    missing = [f.name for f in spec if f.required and f.name not in mapping and f.name not in optional]
    if missing:
        field = missing[0]
        free = [c for c in columns if c not in taken]
        guesses = difflib.get_close_matches(field, free, n=3, cutoff=0.3) or free
        if positional:
            hint = f"name it by number with --map {field}=N (columns are numbered from 1 to {len(columns)})"
        elif looks_like_data(columns):
            hint = f"the first line looks like data, not a header: pass --no-header and map columns by number, e.g. --map {field}=1"
        else:
            hint = f"name it with --map {field}=COLUMN"
        raise MappingError(
            f"no column for required field {field!r} of {kind}; candidates: {', '.join(map(quoted, guesses)) or 'none'}",
            code="missing-column",
            field=field,
            candidates=guesses,
            file=file,
            hint=hint,
        )
    return mapping


def _price_like(column: str) -> bool:
    name = normalize(column)
    return any(word in name for word in ("price", "prix", "tarif"))


def _money(mapping: dict[str, str], columns: list[str], *, explicit: dict[str, str], file: str | None) -> None:
    """Settle which transaction column is the line amount and which the unit price (SPEC section 1:
    with a quantity column, a price-like column is a unit price unless it is explicitly a line total).

    Without a quantity, a bare price (`Price`) is the amount. With a quantity and no line total, every
    other price-like column is a second candidate unit price: refused, as is a price-like column whose
    name says neither (`Sale Price`)."""
    price = mapping.get("unit_price")
    bare = price is not None and "unit_price" not in explicit and normalize(price) in _BARE_PRICES
    if "quantity" not in mapping:
        if bare and "amount" not in mapping:
            mapping["amount"] = mapping.pop("unit_price")
        return
    if "amount" in mapping or "unit_price" in explicit:
        return
    others = [c for c in columns if c not in mapping.values() and _price_like(c)]
    if not others:
        return
    candidates = ([price] if price is not None else []) + others
    which = f"columns {', '.join(map(quoted, candidates))}" if len(candidates) > 1 else f"column {quoted(candidates[0])}"
    name = candidates[0] if re.fullmatch(r"[\w.-]+", candidates[0]) else f'"{candidates[0]}"'
    raise MappingError(
        f"with a quantity column ({quoted(mapping['quantity'])}), {which} may be a unit price or a line total",
        code="ambiguous-money",
        candidates=candidates,
        file=file,
        hint=f"say which: --map unit_price={name} (amount = quantity x unit price) or --map amount={name} (a line total)",
    )
