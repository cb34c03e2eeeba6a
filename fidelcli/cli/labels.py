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
    "customer_retention_rate": "taux de rétention (E - N) / S", "profit": "marge", "profit_per_customer": "marge par client",
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
    "model": "modèle", "auc": "AUC", "pr_auc": "AUC précision-rappel", "brier": "score de Brier",
    "top_decile_lift": "lift du premier décile", "top_decile_capture": "capture du premier décile",
    "driver_1": "facteur 1", "driver_2": "facteur 2", "driver_3": "facteur 3",
    "mean_churn_probability": "probabilité d'attrition moyenne",
}


def label(column: str, lang: str = "en") -> str:
    """The display label of a column in `lang` (the column name itself in English)."""
    return FR.get(column, column) if lang == "fr" else column
