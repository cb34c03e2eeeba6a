"""Write one run of the report into a directory: report.html, summary.md, kpis.json, the tables,
the fitted models, and (with a previous run) comparison.json and the segment migration matrix.

The figures all come from the `ReportResult` (its headline is kpis.json, its tables the files); the
previous run is read back from its own kpis.json and `tables/rfm.customers.*`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl

from fidelcli.cli.labels import label
from fidelcli.io.write import write_frame
from fidelcli.report import html, markdown
from fidelcli.report.build import ReportResult
from fidelcli.report.charts import sparkline
from fidelcli.report.kpis import changes, migration_matrix
from fidelcli.report.views import VIEWS, Note, ViewContext, migration_view
from fidelcli.result import Figure

# The headline cards: kpis.json key, and the column of the KPI periods table its sparkline draws.
CARDS: list[tuple[str, str | None]] = [
    ("rfm.customers", None), ("kpi.revenue", "revenue"), ("kpi.active_customers", "active_customers"),
    ("kpi.new_customers", "new_customers"), ("kpi.aov", "aov"), ("kpi.retention_rate", "retention_rate"),
    ("kpi.churn_rate", "churn_rate"), ("kpi.nps", "nps"), ("clv.total_clv", None), ("churn.high_risk_customers", None),
    ("subscription.active", None), ("validation.error", None), ("validation.warning", None),
]
TEXT = {
    "en": {"title": "Loyalty report", "kpis": "Headline KPIs", "toc": "Contents", "warning": "warning", "run": "run",
           "as_of": "as of", "vs_period": "vs previous period", "vs_run": "vs previous run", "migration": "Segment migration",
           "validation": "Data quality", "skipped": "Not in this report"},
    "fr": {"title": "Rapport de fidélité", "kpis": "Indicateurs clés", "toc": "Sommaire", "warning": "avertissement", "run": "exécution",
           "as_of": "au", "vs_period": "vs période précédente", "vs_run": "vs exécution précédente", "migration": "Migrations entre segments",
           "validation": "Qualité des données", "skipped": "Absent de ce rapport"},
}
CARD_LABELS_FR = {"customers": "clients", "error": "erreurs de données", "warning": "avertissements de données",
                  "high_risk_customers": "clients à risque élevé", "active": "abonnements actifs"}
CARD_LABELS_EN = {"customers": "customers", "error": "data errors", "warning": "data warnings", "high_risk_customers": "high-risk customers",
                  "active": "active subscriptions", "total_clv": "total CLV", "aov": "average order value"}


@dataclass
class Rendering:
    """How figures and tables are written for a person (`fidelcli.cli.render` formatting, in the run's language)."""

    lang: Literal["en", "fr"]
    cells: html.Cells
    value_text: Callable[[str, object], str]
    view: ViewContext = field(default_factory=ViewContext)


def _card_label(key: str, lang: str) -> str:
    name = key.split(".", 1)[1]
    if lang == "fr":
        return CARD_LABELS_FR.get(name) or label(name, "fr")
    return CARD_LABELS_EN.get(name, name.replace("_", " "))


def cards(result: ReportResult, changed: dict[str, Figure] | None, r: Rendering) -> list[html.Card]:
    """The headline cards present in this run, with the change vs the previous run (else vs the previous period)."""
    figures = result.headline()
    text = TEXT[r.lang]
    periods = result.results["kpi"].tables()["periods"] if "kpi" in result.results else None
    out = []
    for key, column in CARDS:
        if key not in figures or figures[key] is None:
            continue
        name = key.split(".", 1)[1]
        value = r.value_text(name, figures[key])
        pct = changed.get(f"{key}.change_pct") if changed is not None else figures.get(f"{key}.delta_pct")
        suffix = text["vs_run"] if changed is not None else text["vs_period"]
        change, sign = "", 0
        if isinstance(pct, (int, float)):
            change = f"{'+' if pct > 0 else ''}{r.value_text('change', float(pct))} % {suffix}"
            sign = 1 if pct > 0 else -1 if pct < 0 else 0
        spark = ""
        if periods is not None and column is not None and column in periods.columns:
            spark = sparkline(periods.get_column(column).to_list(), label=_card_label(key, r.lang))
        out.append(html.Card(key=key, label=_card_label(key, r.lang), value=value, change=change, sign=sign, spark=spark))
    return out


def _previous_segments(previous: Path) -> pl.DataFrame | None:
    for ext in ("parquet", "csv"):
        path = previous / "tables" / f"rfm.customers.{ext}"
        if path.is_file():
            df = pl.read_parquet(path) if ext == "parquet" else pl.read_csv(path, infer_schema=False)
            return df.select(pl.col("customer_id").cast(pl.String), "segment")
    return None


def write_run(
    result: ReportResult, directory: Path, *, rendering: Rendering, subtitle: str, previous: Path | None = None,
    table_format: Literal["parquet", "csv"] = "parquet", models: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the run's files into `directory`; returns what the manifest records of them
    (files written, comparison keys). `previous`: a previous run directory for the deltas and migrations."""
    directory = Path(directory)
    (directory / "tables").mkdir(parents=True, exist_ok=True)
    figures = result.headline()
    _json(directory / "kpis.json", figures)
    written = ["kpis.json"]
    changed: dict[str, Figure] | None = None
    migration: pl.DataFrame | None = None
    if previous is not None:
        before = json.loads((previous / "kpis.json").read_text(encoding="utf-8"))
        changed = changes(figures, before)
        _json(directory / "comparison.json", {"previous_run": previous.name, "changes": changed})
        written.append("comparison.json")
        seg = _previous_segments(previous)
        if seg is not None and "rfm" in result.results:
            rfm = result.results["rfm"]
            order = [str(s) for s in rfm.tables()["segments"].get_column("segment").to_list()]
            current = rfm.tables()["customers"].select(pl.col("customer_id").cast(pl.String), "segment")
            migration = migration_matrix(seg, current, order=order)
    tables = result.tables()
    if migration is not None:
        tables["rfm.migration"] = migration
    for name, df in tables.items():
        write_frame(df, directory / "tables" / f"{name}.{table_format}")
        written.append(f"tables/{name}.{table_format}")
    own_files: dict[str, list[str]] = {}
    for key, writer in result.writers.items():
        own_files[key] = writer(directory)
        written += own_files[key]
    for name, model in (models or {}).items():
        (directory / "models").mkdir(exist_ok=True)
        model.save(directory / "models" / f"{name}.json")
        written.append(f"models/{name}.json")
    text = TEXT[rendering.lang]
    rendering.view.extra["table_format"] = table_format
    sections = []
    for key, res in result.results.items():
        view = VIEWS.get("validation" if key == "validation" else key)
        blocks = view(res, rendering.view) if view is not None else []
        notes = [Note(n) for n in result.notes.get(key, [])]
        if own_files.get(key):
            notes.append(Note(f"{rendering.view.t('Files written:')} {', '.join(own_files[key])}"))
        blocks = [*notes, *blocks]
        if key == "rfm" and migration is not None:
            blocks += migration_view(migration, rendering.view)
        title = text["validation"] if key == "validation" else result.titles.get(key, key)
        sections.append(html.PageSection(anchor=key, title=title, blocks=blocks, warnings=list(res.warnings)))
    card_list = cards(result, changed, rendering)
    page = html.page(title=text["title"], subtitle=subtitle, lang=rendering.lang, cards=card_list, cards_title=text["kpis"],
                     sections=sections, toc_title=text["toc"], cells=rendering.cells, warnings_title=text["warning"])
    (directory / "report.html").write_text(page, encoding="utf-8")
    (directory / "summary.md").write_text(markdown.summary(title=text["title"], subtitle=subtitle, cards=card_list, sections=sections,
                                                           cells=rendering.cells, skipped=result.skipped, skipped_title=text["skipped"],
                                                           lang=rendering.lang),
                                          encoding="utf-8")
    written += ["report.html", "summary.md"]
    return {"files": written, "compared_to": previous.name if previous is not None else None}


def _json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
