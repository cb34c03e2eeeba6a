"""Subscriptions: periods, Kaplan-Meier survival, sBG (Fader & Hardie 2007), lifetime and CLV, CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from refdata import reference
from scipy.special import betaln
from typer.testing import CliRunner

from fidelcli.analyses.subscription import kaplan_meier, subscription_analysis
from fidelcli.cli.app import app
from fidelcli.engine import DEFAULT_ENGINE
from fidelcli.engine.polars_subscriptions import durations
from fidelcli.errors import ConfigError, FitError, InputError

D = dt.date
SMALL = """customer_id,start_date,end_date,plan,price
a,2024-01-15,2024-03-10,basic,10
b,2024-01-20,,basic,10
c,2024-02-01,2024-02-29,pro,20
d,2024-02-10,,pro,20
e,2024-03-05,2024-05-04,basic,10
f,2024-03-05,2024-07-01,basic,10
"""


def small() -> pl.LazyFrame:
    return pl.read_csv(SMALL.encode(), try_parse_dates=True, schema_overrides={"end_date": pl.Date}).lazy()


def test_periods_by_hand() -> None:
    d = durations(small(), period="month", as_of=D(2024, 6, 1))
    expected = pl.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e", "f"],
        "active": [False, True, False, True, False, True],
        # a: 15 Jan -> 10 Mar ends in its 2nd month; b: 20 Jan -> 1 Jun = 4 whole months completed;
        # c: 1 Feb -> 29 Feb ends in its 1st month; d: 10 Feb -> 1 Jun = 3 whole months;
        # e: 5 Mar -> 4 May ends in its 2nd month; f ends after as_of, so still active: 2 whole months.
        "periods": [2, 4, 1, 3, 2, 2],
        "cohort": [D(2024, 1, 1), D(2024, 1, 1), D(2024, 2, 1), D(2024, 2, 1), D(2024, 3, 1), D(2024, 3, 1)],
    })
    assert_frame_equal(d.select("customer_id", "active", "periods", "cohort"), expected)
    q = durations(small(), period="quarter", as_of=D(2024, 6, 1))
    assert q["periods"].to_list() == [1, 1, 1, 1, 1, 0]  # f: 5 Mar -> 1 Jun is not a full quarter


def test_kaplan_meier_by_hand() -> None:
    d = durations(small(), period="month", as_of=D(2024, 6, 1))
    km = kaplan_meier(d)
    # period 1: 6 at risk (periods >= 1), c churned -> 5/6; period 2: 5 at risk, a and e churned -> 3/5;
    # period 3: b, d at risk, none churned; period 4: b only.
    expected = pl.DataFrame({
        "period": [0, 1, 2, 3, 4], "at_risk": [6, 6, 5, 2, 1], "churned": [0, 1, 2, 0, 0],
        "churn_rate": [None, 1 / 6, 2 / 5, 0.0, 0.0],
        "retention_rate": [None, 5 / 6, 3 / 5, 1.0, 1.0], "survival": [1.0, 5 / 6, 5 / 6 * 3 / 5, 0.5, 0.5],
    }, schema_overrides={"period": pl.Int64, "at_risk": pl.Int64, "churned": pl.Int64})
    assert_frame_equal(km, expected)


def cohort_from_curve(alive: list[int], price: float = 10.0) -> pl.LazyFrame:
    """One yearly cohort of 1,000 starting 2000-01-01 that follows a survivor curve (years 0..7)."""
    starts, ends = [], []
    for year in range(1, len(alive)):
        lost = alive[year - 1] - alive[year]
        starts += [D(2000, 1, 1)] * lost
        ends += [D(2000 + year, 1, 1) - dt.timedelta(days=1)] * lost  # ended during year `year`
    starts += [D(2000, 1, 1)] * alive[-1]
    ends += [None] * alive[-1]
    return pl.DataFrame({"customer_id": [str(i) for i in range(len(starts))], "start_date": starts, "end_date": ends,
                         "price": [price] * len(starts)}, schema_overrides={"end_date": pl.Date}).lazy()


@pytest.mark.parametrize(
    ("column", "alpha", "beta"),
    [("regular", 0.704, 1.182), ("high_end", 0.668, 3.806)],  # Fader & Hardie (2007), sBG fits on years 1-7
)
def test_fader_hardie_2007_survivor_curves(column: str, alpha: float, beta: float) -> None:
    data = pl.read_csv(reference("fader_hardie_2007_sbg_retention.csv"))
    alive = [round(v * 10) for v in data.filter(pl.col("year") <= 7)[column].to_list()]
    # as_of is exclusive: 2007-01-02 observes the 7th renewal on 2007-01-01.
    result = subscription_analysis(cohort_from_curve(alive), period="year", as_of=D(2007, 1, 2), projection=5, engine=DEFAULT_ENGINE)
    assert (result.model.params_["alpha"], result.model.params_["beta"]) == pytest.approx((alpha, beta), abs=1e-3)
    all_ = result.survival.filter(pl.col("cohort") == "all")
    # Observed Kaplan-Meier survival is the published curve; the projection runs to year 12.
    assert all_.filter(~pl.col("projected"))["survival"].to_list() == pytest.approx([a / 1000 for a in alive])
    assert all_["period"].max() == 12 and all_.filter(pl.col("projected")).height == 5
    # Projection vs the held-out years 8-12 of the paper: within 2 points of the actual share (FH 2007, fig. 3).
    later = data.filter(pl.col("year") >= 8)[column].to_numpy() / 100
    projected = all_.filter(pl.col("projected"))["sbg_survival"].to_numpy()
    assert np.abs(projected - later).max() < 0.02


def test_remaining_lifetime_and_clv() -> None:
    result = subscription_analysis(cohort_from_curve([1000, 631, 468, 382, 326, 289, 262, 241], price=10.0),
                                   period="year", as_of=D(2007, 1, 2), discount_rate=0.1, engine=DEFAULT_ENGINE)  # 2007-01-01 observed
    a, b = result.model.params_["alpha"], result.model.params_["beta"]
    active = result.subscribers.filter(pl.col("active"))
    assert active["periods"].unique().to_list() == [7]
    # DERL by its series (Fader & Hardie 2010): sum over t > n of S(t)/S(n) / 1.1^(t-n-1), n = 7 renewals.
    t = np.arange(8, 20000)
    series = np.exp(betaln(a, b + t) - betaln(a, b + 7) - (t - 8) * np.log(1.1)).sum()
    assert active["discounted_remaining_lifetime"][0] == pytest.approx(series, rel=1e-6)
    assert active["clv"][0] == pytest.approx(10.0 * series, rel=1e-6)
    assert result.subscribers.filter(~pl.col("active"))["clv"].unique().to_list() == [0.0]
    assert result.discount_rate_per_period == pytest.approx(0.1)  # yearly periods: the annual rate itself


def test_no_churn_is_a_clear_fit_error() -> None:
    lf = pl.DataFrame({"customer_id": ["a", "b"], "start_date": [D(2024, 1, 1), D(2024, 2, 1)]}).lazy()
    with pytest.raises(FitError, match="sbg: no subscription has ended"):
        subscription_analysis(lf, as_of=D(2024, 6, 1), engine=DEFAULT_ENGINE)


def test_end_before_start_names_the_row() -> None:
    lf = small().with_columns(end_date=pl.when(pl.col("customer_id") == "c").then(pl.lit(D(2023, 1, 1))).otherwise(pl.col("end_date")))
    with pytest.raises(InputError, match="end_date is before start_date") as err:
        subscription_analysis(lf, engine=DEFAULT_ENGINE)
    assert err.value.row == 3


def test_cli_outputs_and_model_file(tmp_path: Path) -> None:
    src = tmp_path / "subs.csv"
    src.write_text(SMALL)
    out, model = tmp_path / "subscribers.csv", tmp_path / "sbg.json"
    r = CliRunner().invoke(app, ["subscription", "--subscriptions", str(src), "--as-of", "2024-06-01", "--projection", "2",
                                 "-o", str(out), "--save-model", str(model), "--format", "csv"])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(model.read_text())
    assert list(doc) == ["fidelcli_version", "period", "model"]
    assert doc["period"] == "month"
    assert list(doc["model"]) == ["name", "params", "log_likelihood"] and doc["model"]["name"] == "sbg"
    assert list(doc["model"]["params"]) == ["alpha", "beta"]
    subs = pl.read_csv(out)
    assert subs.columns == ["customer_id", "cohort", "plan", "price", "start_date", "end_date", "active", "periods",
                            "expected_remaining_periods", "discounted_remaining_lifetime", "clv"]
    surv = pl.read_csv(r.stdout.encode())
    assert surv.filter(pl.col("cohort") == "all")["period"].to_list() == [0, 1, 2, 3, 4, 5, 6]


def test_sbg_recovers_simulated_parameters_from_dates() -> None:
    # Seeded simulation with known truth: theta ~ Beta(0.7, 3.8); a subscriber leaves at the end of
    # month T ~ Geometric(theta) (end = start + T months); starts spread over two years.
    rng = np.random.default_rng(11)
    n = 4000
    theta = rng.beta(0.7, 3.8, n)
    months = np.minimum(rng.geometric(theta), 1000)
    start_day = rng.integers(0, 730, n)
    df = pl.DataFrame({"customer_id": [f"s{i}" for i in range(n)], "day": start_day, "months": months}).select(
        "customer_id",
        start_date=pl.lit(D(2022, 1, 1)) + pl.duration(days=pl.col("day")),
        months="months",
    ).with_columns(end=pl.col("start_date").dt.offset_by(pl.format("{}mo", pl.col("months"))))
    as_of = D(2024, 7, 1)
    lf = df.select("customer_id", "start_date", end_date=pl.when(pl.col("end") < as_of).then("end")).lazy()
    result = subscription_analysis(lf, as_of=as_of, engine=DEFAULT_ENGINE)
    params, se = result.model.params_, result.model.std_errors_
    assert abs(params["alpha"] - 0.7) < 2.5 * se["alpha"]
    assert abs(params["beta"] - 3.8) < 2.5 * se["beta"]
    # The durations are the simulated months for every subscription that ended before as_of.
    ended = df.filter(pl.col("end") < as_of).sort("start_date", "customer_id")
    got = result.subscribers.filter(~pl.col("active")).sort("start_date", "customer_id")
    assert got["periods"].to_list() == ended["months"].to_list()


# ---------------------------------------------------------------- regressions (review of issue #5)
def test_subscription_boundary_as_of_is_exclusive() -> None:
    lf = pl.DataFrame({"customer_id": ["a"], "start_date": [D(2024, 1, 15)], "end_date": [D(2024, 3, 15)]}).lazy()
    # --as-of 2024-03-15: the last observed day is 14 Mar, the end (15 Mar) is not observed yet, so
    # the subscription is active; renewals observed: 15 Feb only (15 Mar is not observed) -> 1.
    before = durations(lf, period="month", as_of=D(2024, 3, 15))
    assert before.select("active", "periods").row(0) == (True, 1)
    # --as-of 2024-03-16: the end on 15 Mar (its 2nd renewal date) is observed: churned in period 2,
    # having survived 1 renewal (15 Feb).
    after = durations(lf, period="month", as_of=D(2024, 3, 16))
    assert after.select("active", "periods").row(0) == (False, 2)
    # Observing one more day never removes a renewal: survived renewals (periods if active, else
    # periods - 1) never decrease from as_of 16 Jan to 1 May: 0 until 15 Feb is observed, then 1.
    renewals = [
        int(r["periods"][0]) - (0 if r["active"][0] else 1)
        for r in (durations(lf, period="month", as_of=D(2024, 1, 16) + dt.timedelta(days=i)) for i in range(106))
    ]
    assert renewals == sorted(renewals)
    assert renewals[0] == 0 and renewals[-1] == 1
    # first day with 1 renewal: as_of 16 Feb (15 Feb observed) = index 31
    assert renewals.index(1) == 31


def test_default_as_of_ignores_scheduled_future_terminations() -> None:
    lf = pl.DataFrame({
        "customer_id": ["a", "b", "c"],
        "start_date": [D(2024, 1, 10), D(2024, 2, 1), D(2024, 5, 20)],
        "end_date": [D(2024, 4, 10), D(2099, 12, 31), None],  # b: a termination scheduled far ahead
    }, schema_overrides={"end_date": pl.Date}).lazy()
    result = subscription_analysis(lf, today=D(2024, 6, 30), engine=DEFAULT_ENGINE)
    # Latest date not after today: start of c, 2024-05-20 -> as_of = 2024-05-21 (not 2100-01-01).
    assert result.as_of == D(2024, 5, 21)
    subs = result.subscribers.sort("customer_id")
    # b's end (2099) is on or after as_of: not churn yet. b: 1 Feb -> last day 20 May = 3 renewals.
    assert subs["active"].to_list() == [False, True, True]
    assert subs["periods"].to_list() == [3, 3, 0]  # a ends 10 Apr (its 3rd renewal date): churned in period 3


@pytest.mark.parametrize("rate", [-0.05, -1.0, -1.5, 1.0, 10.0, float("nan")])
def test_subscription_discount_rate_out_of_range_is_a_config_error(rate: float) -> None:
    # One rule for every command (fidelcli.stats.check_discount_rate): an annual rate >= 0 and < 1.
    # -0.05 used to pass this check and fail later in the sBG (the lifetime sums diverge).
    with pytest.raises(ConfigError, match=r"^discount rate must be an annual rate >= 0 and < 1") as err:
        subscription_analysis(small(), as_of=D(2024, 6, 1), discount_rate=rate, engine=DEFAULT_ENGINE)
    assert err.value.hint == "give a yearly rate as a fraction, e.g. --discount-rate 0.1 for 10 %"


def test_subscription_discount_rate_cli_error_is_one_line(tmp_path: Path) -> None:
    src = tmp_path / "subs.csv"
    src.write_text(SMALL)
    r = CliRunner().invoke(app, ["subscription", "--subscriptions", str(src), "--discount-rate", "-2"])
    assert r.exit_code == 2
    assert r.stderr.splitlines() == ["error: discount rate must be an annual rate >= 0 and < 1, found -2.0",
                                     "hint: give a yearly rate as a fraction, e.g. --discount-rate 0.1 for 10 %"]
