"""The French text of the analyses' warnings (`fidelcli.report.warnings_fr`): an example of each catalogue entry,
every literal warning of the analyses known to the catalogue, and the French page and summary using it."""

from __future__ import annotations

import ast
import datetime as dt
import itertools
import re
from pathlib import Path

import pytest

from fidelcli.report import html, markdown
from fidelcli.report.warnings_fr import _COMPILED, NNBSP, french_number, french_warning

ROOT = Path(__file__).parents[2]
S = NNBSP
D = dt.date(2025, 3, 31)

# (English warning, exactly as its f-string writes it; its French text).
EXAMPLES: list[tuple[str, str]] = [
    # fidelcli/clean.py
    (f"{13178:,} rows without a customer id were dropped", f"13{S}178 lignes sans identifiant client ont été écartées"),
    (f"{12:,} rows without a date were dropped", "12 lignes sans date ont été écartées"),
    (f"{1234:,} rows without an amount count as 0", f"1{S}234 lignes sans montant comptent pour 0"),
    (f"{5:,} rows dated on or after the analysis date {D} were ignored",
     "5 lignes datées du 2025-03-31 (la date d'analyse) ou après ont été ignorées"),
    ("no amount column (nor quantity and unit price): monetary figures are unavailable",
     "pas de colonne de montant (ni quantité et prix unitaire) : les montants sont indisponibles"),
    # fidelcli/io/text.py
    ("t.csv: 3 malformed rows left out (rows 3, 6, 9); row 3 has 4 fields",
     "t.csv : 3 ligne(s) mal formée(s) écartée(s) (ligne(s) 3, 6, 9) ; la ligne 3 a 4 fields"),
    # fidelcli/analyses/rfm.py
    (f"{7:,} customers with only returns (no purchase) are left out of the RFM",
     "7 clients n'ayant que des retours (aucun achat) sont écartés du RFM"),
    ("no amount column: monetary value is unknown (empty), so there is no M score; rfm_score is made of "
     "R and F, and the segments come from R and F as always",
     "pas de colonne de montant : la valeur monétaire est inconnue (vide), il n'y a donc pas de score M ; rfm_score est fait "
     "de R et F, et les segments viennent de R et F comme toujours"),
    # fidelcli/analyses/kpi.py, kpi_inputs.py
    (f"{0.0312:.1%} of the revenue ({1234.5:,.2f} of {40123.0:,.2f}) is on lines without a customer id: revenue counts them; "
     "customer_revenue and every per-customer figure do not, nor does any group",
     f"3,1{S}% du chiffre d'affaires (1{S}234,50 sur 40{S}123,00) est sur des lignes sans identifiant client : revenue les compte ; "
     "customer_revenue et les chiffres par client non, ni aucun groupe"),
    (f"part of the revenue ({12.5:,.2f} of {0.0:,.2f}) is on lines without a customer id: revenue counts them; "
     "customer_revenue and every per-customer figure do not",
     "une partie du chiffre d'affaires (12,50 sur 0,00) est sur des lignes sans identifiant client : revenue les compte ; "
     "customer_revenue et les chiffres par client non"),
    ("the customers table has neither referred_by nor loyalty_member: no referral or member KPIs",
     "la table des clients n'a ni referred_by ni loyalty_member : pas d'indicateurs de parrainage ou d'adhérents"),
    ("marketing spend is not split by group: CAC is left out of grouped KPIs",
     "les dépenses marketing ne sont pas réparties par groupe : le CAC est écarté des indicateurs par groupe"),
    ("the campaigns have no send date (sent_at): no campaign KPIs per period",
     "les campagnes n'ont pas de date d'envoi (sent_at) : pas d'indicateurs de campagne par période"),
    # fidelcli/analyses/clv
    (f"{7:,} repeat customers whose returns cancel their repeat purchases (net spend <= 0) are "
     "left out of the spend model: their expected_value is empty and their clv 0",
     "7 clients réguliers dont les retours annulent les achats répétés (dépense nette <= 0) sont écartés du modèle de "
     "dépense : leur expected_value est vide et leur clv 0"),
    ("gamma_gamma: only 2 customer(s) with repeat purchases and a positive spend: expected_value and clv are left empty "
     "(expected purchases and P(alive) are reported)",
     "gamma_gamma : seulement 2 client(s) avec des achats répétés et une dépense positive : expected_value et clv sont laissés "
     "vides (les achats attendus et P(alive) sont donnés)"),
    ("gamma_gamma: only 1 customer(s) with repeat purchases and a positive spend",
     "gamma_gamma : seulement 1 client(s) avec des achats répétés et une dépense positive"),
    ("model pareto_nbd: the fit did not converge (left out of the comparison)",
     "modèle pareto_nbd: the fit did not converge (écarté de la comparaison)"),
    (f"frequency and mean spend are correlated (r = {0.4567:.2f}): the Gamma-Gamma "
     "independence assumption is doubtful, read expected values with care",
     "la fréquence et la dépense moyenne sont corrélées (r = 0,46) : l'hypothèse d'indépendance du modèle Gamma-Gamma est "
     "douteuse, lisez les valeurs attendues avec prudence"),
    (f"the holdout forecast is off by {-23.4:+.0f} % ({12345.2:,.0f} purchases predicted, "
     f"{16000.0:,.0f} made): the model does not track this period (a trend, seasonality, or a short "
     "calibration); read its predictions with care",
     f"la prévision de la période de validation s'écarte de -23 % (12{S}345 achats prévus, 16{S}000 réalisés) : le modèle "
     "ne suit pas cette période (tendance, saisonnalité ou calibration trop courte) ; lisez ses prédictions avec prudence"),
    (f"calibration end {D} is inside a week: the calibration is the complete "
     f"weeks up to {dt.date(2025, 3, 30)} and the holdout starts on {dt.date(2025, 3, 31)}",
     "la fin de calibration 2025-03-31 tombe au milieu d'une période (semaine) : la calibration couvre les périodes complètes "
     "jusqu'au 2025-03-30 et la validation commence le 2025-03-31"),
    ("the expected relationship duration could not be measured from the data (a summary table, "
     "or no churn observed): historical_clv is empty; pass --lifetime YEARS",
     "la durée attendue de la relation n'a pas pu être mesurée sur les données (table de synthèse, ou aucune attrition "
     "observée) : historical_clv est vide ; passez --lifetime ANNÉES"),
    (f"horizon 10w is {2.5:.3g} months: BG/BB predicts whole periods, the horizon used is 2 months",
     "l'horizon 10w vaut 2,5 périodes (mois) : BG/BB prédit des périodes entières, l'horizon retenu est de 2 période(s)"),
    (f"P(alive) is uninformative: its mean is {0.98765:.3f} and the drop-out parameter a = {0.0123:.3g} "
     f"has a standard error of {0.05:.3g}, larger than itself: the data show too little drop-out to tell active from "
     "lapsed customers; read p_alive and long horizons with care",
     "P(alive) n'est pas informatif : sa moyenne est 0,988 et le paramètre d'abandon a = 0,0123 a une erreur type de "
     "0,05, plus grande que lui-même : les données montrent trop peu d'abandons pour distinguer les clients actifs des "
     "clients perdus ; lisez p_alive et les horizons longs avec prudence"),
    # fidelcli/report/sections.py
    ("no model could be fitted without the last 6m (bg_nbd: the fit did not converge): fitted on all the data, no holdout accuracy",
     "aucun modèle n'a pu être ajusté sans les derniers 6m (bg_nbd: the fit did not converge) : ajusté sur toutes les données, "
     "sans précision en validation"),
    ("the churn model cannot score here (no surveys input): at_risk left out",
     "le modèle d'attrition ne peut pas noter ici (no surveys input) : at_risk est laissé de côté"),
    # ... with the error of a model file that needs more than the data has (fidelcli/churn/modelfile.py), in English or
    # inside the French text sections.py writes for a French run
    ("the churn model cannot score here (the model needs feature(s) the data does not provide: last_nps, last_csat): at_risk left out",
     "le modèle d'attrition ne peut pas noter ici (le modèle demande des variables que les données n'ont pas : last_nps, last_csat) : "
     "at_risk est laissé de côté"),
    ("le modèle d'attrition ne peut pas noter ici (the model needs feature(s) the data does not provide: last_nps) : at_risk est "
     "laissé de côté",
     "le modèle d'attrition ne peut pas noter ici (le modèle demande des variables que les données n'ont pas : last_nps) : at_risk est "
     "laissé de côté"),
    ("file m.json: the model needs feature(s) the data does not provide: last_ces",
     "file m.json: le modèle demande des variables que les données n'ont pas : last_ces"),
    # fidelcli/analyses/target
    ("the customers table has no email column: the email column of the target file is empty",
     "la table des clients n'a pas de colonne email : la colonne email du fichier de ciblage est vide"),
    (f"{2500:,} campaign rows have no sent_at date: left out of the frequency cap",
     f"2{S}500 lignes de campagne n'ont pas de date sent_at : elles sont écartées du plafond de fréquence"),
    ("the customers table has no email_opt_in column: nobody is contacted by email (an unknown consent is no consent)",
     "la table des clients n'a pas de colonne email_opt_in : personne n'est contacté par email (un consentement inconnu "
     "n'est pas un consentement)"),
    (f"{3:,} rows of the customers table repeat a customer id: such a customer is "
     "contacted on a channel only when every one of their rows consents to it",
     "3 lignes de la table des clients répètent un identifiant client : un tel client n'est contacté sur un canal que "
     "si toutes ses lignes y consentent"),
    ("scenario birthday needs the birth_date column of the customers table: left out",
     "scénario écarté : birthday demande la colonne birth_date de la table des clients"),
    ("scenario at_risk needs churn risk: a churn model (--churn-model) or a CLV model (--clv-model): left out",
     "scénario écarté : at_risk demande un risque d'attrition : un modèle d'attrition (--churn-model) ou un modèle de CLV "
     "(--clv-model)"),
    ("scenario abandoned_cart needs a touchpoints table (--touchpoints): left out",
     "scénario écarté : abandoned_cart demande une table de points de contact (--touchpoints)"),
    ("scenario cross_sell needs recommendations (transactions with a product_id column): left out",
     "scénario écarté : cross_sell demande des recommandations (des transactions avec une colonne product_id)"),
    ("no campaigns table (--campaigns): frequency capping is not applied",
     "pas de table des campagnes (--campaigns) : le plafond de fréquence n'est pas appliqué"),
    # fidelcli/analyses/subscription.py
    (f"{4:,} subscriptions starting on or after the analysis date {D} were ignored",
     "4 abonnements commençant le 2025-03-31 (la date d'analyse) ou après ont été ignorés"),
    (f"alpha = {0.8:.3f} <= 1: the undiscounted expected lifetime is infinite; "
     "only the discounted lifetime and CLV are finite",
     "alpha = 0,800 <= 1 : la durée de vie attendue non actualisée est infinie ; seules la durée de vie et la CLV "
     "actualisées sont finies"),
    # fidelcli/analyses/roi/program.py
    ("12 eligible members have no non-member of the same first-purchase month, enrollment month "
     "and pre-enrollment orders: left out of the estimate",
     "12 adhérents éligibles n'ont aucun non-adhérent de même mois de premier achat, mois d'adhésion et commandes "
     "avant adhésion : écartés de l'estimation"),
    (f"3 members left out of the difference in differences: {'no_pre_window'.replace('_', ' ')}",
     "3 adhérents écartés de la double différence : pas de période avant l'adhésion"),
    ("no margin: the transactions have no margin or cost column and no --margin was given; ROI is unknown",
     "pas de marge : les transactions n'ont pas de colonne de marge ou de coût et --margin n'est pas donné ; le ROI est inconnu"),
    ("program cost is zero or negative (fees cover it): ROI % is undefined; give --fixed-cost, --cost-per-member...",
     "le coût du programme est nul ou négatif (les cotisations le couvrent) : le ROI % n'est pas défini ; donnez "
     "--fixed-cost, --cost-per-member..."),
    ("the cumulative incremental margin never covers the cumulative cost: no payback within the data",
     "la marge incrémentale cumulée ne couvre jamais le coût cumulé : pas de retour sur investissement dans la période des données"),
    ("loyalty simulation: the transactions have no category column: category multipliers are not applied",
     "simulation de fidélité : les transactions n'ont pas de colonne de catégorie : les multiplicateurs par catégorie ne "
     "sont pas appliqués"),
    # fidelcli/analyses/roi/abtest.py
    (f"the designed split names {sorted({'B': 0.5, 'A': 0.5})} but the variants are {sorted(['A', 'C'])}: no sample-ratio check",
     "la répartition prévue nomme ['A', 'B'] mais les variantes sont ['A', 'C'] : pas de contrôle du ratio d'échantillonnage"),
    (f"sample-ratio mismatch: recipients per variant {dict(zip(['A', 'B'], [100, 150], strict=True))} are unlikely under "
     f"an equal split (chi-square p = {0.00123:.2g}); the assignment or the logging is broken, so the lifts are not "
     "trustworthy (if the design was unequal, give --split A=0.4,B=0.4,control=0.2)",
     "écart de ratio d'échantillonnage : les destinataires par variante {'A': 100, 'B': 150} sont improbables sous une "
     "répartition égale (khi-deux p = 0,0012) ; l'affectation ou l'enregistrement est défaillant, les effets ne sont donc "
     "pas fiables (si la répartition prévue était inégale, donnez --split A=0.4,B=0.4,control=0.2)"),
    (f"variant {'B'!r} has only 25 recipients: too few for the tests' approximations",
     "la variante 'B' n'a que 25 destinataires : trop peu pour les approximations des tests"),
    (f"variant {'B'!r} has 3 conversion events (fewer than 10): the z test and its interval are approximate",
     "la variante 'B' a 3 événements conversion (moins de 10) : le test z et son intervalle sont approximatifs"),
    (f"revenue of {'B'!r} vs {'control'!r} is driven by a few large values: capped at the {0.99:.0%} quantile "
     f"of the buyers' revenue, the lift per recipient is {0.1234:.4g} (p = {0.2:.2g}) instead of {1.5:.4g} (p = {0.01:.2g})",
     "le chiffre d'affaires de 'B' face à 'control' tient à quelques grandes valeurs : plafonné au quantile 99\u202f% du "
     "chiffre d'affaires des acheteurs, l'effet par destinataire est 0,1234 (p = 0,2) au lieu de 1,5 (p = 0,01)"),
    # fidelcli/analyses/loyalty/kpis.py, alone and nested in the roi program's loyalty simulation
    (f"{3:,} members have a negative balance: returns took back points already redeemed",
     "3 adhérents ont un solde négatif : des retours ont repris des points déjà utilisés"),
    (f"loyalty simulation: {1200:,} members have a negative balance: returns took back points already redeemed",
     f"simulation de fidélité : 1{S}200 adhérents ont un solde négatif : des retours ont repris des points déjà utilisés"),
    # fidelcli/analyses/loyalty/simulation.py
    ("no loyalty_member column: every customer is simulated as a member from the first purchase",
     "pas de colonne loyalty_member : chaque client est simulé comme adhérent dès son premier achat"),
    ("8 members without an enrollment_date are enrolled at their first purchase",
     "8 adhérents sans enrollment_date sont inscrits à leur premier achat"),
    ("the transactions have no category column: category multipliers are not applied",
     "les transactions n'ont pas de colonne de catégorie : les multiplicateurs par catégorie ne sont pas appliqués"),
    # fidelcli/analyses/journey
    ("4 touchpoint rows without a customer, a timestamp or a stage are left out",
     "4 lignes de points de contact sans client, horodatage ou étape sont écartées"),
    ("6 touchpoints at stages not in --stages are left out: checkout, search",
     "6 points de contact à des étapes absentes de --stages sont écartés : checkout, search"),
    ("no touchpoint has a satisfaction: no moment of truth", "aucun point de contact n'a de satisfaction : pas de moment de vérité"),
    (f"10 of 40 rated touchpoints are left out of the moments of truth: the data after them (to {D}) is shorter than twice the window",
     "10 des 40 points de contact notés sont écartés des moments de vérité : les données qui les suivent (jusqu'au 2025-03-31) "
     "couvrent moins que deux fois la fenêtre"),
    (f"{0.42:.0%} of the rated customers have no transaction: are the customer ids of the two files the same?",
     "42\u202f% des clients ayant noté n'ont aucune transaction : les identifiants clients des deux fichiers sont-ils les mêmes ?"),
    # fidelcli/analyses/recommend
    (f"no rule reaches support {0.01:g} and confidence {0.5:g}: lower --min-support or --min-confidence",
     "aucune règle n'atteint un support de 0,01 et une confiance de 0,5 : baissez --min-support ou --min-confidence"),
    # fidelcli/churn
    ("campaign features left out: the campaigns table has no sent_at date to place them in time",
     "variables de campagne écartées : la table des campagnes n'a pas de date sent_at pour les situer dans le temps"),
    ("P(alive) left out: the BG/NBD model is not available", "P(alive) écarté : le modèle BG/NBD n'est pas disponible"),
    ("P(alive) left out: the fit did not converge", "P(alive) écarté : the fit did not converge"),
    ("trained on features at 2024-06-30 and 2024-09-30 (each labelled by the horizon after it); validated on features at "
     "2024-12-31 labelled by (2024-12-31, 2025-03-31]",
     "entraîné sur les variables au 2024-06-30 et 2024-09-30 (chacune étiquetée par l'horizon qui la suit) ; validé sur les "
     "variables au 2024-12-31 étiquetées par (2024-12-31, 2025-03-31]"),
    ("the data ends on 2025-03-31, before 2025-03-31 + 90d: validated on the earlier split (features at 2024-12-31 labelled by "
     "(2024-12-31, 2025-03-31]); trained on features at 2024-09-30 (each labelled by the horizon after it)",
     "les données s'arrêtent le 2025-03-31, avant 2025-03-31 + 90d : validé sur le découpage précédent (variables au "
     "2024-12-31 étiquetées par (2024-12-31, 2025-03-31]) ; entraîné sur les variables au 2024-09-30 (chacune étiquetée par "
     "l'horizon qui la suit)"),
    ("no amounts in the transactions (no amount column, or every amount is 0): the model is trained "
     "without the spend features (monetary, spend_90d)",
     "pas de montants dans les transactions (pas de colonne de montant, ou tous les montants valent 0) : le modèle est "
     "entraîné sans les variables de dépense (monetary, spend_90d)"),
    ("feature(s) left out, no customer has a value at the training cutoffs: nps",
     "variable(s) écartée(s), aucun client n'a de valeur aux dates de coupure d'entraînement : nps"),
    (f"the saved model (gradient boosting) does not beat the RFM logistic baseline (recency, frequency): validation AUC "
     f"{0.71234:.4f} vs {0.72:.4f}",
     "le modèle retenu (gradient boosting) ne bat pas la référence logistique RFM (recency, frequency) : AUC en validation "
     "0,7123 contre 0,7200"),
    (f"the saved model (gradient boosting) beats the RFM logistic baseline (recency, frequency) by only {0.004:+.4f} AUC, "
     f"within one standard error ({0.01:.4f}): no clear gain over it",
     "le modèle retenu (gradient boosting) ne bat la référence logistique RFM (recency, frequency) que de +0,0040 d'AUC, "
     "moins d'une erreur type (0,0100) : pas de gain net sur elle"),
]


@pytest.mark.parametrize(("english", "french"), EXAMPLES, ids=[e[:40] for e, _ in EXAMPLES])
def test_example(english: str, french: str) -> None:
    assert french_warning(english) == french


def test_every_catalogue_entry_has_an_example() -> None:
    used = {i for english, _ in EXAMPLES for i, (p, _) in enumerate(_COMPILED) if p.fullmatch(english)}
    assert used == set(range(len(_COMPILED)))


def test_unknown_warnings_and_numbers() -> None:
    assert french_warning("something new happened") == "something new happened"
    assert french_warning("le modèle d'attrition ne peut pas noter ici (x) : at_risk est laissé de côté").startswith("le modèle")
    assert [french_number(x) for x in ("1234", "12345", "1,234", "-0.25", "+3", "12%", "1.5e+03", "x")] == [
        "1234", f"12{S}345", f"1{S}234", "-0,25", "+3", f"12{S}%", "1,5e+03", "x"]


def test_from_the_code() -> None:
    # A warning produced by its code path.
    from fidelcli.analyses.clv.predict import discrete_horizon
    from fidelcli.analyses.timeunits import parse_horizon

    _, partial = discrete_horizon(parse_horizon("10w"), "month")
    assert partial is not None
    assert french_warning(partial).startswith("l'horizon 10w vaut ") and "BG/BB prédit des périodes entières" in french_warning(partial)


# The source files whose warnings reach a report section.
SOURCES = [sorted((ROOT / "fidelcli").glob(d + "/**/*.py")) for d in ("analyses", "churn", "models", "engine", "io")]
FILES = [*itertools.chain.from_iterable(SOURCES), ROOT / "fidelcli" / "clean.py", ROOT / "fidelcli" / "report" / "sections.py"]
SAMPLES = ["12", "2025-01-31", "email", "['A', 'B']", "{'A': 10, 'B': 12}"]


def _is_warnings(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "warnings") or (isinstance(node, ast.Attribute) and node.attr == "warnings")


def literal_warnings() -> list[tuple[str, ast.Constant | ast.JoinedStr]]:
    """Every `warnings.append("...")`, `warnings.append(f"...")`, `x.warnings.insert(0, f"...")` of the sources."""
    found: list[tuple[str, ast.Constant | ast.JoinedStr]] = []
    for path in FILES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("append", "insert")
                    and _is_warnings(node.func.value) and node.args):
                arg = node.args[-1]
                if isinstance(arg, ast.IfExp):
                    arg = arg.orelse  # the English branch of a language choice
                if isinstance(arg, ast.Constant | ast.JoinedStr):
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", arg))
            # `warnings = [*warnings, f"..."]`, `warnings += [f"..."]`, `warnings.extend([f"..."])`
            value = None
            if isinstance(node, ast.Assign) and any(_is_warnings(t) for t in node.targets) or (
                    isinstance(node, ast.AugAssign) and _is_warnings(node.target)):
                value = node.value
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "extend"
                  and _is_warnings(node.func.value) and node.args):
                value = node.args[0]
            if isinstance(value, ast.List):
                found += [(f"{path.relative_to(ROOT)}:{node.lineno}", e) for e in value.elts if isinstance(e, ast.Constant | ast.JoinedStr)]
    return found


def _filled(node: ast.Constant | ast.JoinedStr) -> list[str]:
    """The warning with its placeholders filled: one string per combination of sample values."""
    if isinstance(node, ast.Constant):
        return [str(node.value)]
    parts: list[list[str]] = []
    for v in node.values:
        if isinstance(v, ast.Constant):
            parts.append([str(v.value)])
            continue
        assert isinstance(v, ast.FormattedValue)
        fmt = v.format_spec
        spec = "".join(str(p.value) for p in fmt.values if isinstance(p, ast.Constant)) if isinstance(fmt, ast.JoinedStr) else ""
        if spec:
            parts.append([format(1234 if spec.endswith(("d", ",")) else 1234.5678, spec)])
        elif v.conversion == ord("r"):
            parts.append([repr("A")])
        else:
            parts.append(SAMPLES)
    return ["".join(c) for c in itertools.product(*parts)]


def test_the_scan_finds_the_warnings() -> None:
    assert len(literal_warnings()) >= 35


@pytest.mark.parametrize(("where", "node"), literal_warnings(), ids=[w for w, _ in literal_warnings()])
def test_every_literal_warning_has_a_french_entry(where: str, node: ast.Constant | ast.JoinedStr) -> None:
    texts = _filled(node)
    if all(t.startswith("le modèle d'attrition") for t in texts):
        return  # already French
    assert any(any(p.fullmatch(t) for p, _ in _COMPILED) for t in texts), f"{where}: no French entry for {texts[0]!r}"


def test_page_and_summary_in_french() -> None:
    section = html.PageSection(anchor="recommend_rules", title="Produits achetés ensemble",
                               warnings=["no rule reaches support 0.01 and confidence 0.5: lower --min-support or --min-confidence"])

    def cells(_: object) -> tuple[list[str], list[list[str]], list[bool]]:
        return [], [], []

    args = {"title": "t", "subtitle": "s", "cards": [], "sections": [section], "cells": cells}
    fr = html.page(**args, lang="fr", cards_title="k", toc_title="c", warnings_title="avertissement")  # type: ignore[arg-type]
    en = html.page(**args, lang="en", cards_title="k", toc_title="c", warnings_title="warning")  # type: ignore[arg-type]
    assert "avertissement : aucune règle n&#x27;atteint un support de 0,01" in fr
    assert "warning: no rule reaches support 0.01" in en
    md = markdown.summary(**args, skipped={}, skipped_title="x", lang="fr")  # type: ignore[arg-type]
    assert "> aucune règle n'atteint un support de 0,01 et une confiance de 0,5" in md
    assert "> no rule reaches" in markdown.summary(**args, skipped={}, skipped_title="x")  # type: ignore[arg-type]
    assert not re.search(r"no rule", fr + md)
