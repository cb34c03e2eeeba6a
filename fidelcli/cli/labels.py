"""What the terminal and Markdown say, in English and French (`--lang`): column labels, titles,
KPI names, yes/no, and numbers (`4,128,090.26` / `4 128 090,26`, percentages, the currency).

Files keep plain numbers (docs/output.md); only what a person reads is localised here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

FR: dict[str, str] = {
    "customer_id": "client", "customers": "clients", "recency": "récence", "frequency": "fréquence",
    "monetary": "montant", "first_purchase": "premier achat", "last_purchase": "dernier achat",
    "tenure": "ancienneté", "segment": "segment", "action": "action", "share": "part",
    "revenue": "chiffre d'affaires", "revenue_share": "part du CA", "period_start": "début de période",
    "active_customers": "clients actifs", "new_customers": "nouveaux clients",
    "returning_customers": "clients fidèles", "orders": "commandes", "aov": "panier moyen",
    "purchase_frequency": "fréquence d'achat", "repeat_purchase_rate": "taux de réachat",
    "retention_rate": "taux de rétention", "churn_rate": "taux d'attrition",
    "returning_revenue_share": "part du CA des clients fidèles", "cohort": "cohorte",
    "period_index": "période", "retained": "retenus", "retention": "rétention",
    "cumulative_revenue_per_customer": "CA cumulé par client", "severity": "gravité", "code": "code",
    "column": "colonne", "rows": "lignes", "message": "message", "count": "nombre", "file": "fichier",
    "examples": "exemples", "name": "nom", "value": "valeur", "p_alive": "P(vivant)",
    "expected_purchases": "achats attendus", "expected_value": "valeur attendue", "clv": "valeur vie client",
    "value_tier": "niveau de valeur", "churn_probability": "probabilité d'attrition", "risk_band": "niveau de risque",
    "kpi": "indicateur", "previous": "précédent", "current": "actuel", "delta": "écart",
    # clv, subscription
    "monetary_value": "panier moyen de réachat", "historical_clv": "valeur vie client historique",
    "high_potential": "fort potentiel", "parameter": "paramètre", "std_error": "erreur type",
    "log_likelihood": "log-vraisemblance", "model": "modèle", "actual": "réel", "predicted": "prévu",
    "customer": "client (pseudonyme)", "periods": "périodes", "survival": "survie", "at_risk": "exposés",
    "churned": "partis", "projected": "projeté", "sbg_survival": "survie sBG",
    "expected_remaining_periods": "périodes restantes attendues",
    "discounted_remaining_lifetime": "durée de vie résiduelle actualisée",
    # rfm, kpi, cohort
    "r_score": "score R", "f_score": "score F", "m_score": "score M", "rfm_score": "score RFM",
    "customer_retention_rate": "taux de rétention de la base (E - N) / S", "profit": "marge",
    "partial": "période incomplète", "customer_revenue": "CA des clients identifiés",
    "retained_customers": "clients retenus", "complete_from": "complète de", "complete_to": "complète à", "profit_per_customer": "marge par client",
    "referral_rate": "taux de parrainage", "referred_revenue_per_customer": "CA par client parrainé",
    "other_revenue_per_customer": "CA par client non parrainé", "member_share": "part d'adhérents",
    "member_revenue_per_customer": "CA par adhérent", "non_member_revenue_per_customer": "CA par non-adhérent",
    "nps_responses": "réponses NPS", "nps": "NPS", "csat_responses": "réponses CSAT", "csat": "CSAT (4-5)",
    "csat_mean": "CSAT moyen", "ces_responses": "réponses CES", "ces": "CES moyen",
    "marketing_spend": "dépenses marketing", "cac": "coût d'acquisition", "campaign_sent": "envois",
    "open_rate": "taux d'ouverture", "click_rate": "taux de clic", "conversion_rate": "taux de conversion",
    "cost_per_lead": "coût par conversion", "year": "année", "customers_start": "clients en début (S)",
    "customers_end": "clients en fin (E)", "revenue_per_customer": "CA par client",
    "expected_lifetime_years": "durée de vie attendue (ans)", "clv_to_cac": "CLV / CAC",
    "auc": "AUC", "pr_auc": "AUC précision-rappel", "brier": "score de Brier",
    "top_decile_lift": "lift du premier décile", "top_decile_capture": "capture du premier décile",
    "driver_1": "facteur 1", "driver_2": "facteur 2", "driver_3": "facteur 3",
    "mean_churn_probability": "probabilité d'attrition moyenne",
    # clv summary, holdout, fit quality; subscription; churn score
    "time_unit": "unité de temps", "horizon": "horizon", "annual_discount_rate": "taux d'actualisation annuel",
    "converged": "convergé", "spend_model_converged": "modèle de dépense convergé",
    "spend_frequency_correlation": "corrélation dépense-fréquence", "expected_relationship_years": "durée de relation attendue (ans)",
    "total_expected_purchases": "total des achats attendus", "total_clv": "valeur vie client totale",
    "high_potential_customers": "clients à fort potentiel", "holdout_length": "durée de la période de test",
    "mae": "erreur absolue moyenne", "rmse": "erreur quadratique moyenne", "correlation": "corrélation",
    "actual_total": "total réel", "predicted_total": "total prévu", "total_error_pct": "erreur totale (%)",
    "parameters": "paramètres", "aic": "AIC", "bic": "BIC", "error": "erreur", "best": "retenu", "week": "semaine",
    "date": "date", "holdout": "période de test", "weight": "poids", "subscriptions": "abonnements", "active": "actif",
    "discount_rate_per_period": "taux d'actualisation par période",
    "mean_discounted_remaining_lifetime": "durée de vie résiduelle actualisée moyenne",
    "expected_lifetime": "durée de vie attendue", "discounted_lifetime": "durée de vie actualisée", "period": "période",
    "low": "faible", "medium": "moyen", "high": "élevé", "plan": "formule", "price": "prix", "start_date": "début",
    "end_date": "fin", "kind": "type", "monetary_value_lower": "panier moyen (bas)", "clv_lower": "valeur vie client (bas)",
    "clv_upper": "valeur vie client (haut)", "expected": "attendu", "role": "rôle", "table": "table", "files": "fichiers",
    # report sections: clv and churn holdout, loyalty, roi program and abtest, target, journey
    "holdout_mae": "erreur absolue (test)", "holdout_rmse": "erreur quadratique (test)", "decile": "décile",
    "mean_predicted": "prédit moyen", "observed": "observé", "tier": "palier", "members": "membres", "measure": "mesure",
    "estimate": "estimation", "label": "libellé", "non_members": "non-membres", "relative_difference": "écart relatif",
    "covariate": "covariable", "members_mean": "moyenne des membres", "non_members_mean_before": "non-membres avant appariement",
    "non_members_mean_after": "non-membres après appariement", "smd_before": "SMD avant", "smd_after": "SMD après",
    "variant": "variante", "converted_rate": "taux de conversion", "converted_rate_lower": "taux de conversion (bas)",
    "converted_rate_upper": "taux de conversion (haut)", "revenue_per_recipient": "CA par destinataire",
    "incremental_margin": "marge incrémentale", "roi_pct": "ROI (%)", "metric": "indicateur mesuré", "test": "test", "lift": "écart",
    "lift_lower": "écart (bas)", "lift_upper": "écart (haut)", "relative_lift": "écart relatif", "p_holm": "p (Holm)",
    "power": "puissance", "recipients_needed": "destinataires nécessaires", "scenario": "scénario", "priority": "priorité",
    "eligible": "éligibles", "consented": "consentants", "not_suppressed": "hors liste d'exclusion", "under_cap": "sous le plafond",
    "outranked": "écartés par priorité", "after_arbitration": "après arbitrage", "targeted": "ciblés", "control": "témoins",
    "from_stage": "de l'étape", "to_stage": "à l'étape", "converted": "convertis", "conversion": "conversion",
    "median_days": "jours (médiane)", "q1_days": "jours (Q1)", "q3_days": "jours (Q3)", "mean_days": "jours (moyenne)",
    "rank": "rang", "path": "parcours", "stages": "étapes", "stage": "étape", "channel": "canal", "negative": "expériences négatives",
    "effect": "effet", "effect_low": "effet (bas)", "effect_high": "effet (haut)",
    "recipients": "destinataires", "incremental_revenue": "CA incrémental", "program_cost": "coût du programme",
    "roi_percent": "ROI (%)", "orders_per_customer": "commandes par client",
}

# Values of the report's label columns (a row's name, not a figure): `value_label`. The keys of FR are labels too.
LABEL_COLUMNS = frozenset({"measure", "label", "covariate", "metric", "test"})
VALUES_FR: dict[str, str] = {
    "uplift (difference in differences)": "hausse (double différence)",
    "naive: members chose to join": "naïf : les adhérents ont choisi d'adhérer",
    "months from first purchase to enrollment": "mois entre le premier achat et l'adhésion",
    "two-proportion z": "z à deux proportions", "welch": "Welch", "welch, capped": "Welch, plafonné",
}
VALUE_PATTERNS_FR = [
    (r"orders in the (\d+) months before", "commandes des {0} mois avant"),
    (r"revenue in the (\d+) months before", "chiffre d'affaires des {0} mois avant"),
]


def value_label(value: str, lang: str = "en") -> str:
    """A value of a label column (`LABEL_COLUMNS`: the roi program's measures, the A/B test's metrics...) in `lang`."""
    if lang != "fr":
        return value
    if value in VALUES_FR or value in FR:
        return VALUES_FR.get(value) or FR[value]
    for pattern, template in VALUE_PATTERNS_FR:
        match = re.fullmatch(pattern, value)
        if match:
            return template.format(*match.groups())
    return value


def label(column: str, lang: str = "en") -> str:
    """The display label of a column in `lang` (the column name itself in English)."""
    return FR.get(column, column) if lang == "fr" else column


# --------------------------------------------------------------------------------------------
# Titles and notes: the English text is the key (as with gettext); dates and numbers pass through.
# --------------------------------------------------------------------------------------------
PERIODS_FR = {"day": ("jour", "m"), "week": ("semaine", "f"), "month": ("mois", "m"), "quarter": ("trimestre", "m"), "year": ("année", "f")}
ADJECTIVES_FR = {"day": "quotidiennes", "week": "hebdomadaires", "month": "mensuelles", "quarter": "trimestrielles", "year": "annuelles"}


def _period(word: str) -> str:
    return PERIODS_FR.get(word, (word, "m"))[0]


def _last_complete(word: str) -> str:
    name, gender = PERIODS_FR.get(word, (word, "m"))
    return f"dernière {name} complète et la précédente" if gender == "f" else f"dernier {name} complet et le précédent"


TITLES_FR: list[tuple[str, str | Callable[[re.Match[str]], str]]] = [
    (r"RFM segments as of (.+)", "segments RFM au {0}"),
    (r"RFM as of (.+)", "RFM au {0}"),
    (r"KPIs per (\w+)", lambda m: f"indicateurs par {_period(m[1])}"),
    (r"last complete (\w+) vs the one before", lambda m: _last_complete(m[1])),
    (r"(day|week|month|quarter|year) of (.+) vs (.+)", lambda m: f"{_period(m[1])} du {m[2]} vs {m[3]}"),
    (r"yearly retention \(retained / S\) and historical CLV", "rétention annuelle (retenus / S) et valeur vie client historique"),
    (r"(\w+)ly cohorts", lambda m: f"cohortes {ADJECTIVES_FR.get(m[1], m[1])}"),
    (r"retention by (\w+) since acquisition", lambda m: f"rétention par {_period(m[1])} depuis l'acquisition"),
    (r"Parameters", "Paramètres"),
    (r"Fit quality \(total log-likelihood, AIC, BIC\)", "Qualité de l'ajustement (log-vraisemblance totale, AIC, BIC)"),
    (r"Summary", "Synthèse"),
    (r"Holdout: predicted vs actual purchases", "Période de test : achats prévus et réels"),
    (r"Holdout by calibration frequency \(means per customer\)", "Période de test par fréquence de calibration (moyennes par client)"),
    (r"Cumulative repeat purchases, actual vs expected \(every 4th week\)", "Réachats cumulés, réels et attendus (une semaine sur quatre)"),
    (r"Top (\d+) customers \(pseudonymised ids\)", "Les {0} meilleurs clients (identifiants pseudonymisés)"),
    (r"sBG fit \(per (\w+); as of (.+)\)", lambda m: f"ajustement sBG (par {_period(m[1])} ; au {m[2]})"),
    (r"Active subscriptions", "Abonnements actifs"),
    (r"Survival, all cohorts \(observed Kaplan-Meier and sBG; projected rows past the data\)",
     "Survie, toutes cohortes (Kaplan-Meier observé et sBG ; lignes projetées au-delà des données)"),
    (r"churn within (\S+) after (.+) \(validation\)", "attrition dans les {0} après le {1} (validation)"),
    (r"churn risk on (.+)", "risque d'attrition au {0}"),
    (r"validation", "validation"),
]

MESSAGES_FR = {
    "more rows": "… {n} lignes de plus (-o FICHIER ou --format csv pour tout voir)",
    "more columns": "… {n} colonnes de plus ({names}) : terminal plus large, -o FICHIER ou --format csv",
    "keyed pseudonyms": "identifiants : hachage HMAC avec la clé de FIDELCLI_PSEUDONYM_KEY, stables d'une exécution à l'autre",
    "random pseudonyms": "identifiants : hachage avec une clé tirée pour cette exécution (FIDELCLI_PSEUDONYM_KEY n'est pas défini) ; "
                         "ils changent à chaque exécution",
}
MESSAGES_EN = {
    "more rows": "… {n} more rows (use -o FILE or --format csv for all)",
    "more columns": "… {n} more columns ({names}): widen the terminal, or use -o FILE or --format csv",
    "keyed pseudonyms": "ids: HMAC hashes keyed by FIDELCLI_PSEUDONYM_KEY, stable across runs",
    "random pseudonyms": "ids: hashes with a key drawn for this run (FIDELCLI_PSEUDONYM_KEY is not set); they change at every run",
}


def title(text: str, lang: str = "en") -> str:
    """A table title in `lang` (unchanged in English, or when no translation is known)."""
    if lang != "fr":
        return text
    for pattern, template in TITLES_FR:
        match = re.fullmatch(pattern, text)
        if match:
            return template(match) if callable(template) else template.format(*match.groups())
    return text


def message(key: str, lang: str = "en", **values: object) -> str:
    """A note of the terminal (`more rows`, `random pseudonyms`...) in `lang`."""
    return (MESSAGES_FR if lang == "fr" else MESSAGES_EN)[key].format(**values)


# --------------------------------------------------------------------------------------------
# Numbers as a person reads them. French: narrow no-break space between thousands, decimal comma,
# a space before % and the currency (Imprimerie nationale's rules, as Excel and LibreOffice print them).
# --------------------------------------------------------------------------------------------
NNBSP = "\u202f"
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹", "KRW": "₩"}


def number(value: float, decimals: int, lang: str = "en") -> str:
    """`value` with `decimals` decimals and thousands separators: 4,128,090.26 / 4 128 090,26."""
    if not math.isfinite(value):
        return ""
    text = f"{value:,.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]  # -0.00 reads as a negative amount; it is nothing
    return text.replace(",", NNBSP).replace(".", ",") if lang == "fr" else text


def integer(value: int, lang: str = "en") -> str:
    """A count: 4,128,090 / 4 128 090."""
    return f"{value:,}".replace(",", NNBSP) if lang == "fr" else f"{value:,}"


def percent(value: float, lang: str = "en", decimals: int = 1) -> str:
    """A rate as a percentage: 4.8% / 4,8 %."""
    text = number(value * 100, decimals, lang)
    return f"{text}{NNBSP}%" if lang == "fr" else f"{text}%"


def money(value: float, lang: str = "en", currency: str | None = None) -> str:
    """An amount to the cent, with the currency when known: €4,128,090.26 / 4 128 090,26 €."""
    text = number(value, 2, lang)
    if not currency:
        return text
    symbol = CURRENCY_SYMBOLS.get(currency.upper(), currency)
    if lang == "fr":
        return f"{text}{NNBSP}{symbol}"
    if len(symbol) == 1:
        return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"
    return f"{text} {symbol}"


def boolean(value: bool, lang: str = "en") -> str:
    """yes/no, oui/non."""
    return ("oui" if value else "non") if lang == "fr" else ("yes" if value else "no")
