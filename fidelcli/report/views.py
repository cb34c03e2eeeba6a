"""How each section of the report is shown: charts (inline SVG) and small tables, from the section's
result only (its `tables()` and `headline()`): no number is computed here, only chosen and drawn.

A view is a function `(result, context) -> list[Block]`; `VIEWS` maps a section's `view` name to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from fidelcli.cli.labels import label
from fidelcli.report import charts
from fidelcli.report.sentences_fr import moment_sentences
from fidelcli.result import Result


@dataclass
class Chart:
    """An inline SVG chart and its accessible name."""

    svg: str
    name: str


@dataclass
class TableBlock:
    """A small table shown as HTML (and Markdown), with a title and an optional note under it."""

    title: str
    frame: pl.DataFrame
    note: str | None = None


@dataclass
class Note:
    text: str


Block = Chart | TableBlock | Note


@dataclass
class ViewContext:
    """Settings of the rendering: language, how many top customers, the pseudonym key of their ids."""

    lang: str = "en"
    top: int = 10
    pseudonym_key: bytes = b""
    keyed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def t(self, text: str) -> str:
        """A chart or table title in the report's language (English is the key)."""
        return FR.get(text, text) if self.lang == "fr" else text


FR = {
    "Customers and revenue by segment": "Clients et chiffre d'affaires par segment",
    "share of customers": "part des clients", "share of revenue": "part du chiffre d'affaires", "% of total": "% du total",
    "Segments": "Segments", "Revenue per period": "Chiffre d'affaires par période", "Active and new customers": "Clients actifs et nouveaux",
    "Retention and churn rate": "Taux de rétention et d'attrition", "Last complete period vs the one before": "Dernière période complète et la précédente",
    "Retention by cohort (% of the cohort active)": "Rétention par cohorte (% de la cohorte actif)",
    "periods since acquisition": "périodes depuis l'acquisition", "cohort": "cohorte", "CLV distribution": "Distribution de la valeur vie client",
    "customers (log scale)": "clients (échelle log)", "Top customers (pseudonymised ids)": "Meilleurs clients (identifiants pseudonymisés)",
    "Holdout: predicted vs actual purchases": "Période de test : achats prévus et réels",
    "Fit quality": "Qualité de l'ajustement", "Validation of the churn model (holdout)": "Validation du modèle d'attrition (période de test)",
    "Mean churn probability by segment": "Probabilité d'attrition moyenne par segment", "Churn risk by segment": "Risque d'attrition par segment",
    "Survival of subscriptions": "Survie des abonnements", "observed": "observée", "sBG model": "modèle sBG",
    "sBG fit": "Ajustement sBG", "Findings": "Constats", "No finding: every check passed.": "Aucun constat : tous les contrôles sont passés.",
    "Segment migration since the previous run (customers)": "Migrations entre segments depuis l'exécution précédente (clients)",
    "previous segment": "segment précédent", "current segment": "segment actuel",
    "Holdout by calibration frequency": "Période de test par fréquence de calibration",
    "Validation": "Validation", "Probability calibration (validation customers)": "Calibration des probabilités (clients de validation)",
    "revenue": "chiffre d'affaires", "active customers": "clients actifs", "new customers": "nouveaux clients",
    "retention rate": "taux de rétention", "churn rate": "taux d'attrition", "%": "%",
    "ids: HMAC hashes keyed by FIDELCLI_PSEUDONYM_KEY, stable across runs":
        "identifiants : hachage HMAC avec la clé de FIDELCLI_PSEUDONYM_KEY, stables d'une exécution à l'autre",
    "ids: hashes with a key drawn for this run (FIDELCLI_PSEUDONYM_KEY is not set)":
        "identifiants : hachage avec une clé tirée pour cette exécution (FIDELCLI_PSEUDONYM_KEY n'est pas défini)",
    "Members by tier": "Membres par palier", "share of members": "part des membres", "Tiers": "Paliers",
    "Points liability per month": "Passif de points par mois", "liability": "passif", "reward cost": "coût des récompenses",
    "Cumulative incremental margin and program cost": "Marge incrémentale et coût du programme cumulés",
    "cumulative incremental margin": "marge incrémentale cumulée", "cumulative cost": "coût cumulé",
    "Difference in differences (bootstrap interval)": "Différence de différences (intervalle bootstrap)",
    "Naive comparison (members chose to join: not the program's effect)":
        "Comparaison naïve (les membres ont choisi d'adhérer : ce n'est pas l'effet du programme)",
    "Balance before and after matching (|SMD| < 0.1: balanced)": "Équilibre avant et après appariement (|SMD| < 0,1 : équilibré)",
    "Rate per variant": "Taux par variante", "Variants": "Variantes", "Lifts against control": "Écarts au groupe témoin",
    "Customers targeted per scenario": "Clients ciblés par scénario", "customers": "clients", "Count funnel": "Entonnoir des effectifs",
    "Top association rules": "Principales règles d'association",
    "No rule reaches the support and confidence thresholds.": "Aucune règle n'atteint les seuils de support et de confiance.",
    "Holdout: hit rate against popularity": "Période de test : taux de succès face à la popularité",
    "Irritants by stage and channel (% of rated touchpoints)": "Irritants par étape et canal (% des points de contact notés)",
    "channel": "canal", "stage": "étape", "Conversion between stages": "Conversion entre étapes", "Most common paths": "Parcours les plus fréquents",
    "Moments of truth": "Moments de vérité",
    "the recommendations of every customer are in": "les recommandations de chaque client sont dans",
    "and the up-sell suggestions in": "et les suggestions de montée en gamme dans",
    "Files written:": "Fichiers écrits :",
}


def _column(df: pl.DataFrame, name: str) -> list[Any]:
    return df.get_column(name).to_list() if name in df.columns else [None] * df.height


def rfm_view(result: Result, ctx: ViewContext) -> list[Block]:
    seg = result.tables()["segments"]
    names = [str(s) for s in _column(seg, "segment")]
    fig = charts.grouped_bars(names, {ctx.t("share of customers"): _column(seg, "share"), ctx.t("share of revenue"): _column(seg, "revenue_share")},
                              title=ctx.t("Customers and revenue by segment"), xlabel=ctx.t("% of total"), percent=True)
    return [Chart(charts.svg(fig, label=ctx.t("Customers and revenue by segment")), "rfm-segments"), TableBlock(ctx.t("Segments"), seg)]


def kpi_view(result: Result, ctx: ViewContext) -> list[Block]:
    tables = result.tables()
    periods, comparison = tables["periods"], tables["comparison"]
    blocks: list[Block] = []
    x = _column(periods, "period_start")
    if periods.height:
        if "revenue" in periods.columns and periods["revenue"].null_count() < periods.height:
            fig = charts.lines(x, {ctx.t("revenue"): _column(periods, "revenue")}, title=ctx.t("Revenue per period"))
            blocks.append(Chart(charts.svg(fig, label=ctx.t("Revenue per period")), "kpi-revenue"))
        fig = charts.lines(x, {ctx.t("active customers"): _column(periods, "active_customers"),
                               ctx.t("new customers"): _column(periods, "new_customers")}, title=ctx.t("Active and new customers"))
        blocks.append(Chart(charts.svg(fig, label=ctx.t("Active and new customers")), "kpi-customers"))
        fig = charts.lines(x, {ctx.t("retention rate"): _column(periods, "retention_rate"), ctx.t("churn rate"): _column(periods, "churn_rate")},
                           title=ctx.t("Retention and churn rate"), ylabel="%", percent=True)
        blocks.append(Chart(charts.svg(fig, label=ctx.t("Retention and churn rate")), "kpi-retention"))
    if comparison.height:
        blocks.append(TableBlock(ctx.t("Last complete period vs the one before"), comparison))
    return blocks


def cohort_view(result: Result, ctx: ViewContext) -> list[Block]:
    matrix = result.tables()["matrix"]
    cells = [c for c in matrix.columns if c.isdigit()]
    if not matrix.height or not cells:
        return []
    # The latest 24 cohorts and the first 24 periods: a readable matrix whatever the history.
    shown = matrix.tail(24)
    cols = cells[:24]
    rows = [str(v) for v in shown.get_column("cohort").to_list()]
    values = [list(r) for r in shown.select(cols).iter_rows()]
    title = ctx.t("Retention by cohort (% of the cohort active)")
    svg = charts.heatmap(rows, cols, values, title=title, xlabel=ctx.t("periods since acquisition"), ylabel=ctx.t("cohort"), label=title)
    return [Chart(svg, "cohort-heatmap")]


def clv_view(result: Result, ctx: ViewContext) -> list[Block]:
    from fidelcli.analyses.clv import top_customers

    tables = result.tables()
    customers = tables["customers"]
    blocks: list[Block] = []
    column = "clv" if customers["clv"].null_count() < customers.height else "expected_purchases"
    values = customers.get_column(column).drop_nulls().cast(pl.Float64).to_numpy()
    fig = charts.histogram(np.asarray(values), title=ctx.t("CLV distribution"), xlabel=label(column, ctx.lang), ylabel=ctx.t("customers (log scale)"))
    blocks.append(Chart(charts.svg(fig, label=ctx.t("CLV distribution")), "clv-distribution"))
    note = ctx.t("ids: HMAC hashes keyed by FIDELCLI_PSEUDONYM_KEY, stable across runs") if ctx.keyed else ctx.t(
        "ids: hashes with a key drawn for this run (FIDELCLI_PSEUDONYM_KEY is not set)")
    blocks.append(TableBlock(ctx.t("Top customers (pseudonymised ids)"), top_customers(customers, key=ctx.pseudonym_key, n=ctx.top), note))
    if "holdout_tracking" in tables and tables["holdout_tracking"].height:
        tracking = tables["holdout_tracking"]
        fig = charts.tracking_figure(tracking, model_name=str(result.headline().get("model", "")))
        blocks.append(Chart(charts.svg(fig, label=ctx.t("Holdout: predicted vs actual purchases")), "clv-holdout"))
        blocks.append(TableBlock(ctx.t("Holdout by calibration frequency"), tables["holdout_by_frequency"]))
    blocks.append(TableBlock(ctx.t("Fit quality"), tables["comparison"]))
    return blocks


def churn_model_view(result: Result, ctx: ViewContext) -> list[Block]:
    tables = result.tables()
    return [TableBlock(ctx.t("Validation of the churn model (holdout)"), tables["metrics"]),
            TableBlock(ctx.t("Probability calibration (validation customers)"), tables["calibration"])]


def churn_view(result: Result, ctx: ViewContext) -> list[Block]:
    summary = result.tables().get("summary")
    if summary is None or not summary.height:
        return []
    key = "segment" if "segment" in summary.columns else summary.columns[0]
    title = ctx.t("Mean churn probability by segment")
    fig = charts.bars([str(v) for v in _column(summary, key)], _column(summary, "mean_churn_probability"), title=title, xlabel="%", percent=True)
    return [Chart(charts.svg(fig, label=title), "churn-by-segment"), TableBlock(ctx.t("Churn risk by segment"), summary)]


def subscription_view(result: Result, ctx: ViewContext) -> list[Block]:
    tables = result.tables()
    survival = tables["survival"].filter(pl.col("cohort") == "all")
    title = ctx.t("Survival of subscriptions")
    fig = charts.lines(_column(survival, "period"), {ctx.t("observed"): _column(survival, "survival"),
                                                     ctx.t("sBG model"): _column(survival, "sbg_survival")}, title=title, ylabel="%", percent=True)
    return [Chart(charts.svg(fig, label=title), "subscription-survival"), TableBlock(ctx.t("sBG fit"), tables["fits"])]


def validation_view(result: Result, ctx: ViewContext) -> list[Block]:
    from fidelcli.validate import Report
    from fidelcli.validate.messages import findings_frame

    # The messages in the report's language (`fidelcli.validate.messages`: a catalogue keyed by check id).
    findings = findings_frame(result, lang=ctx.lang) if isinstance(result, Report) else result.tables()["findings"]
    if not findings.height:
        return [Note(ctx.t("No finding: every check passed."))]
    return [TableBlock(ctx.t("Findings"), findings.select("severity", "code", "file", "column", "count", "rows", "message"))]


def migration_view(matrix: pl.DataFrame, ctx: ViewContext) -> list[Block]:
    """The segment migration matrix of `--compare-to` (previous segments in rows)."""
    cols = [c for c in matrix.columns if c != "previous_segment"]
    title = ctx.t("Segment migration since the previous run (customers)")
    svg = charts.heatmap([str(v) for v in matrix.get_column("previous_segment").to_list()], cols,
                         [list(r) for r in matrix.select(cols).iter_rows()], title=title, xlabel=ctx.t("current segment"),
                         ylabel=ctx.t("previous segment"), label=title, percent=False)
    return [Chart(svg, "rfm-migration"), TableBlock(title, matrix)]


def loyalty_view(result: Result, ctx: ViewContext) -> list[Block]:
    tables = result.tables()
    tiers, monthly = tables["tiers"], tables["monthly"]
    title = ctx.t("Members by tier")
    fig = charts.bars([str(v) for v in _column(tiers, "tier")], _column(tiers, "share"), title=title, xlabel=ctx.t("share of members"), percent=True)
    blocks: list[Block] = [Chart(charts.svg(fig, label=title), "loyalty-tiers"), TableBlock(ctx.t("Tiers"), tiers)]
    if monthly.height:
        title = ctx.t("Points liability per month")
        fig = charts.lines(_column(monthly, "period_start"), {ctx.t("liability"): _column(monthly, "liability"),
                                                              ctx.t("reward cost"): _column(monthly, "reward_cost")}, title=title)
        blocks.insert(1, Chart(charts.svg(fig, label=title), "loyalty-liability"))
    return blocks


def roi_program_view(result: Result, ctx: ViewContext) -> list[Block]:
    tables = result.tables()
    monthly = tables["monthly"]
    blocks: list[Block] = []
    if monthly.height:
        title = ctx.t("Cumulative incremental margin and program cost")
        fig = charts.lines(_column(monthly, "period_start"), {ctx.t("cumulative incremental margin"): _column(monthly, "cumulative_margin"),
                                                              ctx.t("cumulative cost"): _column(monthly, "cumulative_cost")}, title=title)
        blocks.append(Chart(charts.svg(fig, label=title), "roi-program-payback"))
    return [*blocks, TableBlock(ctx.t("Difference in differences (bootstrap interval)"), tables["summary"]),
            TableBlock(ctx.t("Naive comparison (members chose to join: not the program's effect)"), tables["naive"]),
            TableBlock(ctx.t("Balance before and after matching (|SMD| < 0.1: balanced)"), tables["balance"])]


def roi_abtest_view(result: Result, ctx: ViewContext) -> list[Block]:
    tables = result.tables()
    variants, lifts = tables["variants"], tables["lifts"]
    rate = next((c for c in variants.columns if c.endswith("_rate")), None)
    blocks: list[Block] = []
    if rate is not None:
        title = f"{ctx.t('Rate per variant')} ({label(rate, ctx.lang)})"
        fig = charts.bars([str(v) for v in _column(variants, "variant")], _column(variants, rate), title=title, xlabel="%", percent=True)
        blocks.append(Chart(charts.svg(fig, label=title), "roi-abtest-rates"))
    keep = [c for c in ("variant", "recipients", rate, f"{rate}_lower", f"{rate}_upper", "revenue_per_recipient", "incremental_margin",
                        "roi_pct") if c is not None and c in variants.columns]
    shown = [c for c in ("variant", "metric", "test", "lift", "lift_lower", "lift_upper", "relative_lift", "p_holm", "power", "recipients_needed")
             if c in lifts.columns]
    return [*blocks, TableBlock(ctx.t("Variants"), variants.select(keep)), TableBlock(ctx.t("Lifts against control"), lifts.select(shown))]


def target_view(result: Result, ctx: ViewContext) -> list[Block]:
    funnel = result.tables()["funnel"]
    per = funnel.filter(pl.col("scenario") != "all") if "scenario" in funnel.columns else funnel
    title = ctx.t("Customers targeted per scenario")
    fig = charts.bars([str(v) for v in _column(per, "scenario")], _column(per, "targeted"), title=title, xlabel=ctx.t("customers"))
    return [Chart(charts.svg(fig, label=title), "target-funnel"), TableBlock(ctx.t("Count funnel"), funnel)]


def recommend_rules_view(result: Result, ctx: ViewContext) -> list[Block]:
    rules = result.tables()["rules"]
    if not rules.height:
        return [Note(ctx.t("No rule reaches the support and confidence thresholds."))]
    return [TableBlock(ctx.t("Top association rules"), rules.head(max(ctx.top, 1) * 2))]


def recommend_customers_view(result: Result, ctx: ViewContext) -> list[Block]:
    ext = ctx.extra.get("table_format", "parquet")
    files = f"tables/recommend_customers.recommendations.{ext}"
    blocks: list[Block] = [Note(f"{ctx.t('the recommendations of every customer are in')} {files} "
                                f"{ctx.t('and the up-sell suggestions in')} tables/recommend_customers.upsell.{ext}")]
    evaluation = result.tables().get("evaluation")
    if evaluation is not None and evaluation.height:
        blocks.append(TableBlock(ctx.t("Holdout: hit rate against popularity"), evaluation))
    return blocks


def journey_view(result: Result, ctx: ViewContext) -> list[Block]:
    tables = result.tables()
    matrix = tables["matrix"]
    blocks: list[Block] = []
    if matrix.height and "irritant_share" in matrix.columns:
        stages = list(dict.fromkeys(str(v) for v in matrix["stage"].to_list()))
        channels = sorted({str(v) for v in matrix["channel"].to_list()})
        cell = {(str(r["stage"]), str(r["channel"])): r["irritant_share"] for r in matrix.iter_rows(named=True)}
        title = ctx.t("Irritants by stage and channel (% of rated touchpoints)")
        svg = charts.heatmap(stages, channels, [[cell.get((s, c)) for c in channels] for s in stages], title=title,
                             xlabel=ctx.t("channel"), ylabel=ctx.t("stage"), label=title)
        blocks.append(Chart(svg, "journey-irritants"))
    blocks += [TableBlock(ctx.t("Conversion between stages"), tables["conversion"]), TableBlock(ctx.t("Most common paths"), tables["paths"])]
    if "moments" in tables:
        moments = tables["moments"]
        keep = [c for c in ("rank", "stage", "channel", "customers", "negative", "effect", "effect_low", "effect_high", "p_holm")
                if c in moments.columns]
        blocks.append(TableBlock(ctx.t("Moments of truth"), moments.select(keep).head(10)))
        summary = tables["summary"]
        if "moment_of_truth" in summary.columns:
            texts = ([str(t) for t in summary.get_column("moment_of_truth").to_list()] if ctx.lang != "fr"
                     else moment_sentences(summary, moments, result.headline()))
            blocks += [Note(text) for text in texts]
    return blocks


VIEWS: dict[str, Callable[[Result, ViewContext], list[Block]]] = {
    "rfm": rfm_view, "kpi": kpi_view, "cohort": cohort_view, "clv": clv_view, "churn_model": churn_model_view,
    "churn": churn_view, "subscription": subscription_view, "validation": validation_view, "loyalty": loyalty_view,
    "roi_program": roi_program_view, "roi_abtest": roi_abtest_view, "target": target_view, "recommend_rules": recommend_rules_view,
    "recommend_customers": recommend_customers_view, "journey": journey_view,
}
