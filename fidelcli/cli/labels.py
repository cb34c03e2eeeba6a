"""Column labels for terminal tables, in English and French (`--lang`)."""

from __future__ import annotations

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
}


def label(column: str, lang: str = "en") -> str:
    """The display label of a column in `lang` (the column name itself in English)."""
    return FR.get(column, column) if lang == "fr" else column
