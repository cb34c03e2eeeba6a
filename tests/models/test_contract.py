"""One contract over every model: fit returns self, positive parameters, finite total
log-likelihood, JSON round trip with identical predictions, same fit with rows shuffled."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from btyd_sim import simulate_bgbb, simulate_lifetimes, simulate_purchases, simulate_spend

from fidelcli.errors import ConfigError, FidelError, FitError, InputError, ModelFileError
from fidelcli.models import (
    BGBB,
    BGNBD,
    MBGNBD,
    MODELS,
    SBG,
    FittedModel,
    GammaGamma,
    ParetoNBD,
    model_from_dict,
)


@dataclass
class Case:
    cls: type[FittedModel]
    data: tuple[np.ndarray, ...]  # columns passed to fit (the last one may be weights)
    weighted: bool
    predict: Callable[[Any, tuple[np.ndarray, ...]], list[np.ndarray]]

    def fit(self, model: Any, data: tuple[np.ndarray, ...]) -> Any:
        if self.weighted:
            return model.fit(*data[:-1], weights=data[-1])
        return model.fit(*data)


def _purchase_predictions(m: Any, d: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    x, t_x, T = d[:3]
    return [m.p_alive(x, t_x, T), m.expected_purchases(13.0, x, t_x, T),
            m.expected_purchases_new(np.array([1.0, 10.0])), m.log_likelihood_individual(x, t_x, T),
            m.discounted_expected_transactions(x, t_x, T, horizon=4, discount_rate_per_period=0.01)]


def _cases() -> dict[str, Case]:
    bg = {"r": 0.8, "alpha": 6.0, "a": 0.9, "b": 3.0}
    sim_bg = simulate_purchases("bgnbd", bg, 1500, seed=1)
    sim_mbg = simulate_purchases("mbgnbd", bg, 1500, seed=2)
    sim_pn = simulate_purchases("pnbd", {"r": 0.7, "alpha": 8.0, "s": 0.8, "beta": 12.0}, 1500,
                                seed=3)
    sim_bb = simulate_bgbb({"alpha": 1.2, "beta": 0.8, "gamma": 0.7, "delta": 2.5}, 2000, 6, seed=4)
    gx, gm = simulate_spend({"p": 6.0, "q": 4.0, "v": 15.0}, 800, seed=5)
    dur, cens = simulate_lifetimes({"alpha": 0.9, "beta": 2.5}, 1000, 8, seed=6)
    return {
        "bgnbd": Case(BGNBD, (sim_bg.x, sim_bg.t_x, sim_bg.T), False, _purchase_predictions),
        "mbgnbd": Case(MBGNBD, (sim_mbg.x, sim_mbg.t_x, sim_mbg.T), False, _purchase_predictions),
        "pnbd": Case(ParetoNBD, (sim_pn.x, sim_pn.t_x, sim_pn.T), False, _purchase_predictions),
        "bgbb": Case(BGBB, (sim_bb.x, sim_bb.t_x, sim_bb.n, np.ones(sim_bb.x.size)), True,
                     lambda m, d: [m.p_alive(*d[:3]), m.expected_purchases(5, *d[:3]),
                                   m.expected_purchases_new(np.array([1, 6])),
                                   m.log_likelihood_individual(*d[:3]),
                                   m.discounted_expected_transactions(
                                       *d[:3], horizon=5, discount_rate_per_period=0.1)]),
        "gamma_gamma": Case(GammaGamma, (gx, gm), False,
                            lambda m, d: [m.expected_spend(*d), np.array(m.population_mean()),
                                          m.log_likelihood_individual(*d)]),
        "sbg": Case(SBG, (dur, cens.astype(float)), False,
                    lambda m, d: [m.survival(np.arange(10)), m.churn_probability(np.arange(1, 5)),
                                  m.retention_rate(np.arange(1, 5)),
                                  np.array(m.expected_lifetime(discount_rate=0.1)),
                                  m.discounted_expected_residual_lifetime(
                                      np.arange(4), discount_rate=0.1),
                                  m.log_likelihood_individual(*d)]),
    }


CASES = _cases()


def test_every_model_has_a_case() -> None:
    assert set(CASES) == set(MODELS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_contract(name: str) -> None:
    case = CASES[name]
    model = case.cls()
    assert case.fit(model, case.data) is model
    assert model.name == name
    assert list(model.params_) == list(case.cls.param_names)
    assert all(v > 0 and math.isfinite(v) for v in model.params_.values())
    assert set(model.std_errors_) == set(model.params_)
    assert math.isfinite(model.log_likelihood_) and model.log_likelihood_ < 0
    assert model.converged_ is True
    assert model.n_distinct_ is not None and 0 < model.n_distinct_ <= model.n_customers_


@pytest.mark.parametrize("name", sorted(CASES))
def test_json_round_trip_gives_identical_predictions(name: str) -> None:
    case = CASES[name]
    model = case.fit(case.cls(), case.data)
    d = model.to_dict()
    assert set(d) == {"name", "params", "log_likelihood", "n_customers", "std_errors",
                      "converged"}
    text = json.dumps(d, allow_nan=False)
    restored = case.cls.from_dict(json.loads(text))
    again = model_from_dict(json.loads(text))
    assert type(again) is case.cls
    for a, b, c in zip(case.predict(model, case.data), case.predict(restored, case.data),
                       case.predict(again, case.data), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert restored.to_dict() == d


@pytest.mark.parametrize("name", sorted(CASES))
def test_shuffled_rows_give_the_same_fit(name: str) -> None:
    case = CASES[name]
    perm = np.random.default_rng(99).permutation(case.data[0].size)
    a = case.fit(case.cls(), case.data)
    b = case.fit(case.cls(), tuple(col[perm] for col in case.data))
    assert a.params_ == b.params_  # exact: compression sorts the rows
    assert a.log_likelihood_ == b.log_likelihood_


@pytest.mark.parametrize("name", sorted(CASES))
def test_weights_equal_repeated_rows(name: str) -> None:
    case = CASES[name]
    data = case.data[:-1] if case.weighted else case.data
    doubled = tuple(np.concatenate([c, c]) for c in data)
    a = case.cls().fit(*doubled)
    b = case.cls().fit(*data, weights=np.full(data[0].size, 2.0))
    assert a.params_ == b.params_
    assert a.log_likelihood_ == b.log_likelihood_


@pytest.mark.parametrize("name", sorted(CASES))
def test_penalizer_keeps_the_contract(name: str) -> None:
    case = CASES[name]
    free = case.fit(case.cls(), case.data)
    pen = case.fit(case.cls(penalizer=0.1), case.data)
    assert pen.log_likelihood_ <= free.log_likelihood_ + 1e-9  # penalty costs likelihood
    assert all(v > 0 for v in pen.params_.values())


@pytest.mark.parametrize("name", sorted(CASES))
def test_from_dict_refuses_other_names_and_missing_params(name: str) -> None:
    cls = CASES[name].cls
    good = {"name": name, "params": {p: 1.5 for p in cls.param_names}}
    assert cls.from_dict(good).params_ == good["params"]
    with pytest.raises(ModelFileError):
        cls.from_dict({**good, "name": "nope"})
    with pytest.raises(ModelFileError):
        cls.from_dict({"name": name, "params": {cls.param_names[0]: 1.0}})
    with pytest.raises(ModelFileError):
        cls.from_dict({"name": name, "params": {**good["params"], cls.param_names[0]: -1.0}})


def test_model_from_dict_refuses_unknown_names() -> None:
    with pytest.raises(ModelFileError):
        model_from_dict({"name": "lifetimes", "params": {}})


@pytest.mark.parametrize("name", sorted(CASES))
def test_unfitted_model_says_so(name: str) -> None:
    with pytest.raises(FidelError, match="not fitted"):
        CASES[name].cls().to_dict()


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("penalizer", [-1.0, float("nan")])
def test_bad_penalizer_is_a_config_error(name: str, penalizer: float) -> None:
    # __init__ only stores the setting (scikit-learn's rule); fit checks it before anything else.
    case = CASES[name]
    model = case.cls(penalizer=penalizer)
    assert model.penalizer is penalizer and not hasattr(model, "params_")
    with pytest.raises(ConfigError, match=r"^penalizer must be a finite number >= 0, found "):
        case.fit(model, case.data)


@pytest.mark.parametrize("cls", [BGNBD, MBGNBD, ParetoNBD])
def test_nobody_repeats_is_a_fit_error_with_a_hint(cls: type) -> None:
    with pytest.raises(FitError) as exc:
        cls().fit(np.zeros(50), np.zeros(50), np.linspace(1.0, 40.0, 50))
    assert "repeat" in exc.value.message and exc.value.hint


@pytest.mark.parametrize("cls", [BGNBD, MBGNBD, ParetoNBD])
def test_all_zero_T_is_a_fit_error(cls: type) -> None:
    with pytest.raises(FitError, match="T = 0"):
        cls().fit(np.zeros(5), np.zeros(5), np.zeros(5))


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_customer_is_a_fit_error(name: str) -> None:
    case = CASES[name]
    one = tuple(col[np.flatnonzero(case.data[0] > 0)[:1]] for col in case.data)
    with pytest.raises(FitError) as exc:
        case.fit(case.cls(), one)
    assert exc.value.hint


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("bad", [np.nan, -1.0, np.inf])
def test_nan_or_negative_input_is_an_input_error(name: str, bad: float) -> None:
    case = CASES[name]
    data = [col.copy() for col in case.data]
    data[0][3] = bad
    with pytest.raises(InputError) as exc:
        case.fit(case.cls(), tuple(data))
    assert exc.value.row == 4


def test_model_restored_from_params_only_serialises_to_strict_json() -> None:
    model = BGNBD.from_dict({"name": "bgnbd", "params": {"r": 1, "alpha": 2, "a": 3, "b": 4}})
    d = json.loads(json.dumps(model.to_dict(), allow_nan=False))
    assert d["log_likelihood"] is None and d["std_errors"]["r"] is None
    assert d["converged"] is False


@pytest.mark.parametrize("cls", [BGNBD, MBGNBD, ParetoNBD])
def test_time_unit_only_rescales_the_rate_parameters(cls: type, cdnow) -> None:
    # CDNOW in days instead of weeks: alpha (and beta) scale by 7, the shapes do not move, and
    # since L is a density over the x purchase times, LL_days = LL_weeks - log(7) * sum(x).
    x, t_x, T = (cdnow[c].to_numpy() for c in ("x", "t.x", "T.cal"))
    weeks = cls().fit(x, t_x, T)
    days = cls().fit(x, 7 * t_x, 7 * T)
    for name, value in weeks.params_.items():
        scale = 7.0 if name in ("alpha", "beta") else 1.0
        assert days.params_[name] == pytest.approx(scale * value, rel=1e-5), name
    assert days.log_likelihood_ == pytest.approx(weeks.log_likelihood_ - math.log(7) * x.sum(),
                                                 rel=1e-10)
