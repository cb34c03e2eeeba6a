"""CLV fits and predictions: CDNOW published values, hand-checked formulas, degenerate inputs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from analyses_data import FixedPredictions
from polars.testing import assert_frame_equal
from refdata import reference

from fidelcli.analyses.clv import (
    ClvOptions,
    Fit,
    Summary,
    clv_analysis,
    discrete_summary_from_occasions,
    estimate_lifetime_years,
    fit_from_document,
    fit_models,
    historical_clv,
    margin_rates,
    model_document,
    predict_clv,
    read_summary,
    summary_from_occasions,
    summary_from_transactions,
    top_customers,
    value_tiers,
    weighted_value_tiers,
)
from fidelcli.analyses.holdout import holdout_report
from fidelcli.analyses.timeunits import Horizon, convert, parse_horizon, rate_per_period
from fidelcli.clean import clean_transactions
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.errors import ConfigError, FitError, ModelFileError
from fidelcli.io.read import scan_table
from fidelcli.models import BGBB, BGNBD, GammaGamma
from fidelcli.stats import weighted_median

D = dt.date


@pytest.fixture(scope="module")
def cdnow() -> Summary:
    tx = clean_transactions(scan_table(reference("clvtools_cdnow.csv"), "transactions"))
    return summary_from_transactions(tx, calibration_end=D(1997, 9, 30), time_unit="week", engine=DEFAULT_ENGINE)


@pytest.fixture(scope="module")
def cdnow_bgnbd(cdnow: Summary) -> Fit:
    return fit_models(cdnow, model="bgnbd")


def occasions(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame({
        "customer_id": [r[0] for r in rows], "occasion": [r[1] for r in rows],
        "date": [D.fromisoformat(r[1]) for r in rows], "value": [r[2] for r in rows],
    })


# ---------------------------------------------------------------- published CDNOW results
def test_cdnow_bgnbd_and_gamma_gamma_from_raw_transactions(cdnow_bgnbd: Fit) -> None:
    # Fader, Hardie & Lee (2005), Table 1 (BG/NBD): r 0.243, alpha 4.414, a 0.793, b 2.426, LL -9582.4.
    p = cdnow_bgnbd.purchase.params_
    assert [p["r"], p["alpha"], p["a"], p["b"]] == pytest.approx([0.243, 4.414, 0.793, 2.426], abs=5e-4)
    assert cdnow_bgnbd.purchase.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    # Fader & Hardie (2013), "The Gamma-Gamma model of monetary value": p 6.25, q 3.74, gamma 15.44;
    # correlation between frequency and mean spend 0.11.
    s = cdnow_bgnbd.spend
    assert s is not None
    assert [s.params_["p"], s.params_["q"], s.params_["v"]] == pytest.approx([6.25, 3.74, 15.44], abs=5e-3)
    assert cdnow_bgnbd.spend_frequency_correlation == pytest.approx(0.11, abs=0.005)


def test_cdnow_pareto_nbd(cdnow: Summary) -> None:
    # Fader, Hardie & Lee (2005), Table 1 (Pareto/NBD): r 0.553, alpha 10.578, s 0.606, beta 11.669, LL -9595.0.
    fit = fit_models(cdnow, model="pnbd")
    p = fit.purchase.params_
    assert [p["r"], p["alpha"], p["s"], p["beta"]] == pytest.approx([0.553, 10.578, 0.606, 11.669], abs=2e-3)
    assert fit.purchase.log_likelihood_ == pytest.approx(-9595.0, abs=0.05)


def test_cdnow_expected_holdout_purchases_match_hardie(cdnow: Summary, cdnow_bgnbd: Fit) -> None:
    # Hardie's BG/NBD spreadsheet note: a customer with x = 2, t_x = 30.43, T = 38.86 weeks is expected to
    # make 1.226 purchases in the next 39 weeks. Customer "1" of CDNOW has exactly that history.
    result = predict_clv(cdnow, cdnow_bgnbd, ClvOptions(horizon=Horizon(39, "week")))
    row = result.customers.filter(pl.col("customer_id") == "1").row(0, named=True)
    assert (row["frequency"], round(row["recency"], 2), round(row["T"], 2)) == (2.0, 30.43, 38.86)
    assert row["expected_purchases"] == pytest.approx(1.226, abs=5e-4)


def test_cdnow_holdout_report(cdnow: Summary, cdnow_bgnbd: Fit) -> None:
    report = holdout_report(cdnow_bgnbd.purchase, cdnow)
    ref_cbs = pl.read_csv(reference("btyd_cdnow_cbs_holdout.csv"))
    # Actual purchases are BTYD's x.star (1,882 repeat purchases in weeks 40-78).
    assert report.metrics["actual_total"] == ref_cbs["x.star"].sum() == 1882
    assert report.by_frequency["frequency"].to_list() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert report.by_frequency["customers"].sum() == 2357
    assert report.by_frequency.filter(pl.col("frequency") == "0")["customers"].item() == 1411
    # Weekly cumulative tracking of the actual repeat purchases equals BTYD's cu.tracking, week 1..78.
    ref = pl.read_csv(reference("btyd_cdnow_weekly_cum_repeat_tracking.csv"))
    assert report.tracking["week"].to_list() == ref["week"].to_list()
    assert report.tracking["actual"].to_list() == ref["cum_repeat_transactions"].to_list()
    assert report.tracking.filter(pl.col("holdout"))["week"].min() == 40  # weeks 40-78 are the holdout
    # The expected curve is the sum of E[X(t - s_i)] over the cohort: check week 78 independently.
    first_days = cdnow.frame.select((pl.col("first_purchase") - pl.lit(D(1997, 1, 1))).dt.total_days())[:, 0].to_numpy()
    expected_78 = cdnow_bgnbd.purchase.expected_purchases_new((546 - first_days) / 7).sum()
    assert report.tracking["expected"][-1] == pytest.approx(expected_78, rel=1e-12)


def test_auto_chooses_on_holdout_error(cdnow: Summary) -> None:
    # Issue 11, item 7c: `auto` used to keep the lowest BIC even with a holdout (mbgnbd on CDNOW, 0.59
    # BIC points from bgnbd: no real difference). With a holdout it now keeps the lowest mean absolute
    # error of the holdout purchases per customer.
    result = clv_analysis(cdnow, model="auto", options=ClvOptions(horizon=Horizon(39, "week")))
    comp = result.fit.comparison
    assert comp["model"].to_list() == ["bgnbd", "pnbd", "mbgnbd"]
    assert comp.columns == ["model", "log_likelihood", "parameters", "aic", "bic", "converged", "holdout_mae", "holdout_rmse",
                            "error", "best"]
    # AIC = 2k - 2 LL and BIC = k ln(n) - 2 LL with k = 4 parameters and n = 2,357 customers
    assert comp["aic"].to_list() == pytest.approx([8 - 2 * v for v in comp["log_likelihood"].to_list()])
    assert comp["bic"].to_list() == pytest.approx([4 * np.log(2357) - 2 * v for v in comp["log_likelihood"].to_list()])
    # Each model's holdout errors are those of its own holdout report (predicted vs BTYD's x.star).
    for name in ("bgnbd", "pnbd", "mbgnbd"):
        metrics = holdout_report(fit_models(cdnow, model=name).purchase, cdnow).metrics  # type: ignore[arg-type]
        row = comp.filter(pl.col("model") == name).row(0, named=True)
        assert (row["holdout_mae"], row["holdout_rmse"]) == pytest.approx((metrics["mae"], metrics["rmse"]), rel=1e-12)
    # MAE: bgnbd 0.7855, pnbd 0.7545, mbgnbd 0.7648 -> pnbd, although its BIC is the highest (-9595.0 LL).
    assert comp["holdout_mae"].to_list() == pytest.approx([0.7855, 0.7545, 0.7648], abs=5e-4)
    assert comp.filter("best")["model"].to_list() == ["pnbd"] == [result.fit.purchase.name]
    assert comp.sort("bic")["model"][0] == "mbgnbd"  # what the BIC alone would have kept
    assert result.fit.notes == ["model chosen on the holdout: pnbd has the lowest mean absolute error of holdout purchases "
                                "per customer (0.7545)"]


# ---------------------------------------------------------------- time units and formulas
def test_horizons_and_discount_rates() -> None:
    assert parse_horizon("12m") == Horizon(12, "month")
    assert parse_horizon("52w").length("week") == 52
    assert parse_horizon("365d").length("week") == pytest.approx(365 / 7)
    assert parse_horizon("1y").length("month") == pytest.approx(12)
    assert parse_horizon("12m").length("week") == pytest.approx(365.25 / 7)  # 52.18 weeks, not 52
    assert convert(1, "month", "day") == pytest.approx(30.4375)
    for bad in ["12", "m", "0m", "1.5m", "12x"]:
        with pytest.raises(ConfigError, match="is not a whole number of days, weeks, months or years"):
            parse_horizon(bad)
    # 10 % a year compounds to 1.1 ** (1/12) - 1 = 0.7974 % a month and 1.1 ** (7/365.25) - 1 a week.
    assert rate_per_period(0.1, "month") == pytest.approx(0.00797414043, rel=1e-9)
    assert rate_per_period(0.1, "week") == pytest.approx(1.1 ** (7 / 365.25) - 1, rel=1e-12)
    with pytest.raises(ConfigError):
        rate_per_period(-1.5, "month")


def test_lifetime_estimate_by_hand() -> None:
    # as_of 2024-01-01, first purchase of anyone 2022-01-01: span 730 days -> window 365 days,
    # earlier window [2022-01-01, 2023-01-01), last window [2023-01-01, 2024-01-01).
    customers = pl.DataFrame({
        "customer_id": ["A", "B", "C", "D"],
        "first_purchase": [D(2022, 1, 1), D(2022, 3, 1), D(2023, 2, 1), D(2022, 1, 1)],
        "last_purchase": [D(2023, 6, 1), D(2022, 11, 30), D(2023, 12, 1), D(2022, 1, 1)],
    })
    # Base: A, B, D (active in the earlier window; C arrived after it). Retained: A. Retention 1/3 over
    # 365 days -> annual retention (1/3) ** (365.25 / 365); lifetime 1 / (1 - that) = 1.4994 years.
    expected = 1 / (1 - (1 / 3) ** (365.25 / 365))
    assert estimate_lifetime_years(customers, as_of=D(2024, 1, 1)) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(1.4994, abs=1e-4)
    # Half a year of data: window = 184 // 2 = 92 days, mid 2023-10-01, start 2023-07-01.
    short = pl.DataFrame({
        "first_purchase": [D(2023, 7, 1), D(2023, 8, 1), D(2023, 9, 1), D(2023, 10, 5)],
        "last_purchase": [D(2023, 12, 1), D(2023, 8, 1), D(2023, 9, 30), D(2023, 12, 5)],
    })
    assert estimate_lifetime_years(short, as_of=D(2024, 1, 1)) == pytest.approx(1 / (1 - (1 / 3) ** (365.25 / 92)), rel=1e-12)
    # Nobody lost: no finite lifetime; a single day of data: not measurable.
    assert estimate_lifetime_years(customers.filter(pl.col("customer_id") == "A"), as_of=D(2024, 1, 1)) is None
    assert estimate_lifetime_years(short.head(1), as_of=D(2023, 7, 2)) is None


def test_summary_from_transactions_breaks_first_day_ties_by_order_id(tmp_path: Path) -> None:
    # Two orders on the first day: the first occasion is the smaller order id, whatever the row order.
    rows = [("a", "O2", "2024-01-01", 50.0), ("a", "O1", "2024-01-01", 10.0), ("a", "O3", "2024-01-08", 30.0),
            ("b", "O4", "2024-01-02", 5.0)]
    for name, ordered in (("t1.csv", rows), ("t2.csv", rows[::-1])):
        path = tmp_path / name
        path.write_text("customer_id,order_id,date,amount\n" + "".join(f"{c},{o},{d},{v}\n" for c, o, d, v in ordered))
        tx = clean_transactions(scan_table(path, "transactions"))
        # Order occasions (`clv` counts days by default, and the two orders of 2024-01-01 would be one).
        s = summary_from_transactions(tx, time_unit="day", occasion="order", engine=DEFAULT_ENGINE)
        # a: 3 occasions -> x = 2; repeat occasions O2 (50) and O3 (30) -> m = 40; t_x 7, T to 2024-01-08: 7.
        assert s.frame.select("customer_id", "frequency", "recency", "T", "monetary_value").rows() == [
            ("a", 2.0, 7.0, 7.0, 40.0), ("b", 0.0, 0.0, 6.0, 0.0)]


def test_historical_clv_is_yearly_profit_times_duration() -> None:
    # 200 €/year of profit for 5 years = 1,000 €.
    assert historical_clv(200.0, 5.0) == 1000.0


def bgnbd(r: float = 0.243, alpha: float = 4.414, a: float = 0.793, b: float = 2.426) -> BGNBD:
    return BGNBD.from_dict({"name": "bgnbd", "params": {"r": r, "alpha": alpha, "a": a, "b": b}, "log_likelihood": -1.0,
                            "n_customers": 3, "converged": True})


def gg() -> GammaGamma:
    return GammaGamma.from_dict({"name": "gamma_gamma", "params": {"p": 6.25, "q": 3.74, "v": 15.44}, "log_likelihood": -1.0,
                                 "n_customers": 2, "converged": True})


def small_summary() -> Summary:
    occ = occasions([
        ("a", "2023-01-02", 50.0), ("a", "2023-03-01", 30.0), ("a", "2023-06-01", 70.0), ("a", "2023-12-20", 50.0),
        ("b", "2023-06-05", 20.0), ("b", "2023-07-01", 20.0),
        ("c", "2023-09-01", 100.0),
    ])
    return summary_from_occasions(occ, as_of=D(2024, 1, 1), time_unit="week", engine=DEFAULT_ENGINE)


def test_discounted_clv_by_hand_in_monthly_steps() -> None:
    s = small_summary()
    fit = Fit(purchase=bgnbd(), spend=gg(), comparison=pl.DataFrame())
    opts = ClvOptions(horizon=parse_horizon("12m"), discount_rate=0.1, margin=0.3, lifetime_years=5.0)
    out = predict_clv(s, fit, opts).customers
    x, t_x, T = (s.frame[c].to_numpy() for c in ("frequency", "recency", "T"))
    m = s.frame["monetary_value"].to_numpy()
    step = 365.25 / 12 / 7  # one month in weeks
    cum = np.stack([bgnbd().expected_purchases(k * step, x, t_x, T) for k in range(13)], axis=1)
    monthly = 1.1 ** (1 / 12) - 1
    disc = (np.diff(cum, axis=1) / (1 + monthly) ** np.arange(1, 13)).sum(axis=1)
    spend = 6.25 * (15.44 + m * x) / (6.25 * x + 3.74 - 1)  # FH 2013 note, E(M | p, q, gamma, m_x, x)
    assert out["clv"].to_numpy() == pytest.approx(0.3 * spend * disc, rel=1e-10)
    assert out["expected_purchases"].to_numpy() == pytest.approx(cum[:, 12], rel=1e-10)
    assert out["expected_value"].to_numpy() == pytest.approx(spend, rel=1e-12)
    # Historical CLV: yearly profit x 5 years; every customer has < 1 year of history, counted as 1 year.
    # a: (50 + 30 + 70 + 50) x 0.3 = 60 €/year -> 300 €; b: 40 x 0.3 x 5 = 60; c: 100 x 0.3 x 5 = 150.
    assert out["historical_clv"].to_list() == pytest.approx([300.0, 60.0, 150.0])
    assert out.columns[:10] == ["customer_id", "frequency", "recency", "T", "monetary_value", "p_alive",
                                "expected_purchases", "expected_value", "clv", "value_tier"]


def test_high_potential_means_predicted_value_twice_the_past_pace() -> None:
    s = small_summary()
    fit = Fit(purchase=bgnbd(), spend=gg(), comparison=pl.DataFrame())
    out = predict_clv(s, fit, ClvOptions(horizon=parse_horizon("12m"), margin=1.0, lifetime_years=1.0)).customers
    # past pace over a 1-year horizon = yearly spend (a 200, b 40, c 100); high potential when the
    # predicted value is >= 2x that pace and >= the median predicted value.
    pace = np.array([200.0, 40.0, 100.0])
    clv = out["clv"].to_numpy()
    expected = (clv >= 2 * pace) & (clv >= np.median(clv))
    assert out["high_potential"].to_list() == expected.tolist()


def test_value_tiers_top_1_5_20_percent_and_ties() -> None:
    df = pl.DataFrame({"v": [float(i) for i in range(1, 201)]}).with_columns(tier=value_tiers(pl.col("v")))
    counts = dict(df.group_by("tier").len().iter_rows())
    assert counts == {"top 1%": 2, "top 5%": 8, "top 20%": 30, "other": 160}  # 1 % of 200 = 2, 5 % = 10, 20 % = 40
    assert df.filter(pl.col("v") >= 199)["tier"].to_list() == ["top 1%", "top 1%"]
    ties = pl.DataFrame({"v": [5.0, 5.0, 1.0, None]}).with_columns(tier=value_tiers(pl.col("v")))
    # 3 valued customers: every tier holds at least the best one; equal values share it; 1.0 is 3rd.
    assert ties["tier"].to_list() == ["top 1%", "top 1%", "other", "other"]


def test_top_customers_are_pseudonymised() -> None:
    s = small_summary()
    out = predict_clv(s, Fit(purchase=bgnbd(), spend=gg(), comparison=pl.DataFrame()), ClvOptions(lifetime_years=1.0)).customers
    top = top_customers(out, n=2, key=b"k")
    assert top.columns[0] == "customer" and "customer_id" not in top.columns
    assert not set(top["customer"]) & {"a", "b", "c"}
    assert top["customer"].str.len_chars().to_list() == [10, 10]
    assert top_customers(out, n=2, key=b"other")["customer"].to_list() != top["customer"].to_list()


# ---------------------------------------------------------------- model files, bootstrap
def test_model_document_shape_and_round_trip(cdnow: Summary, cdnow_bgnbd: Fit) -> None:
    doc = model_document(cdnow_bgnbd, time_unit="week", calibration_end=D(1997, 9, 30), version="9.9")
    assert list(doc) == ["fidelcli_version", "time_unit", "calibration_end", "purchase_model", "spend_model"]
    assert list(doc["purchase_model"]) == ["name", "params", "log_likelihood", "n_customers", "std_errors"]
    assert list(doc["purchase_model"]["params"]) == ["r", "alpha", "a", "b"]
    assert list(doc["spend_model"]) == ["name", "params", "log_likelihood", "n_customers"]
    assert list(doc["spend_model"]["params"]) == ["p", "q", "v"]
    assert doc["purchase_model"]["n_customers"] == 2357 and doc["spend_model"]["n_customers"] == 946
    assert doc["calibration_end"] == "1997-09-30"
    loaded, unit, cal = fit_from_document(json.loads(json.dumps(doc)))
    assert (unit, cal) == ("week", D(1997, 9, 30))
    opts = ClvOptions(horizon=Horizon(39, "week"), lifetime_years=2.0)
    assert_frame_equal(predict_clv(cdnow, loaded, opts).customers, predict_clv(cdnow, cdnow_bgnbd, opts).customers)
    with pytest.raises(ModelFileError, match="unknown purchase model 'xyz'"):
        fit_from_document({**doc, "purchase_model": {**doc["purchase_model"], "name": "xyz"}})


def simulate_bgnbd_gg(n: int, seed: int) -> pl.DataFrame:
    """Customers drawn from BG/NBD (r 0.25, alpha 4, a 0.8, b 2.5) and Gamma-Gamma (p 6, q 4, gamma 15)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.25, 1 / 4.0, n)
    drop = rng.beta(0.8, 2.5, n)
    T = rng.uniform(30, 40, n)
    times = np.cumsum(rng.exponential(1.0, (n, 60)) / lam[:, None], axis=1)
    purchases_before_drop = rng.geometric(drop)  # dies right after this repeat purchase
    x = np.minimum((times < T[:, None]).sum(axis=1), purchases_before_drop)
    t_x = np.where(x > 0, times[np.arange(n), np.maximum(x - 1, 0)], 0.0)
    nu = rng.gamma(4.0, 1 / 15.0, n)
    m = np.where(x > 0, rng.gamma(6.0 * np.maximum(x, 1), 1 / nu) / np.maximum(x, 1), 0.0)
    return pl.DataFrame({"frequency": x.astype(float), "recency": t_x, "T": T, "monetary_value": m})


def test_bootstrap_intervals_are_seeded_and_bracket_the_estimate() -> None:
    s = read_summary(simulate_bgnbd_gg(600, seed=7))
    fit = fit_models(s, model="bgnbd")
    opts = ClvOptions(horizon=Horizon(26, "week"), ci=0.9, n_bootstrap=8, seed=3, lifetime_years=1.0)
    a = predict_clv(s, fit, opts).customers
    assert_frame_equal(a, predict_clv(s, fit, opts).customers)  # same seed, same intervals
    assert (a["expected_purchases_lower"] <= a["expected_purchases_upper"]).all()
    assert (a["clv_lower"] < a["clv_upper"]).all()
    inside = ((a["clv_lower"] <= a["clv"] * (1 + 1e-9)) & (a["clv"] <= a["clv_upper"] * (1 + 1e-9))).mean()
    assert inside > 0.9  # type: ignore[operator]
    other = predict_clv(s, fit, ClvOptions(horizon=Horizon(26, "week"), ci=0.9, n_bootstrap=8, seed=4, lifetime_years=1.0)).customers
    assert not other["clv_lower"].equals(a["clv_lower"])


# ---------------------------------------------------------------- degenerate inputs
def test_everyone_bought_once_is_a_clear_fit_error() -> None:
    s = summary_from_occasions(occasions([("a", "2024-01-01", 1.0), ("b", "2024-02-01", 2.0)]), as_of=D(2024, 4, 1), engine=DEFAULT_ENGINE)
    with pytest.raises(FitError, match=r"^no purchase model could be fitted \(bgnbd, pnbd, mbgnbd\); bgnbd: no customer made a repeat purchase") as err:
        clv_analysis(s)
    assert err.value.hint == "use a longer calibration period, or a historical CLV"


def test_one_customer_is_a_clear_fit_error() -> None:
    s = summary_from_occasions(occasions([("a", "2024-01-01", 1.0), ("a", "2024-02-01", 2.0)]), as_of=D(2024, 4, 1), engine=DEFAULT_ENGINE)
    with pytest.raises(FitError, match="1 distinct customer histories cannot identify 4 parameters"):
        clv_analysis(s, model="bgnbd")


def test_all_purchases_on_the_calibration_end_day_is_a_clear_fit_error() -> None:
    s = summary_from_occasions(occasions([("a", "2024-01-01", 1.0), ("b", "2024-01-01", 2.0)]), as_of=D(2024, 1, 2), engine=DEFAULT_ENGINE)
    assert s.frame["T"].to_list() == [0.0, 0.0]
    with pytest.raises(FitError, match="every customer has T = 0"):
        clv_analysis(s, model="pnbd")


def test_bgbb_needs_a_discrete_summary() -> None:
    with pytest.raises(ConfigError, match="model bgbb does not apply to a continuous-time summary"):
        fit_models(small_summary(), model="bgbb")


def test_holdout_metrics_by_hand() -> None:
    frame = pl.DataFrame({
        "customer_id": ["a", "b", "c", "d"], "frequency": [0.0, 1.0, 8.0, 1.0], "recency": [0.0, 2.0, 9.0, 3.0],
        "T": [10.0, 10.0, 10.0, 10.0], "monetary_value": [0.0, 5.0, 5.0, 5.0], "weight": [1.0, 1.0, 1.0, 1.0],
        "holdout_frequency": [0.0, 2.0, 6.0, 0.0],
    })
    s = Summary(frame=frame, time_unit="week", holdout_length=4.0)
    report = holdout_report(FixedPredictions([0.5, 1.0, 7.0, 1.5]), s)  # type: ignore[arg-type]
    # errors: +0.5, -1, +1, +1.5 -> MAE = 4/4 = 1; RMSE = sqrt((0.25 + 1 + 1 + 2.25) / 4) = sqrt(1.125)
    assert report.metrics["mae"] == pytest.approx(1.0)
    assert report.metrics["rmse"] == pytest.approx(1.125 ** 0.5)
    # actual 8 vs predicted 10 -> +25 %; correlation of (0, 2, 6, 0) and (0.5, 1, 7, 1.5)
    assert (report.metrics["actual_total"], report.metrics["predicted_total"]) == (8.0, 10.0)
    assert report.metrics["total_error_pct"] == pytest.approx(25.0)
    assert report.metrics["correlation"] == pytest.approx(np.corrcoef([0, 2, 6, 0], [0.5, 1, 7, 1.5])[0, 1])
    assert_frame_equal(report.by_frequency, pl.DataFrame({
        "frequency": ["0", "1", "7+"], "customers": [1, 2, 1], "actual": [0.0, 1.0, 6.0], "predicted": [0.5, 1.25, 7.0],
    }))
    assert report.tracking.height == 0  # no occasions: a summary table has no weekly tracking


# ---------------------------------------------------------------- regressions (review of issue #5)
def write_tx(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_margin_column_uses_calibration_transactions_only_and_clips(tmp_path: Path) -> None:
    src = write_tx(tmp_path / "tx.csv", "customer_id,date,amount,margin\n"
                   "a,2024-01-10,100,20\n"
                   "a,2024-03-10,100,80\n"      # after the calibration end: must not count
                   "b,2024-01-12,50,60\n"       # margin above the amount: 1.2 -> clipped to 1
                   "c,2024-01-20,40,-10\n")     # negative margin: -0.25 -> clipped to 0
    tx = clean_transactions(scan_table(src, "transactions"))
    rates, warnings = margin_rates(tx, calibration_end=D(2024, 2, 1), engine=DEFAULT_ENGINE)
    # a: 20 / 100 = 0.2 (the holdout line 80 / 100 would make it 100 / 200 = 0.5)
    expected = pl.DataFrame({"customer_id": ["a", "b", "c"], "margin_rate": [0.2, 1.0, 0.0]})
    assert_frame_equal(rates, expected)
    assert warnings == ["2 customers have a margin rate outside [0, 1] (negative margin or margin above the amount): clipped to [0, 1]"]
    everything, _ = margin_rates(tx, engine=DEFAULT_ENGINE)
    assert everything["margin_rate"].to_list() == [0.5, 1.0, 0.0]  # a: (20 + 80) / (100 + 100)


def test_discrete_mid_period_calibration_end_counts_each_occasion_once() -> None:
    occ = occasions([
        ("a", "2019-03-01", 10.0), ("a", "2020-05-01", 20.0), ("a", "2020-06-01", 30.0), ("a", "2022-01-05", 40.0),
        ("a", "2024-02-01", 5.0),
        ("b", "2020-12-31", 10.0), ("b", "2023-07-01", 9.0),
        ("c", "2023-02-01", 1.0),
    ])
    s = discrete_summary_from_occasions(occ, as_of=D(2024, 6, 1), calibration_end=D(2022, 6, 30), time_unit="year", engine=DEFAULT_ENGINE)
    # Calibration = complete years up to 2022-06-30 = 2019..2021; holdout = 2022 and 2023 (2024 is incomplete).
    expected = pl.DataFrame({
        "customer_id": ["a", "b"],
        "frequency": [1.0, 0.0],        # a: 2020 only (2022-01-05 belongs to the holdout)
        "recency": [1.0, 0.0],
        "periods": [2.0, 1.0],          # a: 2020, 2021; b: 2021
        "monetary_value": [25.0, 0.0],  # a: (20 + 30) / 2 repeat occasions, not (20 + 30 + 40) / 3
        "weight": [1.0, 1.0],
        "first_purchase": [D(2019, 3, 1), D(2020, 12, 31)],
        "last_purchase": [D(2020, 6, 1), D(2020, 12, 31)],  # 2022-01-05 is in the holdout
        "revenue": [60.0, 10.0],        # a: 10 + 20 + 30 (the 40 of 2022 is holdout revenue only)
        "holdout_frequency": [1.0, 1.0],  # a: 2022; b: 2023
        "holdout_value": [40.0, 9.0],
    })
    assert_frame_equal(s.frame, expected)
    # every occasion value of the cohort is counted exactly once: 10+20+30+40 + 10+9 = 119
    assert s.frame["revenue"].sum() + s.frame["holdout_value"].sum() == 119.0
    assert s.calibration_end == D(2021, 12, 31) and s.holdout_length == 2.0
    assert s.warnings == ["calibration end 2022-06-30 is inside a year: the calibration is the complete years up to "
                          "2021-12-31 and the holdout starts on 2022-01-01"]


def test_historical_clv_same_definition_from_transactions_and_summary_table() -> None:
    s = small_summary()
    fit = Fit(purchase=bgnbd(), spend=gg(), comparison=pl.DataFrame())
    opts = ClvOptions(margin=0.3, lifetime_years=5.0)
    from_tx = predict_clv(s, fit, opts).customers
    # The same customers as a summary table; c (a one-time buyer) has her single purchase as m.
    table = read_summary(s.frame.select("customer_id", "frequency", "recency", "T",
                                        monetary_value=pl.when(pl.col("frequency") == 0).then(100.0).otherwise("monetary_value")))
    from_table = predict_clv(table, fit, opts).customers
    # total spend: a (3 + 1) x 50 = 200 (50 + 30 + 70 + 50); b 2 x 20 = 40; c 1 x 100 = 100; all < 1 year old
    # -> yearly profit x 0.3 x 5 years = 300, 60, 150, from both sources.
    assert from_tx["historical_clv"].to_list() == pytest.approx([300.0, 60.0, 150.0])
    assert from_table["historical_clv"].to_list() == pytest.approx([300.0, 60.0, 150.0])


def test_high_potential_does_not_flag_one_time_buyers_of_a_summary_table() -> None:
    # BTYD CDNOW table: one-time buyers have m.x = 0, so their past value is unknown: never high potential.
    raw = pl.read_csv(reference("btyd_cdnow_cbs_holdout.csv"))
    s = read_summary(raw, time_unit="week")
    out = predict_clv(s, fit_models(s, model="bgnbd"), ClvOptions(lifetime_years=3.0)).customers
    once = out.filter(pl.col("frequency") == 0)
    assert once.height == 1411 and once["high_potential"].sum() == 0
    # Repeat buyers: high potential = clv >= 2 x yearly spend x 1 year and >= the median clv, by hand.
    years = (out["T"] * 7 / 365.25).clip(lower_bound=1.0)
    yearly = (out["frequency"] + 1) * out["monetary_value"] / years
    clv = out["clv"]
    expected = (yearly > 0) & (clv >= 2 * yearly) & (clv >= clv.median())
    assert out["high_potential"].to_list() == expected.to_list()


def test_discounted_clv_does_not_depend_on_how_the_horizon_is_written() -> None:
    s = small_summary()
    fit = Fit(purchase=bgnbd(), spend=gg(), comparison=pl.DataFrame())
    clv = {h: predict_clv(s, fit, ClvOptions(horizon=parse_horizon(h), margin=0.3, lifetime_years=1.0)).customers["clv"].to_numpy()
           for h in ("1y", "12m", "52w", "365d")}
    assert clv["1y"] == pytest.approx(clv["12m"], rel=1e-12)  # both 12 monthly steps of 1/12 year
    assert clv["52w"] == pytest.approx(clv["12m"], rel=0.01)
    assert clv["365d"] == pytest.approx(clv["12m"], rel=0.01)
    # 52w by hand: round(364 days / 30.4375) = 12 equal steps of 364/12 days = 52/12 weeks each,
    # discounted at 1.1 ** (364 / 12 / 365.25) - 1 per step.
    x, t_x, T = (s.frame[c].to_numpy() for c in ("frequency", "recency", "T"))
    m = s.frame["monetary_value"].to_numpy()
    cum = np.stack([bgnbd().expected_purchases(k * 52 / 12, x, t_x, T) for k in range(13)], axis=1)
    d = 1.1 ** (364 / 12 / 365.25) - 1
    disc = (np.diff(cum, axis=1) / (1 + d) ** np.arange(1, 13)).sum(axis=1)
    spend = 6.25 * (15.44 + m * x) / (6.25 * x + 3.74 - 1)
    assert clv["52w"] == pytest.approx(0.3 * spend * disc, rel=1e-10)


def bgbb_fit() -> Fit:
    # Fader, Hardie & Shang (2010) donations: alpha 1.204, beta 0.750, gamma 0.657, delta 2.783
    model = BGBB.from_dict({"name": "bgbb", "params": {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783},
                            "log_likelihood": -1.0, "n_customers": 3, "converged": True})
    return Fit(purchase=model, spend=None, comparison=pl.DataFrame())


def test_bgbb_horizon_shorter_than_a_period_is_an_error_and_partial_periods_are_floored() -> None:
    s = read_summary(pl.DataFrame({"frequency": [6, 3, 0], "recency": [6, 4, 0], "periods": [6, 6, 6]}), time_unit="year", discrete=True)
    with pytest.raises(ConfigError, match=r"^horizon 6m is shorter than one year, the period of the BG/BB model") as err:
        predict_clv(s, bgbb_fit(), ClvOptions(horizon=parse_horizon("6m"), lifetime_years=1.0))
    assert err.value.hint == "give a horizon of at least one year, e.g. --horizon 1y"
    # 18 months = 1.5 years: floored to 1 whole year, with a warning.
    partial = predict_clv(s, bgbb_fit(), ClvOptions(horizon=parse_horizon("18m"), lifetime_years=1.0))
    whole = predict_clv(s, bgbb_fit(), ClvOptions(horizon=parse_horizon("1y"), lifetime_years=1.0))
    assert partial.customers["expected_purchases"].to_list() == whole.customers["expected_purchases"].to_list()
    assert "horizon 18m is 1.5 years: BG/BB predicts whole periods, the horizon used is 1 year" in partial.warnings
    assert not any("whole periods" in w for w in whole.warnings)


def weighted_table() -> Summary:
    return read_summary(pl.DataFrame({
        "frequency": [10.0, 5.0, 2.0, 0.0], "recency": [50.0, 40.0, 30.0, 0.0], "T": [52.0] * 4,
        "monetary_value": [100.0, 50.0, 30.0, 0.0], "weight": [1.0, 4.0, 15.0, 80.0]}))


def test_weighted_summary_totals_tiers_and_median_count_customers() -> None:
    s = weighted_table()
    result = predict_clv(s, Fit(purchase=bgnbd(), spend=gg(), comparison=pl.DataFrame()), ClvOptions(lifetime_years=1.0))
    out = result.customers
    clv, ep = out["clv"].to_numpy(), out["expected_purchases"].to_numpy()
    assert (np.diff(clv) < 0).all()  # rows in decreasing clv order (precondition of the tiers below)
    # 100 customers: customers ahead of each row 0, 1, 5, 20 -> top 1 % (< 1), top 5 % (< 5), top 20 % (< 20), other.
    assert out["value_tier"].to_list() == ["top 1%", "top 5%", "top 20%", "other"]
    # totals count customers: sum of value x weight
    w = np.array([1.0, 4.0, 15.0, 80.0])
    assert result.totals["customers"] == 100.0
    assert result.totals["total_expected_purchases"] == pytest.approx(ep @ w, rel=1e-12)
    assert result.totals["total_clv"] == pytest.approx(clv @ w, rel=1e-12)
    # weighted median: the 50th customer is in the last row (80 customers of the lowest clv)
    assert weighted_median(out["clv"], out["weight"]) == clv[3]
    # row 4 has no known past value (m = 0); rows 1-3 are high potential iff clv >= 2 x past pace and >= clv[3].
    yearly = np.array([11 * 100.0, 6 * 50.0, 3 * 30.0, 0.0])  # (x + 1) m / 1 year (T = 52 weeks < 1 year)
    expected = (yearly > 0) & (clv >= 2 * yearly) & (clv >= clv[3])
    assert out["high_potential"].to_list() == expected.tolist()
    assert result.totals["high_potential_customers"] == pytest.approx(float(w @ expected))
    # the per-customer output keeps the weight column of the input
    assert out["weight"].to_list() == w.tolist() and out.columns.index("weight") == out.columns.index("monetary_value") + 1
    # without a weight column there is none in the output
    plain = read_summary(s.frame.select("frequency", "recency", "T", "monetary_value"))
    assert "weight" not in predict_clv(plain, Fit(purchase=bgnbd(), spend=gg(), comparison=pl.DataFrame()),
                                       ClvOptions(lifetime_years=1.0)).customers.columns


def test_weighted_median_and_tiers_with_unit_weights_are_the_plain_ones() -> None:
    v = pl.Series([4.0, 1.0, 3.0, 2.0])
    assert weighted_median(v, pl.Series([1.0] * 4)) == 2.5  # (2 + 3) / 2, the plain median
    assert weighted_median(v, pl.Series([1.0, 1.0, 1.0, 3.0])) == 2.0  # 6 customers: 3rd and 4th both 2.0
    df = pl.DataFrame({"v": [float(i % 37) for i in range(200)], "weight": [1.0] * 200})
    assert weighted_value_tiers(df, "v").to_list() == df.select(value_tiers(pl.col("v"))).to_series().to_list()


def test_spend_model_failure_reports_purchases_and_leaves_clv_null() -> None:
    sim = simulate_bgnbd_gg(600, seed=7)
    # Only 2 repeat customers keep a positive spend: the Gamma-Gamma cannot be fitted.
    keep = sim.with_row_index().filter(pl.col("frequency") > 0)["index"][:2]
    s = read_summary(sim.with_row_index().with_columns(
        monetary_value=pl.when(pl.col("index").is_in(keep)).then("monetary_value").otherwise(0.0)).drop("index"))
    result = clv_analysis(s, model="bgnbd", options=ClvOptions(lifetime_years=1.0))
    out = result.customers
    assert result.fit.spend is None
    assert out["expected_value"].null_count() == out["clv"].null_count() == 600
    assert out["p_alive"].null_count() == out["expected_purchases"].null_count() == 0
    assert result.totals["total_clv"] is None
    assert ("gamma_gamma: only 2 customer(s) with repeat purchases and a positive spend: expected_value and clv are "
            "left empty (expected purchases and P(alive) are reported)") in result.warnings
    # tiers fall back to expected purchases
    top = out.filter(pl.col("value_tier") == "top 1%")
    assert top.height == 6 and top["expected_purchases"].min() >= out["expected_purchases"].sort(descending=True)[5]


@pytest.mark.parametrize("years", [0.0, -2.0, float("nan")])
def test_lifetime_must_be_positive(years: float) -> None:
    with pytest.raises(ConfigError, match=r"^--lifetime must be a number of years > 0"):
        predict_clv(small_summary(), Fit(purchase=bgnbd(), spend=gg(), comparison=pl.DataFrame()), ClvOptions(lifetime_years=years))
