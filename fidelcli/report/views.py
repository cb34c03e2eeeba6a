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
    fig = charts.heatmap(rows, cols, values, title=title, xlabel=ctx.t("periods since acquisition"), ylabel=ctx.t("cohort"))
    return [Chart(charts.svg(fig, label=title), "cohort-heatmap")]


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
    findings = result.tables()["findings"]
    if not findings.height:
        return [Note(ctx.t("No finding: every check passed."))]
    return [TableBlock(ctx.t("Findings"), findings.select("severity", "code", "file", "column", "count", "rows", "message"))]


def migration_view(matrix: pl.DataFrame, ctx: ViewContext) -> list[Block]:
    """The segment migration matrix of `--compare-to` (previous segments in rows)."""
    cols = [c for c in matrix.columns if c != "previous_segment"]
    title = ctx.t("Segment migration since the previous run (customers)")
    fig = charts.heatmap([str(v) for v in matrix.get_column("previous_segment").to_list()], cols,
                         [list(r) for r in matrix.select(cols).iter_rows()], title=title, xlabel=ctx.t("current segment"),
                         ylabel=ctx.t("previous segment"), percent=False)
    return [Chart(charts.svg(fig, label=title), "rfm-migration"), TableBlock(title, matrix)]


VIEWS: dict[str, Callable[[Result, ViewContext], list[Block]]] = {
    "rfm": rfm_view, "kpi": kpi_view, "cohort": cohort_view, "clv": clv_view, "churn_model": churn_model_view,
    "churn": churn_view, "subscription": subscription_view, "validation": validation_view,
}
