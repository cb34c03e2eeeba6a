"""The built-in scenarios of `target`: who is eligible, and why in plain words.

Each scenario reads the per-customer facts (`facts.Facts`) and returns one row per eligible
customer: customer_id, reason, offer. Days are whole days before the analysis date `as_of`
(exclusive, as in `rfm`: a purchase the day before has recency 1). Formulas: docs/target.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import polars as pl

from fidelcli.analyses.target.calendar import next_occurrence, years_at
from fidelcli.analyses.target.facts import Facts
from fidelcli.config import (
    Target,
    TargetAbandonedCart,
    TargetAnniversary,
    TargetAtRisk,
    TargetBirthday,
    TargetCrossSell,
    TargetReactivation,
    TargetScenario,
    TargetSecondPurchase,
    TargetVip,
    TargetWelcome,
)

ScenarioName = Literal[
    "welcome", "second_purchase", "reactivation", "at_risk", "vip", "birthday", "anniversary", "abandoned_cart", "cross_sell"]
# The order of the funnel, of the output and of the arbitration's ties (earlier wins).
SCENARIOS: tuple[ScenarioName, ...] = (
    "welcome", "second_purchase", "reactivation", "at_risk", "vip", "birthday", "anniversary", "abandoned_cart", "cross_sell")
ELIGIBLE_SCHEMA = {"customer_id": pl.String, "reason": pl.String, "offer": pl.String}


class Recommender(Protocol):
    """A fitted recommender scoring the customers asked only (`recommend.ItemRecommender`)."""

    def eligible(self) -> pl.Series:
        """The ids of the customers with a personal recommendation."""
        ...

    def best(self, ids: pl.Series) -> pl.DataFrame:
        """customer_id, item, score: the first personal recommendation of each of `ids` who has one."""
        ...


@dataclass
class ScenarioInputs:
    """What the scenarios read: the facts, the touchpoints (abandoned cart) and the per-customer
    recommendations (cross-sell): a frame (customer_id, item, score), or a `Recommender` scored
    only for the customers left after the rules and the arbitration (`complete_cross_sell`)."""

    facts: Facts
    touchpoints: pl.LazyFrame | None = None
    recommendations: pl.DataFrame | Recommender | None = None


def settings_of(settings: Target, name: ScenarioName) -> TargetScenario:
    """The `[target.<name>]` settings of a scenario."""
    scenario: TargetScenario = getattr(settings, name)
    return scenario


def days_text(days: pl.Expr) -> pl.Expr:
    return pl.when(days == 1).then(pl.lit("1 day")).otherwise(pl.format("{} days", days))


def percent_text(rate: pl.Expr) -> pl.Expr:
    return pl.format("{}%", (rate * 100).round(0).cast(pl.Int64))


def share_text(share: float) -> str:
    return f"{share * 100:g}%"


def top_share(value: pl.Expr, share: float) -> pl.Expr:
    """True for the customers in the top `share` by `value` (nulls left out): those with fewer than
    ceil(share x n) customers above them, n the customers with a value. Ties share their fate."""
    rank = value.rank("min", descending=True)
    # ceil(share x n) without float noise: 0.2 x 10 is 2.0000000000000004, whose ceiling is 3.
    return rank <= (value.count() * share - 1e-9).ceil()


def days_since(column: str, as_of: dt.date) -> pl.Expr:
    return (pl.lit(as_of) - pl.col(column)).dt.total_days()


def welcome(inputs: ScenarioInputs, cfg: TargetWelcome) -> pl.LazyFrame:
    """First purchase in the last `days` days (1 <= days since the first purchase <= days)."""
    d = days_since("first_purchase", inputs.facts.as_of)
    return inputs.facts.frame.lazy().filter(d.is_between(1, cfg.days)).select(
        "customer_id", reason=pl.format("first purchase on {}, {} ago", pl.col("first_purchase"), days_text(d)))


def second_purchase(inputs: ScenarioInputs, cfg: TargetSecondPurchase) -> pl.LazyFrame:
    """Exactly one purchase occasion, made `days` to `days + window_days - 1` days ago."""
    d = days_since("last_purchase", inputs.facts.as_of)
    return inputs.facts.frame.lazy().filter(pl.col("frequency") == 1, d.is_between(cfg.days, cfg.days + cfg.window_days - 1)).select(
        "customer_id", reason=pl.format("one purchase only, on {}, {} ago", pl.col("last_purchase"), days_text(d)))


def reactivation(inputs: ScenarioInputs, cfg: TargetReactivation) -> pl.LazyFrame:
    """Lapsed relative to the customer's own rhythm: two purchase occasions or more, and
    days since the last one >= ratio x their mean inter-purchase time, where the mean gap is
    (last - first) / (occasions - 1) days, at least 1; within [min_days, max_days] days."""
    recency = days_since("last_purchase", inputs.facts.as_of)
    gap = ((pl.col("last_purchase") - pl.col("first_purchase")).dt.total_days() / (pl.col("frequency") - 1)).clip(lower_bound=1.0)
    return (
        inputs.facts.frame.lazy().filter(pl.col("frequency") >= 2)
        .with_columns(recency=recency, gap=gap)
        .filter(pl.col("recency").is_between(cfg.min_days, cfg.max_days), pl.col("recency") >= cfg.ratio * pl.col("gap"))
        .select("customer_id", reason=pl.format(
            "no purchase for {}, {} times their usual {} between purchases", days_text(pl.col("recency")),
            (pl.col("recency") / pl.col("gap")).round(1), days_text(pl.col("gap").round(0).cast(pl.Int64))))
    )


def _value(facts: Facts) -> tuple[pl.Expr, str]:
    """The value ranked for 'high value': the CLV of a CLV model with a spend model, else the net
    spend; only customers with a purchase are ranked."""
    buyer = pl.col("frequency") >= 1
    if facts.has_clv and facts.frame.get_column("clv").is_not_null().any():
        return pl.when(buyer).then(pl.col("clv")), "CLV"
    return pl.when(buyer).then(pl.col("revenue")), "net spend"


def at_risk(inputs: ScenarioInputs, cfg: TargetAtRisk) -> pl.LazyFrame:
    """High value (top `value_share` by CLV, else net spend) and high churn risk: churn probability
    >= `churn_probability` with a churn model, else P(alive) <= `p_alive` with a CLV model."""
    facts = inputs.facts
    value, label = _value(facts)
    if facts.has_churn:
        risk, risk_text = pl.col("churn_probability") >= cfg.churn_probability, pl.format("churn risk {}", percent_text(pl.col("churn_probability")))
    else:
        risk, risk_text = pl.col("p_alive") <= cfg.p_alive, pl.format("P(alive) {}", percent_text(pl.col("p_alive")))
    return (
        facts.frame.lazy().with_columns(_value=value, _top=top_share(value, cfg.value_share))
        .filter(pl.col("_top"), risk.fill_null(False))
        .select("customer_id", reason=pl.format(f"top {share_text(cfg.value_share)} by {label} ({{}}) and {{}}",
                                                pl.col("_value").round(2), risk_text))
    )


def vip(inputs: ScenarioInputs, cfg: TargetVip) -> pl.LazyFrame:
    """In one of the `segments` (RFM; default Champions), or in the top `clv_share` by CLV with a CLV model."""
    facts = inputs.facts
    segment = pl.col("segment").is_in(cfg.segments).fill_null(False)
    value, label = _value(facts)
    top = top_share(value, cfg.clv_share).fill_null(False) if label == "CLV" else pl.lit(False)
    parts = [pl.when(segment).then(pl.format("RFM segment {}", pl.col("segment"))),
             pl.when(top).then(pl.lit(f"top {share_text(cfg.clv_share)} by CLV"))]
    return facts.frame.lazy().filter(segment | top).select("customer_id", reason=pl.concat_str(parts, separator="; ", ignore_nulls=True))


def _yearly(inputs: ScenarioInputs, column: str, days: int) -> pl.LazyFrame:
    as_of = inputs.facts.as_of
    nxt = next_occurrence(pl.col(column), as_of)
    return (
        inputs.facts.frame.lazy().filter(pl.col(column).is_not_null())
        .with_columns(_on=nxt, _years=years_at(pl.col(column), nxt), _in=(nxt - pl.lit(as_of)).dt.total_days())
        .filter(pl.col("_in") < days, pl.col("_years") >= 1)
        .with_columns(_when=pl.when(pl.col("_in") == 0).then(pl.lit("today")).otherwise(pl.format("in {}", days_text(pl.col("_in")))),
                      _leap=(pl.col(column).dt.month() == 2) & (pl.col(column).dt.day() == 29) & (pl.col("_on").dt.day() == 28))
    )


def birthday(inputs: ScenarioInputs, cfg: TargetBirthday) -> pl.LazyFrame:
    """Birthday in the next `days` days, the analysis date included (29 February: 28 February in a
    non-leap year)."""
    note = pl.when(pl.col("_leap")).then(pl.lit(" (born on 29 February)")).otherwise(pl.lit(""))
    return _yearly(inputs, "birth_date", cfg.days).select(
        "customer_id", reason=pl.format("birthday on {}, {}{}", pl.col("_on"), pl.col("_when"), note))


def anniversary(inputs: ScenarioInputs, cfg: TargetAnniversary) -> pl.LazyFrame:
    """A whole number of years (1 or more) since the enrollment date falls in the next `days` days,
    for members (loyalty_member not false)."""
    years = pl.when(pl.col("_years") == 1).then(pl.lit("1 year")).otherwise(pl.format("{} years", pl.col("_years")))
    return _yearly(inputs, "enrollment_date", cfg.days).filter(pl.col("member").fill_null(True)).select(
        "customer_id", reason=pl.format("{} of membership on {}, {}", years, pl.col("_on"), pl.col("_when")))


def normalized(text: pl.Expr) -> pl.Expr:
    """Lower case, `_` and `-` as spaces, spaces collapsed: `Add-To_Cart ` -> `add to cart`."""
    return text.str.to_lowercase().str.replace_all(r"[_\-\s]+", " ").str.strip_chars()


def normalized_words(words: list[str]) -> list[str]:
    return pl.Series(words, dtype=pl.String).to_frame("w").select(normalized(pl.col("w"))).to_series().to_list()


def abandoned_cart(inputs: ScenarioInputs, cfg: TargetAbandonedCart) -> pl.LazyFrame:
    """A touchpoint at a cart stage (or with a cart outcome) at least `hours` hours and at most
    `lookback_days` days before the analysis date (midnight), with no purchase on or after its day
    (transactions carry days: a purchase on the cart's day counts as buying it). The latest cart is
    quoted."""
    assert inputs.touchpoints is not None
    tp = inputs.touchpoints
    start = dt.datetime.combine(inputs.facts.as_of, dt.time()) - dt.timedelta(days=cfg.lookback_days)
    end = dt.datetime.combine(inputs.facts.as_of, dt.time()) - dt.timedelta(hours=cfg.hours)
    is_cart = normalized(pl.col("stage")).is_in(normalized_words(cfg.stages))
    if "outcome" in tp.collect_schema().names():
        is_cart = is_cart | normalized(pl.col("outcome")).is_in(normalized_words(cfg.outcomes)).fill_null(False)
    carts = (
        tp.filter(pl.col("customer_id").is_not_null(), pl.col("timestamp").is_between(pl.lit(start), pl.lit(end)), is_cart.fill_null(False))
        .group_by("customer_id").agg(_cart=pl.col("timestamp").max(), _stage=pl.col("stage").sort_by("timestamp", "stage").last())
    )
    last = inputs.facts.frame.lazy().select("customer_id", "last_purchase")
    return (
        carts.join(last, on="customer_id", how="left")
        .filter(pl.col("last_purchase").is_null() | (pl.col("last_purchase") < pl.col("_cart").dt.date()))
        .select("customer_id", reason=pl.format("cart on {} (stage {}), no purchase since", pl.col("_cart").dt.strftime("%Y-%m-%d %H:%M"),
                                                pl.col("_stage")))
    )


def _quoted(best: pl.LazyFrame, cfg: TargetCrossSell) -> pl.LazyFrame:
    before, _, after = cfg.offer.partition("{item}")
    offer = pl.concat_str([pl.lit(before), pl.col("item"), pl.lit(after)]) if "{item}" in cfg.offer else pl.lit(cfg.offer)
    return best.select("customer_id", reason=pl.format("recommended {}, which customers with a similar history buy", pl.col("item")),
                       offer=offer)


def cross_sell(inputs: ScenarioInputs, cfg: TargetCrossSell) -> pl.LazyFrame:
    """The customer's best recommendation (highest score; `recommend customers`), quoted in the offer
    where it says `{item}`. From a `Recommender`, the customers with a personal recommendation,
    their reason and offer left null until `complete_cross_sell` scores the few that remain."""
    recs = inputs.recommendations
    assert recs is not None
    if not isinstance(recs, pl.DataFrame):
        return recs.eligible().to_frame("customer_id").lazy().select(
            "customer_id", reason=pl.lit(None, pl.String), offer=pl.lit(None, pl.String))
    best = recs.lazy().sort("customer_id", "score", "item", descending=[False, True, False]).unique(
        "customer_id", keep="first", maintain_order=True)
    return _quoted(best, cfg)


def complete_cross_sell(rows: pl.DataFrame, inputs: ScenarioInputs, cfg: TargetCrossSell) -> pl.DataFrame:
    """`rows` (customer_id, scenario, reason, offer, ...) with the reason and offer of the cross_sell
    rows a `Recommender` left null: only these customers are scored (`Recommender.best`)."""
    recs = inputs.recommendations
    pending = pl.col("scenario").eq("cross_sell") & pl.col("reason").is_null()
    if recs is None or isinstance(recs, pl.DataFrame) or not rows.select(pending.any()).item():
        return rows
    quoted = _quoted(recs.best(rows.filter(pending).get_column("customer_id")).lazy(), cfg).collect()
    filled = rows.join(quoted.rename({"reason": "_reason", "offer": "_offer"}), on="customer_id", how="left", maintain_order="left")
    return filled.with_columns(
        reason=pl.when(pending).then(pl.col("_reason")).otherwise(pl.col("reason")),
        offer=pl.when(pending).then(pl.col("_offer")).otherwise(pl.col("offer")),
    ).drop("_reason", "_offer")


# Each rule takes its own settings class (`settings_of`).
RULES: dict[ScenarioName, Callable[[ScenarioInputs, Any], pl.LazyFrame]] = {
    "welcome": welcome, "second_purchase": second_purchase, "reactivation": reactivation, "at_risk": at_risk, "vip": vip,
    "birthday": birthday, "anniversary": anniversary, "abandoned_cart": abandoned_cart, "cross_sell": cross_sell,
}


def missing_input(name: ScenarioName, inputs: ScenarioInputs) -> str | None:
    """Why a scenario cannot run on these inputs (None when it can)."""
    facts = inputs.facts
    if name == "at_risk" and not (facts.has_churn or facts.has_clv):
        return "at_risk needs churn risk: a churn model (--churn-model) or a CLV model (--clv-model)"
    if name in ("birthday", "anniversary"):
        column = "birth_date" if name == "birthday" else "enrollment_date"
        if column not in facts.customer_fields:
            return f"{name} needs the {column} column of the customers table"
    if name == "abandoned_cart" and inputs.touchpoints is None:
        return "abandoned_cart needs a touchpoints table (--touchpoints)"
    if name == "cross_sell" and inputs.recommendations is None:
        return "cross_sell needs recommendations (transactions with a product_id column)"
    return None


def eligible(name: ScenarioName, inputs: ScenarioInputs, cfg: TargetScenario) -> pl.DataFrame:
    """customer_id, reason, offer of every customer eligible for scenario `name`, in no particular order."""
    plan = RULES[name](inputs, cfg)
    if "offer" not in plan.collect_schema().names():
        plan = plan.with_columns(offer=pl.lit(cfg.offer))
    return plan.select(list(ELIGIBLE_SCHEMA)).cast(ELIGIBLE_SCHEMA).collect()  # type: ignore[arg-type]
