"""`roi scenario`: what retention is worth, for +1 .. +N points of yearly retention.

Customer value under geometric retention (Gupta & Lehmann 2003; Berger & Nasr 1998): a customer kept
with probability r each year brings a yearly margin m at the end of each year she is kept, discounted at
d a year, so CLV = sum_{t>=1} m r^t / (1 + d)^t = m r / (1 + d - r). The base value is N x CLV.
Yearly profit at steady state: with A new customers a year and retention r the base settles at
A / (1 - r) customers; holding today's base as that steady state (A = N (1 - r)), retention r' gives
N (1 - r) / (1 - r') customers and as many yearly margins m. Every assumption is in the result's
`assumptions` and in docs/roi.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from fidelcli.errors import ConfigError, InputError
from fidelcli.result import Figure, JsonResult
from fidelcli.stats import check_discount_rate

if TYPE_CHECKING:
    from fidelcli.analyses.clv.fit import Fit
    from fidelcli.engine.periods import TimeUnit

UNITS_PER_YEAR: dict[str, float] = {"day": 365.25, "week": 365.25 / 7, "month": 12.0, "year": 1.0}

ASSUMPTIONS = [
    "retention is the same every year for every customer (geometric lifetime)",
    "a kept customer brings the same yearly margin, counted at the end of each year, discounted at the annual rate",
    "base value: the discounted future margin of today's customers (CLV = m r / (1 + d - r)), new customers left out",
    "yearly profit: today's base taken as the steady state of constant acquisition (A = N (1 - r) a year); "
    "retention r' settles the base at A / (1 - r'); acquisition and retention costs are left out",
]


@dataclass(frozen=True)
class ScenarioInputs:
    """Yearly retention, yearly margin per customer (money), annual discount rate, customers, and where they come from."""

    retention: float
    margin: float
    discount_rate: float
    customers: float | None = None
    source: str = "given"
    notes: tuple[str, ...] = ()


@dataclass
class ScenarioResult(JsonResult):
    """scenarios: one row per retention gain (0 = today): points, retention, clv, base_value,
    base_value_change, base_value_change_pct, steady_customers, yearly_profit, yearly_profit_change,
    yearly_profit_change_pct. `sentence`: the result in one sentence; `assumptions`: what it rests on."""

    inputs: ScenarioInputs
    scenarios: pl.DataFrame
    sentence: str
    assumptions: list[str]
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pl.DataFrame]:
        return {"scenarios": self.scenarios}

    def headline(self) -> dict[str, Figure]:
        i = self.inputs
        return {"retention": i.retention, "margin": i.margin, "discount_rate": i.discount_rate, "customers": i.customers,
                "source": i.source, "sentence": self.sentence}


def clv_geometric(margin: float, retention: float, discount_rate: float) -> float:
    """m r / (1 + d - r): the discounted margin of a customer kept each year with probability r.

    Example: margin 100, retention 0.8, discount 0.1: 100 x 0.8 / 0.3 = 266.67.
    >>> round(clv_geometric(100, 0.8, 0.1), 2)
    266.67
    """
    return margin * retention / (1 + discount_rate - retention)


def retention_scenario(inputs: ScenarioInputs, *, points: int = 10) -> ScenarioResult:
    """Base value and steady-state yearly profit for yearly retention +0 .. +`points` points (stopping
    below 100 %), against today's.

    Raises ConfigError for a retention outside [0, 1), a negative margin or a bad discount rate.
    """
    r, m, n = inputs.retention, inputs.margin, inputs.customers
    d = check_discount_rate(inputs.discount_rate)
    if not (0 <= r < 1) or not math.isfinite(r):
        raise ConfigError(f"yearly retention must be at least 0 and below 1, found {r!r}", hint="give it as a fraction: --retention 0.6 for 60 %")
    if not math.isfinite(m) or m < 0:
        raise ConfigError(f"the yearly margin per customer must be a number >= 0, found {m!r}", hint="e.g. --margin 40")
    if n is not None and (not math.isfinite(n) or n < 0):
        raise ConfigError(f"the number of customers must be >= 0, found {n!r}", hint="e.g. --customers 10000")
    base_clv = clv_geometric(m, r, d)
    rows = []
    for k in range(points + 1):
        rk = round(r + k / 100, 10)
        if rk >= 1:
            break
        clv = clv_geometric(m, rk, d)
        steady = (1 - r) / (1 - rk)  # customers at steady state per customer today
        rows.append({
            "points": k, "retention": rk, "clv": clv,
            "base_value": None if n is None else n * clv, "base_value_change": None if n is None else n * (clv - base_clv),
            "base_value_change_pct": (clv / base_clv - 1) * 100 if base_clv > 0 else None,
            "steady_customers": None if n is None else n * steady,
            "yearly_profit": None if n is None else n * steady * m,
            "yearly_profit_change": None if n is None else n * (steady - 1) * m,
            "yearly_profit_change_pct": (steady - 1) * 100,
        })
    table = pl.DataFrame(rows, schema={"points": pl.Int64, **{c: pl.Float64 for c in (
        "retention", "clv", "base_value", "base_value_change", "base_value_change_pct", "steady_customers", "yearly_profit",
        "yearly_profit_change", "yearly_profit_change_pct")}})
    warns = [] if table.height > points else [f"retention stops at {table['retention'][-1]:.0%}: 100 % is not a retention rate"]
    return ScenarioResult(inputs=inputs, scenarios=table, sentence=_sentence(inputs, table), assumptions=list(ASSUMPTIONS), warnings=warns)


def _sentence(inputs: ScenarioInputs, table: pl.DataFrame) -> str:
    row = table.filter(pl.col("points") == min(5, table["points"].max())).row(0, named=True)  # type: ignore[type-var]
    if row["points"] == 0:
        return "retention cannot rise: it is already at 99 %."
    base = f"{inputs.customers:,.0f} customers" if inputs.customers is not None else "a customer"
    value = row["base_value_change_pct"]
    value_text = "" if value is None else f"adds {value:.1f} % to the value of {base}"
    if inputs.customers is not None and row["base_value_change"] is not None:
        value_text += f" (+{row['base_value_change']:,.0f})"
    return (f"+{row['points']} points of yearly retention ({inputs.retention:.1%} to {row['retention']:.1%}) {value_text} and, "
            f"at steady state, {row['yearly_profit_change_pct']:.1f} % to yearly profit (margin {inputs.margin:,.2f} a customer a year, "
            f"discount {inputs.discount_rate:.1%} a year).")


def _survival(name: str, params: dict[str, float], t: float) -> float:
    """Share of a new cohort still alive after `t` time units under a purchase model's dropout process:
    Pareto/NBD (beta / (beta + t))^s (Schmittlein et al. 1987); BG/NBD E_p[(alpha / (alpha + p t))^r]
    and MBG/NBD E_p[(1 - p) (alpha / (alpha + p t))^r] with p ~ Beta(a, b) (Fader et al. 2005,
    Batislam et al. 2007); BG/BB B(gamma, delta + t) / B(gamma, delta) over whole periods (Fader et al. 2010)."""
    from scipy.integrate import quad
    from scipy.special import betaln
    from scipy.stats import beta as beta_dist

    if name == "pnbd":
        return float((params["beta"] / (params["beta"] + t)) ** params["s"])
    if name in ("bgnbd", "mbgnbd"):
        r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
        first = (lambda p: 1 - p) if name == "mbgnbd" else (lambda p: 1.0)
        value, _ = quad(lambda p: beta_dist.pdf(p, a, b) * first(p) * (alpha / (alpha + p * t)) ** r, 0, 1, limit=200)
        return float(value)
    if name == "bgbb":
        g, dl = params["gamma"], params["delta"]
        return float(math.exp(betaln(g, dl + math.floor(t)) - betaln(g, dl)))
    raise InputError(f"the retention of a {name} model is not known", hint="give --retention and --margin directly")


def inputs_from_model(fit: Fit, *, time_unit: TimeUnit, margin_rate: float, discount_rate: float,
                      customers: float | None = None, margin: float | None = None, file: str | None = None) -> ScenarioInputs:
    """Yearly retention and margin implied by a fitted CLV model (`clv --save-model`).

    retention: the share of a new cohort the model keeps alive one year (`_survival`); margin: the
    mean purchases a year of an alive customer (r / alpha per time unit; alpha / (alpha + beta) per
    period for BG/BB) times the Gamma-Gamma mean spend p v / (q - 1) times `margin_rate` (unless
    `margin` is given). customers: the model's calibration customers unless given.

    Raises InputError when the model has no spend model and no margin is given.
    """
    model = fit.purchase
    params = dict(model.params_)
    per_year = UNITS_PER_YEAR[time_unit]
    retention = _survival(model.name, params, per_year)
    notes = [f"retention: the share of a new cohort that {model.name} keeps one year ({retention:.1%})"]
    if margin is None:
        spend = fit.spend
        if spend is None:
            raise InputError("the model file has no spend model, so the margin per customer is unknown", file=file,
                             hint="give --margin (yearly margin per customer)")
        sp = spend.params_
        if sp["q"] <= 1:
            raise InputError("the spend model's mean spend is infinite (q <= 1)", file=file, hint="give --margin")
        mean_spend = sp["p"] * sp["v"] / (sp["q"] - 1)
        rate = params["alpha"] / (params["alpha"] + params["beta"]) if model.name == "bgbb" else params["r"] / params["alpha"]
        margin = rate * per_year * mean_spend * margin_rate
        notes.append(f"margin: {rate * per_year:.2f} purchases a year x mean spend {mean_spend:,.2f} x margin rate {margin_rate:.0%}")
    n_fit = getattr(model, "n_customers_", None)
    if customers is None and isinstance(n_fit, float) and math.isfinite(n_fit):
        customers = n_fit
    return ScenarioInputs(retention=retention, margin=margin, discount_rate=discount_rate, customers=customers,
                          source=f"model {model.name}" + (f" ({file})" if file else ""), notes=tuple(notes))
