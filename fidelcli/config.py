"""`fidelcli.toml` as Pydantic models. Flag over config over default, merged in the CLI.

The defaults live here, once: a field's default is what a command uses when neither its flag nor
the file gives a value, and the command's --help shows it. An unknown key is an error that names
the closest valid key.
"""

from __future__ import annotations

import datetime as dt
import difflib
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from fidelcli.analyses.loyalty.rules import LoyaltyRules
from fidelcli.clean import ReturnsPolicy
from fidelcli.engine import EngineName
from fidelcli.engine.periods import TimeUnit
from fidelcli.errors import ConfigError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def parse_margin(value: object) -> float | Literal["column"]:
    """A margin rate as a number (0.3) or text (`0.3`, `30%`), or the word `column` (the
    transactions' margin or cost column).

    Raises ValueError when it is neither, or a rate outside [0, 1].
    """
    if isinstance(value, str):
        t = value.strip()
        if t.lower() == "column":
            return "column"
        try:
            rate = float(t[:-1]) / 100 if t.endswith("%") else float(t)
        except ValueError:
            raise ValueError(f"{value!r} is neither a rate nor 'column'") from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        rate = float(value)
    else:
        raise ValueError(f"{value!r} is neither a rate nor 'column'")
    if not 0 <= rate <= 1:
        raise ValueError(f"{value!r} must be a rate between 0 and 1")
    return rate


# A margin rate in [0, 1] (0.3 or "30%"), or "column": the transactions' margin or cost column.
Margin = Annotated[float | Literal["column"], BeforeValidator(parse_margin)]


class Inputs(Section):
    """Where each input kind is read from (file, glob, directory or database URI)."""

    transactions: str | None = None
    customers: str | None = None
    surveys: str | None = None
    campaigns: str | None = None
    subscriptions: str | None = None
    touchpoints: str | None = None
    spend: str | None = None
    loyalty_events: str | None = None


class Columns(Section):
    """Explicit column maps per input kind: `[columns.transactions] customer_id = "N° client"`."""

    transactions: dict[str, str] = Field(default_factory=dict)
    customers: dict[str, str] = Field(default_factory=dict)
    surveys: dict[str, str] = Field(default_factory=dict)
    campaigns: dict[str, str] = Field(default_factory=dict)
    subscriptions: dict[str, str] = Field(default_factory=dict)
    touchpoints: dict[str, str] = Field(default_factory=dict)
    spend: dict[str, str] = Field(default_factory=dict)
    loyalty_events: dict[str, str] = Field(default_factory=dict)


class Analysis(Section):
    """Settings shared by every analysis."""

    currency: str = Field(default="EUR", description="currency of money on the terminal and in Markdown")
    lang: Literal["en", "fr"] = "en"
    margin: float | None = Field(default=None, ge=0, le=1, description="gross margin rate applied to revenue (kpi profit, clv)")
    returns: ReturnsPolicy = "net"
    date_format: str | None = None
    as_of: dt.date | None = None


class Engine(Section):
    """Where the transaction reductions run (`--engine` wins); later engines add their settings here."""

    name: EngineName = Field(default="polars", description="engine of the transaction reductions (fidelcli.engine.ENGINES)")
    spark_master: str = Field(default="local[*]", min_length=1,
                              description="Spark master of --engine spark: local[*] (every core), local[2], yarn, spark://host:7077, k8s://...")
    # [engine.spark_conf]: Spark settings ("spark.executor.memory" = "4g"), applied when the session starts.
    spark_conf: dict[str, str | int | float | bool] = Field(default_factory=dict, description="Spark settings of --engine spark")


class RfmThresholds(Section):
    """Fixed business thresholds: ascending cut points; `n` cut points give `n + 1` scores."""

    recency: list[float] = Field(default_factory=list)
    frequency: list[float] = Field(default_factory=list)
    monetary: list[float] = Field(default_factory=list)


class Segment(Section):
    name: str
    label_fr: str | None = None
    action: str = ""
    action_fr: str | None = None
    r: list[int]
    f: list[int]


class Rfm(Section):
    bins: int = Field(default=5, ge=2, le=10)
    monetary: Literal["total", "average"] = "total"
    thresholds: RfmThresholds | None = None
    segments: list[Segment] | None = None


class Kpi(Section):
    period: Literal["day", "week", "month", "quarter", "year"] = "month"


class Clv(Section):
    """Defaults of `clv` (flags win)."""

    time_unit: TimeUnit = "week"
    horizon: str = "12m"
    discount_rate: float = Field(default=0.1, gt=-1)
    # None: `[analysis] margin`, else 1 (the CLV is revenue).
    margin: Margin | None = None
    lifetime: float | None = Field(default=None, gt=0)


class Churn(Section):
    """Defaults of `churn train` / `churn score`."""

    horizon: str = "90d"
    calibration: Literal["sigmoid", "isotonic"] = "sigmoid"
    seed: int = 0
    # None: the library's bands (fidelcli.churn.DEFAULT_BANDS, 0.3 and 0.6).
    bands: list[float] | dict[str, float] | None = None


class Abtest(Section):
    """Defaults of `roi abtest` (flags win)."""

    control: str = "control"
    confidence: float = Field(default=0.95, gt=0, lt=1)
    # Minimum detectable effect, relative to the control's rate or revenue per recipient (0.1 = +10 %).
    mde: float = Field(default=0.1, gt=0)
    power: float = Field(default=0.8, gt=0, lt=1)
    bootstrap: int = Field(default=2000, ge=100)
    seed: int = 0
    folds: int = Field(default=5, ge=2, le=20)
    # Gross margin rate of campaign revenue; None: `[analysis] margin`, else 1 (revenue is margin).
    margin: float | None = Field(default=None, ge=0, le=1)
    # Cost per recipient of each variant, used when the table has no cost column ({"A": 0.05}).
    cost: dict[str, float] = Field(default_factory=dict)
    # Designed share of each variant for the sample-ratio check; empty: equal shares.
    split: dict[str, float] = Field(default_factory=dict)


class Scenario(Section):
    """Defaults of `roi scenario` (flags win)."""

    points: int = Field(default=10, ge=1, le=50)
    discount_rate: float = Field(default=0.1, ge=0, lt=1)


class Program(Section):
    """Defaults of `roi program` (flags win): the comparison and the program's cost (docs/roi.md)."""

    window: int = Field(default=3, ge=1, le=24, description="months compared before and after the enrollment month")
    bootstrap: int = Field(default=200, ge=20)
    seed: int = 0
    confidence: float = Field(default=0.95, gt=0, lt=1)
    # Gross margin rate of revenue when the transactions have no margin or cost; None: `[analysis] margin`.
    margin: float | None = Field(default=None, ge=0, le=1)
    fixed_cost: float = Field(default=0.0, ge=0, description="one-off cost of the program (platform, launch)")
    cost_per_member: float = Field(default=0.0, ge=0, description="running cost per member and year")
    # None: the cost of rewards (and the paid-tier fees) from the `[loyalty]` simulation.
    rewards_cost: float | None = Field(default=None, ge=0)
    fees: float | None = Field(default=None, ge=0, description="paid-membership fees collected (a negative cost)")
    referral_reward: float = Field(default=0.0, ge=0, description="paid per customer referred by a member")


class Journey(Section):
    """Defaults of `journey` (flags win; docs/journey.md)."""

    # The stages in journey order; None: inferred from the touchpoints.
    stages: list[str] | None = None
    # A satisfaction (1-5) at or below it is a negative experience, an irritant (bottom two box).
    negative_max: float = Field(default=2, ge=1, lt=5)
    outcome: Literal["retention", "repurchase"] = "retention"
    window: str = "180d"
    top: int = Field(default=10, ge=1)


class Recommend(Section):
    """Defaults of `recommend rules` and `recommend customers` (flags win; docs/recommend.md)."""

    level: Literal["product", "category"] = "product"
    min_support: float = Field(default=0.01, gt=0, le=1)
    min_confidence: float = Field(default=0.5, ge=0, le=1)
    max_antecedents: int = Field(default=2, ge=1, le=3)
    sort: Literal["lift", "confidence", "support", "leverage", "conviction"] = "lift"
    method: Literal["cosine", "cooccurrence", "lift", "rules"] = "cosine"
    top: int = Field(default=10, ge=1)
    neighbours: int = Field(default=50, ge=1)


TargetChannel = Literal["email", "sms"]
TargetColumn = Literal["customer_id", "scenario", "reason", "priority", "offer", "channel", "email", "phone", "name"]


class TargetScenario(Section):
    """What every `target` scenario has: its priority in the arbitration (highest wins), its channels
    in order of preference (the first one the customer consented to is used), the suggested offer
    and its control share (None: `[target] control_share`). Docs: docs/target.md."""

    priority: int = Field(default=50, ge=0, le=1000)
    channels: list[TargetChannel] = Field(default=["email"], min_length=1)
    offer: str = ""
    control_share: float | None = Field(default=None, ge=0, lt=1)


class TargetWelcome(TargetScenario):
    priority: int = Field(default=60, ge=0, le=1000)
    offer: str = "welcome: 10% off the next order"
    days: int = Field(default=14, ge=1, description="first purchase in the last `days` days")


class TargetSecondPurchase(TargetScenario):
    priority: int = Field(default=50, ge=0, le=1000)
    offer: str = "10% off a second order"
    days: int = Field(default=30, ge=1, description="one purchase, `days` to `days + window_days - 1` days ago")
    window_days: int = Field(default=7, ge=1)


class TargetReactivation(TargetScenario):
    priority: int = Field(default=70, ge=0, le=1000)
    offer: str = "we miss you: 15% off"
    ratio: float = Field(default=2.0, gt=1, description="days since the last purchase over the mean inter-purchase time")
    min_days: int = Field(default=30, ge=1)
    max_days: int = Field(default=730, ge=1)


class TargetAtRisk(TargetScenario):
    priority: int = Field(default=90, ge=0, le=1000)
    offer: str = "personal offer: 20% voucher"
    value_share: float = Field(default=0.2, gt=0, le=1, description="top share of customers by CLV (else net spend)")
    churn_probability: float = Field(default=0.6, gt=0, lt=1, description="with --churn-model: at or above it")
    p_alive: float = Field(default=0.5, gt=0, lt=1, description="with --clv-model only: at or below it")


class TargetVip(TargetScenario):
    priority: int = Field(default=40, ge=0, le=1000)
    offer: str = "early access to the new collection"
    segments: list[str] = Field(default_factory=lambda: ["Champions"])
    clv_share: float = Field(default=0.1, gt=0, le=1, description="with --clv-model: top share by CLV")


class TargetBirthday(TargetScenario):
    priority: int = Field(default=80, ge=0, le=1000)
    channels: list[TargetChannel] = Field(default=["email", "sms"], min_length=1)
    offer: str = "birthday gift"
    days: int = Field(default=7, ge=1, le=366, description="birthday in the next `days` days, the analysis date included")


class TargetAnniversary(TargetScenario):
    priority: int = Field(default=30, ge=0, le=1000)
    offer: str = "double points for your membership anniversary"
    days: int = Field(default=7, ge=1, le=366)


class TargetAbandonedCart(TargetScenario):
    priority: int = Field(default=100, ge=0, le=1000)
    offer: str = "your cart is waiting: free delivery"
    hours: int = Field(default=24, ge=1, description="the cart is at least `hours` old, with no purchase since")
    lookback_days: int = Field(default=7, ge=1)
    stages: list[str] = Field(default_factory=lambda: ["cart", "add to cart", "basket", "checkout", "panier", "paiement"])
    outcomes: list[str] = Field(default_factory=lambda: ["added to cart", "abandoned cart", "cart abandoned", "ajout au panier"])


class TargetCrossSell(TargetScenario):
    priority: int = Field(default=20, ge=0, le=1000)
    offer: str = "recommended for you: {item}"


class TargetOutput(Section):
    """The CSV of `target -o`: its columns in order, their header names, one file or one per scenario."""

    columns: list[TargetColumn] = Field(
        default=["customer_id", "email", "phone", "name", "scenario", "reason", "priority", "offer", "channel"], min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    per_scenario: bool = False
    bom: bool = False


class Target(Section):
    """Defaults of `target` (flags win; docs/target.md)."""

    # Every scenario (cross_sell scores only the customers left after the rules: docs/target.md).
    scenarios: list[str] = Field(default=["all"])
    seed: int = 0
    control_share: float = Field(default=0.1, ge=0, lt=1)
    max_messages: int = Field(default=2, ge=1, description="frequency cap: at most this many messages ...")
    cap_days: int = Field(default=7, ge=1, description="... in this many days, the new one included")
    control_variant: str = "control"
    suppress: list[str] = Field(default_factory=list)
    output: TargetOutput = Field(default_factory=TargetOutput)
    welcome: TargetWelcome = Field(default_factory=TargetWelcome)
    second_purchase: TargetSecondPurchase = Field(default_factory=TargetSecondPurchase)
    reactivation: TargetReactivation = Field(default_factory=TargetReactivation)
    at_risk: TargetAtRisk = Field(default_factory=TargetAtRisk)
    vip: TargetVip = Field(default_factory=TargetVip)
    birthday: TargetBirthday = Field(default_factory=TargetBirthday)
    anniversary: TargetAnniversary = Field(default_factory=TargetAnniversary)
    abandoned_cart: TargetAbandonedCart = Field(default_factory=TargetAbandonedCart)
    cross_sell: TargetCrossSell = Field(default_factory=TargetCrossSell)


class Report(Section):
    """Defaults of `report` (flags win)."""

    # Sections to run (keys of fidelcli.report.sections.SECTIONS); None: every one whose inputs exist.
    sections: list[str] | None = None
    cohort_period: Literal["month", "quarter", "year"] = "month"
    # The CLV model is fitted without the last `clv_holdout` of the data, which measures its accuracy; None: fit on all.
    clv_holdout: str | None = "26w"
    # A model file of `churn train` to score with; None: the report trains one (saved in the run).
    churn_model: str | None = None
    tables: Literal["parquet", "csv"] = "parquet"
    keep: int | None = Field(default=None, ge=1)
    top: int = Field(default=10, ge=0)


class Retention(Section):
    """How long records are kept, per input kind (`privacy retain`): a whole number and d, w, m or y."""

    transactions: str = Field(default="10y", description="accounting records: 10 years (French Code de commerce L123-22)")
    touchpoints: str = Field(default="3y", description="interactions: 3 years (CNIL guidance for customer prospecting)")
    campaigns: str = "3y"
    surveys: str = "3y"
    subscriptions: str = Field(default="5y", description="ended subscriptions: 5 years after their end (limitation period)")
    customers: str = Field(default="3y", description="customers: 3 years after their last purchase, interaction, signup or enrollment "
                                                     "(CNIL: 3 years after the end of the commercial relationship)")


class Privacy(Section):
    """Defaults of `privacy` (flags win)."""

    # The JSON-lines audit log of erase and retain.
    audit: str = "fidelcli-privacy-audit.jsonl"
    # The country of national phone numbers, for their E.164 form before hashing.
    phone_country: Literal["FR", "GB", "US", "CA", "BE", "CH", "DE", "NL", "LU", "ES", "IT", "IE"] = "FR"
    retention: Retention = Field(default_factory=Retention)


class Config(Section):
    """The whole `fidelcli.toml`. Later commands add their sections here."""

    inputs: Inputs = Field(default_factory=Inputs)
    columns: Columns = Field(default_factory=Columns)
    analysis: Analysis = Field(default_factory=Analysis)
    engine: Engine = Field(default_factory=Engine)
    rfm: Rfm = Field(default_factory=Rfm)
    kpi: Kpi = Field(default_factory=Kpi)
    clv: Clv = Field(default_factory=Clv)
    churn: Churn = Field(default_factory=Churn)
    recommend: Recommend = Field(default_factory=Recommend)
    journey: Journey = Field(default_factory=Journey)
    abtest: Abtest = Field(default_factory=Abtest)
    scenario: Scenario = Field(default_factory=Scenario)
    program: Program = Field(default_factory=Program)
    loyalty: LoyaltyRules = Field(default_factory=LoyaltyRules)
    report: Report = Field(default_factory=Report)
    target: Target = Field(default_factory=Target)
    privacy: Privacy = Field(default_factory=Privacy)


def default(section: type[Section], name: str) -> Any:
    """The default of a config field, for a command's --help (`default(Clv, "horizon")` -> "12m")."""
    return section.model_fields[name].default


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Config
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return model
        ann = model.model_fields[part].annotation
        candidates = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        model = candidates[0] if candidates else None
    return model


def load_config(path: Path | None) -> Config:
    """Read and validate a config file; `None` or a missing default file gives the defaults.

    Raises ConfigError naming the key and the closest valid one.
    """
    if path is None:
        default = Path("fidelcli.toml")
        if not default.exists():
            return Config()
        path = default
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("config file not found", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=str(path)) from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            parent = _model_at(loc[:-1])
            valid = list(parent.model_fields) if parent else []
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            hint = f"did you mean {'.'.join([*map(str, loc[:-1]), close[0]])!r}?" if close else f"valid keys: {', '.join(valid)}"
            raise ConfigError(f"unknown key {key!r}", file=str(path), hint=hint) from None
        raise ConfigError(f"{key}: {err['msg']}", file=str(path)) from None
