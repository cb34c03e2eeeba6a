"""`target_lists` (the rules over eligible customers) and `target_analysis`, the one library call
behind `fidelcli target`: facts from the engine, scenarios, rules, funnel, one `TargetResult`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from fidelcli.analyses.target.facts import Facts, customer_facts
from fidelcli.analyses.target.funnel import funnel
from fidelcli.analyses.target.rules import arbitrate, capped_customers, control_flags, with_channel
from fidelcli.analyses.target.scenarios import (
    SCENARIOS,
    Recommender,
    ScenarioInputs,
    ScenarioName,
    complete_cross_sell,
    eligible,
    missing_input,
    settings_of,
)
from fidelcli.config import Rfm, Target
from fidelcli.errors import InputError
from fidelcli.result import Figure, JsonResult

if TYPE_CHECKING:
    from fidelcli.analyses.clv.fit import Fit
    from fidelcli.analyses.clv.predict import ClvOptions
    from fidelcli.churn.modelfile import ChurnModel
    from fidelcli.clean import Transactions
    from fidelcli.engine import Engine
    from fidelcli.engine.periods import TimeUnit

TARGET_COLUMNS = ["customer_id", "scenario", "reason", "priority", "offer", "channel"]
TARGET_SCHEMA = {"customer_id": pl.String, "scenario": pl.String, "reason": pl.String, "priority": pl.Int64, "offer": pl.String,
                 "channel": pl.String}


@dataclass
class TargetResult(JsonResult):
    """The result of `target_analysis`.

    targets: the rows to contact (`TARGET_COLUMNS`: customer_id, scenario, reason, priority, offer,
        channel), sorted by scenario (in `SCENARIOS` order), then customer_id.
    control: the rows held out (same columns), sorted the same way: they get nothing, and are the
        baseline of the campaign's measurement (`roi abtest`).
    funnel: per scenario, the customers kept by each rule (`funnel.FUNNEL_COLUMNS`), then `all`.
    scenarios: the scenarios run; skipped: {scenario: why it could not run}.
    No contact field (email, phone, name) is held here: `write_target_lists` joins them in the file.
    """

    targets: pl.DataFrame
    control: pl.DataFrame
    funnel: pl.DataFrame
    as_of: dt.date
    seed: int
    scenarios: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pl.DataFrame]:
        """funnel (what the terminal shows), targets, control."""
        return {"funnel": self.funnel, "targets": self.targets, "control": self.control}

    def headline(self) -> dict[str, Figure]:
        total = self.funnel.row(self.funnel.height - 1, named=True)
        return {"as_of": self.as_of.isoformat(), "seed": self.seed, "scenarios": ", ".join(self.scenarios),
                "eligible_customers": total["eligible"], "targeted": self.targets.height, "control": self.control.height}


def resolve_scenarios(names: Sequence[str]) -> tuple[list[ScenarioName], bool]:
    """The scenarios named (`all`, or names; `-` and `_` alike), in `SCENARIOS` order, and whether
    they were named one by one (then a scenario that cannot run is an error, not a warning).

    Raises InputError for an unknown name.
    """
    wanted = {n.strip().lower().replace("-", "_") for n in names}
    if not wanted or "all" in wanted:
        return list(SCENARIOS), False
    unknown = sorted(wanted - set(SCENARIOS))
    if unknown:
        raise InputError(f"unknown scenario {unknown[0]!r}", hint=f"use all or one of: {', '.join(SCENARIOS)}")
    return [s for s in SCENARIOS if s in wanted], True


def _rows(frame: pl.DataFrame) -> pl.DataFrame:
    order = pl.col("scenario").replace_strict(list(SCENARIOS), list(range(len(SCENARIOS))), return_dtype=pl.Int64)
    return frame.sort(order, pl.col("customer_id")).select(TARGET_COLUMNS)


def target_lists(
    inputs: ScenarioInputs,
    *,
    scenarios: Sequence[str] = ("all",),
    settings: Target | None = None,
    seed: int | None = None,
    suppressed: pl.Series | None = None,
    capped: pl.DataFrame | None = None,
    strict: bool = True,
) -> TargetResult:
    """Apply the scenarios, then the rules, in the funnel's order: eligible -> consented (a channel
    the customer opted in to) -> not suppressed -> under the frequency cap -> arbitration (one row
    per customer) -> targeted or control (seeded, per scenario; `rules.control_flags`).

    Parameters
    ----------
    inputs: the facts, touchpoints and recommendations (`ScenarioInputs`).
    scenarios: names, or `all`. A scenario whose input is missing is skipped with a warning, unless
        it was named one by one and `strict` (the default; the CLI's --scenario): then an error.
    settings: the `[target]` settings (default: `Target()`); seed: default `settings.seed`.
    suppressed: customer ids never to contact (`rules.suppressed_ids`).
    capped: customer_id of the customers at the frequency cap (`rules.capped_customers`).

    Raises InputError for an unknown scenario, or a scenario named one by one whose input is missing.
    """
    cfg = settings or Target()
    seed = cfg.seed if seed is None else seed
    names, explicit = resolve_scenarios(scenarios)
    warnings = list(inputs.facts.warnings)
    run: list[ScenarioName] = []
    skipped: dict[str, str] = {}
    for name in names:
        why = missing_input(name, inputs)
        if why is None:
            run.append(name)
        elif explicit and strict:
            raise InputError(f"scenario {why}", hint="give the input, or leave the scenario out")
        else:
            skipped[name] = why
            warnings.append(f"scenario {why}: left out")
    parts = [
        eligible(name, inputs, settings_of(cfg, name)).with_columns(scenario=pl.lit(name), priority=pl.lit(settings_of(cfg, name).priority, pl.Int64))
        for name in run
    ]
    empty = pl.DataFrame(schema={k: v for k, v in TARGET_SCHEMA.items() if k != "channel"})
    rows = pl.concat([p.select(empty.columns) for p in parts]) if parts else empty
    stages = {"eligible": rows}
    consents = inputs.facts.frame.select("customer_id", "email_ok", "sms_ok")
    channelled = with_channel(rows, consents, {name: settings_of(cfg, name).channels for name in run})
    stages["consented"] = channelled.filter(pl.col("channel").is_not_null())
    ids = suppressed if suppressed is not None else pl.Series("customer_id", [], dtype=pl.String)
    stages["not_suppressed"] = stages["consented"].filter(~pl.col("customer_id").is_in(ids.implode()))
    cap = capped.get_column("customer_id") if capped is not None else pl.Series("customer_id", [], dtype=pl.String)
    stages["under_cap"] = stages["not_suppressed"].filter(~pl.col("customer_id").is_in(cap.implode()))
    winners = arbitrate(stages["under_cap"], run)
    if "cross_sell" in run:
        winners = complete_cross_sell(winners, inputs, cfg.cross_sell)
    stages["after_arbitration"] = winners
    shares: dict[str, float] = {name: share if (share := settings_of(cfg, name).control_share) is not None else cfg.control_share for name in run}
    held = control_flags(winners, shares, seed) if winners.height else pl.Series("control", [], dtype=pl.Boolean)
    stages["control"] = winners.filter(held)
    stages["targeted"] = winners.filter(~held)
    table = funnel(stages, run, {name: settings_of(cfg, name).priority for name in run})
    return TargetResult(targets=_rows(stages["targeted"]), control=_rows(stages["control"]), funnel=table, as_of=inputs.facts.as_of,
                        seed=seed, scenarios=list(run), skipped=skipped, warnings=warnings)


def _churn_scores(tx: Transactions, model: ChurnModel, engine: Engine, customers: pl.DataFrame,
                  campaigns: pl.LazyFrame | None) -> tuple[pl.DataFrame, list[str]]:
    from fidelcli.churn import ChurnInputs, score_churn

    inputs = ChurnInputs(customers=customers.lazy(), campaigns=campaigns)
    scored = score_churn(tx, model, engine=engine, cutoff=tx.as_of - dt.timedelta(days=1), inputs=inputs)
    return scored.frame.select("customer_id", "churn_probability"), scored.warnings


def _clv_scores(tx: Transactions, fit: Fit, time_unit: TimeUnit, options: ClvOptions | None, engine: Engine) -> tuple[pl.DataFrame, list[str]]:
    from fidelcli.analyses.clv import customer_lifetime_value
    from fidelcli.analyses.clv.predict import ClvOptions

    result = customer_lifetime_value(tx, engine=engine, fit=fit, time_unit=time_unit, options=options or ClvOptions())
    return result.customers.select("customer_id", "p_alive", "clv"), result.warnings


def _recommendations(tx: Transactions, engine: Engine) -> Recommender | None:
    """The item-to-item recommender of `recommend customers` (its defaults), fitted once and
    scored later for the cross-sell customers left after the rules only; None without a
    product_id column."""
    if "product_id" not in tx.fields:
        return None
    from fidelcli.analyses.recommend import item_recommender

    return item_recommender(tx, engine=engine)


def target_analysis(
    tx: Transactions,
    *,
    engine: Engine,
    customers: pl.DataFrame,
    scenarios: Sequence[str] | None = None,
    settings: Target | None = None,
    seed: int | None = None,
    touchpoints: pl.LazyFrame | None = None,
    campaigns: pl.LazyFrame | None = None,
    suppressed: pl.Series | None = None,
    churn_model: ChurnModel | None = None,
    clv_fit: Fit | None = None,
    clv_time_unit: TimeUnit = "week",
    clv_options: ClvOptions | None = None,
    rfm_settings: Rfm | None = None,
    strict: bool = True,
) -> TargetResult:
    """Target lists of the retention scenarios as of the transactions' analysis date.

    One pass of the engine gives the purchase history (`customer_summary`), from which the RFM
    segments follow; a churn model (`churn_model`) or a CLV model (`clv_fit`, its `clv_time_unit`)
    adds churn risk, P(alive) and CLV (their own engine reductions); touchpoints give the abandoned
    carts, campaigns the frequency cap, the recommend library the cross-sell. Then `target_lists`.

    Parameters
    ----------
    tx: cleaned transactions; engine: their engine.
    customers: the customers table (canonical columns): consents, contacts, birth and enrollment dates.
    touchpoints, campaigns: canonical lazy frames (`Table.lf`), or None.
    suppressed: customer ids never to contact (`rules.suppressed_ids`).
    rfm_settings: `[rfm]` bins and segment map of the VIP segments (default `Rfm()`).
    scenarios: default `settings.scenarios`.
    Others: as `target_lists`.

    Returns a `TargetResult`.
    """
    from fidelcli.analyses.rfm import rfm

    cfg = settings or Target()
    scenarios = cfg.scenarios if scenarios is None else scenarios
    names, _ = resolve_scenarios(scenarios)
    as_of = tx.as_of
    summary = engine.customer_summary(tx)
    warnings: list[str] = []
    segments = None
    if "vip" in names and summary.height:
        r = rfm_settings or Rfm()
        segments = rfm(summary, as_of=as_of, bins=r.bins, monetary=r.monetary, thresholds=r.thresholds, segments=r.segments,
                       lang="en").customers.select("customer_id", "segment")
    churn = clv = None
    if churn_model is not None and ("at_risk" in names):
        churn, more = _churn_scores(tx, churn_model, engine, customers, campaigns)
        warnings += more
    if clv_fit is not None and ({"at_risk", "vip"} & set(names)):
        clv, more = _clv_scores(tx, clv_fit, clv_time_unit, clv_options, engine)
        warnings += more
    facts: Facts = customer_facts(summary, customers, as_of=as_of, segments=segments, churn=churn, clv=clv)
    recommendations = _recommendations(tx, engine) if "cross_sell" in names else None
    capped = None
    if campaigns is not None:
        capped, more = capped_customers(campaigns, as_of=as_of, max_messages=cfg.max_messages, cap_days=cfg.cap_days,
                                        control_variant=cfg.control_variant)
        warnings += more
    else:
        warnings.append("no campaigns table (--campaigns): frequency capping is not applied")
    facts.warnings = [*warnings, *facts.warnings]
    inputs = ScenarioInputs(facts=facts, touchpoints=touchpoints, recommendations=recommendations)
    return target_lists(inputs, scenarios=scenarios, settings=cfg, seed=seed, suppressed=suppressed, capped=capped, strict=strict)
