"""The sections of the nightly report: one entry per analysis, in the order of the report.

Each `Section` says which inputs it needs, which library call computes its result (an object
satisfying `fidelcli.result.Result`), and how the report shows it (`fidelcli.report.views`). The
report computes no number itself: kpis.json holds the results' `headline()` figures, the tables
files their `tables()`, the HTML and Markdown render both.

A later command adds its section here, in one place: an entry of `SECTIONS` naming its inputs, a
`compute` function of `ReportInputs` returning its result, and its view (a function of the result
returning charts and tables, in `views.py` or its own module).

Example
-------
>>> [s.key for s in SECTIONS]  # doctest: +SKIP
['rfm', 'kpi', 'cohort', 'clv', 'churn_model', 'churn', 'subscription']
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from fidelcli.config import Config
from fidelcli.errors import FitError
from fidelcli.io.columns import Kind
from fidelcli.result import Result

if TYPE_CHECKING:
    from fidelcli.clean import Transactions
    from fidelcli.engine import Engine
    from fidelcli.io.read import Table

Lang = Literal["en", "fr"]


@dataclass
class ReportInputs:
    """Everything the sections read, loaded once by the caller (the CLI reads them from `[inputs]`).

    transactions: cleaned with the default purchase occasions; `transactions_by_day`: the same
    source with one occasion per customer and day (the CLV models count shopping days).
    tables: the other inputs as read (`Table`), by kind; `frames`: their rows, checked.
    models: fitted models passed from one section to the next (the churn model of `churn_model`),
    and written to the run directory.
    """

    engine: Engine
    config: Config
    today: dt.date
    lang: Lang = "en"
    transactions: Transactions | None = None
    transactions_by_day: Transactions | None = None
    tables: dict[str, Table] = field(default_factory=dict)
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    churn_model: Path | None = None
    models: dict[str, Any] = field(default_factory=dict)

    def has(self, kind: str) -> bool:
        """Whether the input `kind` was given."""
        return self.transactions is not None if kind == "transactions" else kind in self.tables

    def lazy(self, kind: str) -> pl.LazyFrame | None:
        tbl = self.tables.get(kind)
        return tbl.lf if tbl is not None else None


@dataclass(frozen=True)
class Section:
    """One analysis of the report.

    key: the prefix of its figures in kpis.json (`rfm.customers`) and of its table files.
    titles: the section title per language.
    needs: the input kinds it cannot do without.
    compute: the library call, returning its result; None when it has nothing to say (e.g. no
        churn model to score with).
    view: how the result is shown (charts and tables), see `fidelcli.report.views.View`.
    wanted: an extra condition on the inputs (the churn model is trained only without a model file).
    """

    key: str
    titles: dict[str, str]
    needs: tuple[Kind, ...]
    compute: Callable[[ReportInputs], Result | None]
    view: str
    wanted: Callable[[ReportInputs], bool] = lambda inputs: True

    def title(self, lang: str) -> str:
        return self.titles.get(lang, self.titles["en"])

    def applies(self, inputs: ReportInputs) -> bool:
        return all(inputs.has(k) for k in self.needs) and self.wanted(inputs)


# --------------------------------------------------------------------------------------------
# The library calls (each the one behind its command, with the config's settings)
# --------------------------------------------------------------------------------------------
def _tx(inputs: ReportInputs, *, by_day: bool = False) -> Transactions:
    tx = inputs.transactions_by_day if by_day else inputs.transactions
    assert tx is not None
    return tx


def compute_rfm(inputs: ReportInputs) -> Result:
    from fidelcli.analyses.rfm import rfm_analysis

    cfg = inputs.config.rfm
    return rfm_analysis(_tx(inputs), engine=inputs.engine, bins=cfg.bins, monetary=cfg.monetary, thresholds=cfg.thresholds,
                        segments=cfg.segments, lang=inputs.lang)


def compute_kpi(inputs: ReportInputs) -> Result:
    from fidelcli.analyses.kpi import kpi_analysis

    return kpi_analysis(_tx(inputs), engine=inputs.engine, period=inputs.config.kpi.period, lang=inputs.lang,
                        default_margin=inputs.config.analysis.margin, surveys=inputs.frames.get("surveys"),
                        spend=inputs.frames.get("spend"), campaigns=inputs.frames.get("campaigns"),
                        customers=inputs.frames.get("customers"))


def compute_cohort(inputs: ReportInputs) -> Result:
    from fidelcli.analyses.cohort import cohort_analysis

    return cohort_analysis(_tx(inputs), engine=inputs.engine, period=inputs.config.report.cohort_period)


def compute_clv(inputs: ReportInputs) -> Result:
    from fidelcli.analyses.clv import ClvOptions, customer_lifetime_value
    from fidelcli.analyses.timeunits import parse_horizon

    config = inputs.config
    cfg = config.clv
    margin = cfg.margin if cfg.margin is not None else config.analysis.margin if config.analysis.margin is not None else 1.0
    opts = ClvOptions(horizon=parse_horizon(cfg.horizon), discount_rate=cfg.discount_rate,
                      margin=None if margin == "column" else float(margin), lifetime_years=cfg.lifetime)
    tx = _tx(inputs, by_day=True)
    calibration_end = None
    holdout = config.report.clv_holdout
    if holdout is not None:
        from fidelcli.churn.labels import shift

        # The holdout is the last `holdout` of the data: the model is fitted on what comes before.
        calibration_end = shift(tx.end_date, holdout, sign=-1)
        if calibration_end <= tx.first_date:
            calibration_end = None  # less history than the holdout: fit on all of it, without holdout accuracy
    try:
        return customer_lifetime_value(tx, engine=inputs.engine, options=opts, calibration_end=calibration_end,
                                       time_unit=cfg.time_unit, occasion="day")
    except FitError as exc:
        if calibration_end is None:
            raise
        # The calibration alone does not identify a model: fit on all the data, without holdout accuracy.
        result = customer_lifetime_value(tx, engine=inputs.engine, options=opts, time_unit=cfg.time_unit, occasion="day")
        result.warnings.insert(0, f"no model could be fitted without the last {holdout} ({exc}): fitted on all the data, no holdout accuracy")
        return result


def _churn_inputs(inputs: ReportInputs) -> Any:
    from fidelcli.churn import ChurnInputs

    return ChurnInputs(customers=inputs.lazy("customers"), surveys=inputs.lazy("surveys"), campaigns=inputs.lazy("campaigns"))


def compute_churn_model(inputs: ReportInputs) -> Result:
    from fidelcli.churn import train_churn

    cfg = inputs.config.churn
    result = train_churn(_tx(inputs), engine=inputs.engine, horizon=cfg.horizon, inputs=_churn_inputs(inputs),
                         calibration=cfg.calibration, seed=cfg.seed)
    inputs.models["churn"] = result.model
    return result


def compute_churn(inputs: ReportInputs) -> Result | None:
    from fidelcli.churn import ChurnModel, churn_score_analysis

    model = inputs.models.get("churn")
    if model is None and inputs.churn_model is not None:
        model = ChurnModel.load(inputs.churn_model)
    if model is None:
        return None
    return churn_score_analysis(_tx(inputs), model, engine=inputs.engine, inputs=_churn_inputs(inputs),
                                bands=inputs.config.churn.bands, bins=inputs.config.rfm.bins, lang=inputs.lang)


def compute_subscription(inputs: ReportInputs) -> Result:
    from fidelcli.analyses.subscription import subscription_analysis

    table = inputs.tables["subscriptions"]
    return subscription_analysis(table, engine=inputs.engine, period="month", today=inputs.today)


SECTIONS: list[Section] = [
    Section("rfm", {"en": "Segments (RFM)", "fr": "Segments (RFM)"}, ("transactions",), compute_rfm, "rfm"),
    Section("kpi", {"en": "KPI trends", "fr": "Tendances des indicateurs"}, ("transactions",), compute_kpi, "kpi"),
    Section("cohort", {"en": "Cohort retention", "fr": "Rétention par cohorte"}, ("transactions",), compute_cohort, "cohort"),
    Section("clv", {"en": "Customer lifetime value", "fr": "Valeur vie client"}, ("transactions",), compute_clv, "clv"),
    Section("churn_model", {"en": "Churn model (holdout accuracy)", "fr": "Modèle d'attrition (précision en validation)"},
            ("transactions",), compute_churn_model, "churn_model", wanted=lambda inputs: inputs.churn_model is None),
    Section("churn", {"en": "Churn risk by segment", "fr": "Risque d'attrition par segment"}, ("transactions",), compute_churn, "churn"),
    Section("subscription", {"en": "Subscriptions", "fr": "Abonnements"}, ("subscriptions",), compute_subscription, "subscription"),
]


def section(key: str) -> Section:
    """The section named `key` (KeyError when there is none)."""
    for s in SECTIONS:
        if s.key == key:
            return s
    raise KeyError(key)
