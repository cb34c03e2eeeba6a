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
['rfm', 'kpi', 'cohort', 'clv', 'churn_model', 'churn', 'subscription', 'loyalty', 'roi_program', 'roi_abtest', 'target',
 'recommend_rules', 'recommend_customers', 'journey']
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from fidelcli.config import Config
from fidelcli.errors import FidelError, FitError
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
    suppressed: customer ids never to contact (`[target] suppress` lists, read by the caller).
    notes: per section, sentences the page shows above its charts (which campaign, which files).
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
    suppressed: pl.Series | None = None
    notes: dict[str, list[str]] = field(default_factory=dict)

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
    keys: headline figures always in kpis.json for this section (null when the result lacks them),
        so that `--fail-on` and dashboards find the same keys from run to run.
    files: writes the section's own files into the run directory (the target lists), returning
        their paths relative to it.
    """

    key: str
    titles: dict[str, str]
    needs: tuple[Kind, ...]
    compute: Callable[[ReportInputs], Result | None]
    view: str
    wanted: Callable[[ReportInputs], bool] = lambda inputs: True
    keys: tuple[str, ...] = ()
    files: Callable[[Result, ReportInputs, Path], list[str]] | None = None

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


def _customers(inputs: ReportInputs) -> pl.DataFrame | None:
    return inputs.frames.get("customers")


def has_members(inputs: ReportInputs) -> bool:
    """The customers table says who is a loyalty member (at least one, with an enrollment date)."""
    cust = _customers(inputs)
    if cust is None or not {"loyalty_member", "enrollment_date"} <= set(cust.columns):
        return False
    return cust.filter(pl.col("loyalty_member").fill_null(False), pl.col("enrollment_date").is_not_null()).height > 0


def wants_loyalty(inputs: ReportInputs) -> bool:
    """Members in the customers table, or a `[loyalty]` program written in the config file."""
    return has_members(inputs) or "loyalty" in inputs.config.model_fields_set


def has_products(inputs: ReportInputs) -> bool:
    tx = inputs.transactions
    return tx is not None and "product_id" in tx.lf.collect_schema().names()


def compute_roi_program(inputs: ReportInputs) -> Result:
    from fidelcli.analyses.roi.program import ProgramCosts, program_roi

    config = inputs.config
    cfg = config.program
    costs = ProgramCosts(fixed=cfg.fixed_cost, per_member_year=cfg.cost_per_member, rewards=cfg.rewards_cost, fees=cfg.fees,
                         referral_reward=cfg.referral_reward)
    cust = _customers(inputs)
    assert cust is not None
    return program_roi(_tx(inputs), cust, engine=inputs.engine, window=cfg.window,
                       margin=cfg.margin if cfg.margin is not None else config.analysis.margin, costs=costs, loyalty=config.loyalty,
                       n_boot=cfg.bootstrap, confidence=cfg.confidence, seed=cfg.seed)


def latest_campaign(campaigns: pl.LazyFrame, control: str) -> str | None:
    """The campaign to show: the latest sent (then the greatest id) with a `control` variant and another one."""
    names = campaigns.collect_schema().names()
    if "variant" not in names:
        return None
    order = [pl.col("sent_at").max().alias("sent")] if "sent_at" in names else []
    found = (campaigns.group_by("campaign_id")
             .agg(pl.col("variant").n_unique().alias("variants"), (pl.col("variant") == control).any().alias("has_control"), *order)
             .filter(pl.col("variants") >= 2, pl.col("has_control"))
             .sort([*(["sent"] if order else []), "campaign_id"], descending=True, nulls_last=True).head(1).collect())
    return str(found["campaign_id"][0]) if found.height else None


def compute_roi_abtest(inputs: ReportInputs) -> Result | None:
    from fidelcli.analyses.roi import AbtestOptions, abtest_analysis

    config = inputs.config
    cfg = config.abtest
    lf = inputs.tables["campaigns"].lf
    chosen = latest_campaign(lf, cfg.control)
    if chosen is None:
        return None
    names = lf.collect_schema().names()
    metrics = [str(m) for m in ("converted", "clicked", "opened", "delivered") if m in names][:1]
    if not metrics:
        return None
    from fidelcli.cli.labels import label

    inputs.notes.setdefault("roi_abtest", []).append(
        f"Campagne {chosen} : {label(metrics[0], 'fr')}" if inputs.lang == "fr" else f"Campaign {chosen}: {metrics[0]}")
    opts = AbtestOptions(control=cfg.control, confidence=cfg.confidence, mde=cfg.mde, power=cfg.power, bootstrap=cfg.bootstrap, seed=cfg.seed,
                         margin=cfg.margin if cfg.margin is not None else config.analysis.margin or 1.0,
                         cost_per_recipient=dict(cfg.cost), split=dict(cfg.split), uplift=False, folds=cfg.folds)
    return abtest_analysis(lf.filter(pl.col("campaign_id") == chosen), metrics=metrics, revenue="revenue" in names, cost="cost" in names,
                           lang=inputs.lang, options=opts)


def compute_loyalty(inputs: ReportInputs) -> Result:
    from fidelcli.analyses.loyalty import simulate_loyalty

    return simulate_loyalty(_tx(inputs), _customers(inputs), engine=inputs.engine, rules=inputs.config.loyalty,
                            events=inputs.frames.get("loyalty_events"))


def compute_target(inputs: ReportInputs) -> Result:
    from fidelcli.analyses.target import target_analysis

    cfg = inputs.config.target
    cust = _customers(inputs)
    assert cust is not None

    def run(model: Any) -> Result:
        return target_analysis(_tx(inputs), engine=inputs.engine, customers=cust, scenarios=cfg.scenarios, strict=False, settings=cfg,
                               touchpoints=inputs.lazy("touchpoints"), campaigns=inputs.lazy("campaigns"), suppressed=inputs.suppressed,
                               churn_model=model, rfm_settings=inputs.config.rfm)

    model = inputs.models.get("churn")
    if model is None:
        return run(None)
    try:
        return run(model)
    except FidelError as exc:
        # The churn model of the run may need inputs target does not score with (survey answers): at_risk is left out.
        result = run(None)
        result.warnings.insert(0, f"le modèle d'attrition ne peut pas noter ici ({exc}) : at_risk est laissé de côté" if inputs.lang == "fr"
                               else f"the churn model cannot score here ({exc}): at_risk left out")
        return result


def target_files(result: Result, inputs: ReportInputs, directory: Path) -> list[str]:
    """The target lists (contacts joined, `[target.output]`) and the control group, under `targets/`."""
    from fidelcli.analyses.target import TargetResult, write_target_lists

    assert isinstance(result, TargetResult)
    cust = _customers(inputs)
    assert cust is not None
    out = inputs.config.target.output
    where = directory / "targets"
    path = where if out.per_scenario else where / "targets.csv"
    where.mkdir(parents=True, exist_ok=True)
    written = write_target_lists(result, path, customers=cust, settings=out,
                                 control_output=where / ("control" if out.per_scenario else "control.csv"))
    return [str(Path(p).relative_to(directory)) for p in written.files]


def compute_recommend_rules(inputs: ReportInputs) -> Result:
    from fidelcli.analyses.recommend import recommend_rules

    cfg = inputs.config.recommend
    return recommend_rules(_tx(inputs), engine=inputs.engine, level=cfg.level, min_support=cfg.min_support, min_confidence=cfg.min_confidence,
                           max_antecedents=cfg.max_antecedents, sort=cfg.sort)


def compute_recommend_customers(inputs: ReportInputs) -> Result:
    from fidelcli.analyses.recommend import recommend_customers

    cfg = inputs.config.recommend
    return recommend_customers(_tx(inputs), engine=inputs.engine, method=cfg.method, n=cfg.top, neighbours=cfg.neighbours)


def compute_journey(inputs: ReportInputs) -> Result:
    from fidelcli.analyses.journey import journey
    from fidelcli.analyses.timeunits import parse_horizon

    cfg = inputs.config.journey
    tbl = inputs.tables["touchpoints"]
    return journey(tbl.lf, inputs.transactions, engine=inputs.engine if inputs.transactions is not None else None, stages=cfg.stages,
                   negative_max=cfg.negative_max, outcome=cfg.outcome, window_days=max(1, round(parse_horizon(cfg.window).length("day"))),
                   top=cfg.top, file=tbl.file)


# The headline figures each later section always puts in kpis.json (null when its result lacks one);
# docs/report.md lists them.
LOYALTY_KEYS = ("members", "points_earned", "points_redeemed", "points_expired", "points_outstanding", "liability", "redemption_rate",
                "breakage_rate", "cost_of_rewards", "fees", "net_cost", "expiring_points")
PROGRAM_KEYS = ("uplift", "uplift_low", "uplift_high", "naive_revenue_difference", "matched_members", "matched_non_members",
                "incremental_revenue", "incremental_margin", "program_cost", "roi_percent", "payback_months")
ABTEST_KEYS = ("control", "variants", "recipients", "sample_ratio_p_value", "best_variant", "best_lift", "best_p_holm")
TARGET_KEYS = ("eligible_customers", "targeted", "control")
RULES_KEYS = ("baskets", "items", "rules")
RECOMMEND_KEYS = ("customers", "upsell_customers")
JOURNEY_KEYS = ("touchpoints", "customers", "top_moment")

SECTIONS: list[Section] = [
    Section("rfm", {"en": "Segments (RFM)", "fr": "Segments (RFM)"}, ("transactions",), compute_rfm, "rfm"),
    Section("kpi", {"en": "KPI trends", "fr": "Tendances des indicateurs"}, ("transactions",), compute_kpi, "kpi"),
    Section("cohort", {"en": "Cohort retention", "fr": "Rétention par cohorte"}, ("transactions",), compute_cohort, "cohort"),
    Section("clv", {"en": "Customer lifetime value", "fr": "Valeur vie client"}, ("transactions",), compute_clv, "clv"),
    Section("churn_model", {"en": "Churn model (holdout accuracy)", "fr": "Modèle d'attrition (précision en validation)"},
            ("transactions",), compute_churn_model, "churn_model", wanted=lambda inputs: inputs.churn_model is None),
    Section("churn", {"en": "Churn risk by segment", "fr": "Risque d'attrition par segment"}, ("transactions",), compute_churn, "churn"),
    Section("subscription", {"en": "Subscriptions", "fr": "Abonnements"}, ("subscriptions",), compute_subscription, "subscription"),
    Section("loyalty", {"en": "Loyalty program", "fr": "Programme de fidélité"}, ("transactions",), compute_loyalty, "loyalty",
            wanted=wants_loyalty, keys=LOYALTY_KEYS),
    Section("roi_program", {"en": "Program ROI (members vs comparable non-members)", "fr": "ROI du programme (membres et non-membres comparables)"},
            ("transactions", "customers"), compute_roi_program, "roi_program", wanted=has_members, keys=PROGRAM_KEYS),
    Section("roi_abtest", {"en": "Campaign A/B test", "fr": "Test A/B de campagne"}, ("campaigns",), compute_roi_abtest, "roi_abtest",
            keys=ABTEST_KEYS),
    Section("target", {"en": "Target lists", "fr": "Listes de ciblage"}, ("transactions", "customers"), compute_target, "target",
            keys=TARGET_KEYS, files=target_files),
    Section("recommend_rules", {"en": "Products bought together", "fr": "Produits achetés ensemble"}, ("transactions",),
            compute_recommend_rules, "recommend_rules", wanted=has_products, keys=RULES_KEYS),
    Section("recommend_customers", {"en": "Recommendations per customer", "fr": "Recommandations par client"}, ("transactions",),
            compute_recommend_customers, "recommend_customers", wanted=has_products, keys=RECOMMEND_KEYS),
    Section("journey", {"en": "Customer journey", "fr": "Parcours client"}, ("touchpoints",), compute_journey, "journey", keys=JOURNEY_KEYS),
]


def section(key: str) -> Section:
    """The section named `key` (KeyError when there is none)."""
    for s in SECTIONS:
        if s.key == key:
            return s
    raise KeyError(key)
