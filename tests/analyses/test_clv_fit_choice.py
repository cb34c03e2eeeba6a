"""No degenerate CLV fit is ever used, and `--model auto` chooses honestly (issue 11, items 7b and 7c)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from analyses_data import FixedPredictions
from btyd_sim import simulate_purchases
from refdata import reference
from typer.testing import CliRunner

from fidelcli.analyses.clv import (
    ClvOptions,
    Fit,
    Summary,
    choose,
    clv_analysis,
    fit_problem,
    p_alive_warning,
    summary_from_transactions,
)
from fidelcli.analyses.holdout import holdout_report
from fidelcli.analyses.timeunits import Horizon
from fidelcli.clean import clean_transactions
from fidelcli.cli.app import app
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.errors import FitError
from fidelcli.io.read import scan_table
from fidelcli.models import BGNBD
from fidelcli.models.base import separate_horizon_predictions

BAD = Path(__file__).parents[1] / "data" / "bad"


def bgnbd(params: dict[str, float], std_errors: dict[str, float | None] | None = None) -> BGNBD:
    return BGNBD.from_dict({"name": "bgnbd", "params": params, "log_likelihood": -1.0, "n_customers": 150, "converged": True,
                            "std_errors": std_errors or {k: 0.1 * v for k, v in params.items()}})


def problems(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(("error:", "hint:"))]


def no_nan_or_inf(text: str) -> bool:
    lowered = text.lower()
    return "nan" not in lowered and "inf" not in lowered.replace("info", "")


class NaNModel:
    """A purchase model whose predictions are NaN, as a degenerate fit's were on small files."""

    name = "nanmodel"
    param_names = ("r",)
    params_ = {"r": 1.0}
    std_errors_ = {"r": 0.1}
    converged_ = True

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        return np.full(np.shape(x), np.nan)

    def expected_purchases(self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        return np.full(np.shape(x), np.nan)

    def discounted_expected_transactions(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, **_: Any) -> np.ndarray:
        return np.full(np.shape(x), np.nan)

    def horizon_predictions(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, **kwargs: Any
                            ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        return separate_horizon_predictions(self, x, t_x, T, **kwargs)  # type: ignore[arg-type]


def small_summary() -> Summary:
    frame = pl.DataFrame({"customer_id": ["a", "b", "c"], "frequency": [0.0, 2.0, 5.0], "recency": [0.0, 10.0, 30.0],
                          "T": [40.0, 40.0, 40.0], "monetary_value": [0.0, 20.0, 35.0], "weight": [1.0, 1.0, 1.0]})
    return Summary(frame=frame, time_unit="week", has_monetary=False, file="small.csv")


@pytest.mark.slow
def test_degenerate_fit_is_dropped_not_written_as_nan() -> None:
    # Issue 11, item 7b: `clv` on a small valid file (150 customers) kept BG/NBD with r ~ 6e6 and no
    # finite standard errors ("converged") and wrote NaN expected purchases and CLV for every customer,
    # all `top 1%` and high potential, exit 0. Such a fit is now refused, whatever the model option.
    for model in ("bgnbd", "auto"):
        r = CliRunner().invoke(app, ["clv", "--model", model, "--format", "csv", "-t", str(BAD / "ok_bom.csv")])
        assert r.exit_code == 2, (model, r.stdout)
        assert no_nan_or_inf(r.stdout)
        lines = problems(r.stderr)
        start = "error: ok_bom.csv: bgnbd: parameters run to implausible values (r = " if model == "bgnbd" else \
            "error: ok_bom.csv: no purchase model could be fitted (bgnbd, pnbd, mbgnbd); bgnbd: parameters run to implausible values (r = "
        assert lines[0].startswith(start), lines
        assert lines[1] == ("hint: with few customers, or too little drop-out or variation to estimate, try --penalizer 0.01, "
                            "a longer history, or a historical CLV (--lifetime)")
    # The hint works: a small penalty identifies the models, and every value written is a number.
    r = CliRunner().invoke(app, ["clv", "--penalizer", "0.01", "--format", "csv", "-t", str(BAD / "ok_bom.csv")])
    assert r.exit_code == 0, r.stderr
    out = pl.read_csv(r.stdout.encode())
    assert out.height == 150 and no_nan_or_inf(r.stdout)
    assert out.select(pl.col(pl.Float64).is_nan().any()).row(0) == (False,) * len(out.select(pl.col(pl.Float64)).columns)

    # Parameters run off (r = 6.15e6) or flat likelihood (no finite standard error): not a fit.
    absurd = bgnbd({"r": 6.15e6, "alpha": 9.0e7, "a": 3.5e-5, "b": 3.9e4})
    assert fit_problem(absurd) == "parameters run to implausible values (r = 6.15e+06): the data do not identify the model"
    flat = bgnbd({"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5}, {"r": None, "alpha": 1.0, "a": None, "b": 0.3})
    assert fit_problem(flat) == "standard errors are not finite (r, a): the likelihood is flat, the data do not identify the model"
    assert fit_problem(bgnbd({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})) is None  # CDNOW

    # A model whose predictions are not finite is dropped for the next one, with a warning...
    good = bgnbd({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    comparison = pl.DataFrame({"model": ["nanmodel", "bgnbd"], "error": [None, None], "best": [True, False]},
                              schema_overrides={"error": pl.String})
    fit = Fit(purchase=NaNModel(), spend=None, comparison=comparison, ranked=[NaNModel(), good])  # type: ignore[list-item]
    result = clv_analysis(small_summary(), fit=fit)
    assert result.fit.purchase is good
    assert result.fit.comparison.filter("best")["model"].to_list() == ["bgnbd"]
    assert ("model nanmodel: predictions are not finite numbers: p_alive (3 rows), expected_purchases (3 rows), "
            "discounted_purchases (3 rows) (left out; bgnbd is used)") in result.warnings
    floats = result.customers.select(pl.col(pl.Float64))
    assert not any(floats.select(pl.all().is_nan().any() | pl.all().is_infinite().any()).row(0))
    # ... and when none is left it is an error naming the file, never a table of NaN.
    alone = Fit(purchase=NaNModel(), spend=None, comparison=comparison.head(1), ranked=[NaNModel()])  # type: ignore[list-item]
    with pytest.raises(FitError, match=r"^small.csv: nanmodel: predictions are not finite numbers: p_alive \(3 rows\)") as err:
        clv_analysis(small_summary(), fit=alone)
    assert err.value.file == "small.csv"


@pytest.fixture(scope="module")
def cdnow_without_holdout() -> Summary:
    tx = clean_transactions(scan_table(reference("clvtools_cdnow.csv"), "transactions"))
    s = summary_from_transactions(tx, calibration_end=dt.date(1997, 9, 30), time_unit="week", engine=DEFAULT_ENGINE)
    s.frame = s.frame.drop("holdout_frequency", "holdout_value")
    return s


def test_indistinguishable_models_prefer_the_simplest(cdnow_without_holdout: Summary) -> None:
    # Issue 11, item 7c: `auto` called a model best on BIC differences under 2. Hand-made rows:
    # lowest BIC 99.0 (pnbd); bgnbd is 1.0 above (indistinguishable), mbgnbd 2.5 above (worse).
    rows = [{"model": "bgnbd", "parameters": 4, "bic": 100.0}, {"model": "pnbd", "parameters": 4, "bic": 99.0},
            {"model": "mbgnbd", "parameters": 4, "bic": 101.5}]
    assert choose(rows) == (["bgnbd", "pnbd", "mbgnbd"], [
        "models bgnbd, pnbd are statistically indistinguishable (BIC within 2 of the lowest): kept the simplest, bgnbd"])
    # MBG/NBD before Pareto/NBD; a difference of 2 or more is a real one.
    rows[2]["bic"] = 99.5
    assert choose(rows)[0] == ["bgnbd", "mbgnbd", "pnbd"]
    rows[0]["bic"] = 101.0
    assert choose(rows) == (["mbgnbd", "pnbd", "bgnbd"], [
        "models mbgnbd, pnbd are statistically indistinguishable (BIC within 2 of the lowest): kept the simplest, mbgnbd"])
    # Fewer parameters come first whatever the order.
    assert choose([{"model": "pnbd", "parameters": 3, "bic": 100.5}, {"model": "bgnbd", "parameters": 4, "bic": 100.0}])[0][0] == "pnbd"
    # A failed model is never chosen.
    assert choose([{"model": "bgnbd", "parameters": 4, "bic": 1.0, "error": "bgnbd: ..."},
                   {"model": "pnbd", "parameters": 4, "bic": 50.0}])[0] == ["pnbd"]
    # CDNOW without a holdout: MBG/NBD has the lowest BIC (LL -9582.14), BG/NBD 0.59 above it (-9582.43).
    result = clv_analysis(cdnow_without_holdout, model="auto", options=ClvOptions(horizon=Horizon(39, "week")))
    comp = result.fit.comparison
    bic = dict(comp.select("model", "bic").iter_rows())
    assert bic["bgnbd"] - bic["mbgnbd"] == pytest.approx(2 * (9582.429 - 9582.136), abs=0.01)
    assert result.fit.purchase.name == "bgnbd" and comp.filter("best")["model"].to_list() == ["bgnbd"]
    assert result.fit.notes == ["models bgnbd, mbgnbd are statistically indistinguishable (BIC within 2 of the lowest): "
                                "kept the simplest, bgnbd"]


def test_auto_chooses_on_holdout_error_of_a_simulation() -> None:
    # Seeded Pareto/NBD customers (r 0.5, alpha 5, s 0.8, beta 12) and their next 39 weeks: `auto` keeps
    # the model with the lowest mean absolute error of the holdout purchases per customer.
    sim = simulate_purchases("pnbd", {"r": 0.5, "alpha": 5.0, "s": 0.8, "beta": 12.0}, 2000, seed=3, horizon=39.0)
    n = sim.x.size
    frame = pl.DataFrame({"customer_id": [f"c{i:04d}" for i in range(n)], "frequency": sim.x, "recency": sim.t_x, "T": sim.T,
                          "monetary_value": np.zeros(n), "weight": np.ones(n), "holdout_frequency": sim.holdout})
    s = Summary(frame=frame, time_unit="week", has_monetary=False, holdout_length=39.0)
    result = clv_analysis(s, options=ClvOptions(horizon=Horizon(39, "week")))
    comp = result.fit.comparison
    maes = {}
    for name in ("bgnbd", "pnbd", "mbgnbd"):
        model = next(m for m in result.fit.ranked if m.name == name)
        actual, pred = sim.holdout, holdout_report(model, s).customers["predicted"].to_numpy()
        maes[name] = float(np.mean(np.abs(pred - actual)))  # equal weights: the plain mean
    assert dict(comp.select("model", "holdout_mae").iter_rows()) == pytest.approx(maes, rel=1e-12)
    assert result.fit.purchase.name == min(maes, key=maes.__getitem__) == "pnbd"  # the generating model
    assert [m.name for m in result.fit.ranked] == sorted(maes, key=maes.__getitem__)


def test_uninformative_p_alive_warns() -> None:
    # By hand: mean P(alive) 0.99 and a = 0.004 with a standard error 0.010 > a: P(alive) tells nothing.
    weak = bgnbd({"r": 0.83, "alpha": 9.84, "a": 0.004, "b": 6.75}, {"r": 0.03, "alpha": 0.37, "a": 0.010, "b": 22.4})
    assert p_alive_warning(weak, 0.99) == (
        "P(alive) is uninformative: its mean is 0.990 and the drop-out parameter a = 0.004 has a standard error of 0.01, "
        "larger than itself: the data show too little drop-out to tell active from lapsed customers; read p_alive and long "
        "horizons with care")
    assert p_alive_warning(weak, 0.90) is None  # drop-out is visible in the data
    assert p_alive_warning(bgnbd({"r": 0.83, "alpha": 9.84, "a": 0.004, "b": 6.75}, {"a": 0.001}), 0.99) is None  # a is known
    # A seeded BG/NBD population that rarely drops out (a 0.05, b 5: 1 % per purchase): the fitted a has a
    # standard error far above its value and almost everyone looks alive.
    sim = simulate_purchases("bgnbd", {"r": 0.8, "alpha": 10.0, "a": 0.05, "b": 5.0}, 1000, seed=3)
    n = sim.x.size
    frame = pl.DataFrame({"customer_id": [f"c{i:04d}" for i in range(n)], "frequency": sim.x, "recency": sim.t_x, "T": sim.T,
                          "monetary_value": np.zeros(n), "weight": np.ones(n)})
    result = clv_analysis(Summary(frame=frame, time_unit="week", has_monetary=False), model="bgnbd")
    model = result.fit.purchase
    assert model.std_errors_["a"] > model.params_["a"] and result.customers["p_alive"].mean() > 0.95  # type: ignore[operator]
    assert sum(w.startswith("P(alive) is uninformative: its mean is 0.9") for w in result.warnings) == 1


def test_holdout_forecast_off_by_more_than_25_percent_warns() -> None:
    frame = pl.DataFrame({"customer_id": ["a", "b"], "frequency": [0.0, 2.0], "recency": [0.0, 5.0], "T": [10.0, 10.0],
                          "monetary_value": [0.0, 5.0], "weight": [1.0, 1.0], "holdout_frequency": [2.0, 6.0]})
    s = Summary(frame=frame, time_unit="week", holdout_length=4.0)
    # 8 made: 10 predicted is +25 % (the limit, no warning); 10.5 is +31 %; 5 is -38 %.
    assert holdout_report(FixedPredictions([4.0, 6.0]), s).warnings == []  # type: ignore[arg-type]
    assert holdout_report(FixedPredictions([4.0, 6.5]), s).warnings == [  # type: ignore[arg-type]
        "the holdout forecast is off by +31 % (10 purchases predicted, 8 made): the model does not track this period "
        "(a trend, seasonality, or a short calibration); read its predictions with care"]
    assert holdout_report(FixedPredictions([1.0, 4.0]), s).warnings[0].startswith("the holdout forecast is off by -38 % (5")  # type: ignore[arg-type]
    # Nobody bought in the holdout: no percentage (null, never NaN), no correlation of a constant.
    none = Summary(frame=frame.with_columns(holdout_frequency=pl.lit(0.0)), time_unit="week", holdout_length=4.0)
    metrics = holdout_report(FixedPredictions([1.0, 2.0]), none).metrics  # type: ignore[arg-type]
    assert metrics["total_error_pct"] is None and metrics["correlation"] is None
    assert all(v is None or math.isfinite(v) for v in metrics.values())
