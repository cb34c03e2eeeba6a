"""One contract over every model, in scikit-learn's `parametrize_with_checks` style: each check runs
on every model of `fidelcli.models.MODELS` (a model without a case fails the first test).

On simulated customers: fit returns self, with positive parameters, standard errors and a finite
total log-likelihood; the JSON round trip gives identical predictions; shuffled rows give the same
fit and weights equal repeated rows; predictions are finite; a larger seeded simulation recovers its
parameters within three standard errors and, for the purchase models, P(alive) and the expectations
at the true parameters match what the simulated customers did. Degenerate data, bad values and bad
settings are typed errors. Each model's file keeps its published values and the checks of its own
formulas (test_bgnbd.py, test_pnbd.py, ...).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
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
from fidelcli.models.bgnbd import bg_loglik
from fidelcli.models.gamma_gamma import gg_loglik

Columns = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class Story:
    """A seeded simulation at the true parameters, and what the formulas must reproduce from it."""

    history: Columns  # x, t_x, T (BG/BB: x, t_x, n)
    alive: np.ndarray  # alive at T (BG/BB: at the next opportunity)
    alive_tolerance: float
    horizon: float  # length of the holdout after T
    holdout: np.ndarray  # purchases in the holdout
    window: float  # observation length of the customers of `new`
    new: np.ndarray  # purchases of customers all observed for `window` from their first purchase


@dataclass(frozen=True)
class Purchase:
    """What a purchase model (one that predicts from x, t_x, T) is also checked on."""

    story: Callable[[], Story]
    histories: Columns  # a few hand-picked histories
    horizon: int  # steps of the discounted sum
    step: float  # length of a step


@dataclass(frozen=True)
class Case:
    cls: type[FittedModel]
    true: dict[str, float]  # the parameters `data` and `recovery` are simulated from
    data: Columns  # columns passed to fit (the last one may be weights)
    weighted: bool
    predict: Callable[[Any, Columns], list[np.ndarray]]
    recovery: Callable[[], Columns]  # fit's arguments, from a larger seeded simulation at `true`
    no_events: list[tuple[Any, ...]]  # data sets (as `data`) in which nobody repeats (sBG: churns)
    no_events_message: str  # what the FitError says then
    purchase: Purchase | None = None

    def fit(self, model: Any, data: Columns) -> Any:
        if self.weighted:
            return model.fit(*data[:-1], weights=data[-1])
        return model.fit(*data)

    def at_truth(self) -> Any:
        """The model with the true parameters, as a saved model file gives it."""
        return self.cls.from_dict({"name": self.cls.name, "params": self.true})


def _purchase_predictions(m: Any, d: Columns) -> list[np.ndarray]:
    x, t_x, T = d[:3]
    return [m.p_alive(x, t_x, T), m.expected_purchases(13.0, x, t_x, T),
            m.expected_purchases_new(np.array([1.0, 10.0])), m.log_likelihood_individual(x, t_x, T),
            m.discounted_expected_transactions(x, t_x, T, horizon=4, discount_rate_per_period=0.01)]


def _continuous_story(kind: str, params: dict[str, float], seed: int, fixed_seed: int) -> Callable[[], Story]:
    def story() -> Story:
        sim = simulate_purchases(kind, params, 40_000, seed=seed, horizon=26.0)
        fixed = simulate_purchases(kind, params, 40_000, seed=fixed_seed, T_range=(30.0, 30.0))
        return Story((sim.x, sim.t_x, sim.T), sim.alive_at_T, 0.01, 26.0, sim.holdout, 30.0, fixed.x)
    return story


def _bgbb_story(params: dict[str, float]) -> Callable[[], Story]:
    def story() -> Story:
        # Everyone has 6 opportunities: the calibration counts are also a sample of E[X(6)].
        sim = simulate_bgbb(params, 100_000, 6, seed=41, horizon=5)
        return Story((sim.x, sim.t_x, sim.n), sim.alive_next, 0.005, 5, sim.holdout, 6, sim.x)
    return story


# Histories of the discounted sums: no repeat purchase, a recent and an old buyer, 40 weeks observed
# (BG/BB: 0, 3 and 6 transactions in 6 opportunities).
HISTORIES = (np.array([0.0, 2.0, 7.0]), np.array([0.0, 10.0, 30.0]), np.array([40.0] * 3))
NOBODY_REPEATS = [(np.zeros(50), np.zeros(50), np.linspace(1.0, 40.0, 50)), ([0, 0, 0], [0, 0, 0], [10, 20, 30])]
REPEAT = "no customer made a repeat purchase"


def _cases() -> dict[str, Case]:
    bg = {"r": 0.8, "alpha": 6.0, "a": 0.9, "b": 3.0}
    pn = {"r": 0.7, "alpha": 8.0, "s": 0.8, "beta": 12.0}
    bb = {"alpha": 1.2, "beta": 0.8, "gamma": 0.7, "delta": 2.5}
    gg = {"p": 6.0, "q": 4.0, "v": 15.0}
    sbg = {"alpha": 0.9, "beta": 2.5}
    sim_bg = simulate_purchases("bgnbd", bg, 1500, seed=1)
    sim_mbg = simulate_purchases("mbgnbd", bg, 1500, seed=2)
    sim_pn = simulate_purchases("pnbd", pn, 1500, seed=3)
    sim_bb = simulate_bgbb(bb, 2000, 6, seed=4)
    gx, gm = simulate_spend(gg, 800, seed=5)
    dur, cens = simulate_lifetimes(sbg, 1000, 8, seed=6)

    def purchases(kind: str, params: dict[str, float], seed: int) -> Callable[[], Columns]:
        def recovery() -> Columns:
            sim = simulate_purchases(kind, params, 6000, seed=seed)
            return sim.x, sim.t_x, sim.T
        return recovery

    def bgbb_recovery() -> Columns:
        sim = simulate_bgbb(bb, 8000, 8, seed=20240504)
        return sim.x, sim.t_x, sim.n

    return {
        "bgnbd": Case(BGNBD, bg, (sim_bg.x, sim_bg.t_x, sim_bg.T), False, _purchase_predictions,
                      purchases("bgnbd", bg, 20240501), NOBODY_REPEATS, REPEAT,
                      Purchase(_continuous_story("bgnbd", bg, 11, 12), HISTORIES, 12, 4.0)),
        "mbgnbd": Case(MBGNBD, bg, (sim_mbg.x, sim_mbg.t_x, sim_mbg.T), False, _purchase_predictions,
                       purchases("mbgnbd", bg, 20240503), NOBODY_REPEATS, REPEAT,
                       Purchase(_continuous_story("mbgnbd", bg, 31, 32), HISTORIES, 12, 4.0)),
        "pnbd": Case(ParetoNBD, pn, (sim_pn.x, sim_pn.t_x, sim_pn.T), False, _purchase_predictions,
                     purchases("pnbd", pn, 20240502), NOBODY_REPEATS, REPEAT,
                     Purchase(_continuous_story("pnbd", pn, 21, 22), HISTORIES, 12, 4.0)),
        "bgbb": Case(BGBB, bb, (sim_bb.x, sim_bb.t_x, sim_bb.n, np.ones(sim_bb.x.size)), True,
                     lambda m, d: [m.p_alive(*d[:3]), m.expected_purchases(5, *d[:3]),
                                   m.expected_purchases_new(np.array([1, 6])),
                                   m.log_likelihood_individual(*d[:3]),
                                   m.discounted_expected_transactions(
                                       *d[:3], horizon=5, discount_rate_per_period=0.1)],
                     bgbb_recovery,
                     [([0, 0], [0, 0], [6, 6], [10, 20])],
                     "nobody transacted in the calibration period",
                     Purchase(_bgbb_story(bb), (np.array([0.0, 3.0, 6.0]), np.array([0.0, 4.0, 6.0]),
                                                np.array([6.0] * 3)), 5, 1.0)),
        "gamma_gamma": Case(GammaGamma, gg, (gx, gm), False,
                            lambda m, d: [m.expected_spend(*d), np.array(m.population_mean()),
                                          m.log_likelihood_individual(*d)],
                            lambda: simulate_spend(gg, 5000, seed=20240505),
                            [([0, 0], [0.0, 0.0])], "no customer with a repeat transaction"),
        "sbg": Case(SBG, sbg, (dur, cens.astype(float)), False,
                    lambda m, d: [m.survival(np.arange(10)), m.churn_probability(np.arange(1, 5)),
                                  m.retention_rate(np.arange(1, 5)),
                                  np.array(m.expected_lifetime(discount_rate=0.1)),
                                  m.discounted_expected_residual_lifetime(
                                      np.arange(4), discount_rate=0.1),
                                  m.log_likelihood_individual(*d)],
                    lambda: simulate_lifetimes(sbg, 4000, 10, seed=20240506),
                    [(np.full(3, 3.0), np.ones(3))], "nobody churned"),
    }


CASES = _cases()
PURCHASE = sorted(name for name, case in CASES.items() if case.purchase is not None)
CONTINUOUS = ["bgnbd", "mbgnbd", "pnbd"]  # x, t_x, T in continuous time


def test_every_model_has_a_case() -> None:
    assert set(CASES) == set(MODELS)
    assert PURCHASE == sorted([*CONTINUOUS, "bgbb"])


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
def test_predictions_are_finite(name: str) -> None:
    case = CASES[name]
    model = case.fit(case.cls(), case.data)
    for i, values in enumerate(case.predict(model, case.data)):
        assert np.all(np.isfinite(values)), i


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
def test_parameter_recovery_on_simulated_customers(name: str) -> None:
    case = CASES[name]
    model = case.cls().fit(*case.recovery())
    for param, value in case.true.items():
        assert abs(model.params_[param] - value) < 3 * model.std_errors_[param], param


@pytest.mark.parametrize("name", PURCHASE)
def test_formulas_match_simulation_at_true_parameters(name: str) -> None:
    # With the generating parameters, the averages over customers of P(alive) and of the
    # conditional expectation must match what the simulation did (law of total expectation), and
    # the unconditional E[X(t)] (FHL 2005 eq. 9; FHS 2010 for BG/BB) what customers all observed
    # for the same length did.
    case = CASES[name]
    assert case.purchase is not None
    sim = case.purchase.story()
    model = case.at_truth()
    assert model.p_alive(*sim.history).mean() == pytest.approx(sim.alive.mean(), abs=sim.alive_tolerance)
    expected = model.expected_purchases(sim.horizon, *sim.history)
    se = sim.holdout.std() / np.sqrt(sim.holdout.size)
    assert abs(expected.mean() - sim.holdout.mean()) < 4 * se
    se = sim.new.std() / np.sqrt(sim.new.size)
    assert abs(model.expected_purchases_new(sim.window) - sim.new.mean()) < 4 * se


@pytest.mark.parametrize("name", PURCHASE)
def test_discounted_transactions_without_discount_equal_expected_purchases(name: str) -> None:
    case = CASES[name]
    assert case.purchase is not None
    histories, horizon, step = case.purchase.histories, case.purchase.horizon, case.purchase.step
    model = case.at_truth()
    undiscounted = model.discounted_expected_transactions(*histories, horizon=horizon,
                                                          discount_rate_per_period=0.0, step=step)
    np.testing.assert_allclose(undiscounted, model.expected_purchases(horizon * step, *histories),
                               rtol=1e-12)
    discounted = model.discounted_expected_transactions(*histories, horizon=horizon,
                                                        discount_rate_per_period=0.01, step=step)
    assert np.all(discounted < undiscounted)


# Heavy buyers: 3,000 and 50 purchases in 38 weeks over 52 weeks ahead, 5,000 over 10 weeks.
HEAVY_BUYERS = [(52.0, (np.array([3000.0, 50.0]), np.array([38.0, 38.0]), np.array([39.0, 39.0]))),
                (10.0, (np.array([5000.0]), np.array([38.0]), np.array([39.0])))]


@pytest.mark.parametrize("name", CONTINUOUS)
def test_huge_frequency_does_not_overflow(name: str) -> None:
    model = CASES[name].at_truth()
    for t, history in HEAVY_BUYERS:
        assert np.isfinite(model.log_likelihood_individual(*history)).all()
        alive = model.p_alive(*history)
        assert np.all((alive > 0) & (alive <= 1))
        expected = model.expected_purchases(t, *history)
        assert np.all(np.isfinite(expected)) and np.all(expected > 0)


def _gradient_problem(name: str, cdnow: pl.DataFrame) -> tuple[np.ndarray, Callable[[np.ndarray], Any],
                                                                Callable[[np.ndarray], np.ndarray]]:
    """Parameters, the analytic (total, gradient) and the per-row log-likelihood on CDNOW."""
    x, t_x, T, m = (cdnow[c].to_numpy() for c in ("x", "t.x", "T.cal", "m.x"))
    if name == "gamma_gamma":
        keep = x > 0
        x, m = x[keep], m[keep]
        return (np.array([5.0, 3.0, 14.0]), lambda p: gg_loglik(p, x, m, np.ones(x.size)),
                lambda p: gg_loglik(p, x, m))
    modified = name == "mbgnbd"
    p0 = np.array([0.5, 6.0, 0.9, 1.6] if modified else [0.3, 4.0, 0.8, 2.4])
    return (p0, lambda p: bg_loglik(p, x, t_x, T, modified=modified, weights=np.ones(x.size)),
            lambda p: bg_loglik(p, x, t_x, T, modified=modified))


# The Pareto/NBD gradient has its own test (test_pnbd.py): it runs on paired, compressed data.
@pytest.mark.parametrize("name", ["bgnbd", "gamma_gamma", "mbgnbd"])
def test_analytic_gradient_matches_finite_differences(name: str, cdnow: pl.DataFrame) -> None:
    p, total_and_gradient, loglik = _gradient_problem(name, cdnow)
    _, grad = total_and_gradient(p)
    for i in range(p.size):
        e = np.zeros(p.size)
        e[i] = 1e-6 * p[i]
        fd = (loglik(p + e).sum() - loglik(p - e).sum()) / (2 * e[i])
        assert grad[i] == pytest.approx(fd, rel=1e-6, abs=1e-4)


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


@pytest.mark.parametrize("name", sorted(CASES))
def test_data_without_events_is_a_fit_error_with_a_hint(name: str) -> None:
    case = CASES[name]
    for data in case.no_events:
        with pytest.raises(FitError) as exc:
            case.fit(case.cls(), data)
        assert case.no_events_message in exc.value.message and exc.value.hint


@pytest.mark.parametrize("cls", [BGNBD, MBGNBD, ParetoNBD])
def test_all_zero_T_is_a_fit_error(cls: type) -> None:
    for zeros in (np.zeros(5), [0, 0]):
        with pytest.raises(FitError, match="T = 0"):
            cls().fit(zeros, zeros, zeros)


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_customer_is_a_fit_error(name: str) -> None:
    case = CASES[name]
    one = tuple(col[np.flatnonzero(case.data[0] > 0)[:1]] for col in case.data)
    with pytest.raises(FitError, match="distinct") as exc:
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


@pytest.mark.parametrize("name", CONTINUOUS)
@pytest.mark.parametrize(
    ("x", "t_x", "T", "column"),
    [
        ([1, np.nan], [1.0, 0.0], [2.0, 2.0], "x"),
        ([1, 0], [1.0, -1.0], [2.0, 2.0], "t_x"),
        ([1, 0], [3.0, 0.0], [2.0, 2.0], "t_x"),
        ([1.5, 0], [1.0, 0.0], [2.0, 2.0], "x"),
        ([1, 0], [1.0, 0.0], [2.0, np.inf], "T"),
    ],
    ids=["x-nan", "t_x-negative", "t_x-after-T", "x-fraction", "T-inf"],
)
def test_bad_history_is_an_input_error(name: str, x: list[float], t_x: list[float], T: list[float],
                                       column: str) -> None:
    with pytest.raises(InputError) as exc:
        CASES[name].cls().fit(x, t_x, T)
    assert exc.value.column == column


def test_model_restored_from_params_only_serialises_to_strict_json() -> None:
    model = BGNBD.from_dict({"name": "bgnbd", "params": {"r": 1, "alpha": 2, "a": 3, "b": 4}})
    d = json.loads(json.dumps(model.to_dict(), allow_nan=False))
    assert d["log_likelihood"] is None and d["std_errors"]["r"] is None
    assert d["converged"] is False


@pytest.mark.parametrize("cls", [BGNBD, MBGNBD, ParetoNBD])
def test_time_unit_only_rescales_the_rate_parameters(cls: type, cdnow: pl.DataFrame) -> None:
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
