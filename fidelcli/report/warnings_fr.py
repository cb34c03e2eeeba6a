"""French text of the analyses' warnings, for `report --lang fr` (report.html and summary.md).

The analyses write their warnings in English (the CLI, kpis.json and the manifest keep them so). This
module maps each one, as its f-string produces it, to French: a catalogue of (regular expression
matching the whole English text, French template over its named groups). A group named `n_...` is a
number and is rewritten the French way (`13,178` -> `13 178`, `0.25` -> `0,25`, `12%` -> `12 %`); a
group named `u_...` is a time unit (`week` -> `semaine`); `w_...` a nested warning, `s_...` a target
scenario's missing input, `d_`, `j_`, `a_` an English phrase from a small table, `c_` training cutoffs;
the others are copied as they are (column names, dates, options, the text of an error). A warning the catalogue does not know is returned
unchanged, so nothing is lost; tests/report/test_warnings_fr.py checks that every literal warning of
the analyses has an entry.
"""

from __future__ import annotations

import re

NNBSP = "\u202f"  # the French thousands separator, and the space before %, as the report's number format writes them

# A number as an f-string writes it: sign, thousands commas, decimals, exponent, percent.
N = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[-+]?\d+)?%?|[-+]?inf|nan"

UNITS = {"day": "jour", "week": "semaine", "month": "mois", "quarter": "trimestre", "year": "année"}


def french_number(text: str) -> str:
    """`13,178` -> `13 178`, `-0.25` -> `-0,25`, `12%` -> `12 %` (narrow no-break spaces)."""
    m = re.fullmatch(r"([-+]?)(\d[\d,]*)((?:\.\d+)?)((?:e[-+]?\d+)?)(%?)", text)
    if m is None:
        return text
    sign, whole, decimals, exponent, percent = m.groups()
    digits = whole.replace(",", "")
    if len(digits) > 4 or "," in whole:
        groups: list[str] = []
        while len(digits) > 3:
            digits, tail = digits[:-3], digits[-3:]
            groups.insert(0, tail)
        digits = NNBSP.join([digits, *groups])
    return f"{sign}{digits}{decimals.replace('.', ',')}{exponent}" + (f"{NNBSP}%" if percent else "")


def _units(text: str) -> str:
    return UNITS.get(text, text)


WINDOW = {"twice the window": "deux fois la fenêtre", "the window": "la fenêtre"}
DID_REASONS = {"no enrollment date": "pas de date d'adhésion", "no pre window": "pas de période avant l'adhésion",
               "post window incomplete": "période après l'adhésion incomplète"}
AB_EVENTS = {"events": "événements", "non-events": "non-événements"}
SCENARIO_NEEDS = [
    (r"at_risk needs churn risk: a churn model \(--churn-model\) or a CLV model \(--clv-model\)",
     "at_risk demande un risque d'attrition : un modèle d'attrition (--churn-model) ou un modèle de CLV (--clv-model)"),
    (r"(?P<name>\w+) needs the (?P<column>\w+) column of the customers table", "{name} demande la colonne {column} de la table des clients"),
    (r"abandoned_cart needs a touchpoints table \(--touchpoints\)", "abandoned_cart demande une table de points de contact (--touchpoints)"),
    (r"cross_sell needs recommendations \(transactions with a product_id column\)",
     "cross_sell demande des recommandations (des transactions avec une colonne product_id)"),
]

# (English warning, French template). `{N}` in a pattern stands for a number (see N), in a group named `n_...`.
CATALOGUE: list[tuple[str, str]] = [
    # fidelcli/clean.py
    (r"(?P<n_rows>{N}) rows without a customer id were dropped", "{n_rows} lignes sans identifiant client ont été écartées"),
    (r"(?P<n_rows>{N}) rows without a date were dropped", "{n_rows} lignes sans date ont été écartées"),
    (r"(?P<n_rows>{N}) rows without an amount count as 0", "{n_rows} lignes sans montant comptent pour 0"),
    (r"(?P<n_rows>{N}) rows dated on or after the analysis date (?P<date>\S+) were ignored",
     "{n_rows} lignes datées du {date} (la date d'analyse) ou après ont été ignorées"),
    (r"no amount column \(nor quantity and unit price\): monetary figures are unavailable",
     "pas de colonne de montant (ni quantité et prix unitaire) : les montants sont indisponibles"),
    # fidelcli/io/text.py (ragged="skip")
    (r"(?P<file>.+): (?P<n_count>{N}) malformed rows? left out \(rows? (?P<rows>[\d, …]+)\); row (?P<row>\d+) has (?P<what>.+)",
     "{file} : {n_count} ligne(s) mal formée(s) écartée(s) (ligne(s) {rows}) ; la ligne {row} a {what}"),
    # fidelcli/analyses/rfm.py
    (r"(?P<n_customers>{N}) customers with only returns \(no purchase\) are left out of the RFM",
     "{n_customers} clients n'ayant que des retours (aucun achat) sont écartés du RFM"),
    (r"no amount column: monetary value is unknown \(empty\), so there is no M score; rfm_score is made of R and F, "
     r"and the segments come from R and F as always",
     "pas de colonne de montant : la valeur monétaire est inconnue (vide), il n'y a donc pas de score M ; rfm_score est fait "
     "de R et F, et les segments viennent de R et F comme toujours"),
    # fidelcli/analyses/kpi.py, kpi_inputs.py
    (r"(?P<n_share>{N}|part) of the revenue \((?P<n_anon>{N}) of (?P<n_total>{N})\) is on lines without a customer id: revenue "
     r"counts them; customer_revenue and every per-customer figure do not(?P<grouped>, nor does any group)?",
     "{n_share} du chiffre d'affaires ({n_anon} sur {n_total}) est sur des lignes sans identifiant client : revenue les compte ; "
     "customer_revenue et les chiffres par client non{grouped}"),
    (r"the customers table has neither referred_by nor loyalty_member: no referral or member KPIs",
     "la table des clients n'a ni referred_by ni loyalty_member : pas d'indicateurs de parrainage ou d'adhérents"),
    (r"marketing spend is not split by group: CAC is left out of grouped KPIs",
     "les dépenses marketing ne sont pas réparties par groupe : le CAC est écarté des indicateurs par groupe"),
    (r"the campaigns have no send date \(sent_at\): no campaign KPIs per period",
     "les campagnes n'ont pas de date d'envoi (sent_at) : pas d'indicateurs de campagne par période"),
    # fidelcli/analyses/clv
    (r"(?P<n_dropped>{N}) repeat customers whose returns cancel their repeat purchases \(net spend <= 0\) are left out of the spend "
     r"model: their expected_value is empty and their clv 0",
     "{n_dropped} clients réguliers dont les retours annulent les achats répétés (dépense nette <= 0) sont écartés du modèle de "
     "dépense : leur expected_value est vide et leur clv 0"),
    (r"frequency and mean spend are correlated \(r = (?P<n_r>{N})\): the Gamma-Gamma independence assumption is doubtful, "
     r"read expected values with care",
     "la fréquence et la dépense moyenne sont corrélées (r = {n_r}) : l'hypothèse d'indépendance du modèle Gamma-Gamma est "
     "douteuse, lisez les valeurs attendues avec prudence"),
    (r"the holdout forecast is off by (?P<n_off>{N}) % \((?P<n_predicted>{N}) purchases predicted, (?P<n_actual>{N}) made\): "
     r"the model does not track this period \(a trend, seasonality, or a short calibration\); read its predictions with care",
     "la prévision de la période de validation s'écarte de {n_off} % ({n_predicted} achats prévus, {n_actual} réalisés) : le modèle "
     "ne suit pas cette période (tendance, saisonnalité ou calibration trop courte) ; lisez ses prédictions avec prudence"),
    (r"calibration end (?P<end>\S+) is inside a (?P<u_unit>\w+): the calibration is the complete (?P=u_unit)s up to (?P<effective>\S+) "
     r"and the holdout starts on (?P<start>\S+)",
     "la fin de calibration {end} tombe au milieu d'une période ({u_unit}) : la calibration couvre les périodes complètes "
     "jusqu'au {effective} et la validation commence le {start}"),
    (r"(?P<w_error>.+): expected_value and clv are left empty \(expected purchases and P\(alive\) are reported\)",
     "{w_error} : expected_value et clv sont laissés vides (les achats attendus et P(alive) sont donnés)"),
    (r"gamma_gamma: only (?P<n_count>{N}) customer\(s\) with repeat purchases and a positive spend",
     "gamma_gamma : seulement {n_count} client(s) avec des achats répétés et une dépense positive"),
    (r"model (?P<error>.+) \(left out of the comparison\)", "modèle {error} (écarté de la comparaison)"),
    (r"the expected relationship duration could not be measured from the data \(a summary table, or no churn observed\): "
     r"historical_clv is empty; pass --lifetime YEARS",
     "la durée attendue de la relation n'a pas pu être mesurée sur les données (table de synthèse, ou aucune attrition "
     "observée) : historical_clv est vide ; passez --lifetime ANNÉES"),
    (r"horizon (?P<horizon>\S+) is (?P<n_length>{N}) (?P<u_unit>\w+?)s: BG/BB predicts whole periods, the horizon used is "
     r"(?P<n_periods>{N}) (?P=u_unit)s?",
     "l'horizon {horizon} vaut {n_length} périodes ({u_unit}) : BG/BB prédit des périodes entières, l'horizon retenu est de "
     "{n_periods} période(s)"),
    (r"P\(alive\) is uninformative: its mean is (?P<n_mean>{N}) and the drop-out parameter (?P<name>\S+) = (?P<n_value>{N}) has a "
     r"standard error of (?P<n_se>{N}), larger than itself: the data show too little drop-out to tell active from lapsed "
     r"customers; read p_alive and long horizons with care",
     "P(alive) n'est pas informatif : sa moyenne est {n_mean} et le paramètre d'abandon {name} = {n_value} a une erreur type de "
     "{n_se}, plus grande que lui-même : les données montrent trop peu d'abandons pour distinguer les clients actifs des "
     "clients perdus ; lisez p_alive et les horizons longs avec prudence"),
    # fidelcli/report/sections.py
    (r"no model could be fitted without the last (?P<holdout>\S+) \((?P<w_exc>.*)\): fitted on all the data, no holdout accuracy",
     "aucun modèle n'a pu être ajusté sans les derniers {holdout} ({w_exc}) : ajusté sur toutes les données, sans précision "
     "en validation"),
    (r"the churn model cannot score here \((?P<w_exc>.*)\): at_risk left out",
     "le modèle d'attrition ne peut pas noter ici ({w_exc}) : at_risk est laissé de côté"),
    # the same, written in French by sections.py: only the error inside it is English
    (r"le modèle d'attrition ne peut pas noter ici \((?P<w_exc>.*)\) : at_risk est laissé de côté",
     "le modèle d'attrition ne peut pas noter ici ({w_exc}) : at_risk est laissé de côté"),
    # fidelcli/churn/modelfile.py: the error nested in the two warnings above (after its location, if any)
    (r"(?P<loc>.*?)the model needs feature\(s\) the data does not provide: (?P<features>.*)",
     "{loc}le modèle demande des variables que les données n'ont pas : {features}"),
]
CATALOGUE += [
    # fidelcli/analyses/target
    (r"the customers table has no (?P<column>\w+) column: the (?P=column) column of the target file is empty",
     "la table des clients n'a pas de colonne {column} : la colonne {column} du fichier de ciblage est vide"),
    (r"(?P<n_rows>{N}) campaign rows have no sent_at date: left out of the frequency cap",
     "{n_rows} lignes de campagne n'ont pas de date sent_at : elles sont écartées du plafond de fréquence"),
    (r"the customers table has no (?P<consent>\w+) column: nobody is contacted by (?P<channel>\w+) \(an unknown consent is no consent\)",
     "la table des clients n'a pas de colonne {consent} : personne n'est contacté par {channel} (un consentement inconnu "
     "n'est pas un consentement)"),
    (r"(?P<n_rows>{N}) rows of the customers table repeat a customer id: such a customer is contacted on a channel only when "
     r"every one of their rows consents to it",
     "{n_rows} lignes de la table des clients répètent un identifiant client : un tel client n'est contacté sur un canal que "
     "si toutes ses lignes y consentent"),
    (r"scenario (?P<s_why>.+): left out", "scénario écarté : {s_why}"),
    (r"no campaigns table \(--campaigns\): frequency capping is not applied",
     "pas de table des campagnes (--campaigns) : le plafond de fréquence n'est pas appliqué"),
    # fidelcli/analyses/subscription.py
    (r"(?P<n_late>{N}) subscriptions starting on or after the analysis date (?P<date>\S+) were ignored",
     "{n_late} abonnements commençant le {date} (la date d'analyse) ou après ont été ignorés"),
    (r"alpha = (?P<n_alpha>{N}) <= 1: the undiscounted expected lifetime is infinite; only the discounted lifetime and CLV are finite",
     "alpha = {n_alpha} <= 1 : la durée de vie attendue non actualisée est infinie ; seules la durée de vie et la CLV "
     "actualisées sont finies"),
    # fidelcli/analyses/roi/program.py
    (r"(?P<n_unmatched>{N}) eligible members have no non-member of the same first-purchase month, enrollment month and "
     r"pre-enrollment orders: left out of the estimate",
     "{n_unmatched} adhérents éligibles n'ont aucun non-adhérent de même mois de premier achat, mois d'adhésion et commandes "
     "avant adhésion : écartés de l'estimation"),
    (r"(?P<n_count>{N}) members left out of the difference in differences: (?P<d_reason>.+)",
     "{n_count} adhérents écartés de la double différence : {d_reason}"),
    (r"no margin: the transactions have no margin or cost column and no --margin was given; ROI is unknown",
     "pas de marge : les transactions n'ont pas de colonne de marge ou de coût et --margin n'est pas donné ; le ROI est inconnu"),
    (r"program cost is zero or negative \(fees cover it\): ROI % is undefined; give --fixed-cost, --cost-per-member\.\.\.",
     "le coût du programme est nul ou négatif (les cotisations le couvrent) : le ROI % n'est pas défini ; donnez "
     "--fixed-cost, --cost-per-member..."),
    (r"the cumulative incremental margin never covers the cumulative cost: no payback within the data",
     "la marge incrémentale cumulée ne couvre jamais le coût cumulé : pas de retour sur investissement dans la période des données"),
    (r"loyalty simulation: (?P<w_warning>.+)", "simulation de fidélité : {w_warning}"),
    # fidelcli/analyses/roi/abtest.py
    (r"the designed split names (?P<split>\[.*\]) but the variants are (?P<names>\[.*\]): no sample-ratio check",
     "la répartition prévue nomme {split} mais les variantes sont {names} : pas de contrôle du ratio d'échantillonnage"),
    (r"sample-ratio mismatch: recipients per variant (?P<counts>\{.*\}) are unlikely under (?P<a_design>the designed split|an equal split) "
     r"\(chi-square p = (?P<n_p>{N})\); the assignment or the logging is broken, so the lifts are not trustworthy"
     r"(?P<unequal> \(if the design was unequal, give --split A=0\.4,B=0\.4,control=0\.2\))?",
     "écart de ratio d'échantillonnage : les destinataires par variante {counts} sont improbables sous {a_design} (khi-deux "
     "p = {n_p}) ; l'affectation ou l'enregistrement est défaillant, les effets ne sont donc pas fiables{unequal}"),
    (r"variant (?P<variant>.+) has only (?P<n_recipients>{N}) recipients: too few for the tests' approximations",
     "la variante {variant} n'a que {n_recipients} destinataires : trop peu pour les approximations des tests"),
    (r"variant (?P<variant>.+) has (?P<n_count>{N}) (?P<metric>\w+) (?P<a_events>events|non-events) \(fewer than (?P<n_min>{N})\): "
     r"the z test and its interval are approximate",
     "la variante {variant} a {n_count} {a_events} {metric} (moins de {n_min}) : le test z et son intervalle sont approximatifs"),
    (r"revenue of (?P<variant>.+) vs (?P<control>.+) is driven by a few large values: capped at the (?P<n_q>{N}) quantile of the "
     r"buyers' revenue, the lift per recipient is (?P<n_capped>{N}) \(p = (?P<n_pc>{N})\) instead of (?P<n_lift>{N}) \(p = (?P<n_pl>{N})\)",
     "le chiffre d'affaires de {variant} face à {control} tient à quelques grandes valeurs : plafonné au quantile {n_q} du "
     "chiffre d'affaires des acheteurs, l'effet par destinataire est {n_capped} (p = {n_pc}) au lieu de {n_lift} (p = {n_pl})"),
    # fidelcli/analyses/loyalty/simulation.py
    (r"no loyalty_member column: every customer is simulated as a member from the first purchase",
     "pas de colonne loyalty_member : chaque client est simulé comme adhérent dès son premier achat"),
    (r"(?P<n_missing>{N}) members without an enrollment_date are enrolled at their first purchase",
     "{n_missing} adhérents sans enrollment_date sont inscrits à leur premier achat"),
    # fidelcli/analyses/loyalty/kpis.py
    (r"(?P<n_negative>{N}) members have a negative balance: returns took back points already redeemed",
     "{n_negative} adhérents ont un solde négatif : des retours ont repris des points déjà utilisés"),
    (r"the transactions have no category column: category multipliers are not applied",
     "les transactions n'ont pas de colonne de catégorie : les multiplicateurs par catégorie ne sont pas appliqués"),
    # fidelcli/analyses/journey
    (r"(?P<n_missing>{N}) touchpoint rows without a customer, a timestamp or a stage are left out",
     "{n_missing} lignes de points de contact sans client, horodatage ou étape sont écartées"),
    (r"(?P<n_count>{N}) touchpoints at stages not in --stages are left out: (?P<stages>.*)",
     "{n_count} points de contact à des étapes absentes de --stages sont écartés : {stages}"),
    (r"no touchpoint has a satisfaction: no moment of truth", "aucun point de contact n'a de satisfaction : pas de moment de vérité"),
    (r"(?P<n_out>{N}) of (?P<n_rated>{N}) rated touchpoints are left out of the moments of truth: the data after them "
     r"\(to (?P<end>\S+)\) is shorter than (?P<j_need>.+)",
     "{n_out} des {n_rated} points de contact notés sont écartés des moments de vérité : les données qui les suivent "
     "(jusqu'au {end}) couvrent moins que {j_need}"),
    (r"(?P<n_share>{N}) of the rated customers have no transaction: are the customer ids of the two files the same\?",
     "{n_share} des clients ayant noté n'ont aucune transaction : les identifiants clients des deux fichiers sont-ils les mêmes ?"),
    # fidelcli/analyses/recommend
    (r"no rule reaches support (?P<n_support>{N}) and confidence (?P<n_confidence>{N}): lower --min-support or --min-confidence",
     "aucune règle n'atteint un support de {n_support} et une confiance de {n_confidence} : baissez --min-support ou "
     "--min-confidence"),
    # fidelcli/churn
    (r"campaign features left out: the campaigns table has no sent_at date to place them in time",
     "variables de campagne écartées : la table des campagnes n'a pas de date sent_at pour les situer dans le temps"),
    (r"P\(alive\) left out: the BG/NBD model is not available", "P(alive) écarté : le modèle BG/NBD n'est pas disponible"),
    (r"P\(alive\) left out: (?P<exc>.+)", "P(alive) écarté : {exc}"),
    (r"trained on features at (?P<c_train>.+); validated on features at (?P<valid>\S+) labelled by \((?P<a>\S+), (?P<b>\S+)\]",
     "entraîné sur les variables au {c_train} ; validé sur les variables au {valid} étiquetées par ({a}, {b}]"),
    (r"the data ends on (?P<end>\S+), before (?P<cutoff>\S+) \+ (?P<horizon>\S+): validated on the earlier split \(features at "
     r"(?P<valid>\S+) labelled by \((?P<a>\S+), (?P<b>\S+)\]\); trained on features at (?P<c_train>.+)",
     "les données s'arrêtent le {end}, avant {cutoff} + {horizon} : validé sur le découpage précédent (variables au {valid} "
     "étiquetées par ({a}, {b}]) ; entraîné sur les variables au {c_train}"),
    (r"no amounts in the transactions \(no amount column, or every amount is 0\): the model is trained without the spend "
     r"features \((?P<features>.*)\)",
     "pas de montants dans les transactions (pas de colonne de montant, ou tous les montants valent 0) : le modèle est "
     "entraîné sans les variables de dépense ({features})"),
    (r"feature\(s\) left out, no customer has a value at the training cutoffs: (?P<features>.*)",
     "variable(s) écartée(s), aucun client n'a de valeur aux dates de coupure d'entraînement : {features}"),
    (r"the saved model \((?P<model>.+?)\) does not beat the RFM logistic baseline \((?P<rfm>.*)\): validation AUC "
     r"(?P<n_a>{N}) vs (?P<n_b>{N})",
     "le modèle retenu ({model}) ne bat pas la référence logistique RFM ({rfm}) : AUC en validation {n_a} contre {n_b}"),
    (r"the saved model \((?P<model>.+?)\) beats the RFM logistic baseline \((?P<rfm>.*)\) by only (?P<n_gain>{N}) AUC, within one "
     r"standard error \((?P<n_se>{N})\): no clear gain over it",
     "le modèle retenu ({model}) ne bat la référence logistique RFM ({rfm}) que de {n_gain} d'AUC, moins d'une erreur type "
     "({n_se}) : pas de gain net sur elle"),
]

_COMPILED = [(re.compile(p.replace("{N}", f"(?:{N})"), re.S), t) for p, t in CATALOGUE]
_SCENARIOS = [(re.compile(p), t) for p, t in SCENARIO_NEEDS]


def _train_cuts(text: str) -> str:
    """`2025-01-01 and 2025-04-01 (each labelled by the horizon after it)` in French."""
    return text.replace(" (each labelled by the horizon after it)", " (chacune étiquetée par l'horizon qui la suit)").replace(" and ", " et ")


def _group(name: str, value: str | None) -> str:
    if value is None:
        return ""
    prefix = name.split("_", 1)[0]
    if prefix == "n":
        return "une partie" if value == "part" else french_number(value)
    if prefix == "u":
        return _units(value)
    if prefix == "w":
        return french_warning(value)
    if prefix == "s":
        return next((t.format(**m.groupdict()) for r, t in _SCENARIOS if (m := r.fullmatch(value))), value)
    if prefix == "d":
        return DID_REASONS.get(value, value)
    if prefix == "j":
        return WINDOW.get(value, value)
    if prefix == "c":
        return _train_cuts(value)
    if prefix == "a":
        return {**AB_EVENTS, "the designed split": "la répartition prévue", "an equal split": "une répartition égale"}.get(value, value)
    return value


def french_warning(text: str) -> str:
    """The French text of an analysis warning; a warning the catalogue does not know is returned unchanged."""
    for pattern, template in _COMPILED:
        m = pattern.fullmatch(text)
        if m is not None:
            groups = {k: _group(k, v) for k, v in m.groupdict().items()}
            if "grouped" in groups and groups["grouped"]:
                groups["grouped"] = ", ni aucun groupe"
            if "unequal" in groups and groups["unequal"]:
                groups["unequal"] = " (si la répartition prévue était inégale, donnez --split A=0.4,B=0.4,control=0.2)"
            return template.format(**groups)
    return text
