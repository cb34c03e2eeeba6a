"""`retention_scenario()` and `inputs_from_model()`: hand-computed geometric-retention cases."""

from __future__ import annotations

import math

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fidelcli.analyses.clv.modelfile import fit_from_document
from fidelcli.analyses.roi import ScenarioInputs, clv_geometric, inputs_from_model, retention_scenario
from fidelcli.errors import ConfigError, InputError


def doc(name: str, params: dict[str, float], *, spend: dict[str, float] | None = None, unit: str = "week") -> dict[str, object]:
    return {"fidelcli_version": "0", "time_unit": unit, "calibration_end": None,
            "purchase_model": {"name": name, "params": params, "log_likelihood": None, "n_customers": 1000.0},
            "spend_model": None if spend is None else {"name": "gamma_gamma", "params": spend, "log_likelihood": None, "n_customers": 500.0}}


def test_geometric_clv_by_hand() -> None:
    # m r / (1 + d - r): 40 x 0.6 / 0.5 = 48; 40 x 0.65 / 0.45 = 57.777...
    assert clv_geometric(40, 0.6, 0.1) == pytest.approx(48.0)
    assert clv_geometric(40, 0.65, 0.1) == pytest.approx(520 / 9)
    # The sum of the discounted margins it stands for: sum_t 40 (0.6 / 1.1)^t.
    assert clv_geometric(40, 0.6, 0.1) == pytest.approx(sum(40 * (0.6 / 1.1) ** t for t in range(1, 400)))


def test_scenario_table_by_hand() -> None:
    res = retention_scenario(ScenarioInputs(retention=0.6, margin=40, discount_rate=0.1, customers=10_000), points=2)
    # +1: clv 40 x .61 / .49 = 49.7959; base 497,959.18; +3.7415 %; steady customers 10,000 x .4 / .39 = 10,256.41;
    # profit 10,256.41 x 40 = 410,256.41 (+2.5641 %). +2: 40 x .62 / .48 = 51.6667 (+7.6389 %); .4 / .38 -> +5.2632 %.
    expected = pl.DataFrame({
        "points": [0, 1, 2], "retention": [0.6, 0.61, 0.62], "clv": [48.0, 40 * .61 / .49, 40 * .62 / .48],
        "base_value": [480_000.0, 4e5 * .61 / .49, 4e5 * .62 / .48],
        "base_value_change": [0.0, 4e5 * .61 / .49 - 480_000, 4e5 * .62 / .48 - 480_000],
        "base_value_change_pct": [0.0, (.61 / .49 / 1.2 - 1) * 100, (.62 / .48 / 1.2 - 1) * 100],
        "steady_customers": [10_000.0, 4000 / .39, 4000 / .38], "yearly_profit": [400_000.0, 160_000 / .39, 160_000 / .38],
        "yearly_profit_change": [0.0, 160_000 / .39 - 400_000, 160_000 / .38 - 400_000],
        "yearly_profit_change_pct": [0.0, (.4 / .39 - 1) * 100, (.4 / .38 - 1) * 100],
    })
    assert_frame_equal(res.scenarios, expected, rel_tol=1e-12)
    assert round(res.scenarios["base_value_change_pct"][1], 4) == 3.7415
    assert res.sentence == ("+2 points of yearly retention (60.0% to 62.0%) adds 7.6 % to the value of 10,000 customers (+36,667) and, "
                            "at steady state, 5.3 % to yearly profit (margin 40.00 a customer a year, discount 10.0% a year).")
    assert any("steady state" in a for a in res.assumptions)


def test_scenario_without_customers_gives_per_customer_values_and_stops_below_100_percent() -> None:
    res = retention_scenario(ScenarioInputs(retention=0.95, margin=10, discount_rate=0.0), points=10)
    assert res.scenarios["points"].to_list() == [0, 1, 2, 3, 4]
    assert res.scenarios["base_value"].null_count() == 5
    # d = 0, r = .99: 10 x .99 / .01 = 990.
    assert res.scenarios["clv"][-1] == pytest.approx(990.0)
    assert res.warnings == ["retention stops at 99%: 100 % is not a retention rate"]


@pytest.mark.parametrize(("inputs", "message"), [
    (ScenarioInputs(retention=1.0, margin=1, discount_rate=0.1), "yearly retention must be at least 0 and below 1"),
    (ScenarioInputs(retention=0.5, margin=-1, discount_rate=0.1), "margin per customer must be a number >= 0"),
    (ScenarioInputs(retention=0.5, margin=1, discount_rate=10), "discount rate must be an annual rate"),
])
def test_bad_inputs_are_config_errors(inputs: ScenarioInputs, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        retention_scenario(inputs)


def test_pareto_nbd_model_retention_and_margin_by_hand() -> None:
    # Pareto/NBD, weeks: survival (beta / (beta + t))^s with beta 52.1786 (= weeks a year), s 1: 0.5 after a year.
    # Purchases r / alpha = 0.5 / 10 = 0.05 a week = 2.609 a year; spend p v / (q - 1) = 2 x 15 / 2 = 15; margin rate .3.
    weeks = 365.25 / 7
    fit, unit, _ = fit_from_document(doc("pnbd", {"r": 0.5, "alpha": 10.0, "s": 1.0, "beta": weeks}, spend={"p": 2.0, "q": 3.0, "v": 15.0}))
    got = inputs_from_model(fit, time_unit=unit, margin_rate=0.3, discount_rate=0.1)
    assert got.retention == pytest.approx(0.5)
    assert got.margin == pytest.approx(0.05 * weeks * 15 * 0.3)
    assert got.customers == 1000.0 and got.source == "model pnbd"


def test_bg_nbd_survival_by_hand() -> None:
    # BG/NBD with p ~ Beta(1, 1) and r = 1: E_p[alpha / (alpha + p t)] = (alpha / t) ln(1 + t / alpha).
    # alpha 52.1786, t one year 52.1786 weeks: ln 2 = 0.693147.
    weeks = 365.25 / 7
    fit, unit, _ = fit_from_document(doc("bgnbd", {"r": 1.0, "alpha": weeks, "a": 1.0, "b": 1.0}))
    got = inputs_from_model(fit, time_unit=unit, margin_rate=1.0, discount_rate=0.1, margin=20.0)
    assert got.retention == pytest.approx(math.log(2), rel=1e-9)
    # MBG/NBD also drops at time 0: E[(1 - p) alpha / (alpha + p t)] = int_0^1 (1 - p) / (1 + p) dp = 2 ln 2 - 1.
    fit, unit, _ = fit_from_document(doc("mbgnbd", {"r": 1.0, "alpha": weeks, "a": 1.0, "b": 1.0}))
    assert inputs_from_model(fit, time_unit=unit, margin_rate=1.0, discount_rate=0.1, margin=20.0).retention == pytest.approx(
        2 * math.log(2) - 1, rel=1e-9)


def test_bg_bb_survival_by_hand_and_a_model_without_spend_needs_a_margin() -> None:
    # BG/BB per year: B(gamma, delta + 1) / B(gamma, delta) = delta / (gamma + delta) = 3 / 4.
    fit, unit, _ = fit_from_document(doc("bgbb", {"alpha": 1.0, "beta": 1.0, "gamma": 1.0, "delta": 3.0}, unit="year"))
    assert inputs_from_model(fit, time_unit=unit, margin_rate=1.0, discount_rate=0.1, margin=5.0).retention == pytest.approx(0.75)
    with pytest.raises(InputError, match="no spend model"):
        inputs_from_model(fit, time_unit=unit, margin_rate=1.0, discount_rate=0.1)
